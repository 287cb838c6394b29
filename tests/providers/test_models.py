"""Regions, organisations (AGB), locations (postcode + PC4 coordinates) and reference data."""

import math
from datetime import datetime, time

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import translation

from providers.forms import LocationAdminForm
from providers.geo import haversine_km
from providers.models import (
    Feature,
    Insurer,
    Location,
    OrganisationKind,
    PostcodeArea,
    Product,
    Region,
    SelfServiceOffers,
)
from tests.factories import (
    ORGANISATION_FACTORY_BY_KIND,
    LocationFactory,
    OrganisationFactory,
    ProviderFactory,
    RegionFactory,
)

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def english():
    with translation.override("en"):
        yield


# --- reference data --------------------------------------------------------------------------


def test_the_core_products_exist_as_rows():
    codes = set(Product.objects.values_list("code", flat=True))

    assert {"elv_laag", "elv_hoog", "elv_palliatief"} <= codes
    assert {"grz", "wlz_crisis", "respijtzorg"} <= codes
    assert list(Product.objects.filter(is_elv=True).values_list("code", flat=True)) == [
        "elv_laag",
        "elv_hoog",
        "elv_palliatief",
    ]


def test_features_and_insurers_are_shipped_as_data():
    assert {"single_room", "closed_pg_ward", "isolation", "bariatric", "oxygen"} <= set(
        Feature.objects.values_list("code", flat=True)
    )
    assert Insurer.objects.count() >= 10
    assert Insurer.objects.get(uzovi="3311").name.startswith("Zilveren Kruis")
    for insurer in Insurer.objects.all():
        insurer.full_clean()


# --- organisations ---------------------------------------------------------------------------


@pytest.mark.parametrize("kind", list(OrganisationKind))
def test_an_organisation_of_every_kind_is_valid(kind):
    organisation = ORGANISATION_FACTORY_BY_KIND[kind]()

    organisation.full_clean()
    assert organisation.kind == kind


@pytest.mark.parametrize("agb", ["1234567", "123456789", "1234567a", "1234 567", "abcdefgh"])
def test_an_agb_code_must_have_exactly_8_digits(agb):
    organisation = OrganisationFactory.build(region=RegionFactory(), agb_code=agb)

    with pytest.raises(ValidationError) as caught:
        organisation.full_clean()

    assert "An AGB code has exactly 8 digits." in caught.value.message_dict["agb_code"]


@pytest.mark.parametrize("agb", ["01234567", "73730001"])
def test_an_agb_code_of_8_digits_is_valid(agb):
    OrganisationFactory.build(region=RegionFactory(), agb_code=agb).full_clean()


def test_the_desk_may_have_no_agb_code():
    OrganisationFactory.build(region=RegionFactory(), kind=OrganisationKind.DESK, agb_code=None).full_clean()


def test_two_organisations_cannot_share_an_agb_code():
    OrganisationFactory(agb_code="73731234")

    with pytest.raises(IntegrityError), transaction.atomic():
        OrganisationFactory(agb_code="73731234")


def test_organisations_without_agb_code_do_not_clash():
    OrganisationFactory(agb_code=None)
    OrganisationFactory(agb_code=None)


def test_factories_give_every_organisation_a_distinct_8_digit_agb_code():
    codes = [OrganisationFactory().agb_code for _ in range(5)]

    assert len(set(codes)) == 5
    assert all(len(code) == 8 and code.isdigit() for code in codes)


def test_a_uzovi_code_must_have_exactly_4_digits():
    with pytest.raises(ValidationError) as caught:
        Insurer(uzovi="123", name="X").full_clean()

    assert caught.value.message_dict["uzovi"] == ["A UZOVI code has exactly 4 digits."]


# --- locations -------------------------------------------------------------------------------


def _admin_form(**overrides):
    data = {
        "organisation": ProviderFactory().pk,
        "name": "De Schacht",
        "street": "Akerstraat 88",
        "postcode": "6411hd",
        "city": "Heerlen",
        "phone_24_7": "045 555 1234",
        "admission_24_7": "on",
        "is_active": "on",
        **overrides,
    }
    return LocationAdminForm(data=data)


def test_a_location_postcode_is_normalised_and_gets_its_pc4_coordinates():
    form = _admin_form()

    assert form.is_valid(), form.errors
    location = form.save()

    location.refresh_from_db()
    area = PostcodeArea.objects.get(pc4="6411")
    assert location.postcode == "6411 HD"
    assert (location.latitude, location.longitude) == (area.latitude, area.longitude)


def test_changing_a_locations_postcode_moves_its_coordinates():
    location = LocationFactory(pc4="6411")
    data = {**_admin_form().data, "organisation": location.organisation_id, "postcode": "6212 ab"}
    form = LocationAdminForm(data=data, instance=location)

    assert form.is_valid(), form.errors
    form.save()

    location.refresh_from_db()
    assert location.postcode == "6212 AB"
    assert location.latitude == PostcodeArea.objects.get(pc4="6212").latitude


@pytest.mark.parametrize(
    ("postcode", "message"),
    [
        ("64 HD", "Enter a valid Dutch postcode, for example 6411 AB."),
        ("6000 AA", "Postcode area 6000 is unknown; check the postcode."),
    ],
)
def test_a_location_with_a_bad_postcode_is_refused_with_a_message(postcode, message):
    form = _admin_form(postcode=postcode)

    assert not form.is_valid()
    assert form.errors["postcode"] == [message]
    assert not Location.objects.exists()


def test_the_location_admin_uses_the_postcode_form():
    from django.contrib import admin

    assert admin.site._registry[Location].form is LocationAdminForm


@pytest.mark.parametrize(
    ("admission_24_7", "start", "end", "at", "admits"),
    [
        (True, None, None, time(3, 0), True),
        (False, time(8, 0), time(20, 0), time(8, 0), True),
        (False, time(8, 0), time(20, 0), time(20, 0), True),
        (False, time(8, 0), time(20, 0), time(20, 1), False),
        (False, None, None, time(12, 0), False),
    ],
)
def test_a_location_admits_within_its_admission_hours(admission_24_7, start, end, at, admits):
    location = Location(admission_24_7=admission_24_7, admission_from=start, admission_until=end)

    assert location.admits_at(at) is admits


# --- distance --------------------------------------------------------------------------------


def _python_haversine(a: PostcodeArea, b: PostcodeArea) -> float:
    lat1, lon1, lat2, lon2 = map(math.radians, (a.latitude, a.longitude, b.latitude, b.longitude))
    h = math.sin((lat2 - lat1) / 2) ** 2 + math.cos(lat1) * math.cos(lat2) * math.sin((lon2 - lon1) / 2) ** 2
    return 2 * 6371.0 * math.asin(math.sqrt(h))


@pytest.mark.parametrize("pc4", ["6411", "6413", "6212", "6041", "9711"])
def test_the_database_computes_great_circle_distances_in_km(pc4):
    origin = PostcodeArea.objects.get(pc4="6411")
    target = PostcodeArea.objects.get(pc4=pc4)
    LocationFactory(pc4=pc4)

    distance = (
        Location.objects.annotate(distance_km=haversine_km(latitude=origin.latitude, longitude=origin.longitude))
        .get()
        .distance_km
    )

    assert distance == pytest.approx(_python_haversine(origin, target), abs=0.01)


def test_heerlen_to_maastricht_is_about_21_km():
    origin = PostcodeArea.objects.get(pc4="6411")
    LocationFactory(pc4="6212")

    distance = (
        Location.objects.annotate(distance_km=haversine_km(latitude=origin.latitude, longitude=origin.longitude))
        .get()
        .distance_km
    )

    assert 19 < distance < 23


# Wednesday 11 March 2026 and Saturday 14 March 2026, Amsterdam winter time (UTC+1).
@pytest.mark.parametrize(
    ("local_moment", "desk_open"),
    [
        ("2026-03-11T07:59:59+01:00", False),
        ("2026-03-11T08:00:00+01:00", True),
        ("2026-03-11T16:59:59+01:00", True),
        ("2026-03-11T17:00:00+01:00", False),
        ("2026-03-14T10:00:00+01:00", False),
    ],
)
def test_referrers_offer_themselves_exactly_outside_the_desks_office_hours(local_moment, desk_open):
    region = Region(self_service_offers=SelfServiceOffers.OUTSIDE_OFFICE_HOURS)
    moment = datetime.fromisoformat(local_moment)

    assert region.in_office_hours(moment) is desk_open
    assert region.self_service_allowed(moment) is not desk_open
    assert Region(self_service_offers=SelfServiceOffers.ALWAYS).self_service_allowed(moment)
    assert not Region(self_service_offers=SelfServiceOffers.NEVER).self_service_allowed(moment)
