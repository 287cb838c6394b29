"""Region settings in Beheer: the administrator changes them, coordinators read them, every change
is in the region's history, and a change takes effect without a restart."""

from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.core.exceptions import ValidationError
from django.test import Client
from django.urls import reverse

from accounts.models import Role
from audit.models import ChangeRecord
from beds.models import BedOverviewSnapshot
from beds.tasks import create_due_bed_overviews
from elvdesk.errors import Conflict
from providers.models import Product, Region, SelfServiceOffers
from providers.region_settings import normalise_overview_times, region_settings_update
from referrals import services
from referrals.models import Referral
from tests.clients import client_for
from tests.factories import CapacityFactory, LocationFactory, ProviderFactory, RegionFactory, user_with_role
from tests.referrals.conftest import desk, searching, submitted  # noqa: F401

pytestmark = pytest.mark.django_db

URL = reverse("beheer:region")
AMSTERDAM = ZoneInfo("Europe/Amsterdam")


@pytest.fixture
def region():
    return RegionFactory(code="zuid-limburg", name="Zuid-Limburg", overview_times="07:30,16:00")


@pytest.fixture
def neighbour():
    return RegionFactory(code="noord-limburg", name="Noord-Limburg")


@pytest.fixture
def admin(region):
    return user_with_role(Role.ADMIN, region=region, username="beheer")


def valid_post(region: Region, **changes) -> dict:
    data = {
        "overview_times": "07:30,16:00",
        "stale_after_hours": 12,
        "offer_expiry_minutes": 30,
        "max_parallel_offers": 3,
        "triage_sla_minutes": 15,
        "urgent_placement_hours": 4,
        "search_limit_hours": 8,
        "self_service_offers": SelfServiceOffers.OUTSIDE_OFFICE_HOURS,
        "office_hours_start": "08:00",
        "office_hours_end": "17:00",
        "retention_days": 90,
        "products": [product.pk for product in region.products.all()],
        "neighbours": [],
        "share_capacity_with_neighbours": "on",
        "desk_phone": "",
    }
    data.update(changes)
    return {key: value for key, value in data.items() if value is not None}


# --- The page ---------------------------------------------------------------------------------


def test_the_administrator_sees_the_form_with_the_current_settings(admin, region):
    response = client_for(admin).get(URL)

    assert response.status_code == 200
    html = response.content.decode()
    assert 'name="overview_times"' in html and 'value="07:30,16:00"' in html
    assert "History" in html


def test_a_coordinator_reads_the_settings_without_a_form(region, neighbour):
    region.neighbours.add(neighbour)
    coordinator = user_with_role(Role.COORDINATOR, region=region)

    response = client_for(coordinator).get(URL)

    assert response.status_code == 200
    html = response.content.decode()
    assert 'name="overview_times"' not in html and '<form method="post" action="/beheer/region/"' not in html
    assert "07:30, 16:00" in html and "Noord-Limburg" in html


@pytest.mark.parametrize("role", [Role.GP, Role.TRANSFER_NURSE, Role.PROVIDER_STAFF, Role.ANALYST])
def test_other_roles_are_refused(region, role):
    assert client_for(user_with_role(role, region=region)).get(URL).status_code == 403


def test_a_coordinator_cannot_change_the_settings(region):
    coordinator = user_with_role(Role.COORDINATOR, region=region)

    response = client_for(coordinator).post(URL, valid_post(region, stale_after_hours=3))

    assert response.status_code == 403
    region.refresh_from_db()
    assert region.stale_after_hours == 12
    assert not ChangeRecord.objects.exists()


@pytest.mark.parametrize("method", ["put", "patch", "delete"])
def test_other_methods_are_not_allowed(admin, method):
    assert getattr(client_for(admin), method)(URL).status_code == 405


def test_an_anonymous_visitor_is_sent_to_the_login(region):
    response = Client().get(URL)
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]


def test_saving_changes_the_region_and_records_before_and_after(admin, region, neighbour):
    palliatief = Product.objects.get(code="elv_palliatief")
    products = [product.pk for product in region.products.exclude(pk=palliatief.pk)]

    response = client_for(admin).post(
        URL,
        valid_post(
            region,
            overview_times="16:00, 7:30,12:00",
            triage_sla_minutes=20,
            office_hours_start="08:30",
            desk_phone="0455776677",
            neighbours=[neighbour.pk],
            products=products,
        ),
    )

    assert response.status_code == 302 and response["Location"] == URL
    region.refresh_from_db()
    assert region.overview_times == "07:30,12:00,16:00"
    assert region.triage_sla_minutes == 20
    assert region.office_hours_start == time(8, 30)
    assert region.desk_phone == "045 577 6677"
    assert list(region.neighbours.all()) == [neighbour]
    assert not region.products.filter(pk=palliatief.pk).exists()
    change = ChangeRecord.objects.get(region=region, object_type="region")
    assert (change.by, change.action, change.object_id, change.object_name) == (
        admin,
        "update",
        region.pk,
        "Zuid-Limburg",
    )
    assert change.before["overview_times"] == "07:30,16:00" and change.after["overview_times"] == "07:30,12:00,16:00"
    assert change.before["neighbours"] == [] and change.after["neighbours"] == ["Noord-Limburg"]
    assert change.after["office_hours_start"] == "08:30" and change.after["desk_phone"] == "045 577 6677"
    assert palliatief.name in change.before["products"] and palliatief.name not in change.after["products"]
    assert "stale_after_hours" not in change.after  # unchanged fields are left out


def test_the_new_neighbour_sees_the_change_in_its_own_history(admin, region, neighbour):
    client_for(admin).post(URL, valid_post(region, neighbours=[neighbour.pk]))

    theirs = ChangeRecord.objects.get(region=neighbour)
    assert (theirs.object_type, theirs.object_id, theirs.by) == ("region", neighbour.pk, admin)
    assert (theirs.before, theirs.after) == ({"neighbours": []}, {"neighbours": ["Zuid-Limburg"]})
    assert list(neighbour.neighbours.all()) == [region]  # neighbours are mutual


def test_the_history_shows_below_the_settings(admin, region):
    client = client_for(admin)
    client.post(URL, valid_post(region, stale_after_hours=6))

    html = client.get(URL).content.decode()

    assert "Changed" in html and "bed counts are stale after (hours)" in html and "beheer" in html
    assert f"object_type=region&amp;object_id={region.pk}" in html


@pytest.mark.parametrize("count", [2, 6])
def test_the_page_has_a_fixed_number_of_queries(admin, region, neighbour, count, django_assert_num_queries):
    for n in range(count):
        region_settings_update(region=region, by=admin, data={"stale_after_hours": n + 1})
    client = client_for(admin)
    client.get(URL)  # the session's first request also stores its last activity

    # session, user (with organisation and region), second factor, the form's products and
    # neighbours, the region's products and neighbours, its history
    with django_assert_num_queries(8):
        response = client.get(URL)
    assert response.status_code == 200


def test_saving_without_a_change_records_nothing(admin, region):
    response = client_for(admin).post(URL, valid_post(region))

    assert response.status_code == 302
    assert not ChangeRecord.objects.exists()


# --- Bad input ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("overview_times", "25:00", "“25:00” is not a time of day"),
        ("overview_times", "07:30,7:30", "Each time may appear only once."),
        ("overview_times", "01:00,02:00,03:00,04:00,05:00,06:00,07:00", "At most 6 times a day."),
        ("overview_times", "07:30,,16:00", "Separate the times with a single comma"),
        ("overview_times", "", "Enter at least one time"),
        ("stale_after_hours", "0", "at least 1"),
        ("retention_days", "29", "at least 30"),
        ("retention_days", "4000", "at most 365"),
        ("offer_expiry_minutes", "abc", "Enter a whole number."),
        ("max_parallel_offers", "0", "at least 1"),
        ("max_parallel_offers", "6", "at most 5"),
        ("office_hours_end", "07:00", "Office hours must end after they start."),
        ("office_hours_start", "8 uur", "Enter a time as HH:MM"),
        ("desk_phone", "12345", "Enter a valid Dutch phone number"),
        ("products", [], "Choose at least one product"),
    ],
)
def test_bad_input_is_refused_per_field_and_nothing_is_saved(admin, region, field, value, message):
    response = client_for(admin).post(URL, valid_post(region, **{field: value}, triage_sla_minutes="25"))

    assert response.status_code == 400
    html = response.content.decode()
    assert message in html
    assert 'value="25"' in html  # what was typed is kept
    region.refresh_from_db()
    assert region.triage_sla_minutes == 15
    assert not ChangeRecord.objects.exists()


def test_a_region_cannot_be_its_own_neighbour(admin, region):
    response = client_for(admin).post(URL, valid_post(region, neighbours=[region.pk]))

    assert response.status_code == 400
    assert not region.neighbours.exists()


def test_bad_input_shows_a_dutch_message(admin, region):
    response = client_for(admin, "nl").post(URL, valid_post(region, stale_after_hours="x"))

    assert response.status_code == 400
    assert "Vul een geheel getal in." in response.content.decode()


# --- The service --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("typed", "stored"),
    [("7:30", "07:30"), (" 16:00 ,07:30 ", "07:30,16:00"), ("00:00,23:59", "00:00,23:59")],
)
def test_overview_times_are_normalised(typed, stored):
    assert normalise_overview_times(typed) == stored


@pytest.mark.parametrize("typed", ["7.30", "24:00", "07:60", "morning", "07:30;16:00"])
def test_overview_times_that_are_no_time_of_day_are_refused(typed):
    with pytest.raises(ValidationError):
        normalise_overview_times(typed)


def test_the_service_checks_the_rules_itself_and_changes_nothing_on_a_refusal(admin, region):
    with pytest.raises(ValidationError) as refused:
        region_settings_update(
            region=region,
            by=admin,
            data={
                "office_hours_start": time(18, 0),
                "retention_days": 7,
                "neighbours": [region],
                "stale_after_hours": 2,
            },
        )

    assert set(refused.value.message_dict) == {"office_hours_end", "retention_days", "neighbours"}
    region.refresh_from_db()
    assert (region.office_hours_start, region.retention_days, region.stale_after_hours) == (time(8, 0), 90, 12)
    assert not ChangeRecord.objects.exists()


def test_the_service_refuses_what_is_no_region_setting(admin, region):
    with pytest.raises(ValueError, match="code"):
        region_settings_update(region=region, by=admin, data={"code": "elsewhere"})


def test_removing_a_neighbour_is_in_both_histories(admin, region, neighbour):
    region.neighbours.add(neighbour)

    region_settings_update(region=region, by=admin, data={"neighbours": []})

    assert not neighbour.neighbours.exists()
    ours = ChangeRecord.objects.get(region=region)
    theirs = ChangeRecord.objects.get(region=neighbour)
    assert (ours.before["neighbours"], ours.after["neighbours"]) == (["Noord-Limburg"], [])
    assert (theirs.before["neighbours"], theirs.after["neighbours"]) == (["Zuid-Limburg"], [])


# --- Without a restart --------------------------------------------------------------------------


def test_the_overview_job_uses_new_overview_times_at_once(admin, region):
    location = LocationFactory(organisation=ProviderFactory(region=region))
    CapacityFactory(location=location)
    noon = datetime(2031, 3, 12, 12, 5, tzinfo=AMSTERDAM)
    with time_machine.travel(noon, tick=False):
        create_due_bed_overviews.apply().get()
        assert list(BedOverviewSnapshot.objects.filter(region=region).values_list("slot", flat=True)) == [
            datetime(2031, 3, 12, 7, 30, tzinfo=AMSTERDAM)
        ]

        response = client_for(admin).post(URL, valid_post(region, overview_times="07:30,12:00,16:00"))
        assert response.status_code == 302
        create_due_bed_overviews.apply().get()

    slots = BedOverviewSnapshot.objects.filter(region=region).order_by("slot").values_list("slot", flat=True)
    assert list(slots) == [
        datetime(2031, 3, 12, 7, 30, tzinfo=AMSTERDAM),
        datetime(2031, 3, 12, 12, 0, tzinfo=AMSTERDAM),
    ]


def test_a_new_offer_expiry_applies_to_the_next_offer(desk, searching):  # noqa: F811 (fixtures)
    admin = user_with_role(Role.ADMIN, region=desk.region)
    response = client_for(admin).post(URL, valid_post(desk.region, offer_expiry_minutes=45))
    assert response.status_code == 302

    # As the next request does: the referral and its region freshly from the database.
    referral = Referral.objects.get(pk=searching.pk)
    offer = services.offer_create(referral=referral, capacity=desk.capacity, by=desk.coordinator)

    assert offer.expires_at - offer.created_at == timedelta(minutes=45)


def test_a_lower_parallel_offer_limit_applies_to_the_next_offer(desk, searching):  # noqa: F811 (fixtures)
    admin = user_with_role(Role.ADMIN, region=desk.region)
    response = client_for(admin).post(URL, valid_post(desk.region, max_parallel_offers=1))
    assert response.status_code == 302

    referral = Referral.objects.get(pk=searching.pk)
    services.offer_create(referral=referral, capacity=desk.capacity, by=desk.coordinator)
    with pytest.raises(Conflict) as refused:
        services.offer_create(
            referral=Referral.objects.get(pk=searching.pk), capacity=desk.other_capacity, by=desk.coordinator
        )
    assert refused.value.code == "too_many_offers"
