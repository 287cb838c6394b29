"""The privacy view answers a patient's "who looked at my file?": from a posted BSN, for the
desk of the patient's region only, with no patient id in any URL, every look logged with the
patient, and the whole history (every region, superusers, refused attempts)."""

import re

from django.urls import URLPattern, get_resolver
from rest_framework.test import APIClient

from audit.models import AccessLog
from tests.factories import RegionFactory, user_with_role
from tests.referrals.conftest import OTHER_BSN, VALID_BSN

SEARCH, EXPORT = "/privacy/", "/privacy/export/"


def _privacy_patterns():
    (resolver,) = [p for p in get_resolver().url_patterns if getattr(p, "namespace", None) == "audit"]
    return [(str(resolver.pattern) + str(p.pattern)) for p in resolver.url_patterns if isinstance(p, URLPattern)]


def test_no_privacy_url_takes_an_id(db):
    patterns = _privacy_patterns()
    assert patterns
    assert not [p for p in patterns if "<" in p], patterns


def test_the_administrator_cannot_walk_patient_ids_to_read_names(desk, submitted, client):
    # Named so the page's own header (the signed-in user) cannot contain the patient's name.
    admin = user_with_role("admin", region=desk.region, first_name="Bea", last_name="Heer")
    client.force_login(admin)
    for url in (f"/privacy/patients/{submitted.patient_id}/", f"/privacy/patients/{submitted.patient_id}/export.csv"):
        response = client.get(url)
        assert response.status_code == 404
        assert "Maria" not in response.content.decode()
    assert client.post(SEARCH, {"bsn": VALID_BSN}).status_code == 403


def test_the_answer_comes_in_the_post_response_and_the_export_posts_the_bsn(desk, submitted, client):
    client.force_login(desk.coordinator)
    response = client.post(SEARCH, {"bsn": VALID_BSN}, HTTP_ACCEPT_LANGUAGE="en")
    html = response.content.decode()
    assert response.status_code == 200 and "Location" not in response
    assert "Accesses to Maria Jansen" in html
    assert f"/{submitted.patient_id}/" not in html
    export_form = re.search(r'<form method="post" action="/privacy/export/">(.*?)</form>', html, re.S)
    assert export_form and f'name="bsn" value="{VALID_BSN}"' in export_form.group(1)


def test_the_export_is_a_csv_without_the_patient_id_in_its_name(desk, submitted, client):
    client.force_login(desk.coordinator)
    response = client.post(EXPORT, {"bsn": VALID_BSN})
    assert response.status_code == 200 and response["Content-Type"].startswith("text/csv")
    assert re.fullmatch(r'attachment; filename="toegang-\d{8}-\d{4}\.csv"', response["Content-Disposition"])


def test_the_export_answers_only_post(desk, client):
    client.force_login(desk.coordinator)
    assert client.get(EXPORT).status_code == 405


def test_a_bad_or_unknown_bsn_gets_a_message_not_a_file(desk, submitted, client):
    client.force_login(desk.coordinator)
    bad = client.post(EXPORT, {"bsn": "123"}, HTTP_ACCEPT_LANGUAGE="en")
    assert bad.status_code == 400 and "not a valid BSN" in bad.content.decode()
    unknown = client.post(EXPORT, {"bsn": OTHER_BSN}, HTTP_ACCEPT_LANGUAGE="en")
    assert unknown.status_code == 404 and "No patient with this BSN in your region." in unknown.content.decode()
    assert not unknown["Content-Type"].startswith("text/csv")


def test_every_look_is_logged_with_the_patient_and_no_bsn(desk, submitted, client):
    client.force_login(desk.coordinator)
    client.post(SEARCH, {"bsn": VALID_BSN})
    client.post(EXPORT, {"bsn": VALID_BSN})
    rows = list(AccessLog.objects.filter(user=desk.coordinator).order_by("id"))
    assert [(row.action, row.channel, row.patient_id, row.outcome) for row in rows] == [
        ("search", "page", submitted.patient_id, "ok"),
        ("export", "export", submitted.patient_id, "ok"),
    ]
    assert all(VALID_BSN not in row.path for row in rows)


def test_a_look_from_another_region_is_refused_and_logged_with_the_patient(desk, submitted, client):
    stranger = user_with_role("coordinator", region=RegionFactory())
    client.force_login(stranger)
    assert client.post(SEARCH, {"bsn": VALID_BSN}).status_code == 404
    row = AccessLog.objects.get(user=stranger)
    assert (row.action, row.patient_id, row.outcome) == ("search", submitted.patient_id, "not_found")


def test_the_history_is_complete_other_regions_superusers_and_refusals(desk, submitted, client):
    # A GP of another region tries the referral (refused), a superuser without an organisation
    # opens it in the admin: both belong to the patient's history.
    outsider = user_with_role("gp", region=RegionFactory())
    api = APIClient()
    api.force_authenticate(outsider)
    assert api.get(f"/api/v1/referrals/{submitted.pk}/").status_code == 404
    superuser = user_with_role("admin", is_staff=True, is_superuser=True)
    superuser.organisation = None
    superuser.save()
    client.force_login(superuser)
    assert client.get(f"/admin/referrals/referral/{submitted.pk}/change/").status_code == 200

    client.force_login(desk.coordinator)
    response = client.post(SEARCH, {"bsn": VALID_BSN})
    shown = {(access.user_id, access.outcome) for access in response.context["accesses"]}
    assert {(outsider.pk, "not_found"), (superuser.pk, "ok")} <= shown
    body = client.post(EXPORT, {"bsn": VALID_BSN}).content.decode()
    assert outsider.username in body and superuser.username in body
