"""A patient's access history is complete: refused attempts on their referral and the Django
admin's lists and pages carry the patient, so they show in "who looked at this patient"."""

from django.contrib.auth.models import Permission
from django.utils import timezone
from rest_framework.test import APIClient

from audit.models import AccessLog
from referrals import services
from referrals.models import Stay
from tests.factories import user_with_role
from tests.referrals.conftest import OTHER_BSN, referral_input


def test_a_refused_page_read_of_an_existing_referral_is_logged_with_its_patient(desk, submitted, client):
    stranger = user_with_role("gp", region=desk.region)
    analyst = user_with_role("analyst", region=desk.region)
    for user, status, outcome in ((stranger, 404, "not_found"), (analyst, 403, "denied")):
        client.force_login(user)
        assert client.get(f"/referrals/{submitted.pk}/").status_code == status
        row = AccessLog.objects.get(user=user)
        assert (row.outcome, row.referral_id, row.patient_id) == (outcome, submitted.pk, submitted.patient_id)


def test_refused_api_and_fhir_reads_are_logged_with_the_patient(desk, submitted):
    stranger = user_with_role("gp", region=desk.region)
    api = APIClient()
    api.force_authenticate(stranger)
    assert api.get(f"/api/v1/referrals/{submitted.pk}/").status_code == 404
    assert api.get(f"/fhir/r4/ServiceRequest/{submitted.pk}").status_code == 404
    rows = AccessLog.objects.filter(user=stranger)
    assert rows.count() == 2
    assert set(rows.values_list("patient_id", "outcome")) == {(submitted.patient_id, "not_found")}


def test_a_refused_answer_to_another_providers_offer_is_logged_with_the_patient(desk, offer, client):
    """The offer's URL names the offer, not the referral; the attempt still reaches the
    patient's history, on the page and in the API."""
    client.force_login(desk.other_planner)
    assert client.post(f"/referrals/offers/{offer.pk}/accept/", {}).status_code == 404
    api = APIClient()
    api.force_authenticate(desk.other_planner)
    assert api.post(f"/api/v1/offers/{offer.pk}/decline/", {"reason": "no_bed"}, format="json").status_code == 404
    rows = AccessLog.objects.filter(user=desk.other_planner)
    assert rows.count() == 2
    assert set(rows.values_list("referral_id", "patient_id", "outcome")) == {
        (offer.referral_id, offer.referral.patient_id, "not_found")
    }


def test_an_attempt_on_a_referral_that_does_not_exist_names_no_patient(desk, client):
    client.force_login(desk.coordinator)
    assert client.get("/referrals/987654/").status_code == 404
    row = AccessLog.objects.get()
    assert (row.referral_id, row.patient_id, row.outcome) == (987654, None, "not_found")


def _superuser():
    user = user_with_role("admin", is_staff=True, is_superuser=True)
    user.organisation = None
    user.save()
    return user


def test_the_admin_patient_list_logs_every_patient_it_shows(desk, submitted, client):
    second, _ = services.referral_submit(by=desk.gp, data=referral_input(bsn=OTHER_BSN))
    client.force_login(_superuser())
    assert client.get("/admin/referrals/patient/").status_code == 200
    rows = AccessLog.objects.filter(channel="admin", action="search")
    assert sorted(rows.values_list("patient_id", flat=True)) == sorted([submitted.patient_id, second.patient_id])


def test_the_admin_referral_and_stay_lists_log_each_shown_referral_with_its_patient(desk, accepted, client):
    services.stay_admit(referral=accepted, by=desk.planner, admitted_at=timezone.now())
    assert Stay.objects.filter(referral=accepted).exists()
    client.force_login(_superuser())
    for url in ("/admin/referrals/referral/", "/admin/referrals/stay/"):
        before = AccessLog.objects.count()
        assert client.get(url).status_code == 200
        rows = AccessLog.objects.order_by("id")[before:]
        assert [(row.referral_id, row.patient_id) for row in rows] == [(accepted.pk, accepted.patient_id)], url


def test_the_admin_history_page_of_a_referral_is_logged_with_its_patient(desk, submitted, client):
    client.force_login(_superuser())
    assert client.get(f"/admin/referrals/referral/{submitted.pk}/history/").status_code == 200
    row = AccessLog.objects.get()
    assert (row.channel, row.action, row.patient_id) == ("admin", "read", submitted.patient_id)


def test_a_staff_user_who_is_not_a_superuser_never_reaches_patient_data_in_the_admin(desk, submitted, client):
    # The admin is for superusers only (elvdesk/admin_site.py): the gate turns the others away
    # before any patient is looked up, so there is no access to log.
    staff = user_with_role("admin", region=desk.region, is_staff=True)
    staff.user_permissions.add(Permission.objects.get(codename="view_stay"))
    client.force_login(staff)
    response = client.get(f"/admin/referrals/patient/{submitted.patient_id}/change/")
    assert response.status_code == 302 and "/admin/login/" in response["Location"]
    assert not AccessLog.objects.exists()


def test_admin_pages_of_patient_data_are_not_cached(desk, submitted, client):
    client.force_login(_superuser())
    for url in (
        "/admin/referrals/patient/",
        f"/admin/referrals/patient/{submitted.patient_id}/change/",
        f"/admin/referrals/referral/{submitted.pk}/change/",
    ):
        assert "no-store" in client.get(url)["Cache-Control"], url


def test_the_admin_offer_page_is_logged_with_the_patient(desk, offer, client):
    superuser = _superuser()
    client.force_login(superuser)
    assert client.get(f"/admin/referrals/offer/{offer.pk}/change/").status_code == 200
    assert client.get("/admin/referrals/offer/").status_code == 200
    rows = AccessLog.objects.filter(user=superuser, channel="admin")
    assert set(rows.values_list("action", "patient_id")) == {
        ("read", offer.referral.patient_id),
        ("search", offer.referral.patient_id),
    }
