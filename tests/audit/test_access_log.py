from datetime import UTC, datetime

import pytest
from django.db import connection, transaction
from django.db.utils import DatabaseError
from rest_framework.test import APIClient

from audit.models import APPEND_BATCH, AccessLog
from referrals.models import Referral
from tests.factories import RegionFactory, user_with_role
from tests.referrals.conftest import VALID_BSN


def test_opening_a_referral_writes_one_complete_log_row(desk, submitted, client):
    client.force_login(desk.coordinator)
    client.get(f"/referrals/{submitted.pk}/", REMOTE_ADDR="10.1.2.3")
    row = AccessLog.objects.get()
    assert (row.user, row.role, row.organisation, row.action, row.channel, row.outcome) == (
        desk.coordinator,
        "coordinator",
        desk.coordinator.organisation,
        "read",
        "page",
        "ok",
    )
    assert (row.referral_id, row.patient_id) == (submitted.pk, submitted.patient_id)
    assert row.source_address == "10.1.2.3"
    assert row.path == f"/referrals/{submitted.pk}/"


def test_an_attempt_on_another_organisations_referral_is_logged_as_not_found(desk, submitted, client):
    stranger = user_with_role("gp", region=desk.region)
    client.force_login(stranger)
    assert client.get(f"/referrals/{submitted.pk}/").status_code == 404
    row = AccessLog.objects.get()
    assert (row.user, row.outcome, row.referral_id) == (stranger, "not_found", submitted.pk)


def test_a_role_without_access_is_logged_as_refused(desk, submitted, client):
    analyst = user_with_role("analyst", region=desk.region)
    client.force_login(analyst)
    assert client.get(f"/referrals/{submitted.pk}/").status_code == 403
    assert AccessLog.objects.get().outcome == "denied"


def test_a_list_logs_every_referral_it_shows(desk, submitted, client):
    client.force_login(desk.coordinator)
    client.get("/referrals/")
    assert list(AccessLog.objects.values_list("action", "referral_id")) == [("search", submitted.pk)]


def test_api_calls_are_logged_with_their_channel(desk, submitted):
    api = APIClient()
    api.force_authenticate(desk.gp)
    api.get(f"/api/v1/referrals/{submitted.pk}/")
    row = AccessLog.objects.get()
    assert (row.channel, row.action, row.referral_id) == ("api", "read", submitted.pk)


def test_submitting_a_referral_is_logged_as_create(desk, client):
    from tests.referrals.conftest import form_post

    client.force_login(desk.gp)
    client.post("/referrals/new/", form_post())
    referral = Referral.objects.get()
    assert list(AccessLog.objects.values_list("action", "referral_id", "outcome")) == [("create", referral.pk, "ok")]


def test_the_log_cannot_be_changed_or_deleted_through_the_application(desk, submitted, client):
    client.force_login(desk.coordinator)
    client.get(f"/referrals/{submitted.pk}/")
    with pytest.raises(PermissionError):
        AccessLog.objects.update(user_name="someone else")
    with pytest.raises(PermissionError):
        AccessLog.objects.all().delete()


def test_the_database_itself_refuses_to_rewrite_the_log_on_postgresql(desk, submitted, client):
    if connection.vendor != "postgresql":
        pytest.skip("the trigger guard exists on PostgreSQL only")
    client.force_login(desk.coordinator)
    client.get(f"/referrals/{submitted.pk}/")
    for statement in ("UPDATE audit_accesslog SET user_name = 'x'", "DELETE FROM audit_accesslog"):
        with pytest.raises(DatabaseError), transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(statement)
    assert AccessLog.objects.count() == 1


def test_privacy_search_by_bsn_shows_who_looked_and_keeps_the_bsn_out_of_the_url(desk, submitted, client):
    client.force_login(desk.gp)
    client.get(f"/referrals/{submitted.pk}/")
    client.force_login(desk.coordinator)
    response = client.post("/privacy/", {"bsn": VALID_BSN}, HTTP_ACCEPT_LANGUAGE="en")
    html = response.content.decode()
    assert response.status_code == 200
    assert desk.gp.username in html
    assert all(VALID_BSN not in row.path for row in AccessLog.objects.all())
    assert AccessLog.objects.filter(user=desk.coordinator, action="search", patient_id=submitted.patient_id).exists()


def test_privacy_export_is_a_csv_and_is_itself_logged(desk, submitted, client):
    client.force_login(desk.coordinator)
    client.get(f"/referrals/{submitted.pk}/")
    response = client.post("/privacy/export/", {"bsn": VALID_BSN})
    assert response["Content-Type"].startswith("text/csv")
    body = b"".join(response.streaming_content if response.streaming else [response.content]).decode()
    assert desk.coordinator.username in body
    assert AccessLog.objects.filter(action="export", channel="export", patient_id=submitted.patient_id).count() == 1


def test_privacy_pages_are_for_the_desk_only(desk, submitted, client):
    for role in ("gp", "transfer_nurse", "provider_staff", "analyst", "admin"):
        client.force_login(user_with_role(role, region=desk.region))
        assert client.get("/privacy/").status_code == 403
        assert client.post("/privacy/", {"bsn": VALID_BSN}).status_code == 403
        assert client.post("/privacy/export/", {"bsn": VALID_BSN}).status_code == 403


def test_a_coordinator_of_another_region_cannot_find_the_patient(desk, submitted, client):
    client.force_login(user_with_role("coordinator", region=RegionFactory()))
    response = client.post("/privacy/", {"bsn": VALID_BSN}, HTTP_ACCEPT_LANGUAGE="en")
    assert response.status_code == 404
    assert "No patient with this BSN in your region." in response.content.decode()
    assert "Maria" not in response.content.decode()
    assert client.post("/privacy/export/", {"bsn": VALID_BSN}).status_code == 404


def test_an_invalid_bsn_in_the_privacy_search_gets_a_message(desk, client):
    client.force_login(desk.coordinator)
    response = client.post("/privacy/", {"bsn": "123"}, HTTP_ACCEPT_LANGUAGE="en")
    assert "not a valid BSN" in response.content.decode()


def test_admin_views_of_patient_data_are_logged(desk, submitted, client):
    admin_user = user_with_role("admin", region=desk.region, is_staff=True, is_superuser=True)
    client.force_login(admin_user)
    assert client.get(f"/admin/referrals/referral/{submitted.pk}/change/").status_code == 200
    assert AccessLog.objects.filter(channel="admin", action="read", referral_id=submitted.pk).count() == 1
    client.get("/admin/referrals/patient/")
    assert AccessLog.objects.filter(channel="admin", action="search").count() == 1


def _row(n: int, at) -> dict:
    return {
        "at": at,
        "user_id": None,
        "user_name": f"job {n}",
        "role": "",
        "organisation_id": None,
        "organisation_name": "",
        "on_behalf_of": "",
        "action": "export",
        "channel": "job",
        "patient_id": n,
        "referral_id": n,
        "outcome": "ok",
        "source_address": "192.0.2.1",
        "path": "/export/",
    }


def test_append_writes_every_field_of_every_row_in_batches(db):
    at = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
    count = APPEND_BATCH * 2 + 7  # three INSERT statements
    AccessLog.objects.append([_row(n, at) for n in range(1, count + 1)])

    assert AccessLog.objects.count() == count
    last = AccessLog.objects.get(referral_id=count)
    assert (last.at, last.user_name, last.action, last.channel, last.patient_id, last.source_address, last.path) == (
        at,
        f"job {count}",
        "export",
        "job",
        count,
        "192.0.2.1",
        "/export/",
    )


@pytest.mark.django_db(transaction=True)
def test_append_of_several_batches_is_all_or_nothing():
    rows = [_row(n, datetime(2026, 3, 1, tzinfo=UTC)) for n in range(1, APPEND_BATCH + 2)]
    rows[-1]["action"] = None  # the second INSERT fails: the column is NOT NULL
    with pytest.raises(DatabaseError):
        AccessLog.objects.append(rows)
    assert AccessLog.objects.count() == 0
