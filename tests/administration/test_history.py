"""The region's change history in Beheer: filtered, paged, readable, exportable; only the
region's own changes; the same number of queries however long it is."""

import csv
import io
import json
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
from django.urls import reverse

from accounts.models import Role
from audit.changes import change_record
from audit.models import ChangeRecord
from tests.clients import client_for
from tests.factories import RegionFactory, user_with_role

pytestmark = pytest.mark.django_db

HISTORY = reverse("beheer:history")
EXPORT = reverse("beheer:history_export")
AMSTERDAM = ZoneInfo("Europe/Amsterdam")


@pytest.fixture
def region():
    return RegionFactory(code="zuid-limburg", name="Zuid-Limburg")


@pytest.fixture
def admin(region):
    return user_with_role(Role.ADMIN, region=region, username="beheer")


@pytest.fixture
def coordinator(region):
    return user_with_role(Role.COORDINATOR, region=region, username="coordinator")


def record(region, by, *, object_type="organisation", object_id=1, action="update", at=None, **values):
    """A history row as the services write it (audit/changes.py); with `at`, one of that moment."""
    row = {
        "by": by,
        "region_id": region.pk,
        "object_type": object_type,
        "object_id": object_id,
        "object_name": values.pop("name", f"{object_type} {object_id}"),
        "action": action,
        "before": values.pop("before", {"name": "Oud"}),
        "after": values.pop("after", {"name": "Nieuw"}),
    }
    if at is None:
        return change_record(**row)
    return ChangeRecord.objects.create(**row, by_name=by.get_username() if by else "system", at=at)


def rows(response) -> list[dict]:
    text = response.content.decode("utf-8-sig")
    return list(csv.DictReader(io.StringIO(text)))


# --- The page ---------------------------------------------------------------------------------


def test_the_administrator_and_coordinators_read_the_regions_changes(region, admin, coordinator):
    record(region, admin, name="Zorggroep Heuvelland")

    for user in (admin, coordinator):
        response = client_for(user).get(HISTORY)
        assert response.status_code == 200
        html = response.content.decode()
        assert "Zorggroep Heuvelland" in html and "Organisation" in html and "Changed" in html


@pytest.mark.parametrize("role", [Role.GP, Role.TRANSFER_NURSE, Role.PROVIDER_STAFF, Role.ANALYST])
def test_other_roles_are_refused(region, role):
    user = user_with_role(role, region=region)
    assert client_for(user).get(HISTORY).status_code == 403
    assert client_for(user).get(EXPORT).status_code == 403


@pytest.mark.parametrize("url", [HISTORY, EXPORT])
@pytest.mark.parametrize("method", ["post", "put", "delete"])
def test_the_history_cannot_be_changed_through_its_pages(admin, url, method):
    assert getattr(client_for(admin), method)(url).status_code == 405


def test_another_regions_changes_are_not_shown(region, admin):
    elsewhere = RegionFactory(code="elders")
    record(elsewhere, user_with_role(Role.ADMIN, region=elsewhere), name="Zorggroep Elders")
    record(region, admin, name="Zorggroep Hier")

    html = client_for(admin).get(HISTORY).content.decode()

    assert "Zorggroep Hier" in html and "Zorggroep Elders" not in html


def test_actions_and_fields_show_readably(region, admin):
    record(
        region,
        admin,
        object_type="region",
        object_id=region.pk,
        before={"stale_after_hours": 12, "share_capacity_with_neighbours": True},
        after={"stale_after_hours": 6, "share_capacity_with_neighbours": False},
    )
    record(region, admin, object_type="user", object_id=7, action="reset_second_factor", before={}, after={})
    record(
        region,
        admin,
        object_type="organisation",
        object_id=3,
        action="create",
        before={},
        after={"kind": "gp_practice", "is_active": True},
    )

    html = client_for(admin).get(HISTORY).content.decode()

    assert "bed counts are stale after (hours)" in html and "stale_after_hours" not in html
    assert "Second factor reset" in html and "reset_second_factor" not in html
    assert "Created" in html and "GP practice" in html and "yes" in html and "no" in html


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ({"object_type": "location"}, {"Locatie A"}),
        ({"by": "coordinator"}, {"Zorggroep B"}),
        ({"date_from": "2031-03-11"}, {"Zorggroep B", "Locatie A"}),
        ({"date_until": "2031-03-10"}, {"Zorggroep Oud"}),
        ({"date_from": "2031-03-11", "date_until": "2031-03-11"}, {"Locatie A"}),
        ({}, {"Zorggroep Oud", "Zorggroep B", "Locatie A"}),
    ],
)
def test_the_filters_narrow_the_list(region, admin, coordinator, query, expected):
    record(region, admin, name="Zorggroep Oud", at=datetime(2031, 3, 10, 23, 30, tzinfo=AMSTERDAM))
    record(region, admin, object_type="location", name="Locatie A", at=datetime(2031, 3, 11, 0, 30, tzinfo=AMSTERDAM))
    record(region, coordinator, name="Zorggroep B", at=datetime(2031, 3, 12, 9, 0, tzinfo=AMSTERDAM))

    response = client_for(admin).get(HISTORY, query)

    assert response.status_code == 200
    shown = {name for name in ("Zorggroep Oud", "Zorggroep B", "Locatie A") if name in response.content.decode()}
    assert shown == expected


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ({"date_from": "2031-03-12", "date_until": "2031-03-11"}, "The end date cannot be before the start date."),
        ({"date_from": "gisteren"}, "Enter a date, for example 2031-03-12."),
        ({"object_type": "patient"}, "Select a valid choice."),
        ({"by": "nobody"}, "Select a valid choice."),
    ],
)
def test_bad_filters_are_refused_with_a_message_and_kept(region, admin, query, message):
    record(region, admin)

    response = client_for(admin).get(HISTORY, query)

    assert response.status_code == 400
    html = response.content.decode()
    assert message in html
    assert "No changes found." in html


@pytest.mark.parametrize("url", [HISTORY, EXPORT])
def test_until_the_last_day_of_the_calendar_cuts_nothing_off(region, admin, url):
    """9999-12-31 has no next day to stop before (it answered 500)."""
    record(region, admin, name="Zorggroep Laatst")

    response = client_for(admin).get(url, {"date_until": "9999-12-31"})

    assert response.status_code == 200
    assert "Zorggroep Laatst" in response.content.decode("utf-8-sig")


def test_the_history_is_paged_by_a_hundred(region, admin):
    for n in range(101):
        record(region, admin, object_id=n + 1, name=f"Organisatie {n:03d}")
    client = client_for(admin)

    first = client.get(HISTORY).content.decode()
    second = client.get(HISTORY, {"page": 2}).content.decode()

    assert "Organisatie 100" in first and "Organisatie 001" in first and "Organisatie 000" not in first
    assert "Organisatie 000" in second and "Organisatie 100" not in second
    assert "101 changes" in first


def test_paging_keeps_the_filters(region, admin):
    for n in range(101):
        record(region, admin, object_type="location", object_id=n + 1)

    html = client_for(admin).get(HISTORY, {"object_type": "location"}).content.decode()

    assert "?object_type=location&amp;page=2" in html


@pytest.mark.parametrize("count", [2, 6])
def test_the_history_page_has_a_fixed_number_of_queries(region, admin, coordinator, count, django_assert_num_queries):
    for n in range(count):
        record(
            region, admin if n % 2 else coordinator, object_type=("organisation", "user", "region")[n % 3], object_id=n
        )
    client = client_for(admin)
    client.get(HISTORY)  # the session's first request also stores its last activity

    # session, user (with organisation and region), second factor, authors for the filter, count, rows
    with django_assert_num_queries(6):
        response = client.get(HISTORY, {"object_type": "", "by": ""})
    assert response.status_code == 200


def test_the_history_of_one_object_says_so(region, admin):
    record(region, admin, object_type="location", object_id=4, name="Locatie Vier")
    record(region, admin, object_type="location", object_id=5, name="Locatie Vijf")

    html = client_for(admin).get(HISTORY, {"object_type": "location", "object_id": 4}).content.decode()

    assert "Locatie Vier" in html and "Locatie Vijf" not in html
    assert "Only the changes of Location number 4." in html
    assert "export.csv?object_type=location&amp;object_id=4" in html


# --- The export ---------------------------------------------------------------------------------


def test_the_export_holds_every_change_of_the_region_as_csv(region, admin):
    elsewhere = RegionFactory(code="elders")
    record(elsewhere, None, name="Elders")
    record(region, admin, name="Zorggroep Hier", before={"name": "Zorggroep Daar"}, after={"name": "Zorggroep Hier"})
    record(
        region,
        None,
        object_type="user",
        object_id=9,
        action="deactivate",
        name="=cmd|'/c calc'!A1",
        before={"is_active": True},
        after={"is_active": False},
    )

    response = client_for(admin).get(EXPORT)

    assert response.status_code == 200
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert "no-store" in response["Cache-Control"]
    assert response["Content-Disposition"].startswith('attachment; filename="beheer-history-20310312-')
    exported = rows(response)
    assert [row["object"] for row in exported] == ["'=cmd|'/c calc'!A1", "Zorggroep Hier"]
    user_row, organisation_row = exported
    assert list(organisation_row) == ["at", "by", "object_type", "object_id", "object", "action", "before", "after"]
    assert (organisation_row["by"], organisation_row["object_type"], organisation_row["action"]) == (
        "beheer",
        "organisation",
        "update",
    )
    assert json.loads(organisation_row["before"]) == {"name": "Zorggroep Daar"}
    assert json.loads(user_row["after"]) == {"is_active": False} and user_row["by"] == "system"


def test_the_export_of_one_object(region, admin):
    record(region, admin, object_type="location", object_id=4, name="Locatie Vier")
    record(region, admin, object_type="location", object_id=5, name="Locatie Vijf")
    record(region, admin, object_type="organisation", object_id=4, name="Organisatie Vier")

    response = client_for(admin).get(EXPORT, {"object_type": "location", "object_id": 4})

    assert response.status_code == 200
    assert [row["object"] for row in rows(response)] == ["Locatie Vier"]
    assert 'filename="beheer-history-location-4-' in response["Content-Disposition"]


def test_the_export_of_another_regions_object_is_not_found(region, admin):
    elsewhere = RegionFactory(code="elders")
    record(elsewhere, None, object_type="location", object_id=8)

    response = client_for(admin).get(EXPORT, {"object_type": "location", "object_id": 8})

    assert response.status_code == 404


def test_the_export_follows_the_filters(region, admin, coordinator):
    record(region, admin, name="Door beheer")
    record(region, coordinator, name="Door coordinator")

    response = client_for(coordinator).get(EXPORT, {"by": "coordinator"})

    assert [row["object"] for row in rows(response)] == ["Door coordinator"]


@pytest.mark.parametrize("query", [{"object_id": "abc", "object_type": "location"}, {"object_id": "4"}])
def test_a_bad_export_question_is_refused(region, admin, query):
    assert client_for(admin).get(EXPORT, query).status_code == 400
