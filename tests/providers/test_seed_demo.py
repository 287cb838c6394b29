"""`manage.py seed_demo`: a South-Limburg-like demo region, safe to run twice, refused in
production unless forced."""

from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.http import HttpRequest
from django.test import Client
from django_otp.plugins.otp_totp.models import TOTPDevice

from accounts.models import Role, User
from beds.models import Capacity, CapacityChange
from providers.demo import DEMO_PASSWORD
from providers.models import Location, Organisation, OrganisationKind, PostcodeArea, Region, TreatingPhysician
from providers.phones import normalise_dutch_phone
from providers.postcodes import normalise_postcode

pytestmark = pytest.mark.django_db


def seed() -> str:
    out = StringIO()
    call_command("seed_demo", "--force", stdout=out)
    return out.getvalue()


def table_counts() -> dict:
    return {
        "regions": Region.objects.count(),
        "organisations": Organisation.objects.count(),
        "locations": Location.objects.count(),
        "location_features": Location.features.through.objects.count(),
        "location_insurers": Location.contracted_insurers.through.objects.count(),
        "capacities": Capacity.objects.count(),
        "capacity_changes": CapacityChange.objects.count(),
        "users": User.objects.count(),
    }


@pytest.fixture
def demo_region():
    seed()
    return Region.objects.get(code="zuid-limburg")


def test_seed_demo_refuses_with_debug_off(settings):
    settings.DEBUG = False

    with pytest.raises(CommandError, match="--force"):
        call_command("seed_demo", stdout=StringIO())

    assert not Region.objects.exists()
    assert not User.objects.exists()


def test_seed_demo_runs_with_debug_on(settings):
    settings.DEBUG = True

    call_command("seed_demo", stdout=StringIO())

    assert Region.objects.filter(code="zuid-limburg").exists()


def test_seed_demo_runs_with_debug_off_when_forced(settings):
    settings.DEBUG = False

    output = seed()

    assert "Zuid-Limburg" in output
    assert DEMO_PASSWORD in output


def test_seed_demo_twice_creates_no_duplicates(demo_region):
    first = table_counts()
    counts_before = list(Capacity.objects.order_by("pk").values_list("pk", "total", "available", "held"))

    seed()

    assert table_counts() == first
    assert list(Capacity.objects.order_by("pk").values_list("pk", "total", "available", "held")) == counts_before


def test_seed_demo_does_not_overwrite_counts_a_planner_changed(demo_region):
    capacity = Capacity.objects.filter(location__organisation__region=demo_region).order_by("pk").first()
    Capacity.objects.filter(pk=capacity.pk).update(total=40, available=39)

    seed()

    capacity.refresh_from_db()
    assert (capacity.total, capacity.available) == (40, 39)


def test_seed_demo_creates_at_least_10_providers_with_25_locations_on_real_6xxx_postcodes(demo_region):
    providers = Organisation.objects.filter(region=demo_region, kind=OrganisationKind.PROVIDER)
    locations = Location.objects.filter(organisation__region=demo_region)

    assert providers.count() >= 10
    assert locations.count() >= 25
    for location in locations:
        assert location.postcode.startswith("6"), location
        assert normalise_postcode(location.postcode) == location.postcode
        area = PostcodeArea.objects.get(pc4=location.postcode[:4])
        assert (location.latitude, location.longitude) == (area.latitude, area.longitude)
        assert location.capacities.exists(), location
    for organisation in providers:
        organisation.full_clean()
        assert organisation.locations.exists()


def test_seed_demo_creates_a_gp_practice_a_hospital_and_the_desk(demo_region):
    kinds = set(Organisation.objects.filter(region=demo_region).values_list("kind", flat=True))

    assert {OrganisationKind.GP_PRACTICE, OrganisationKind.HOSPITAL, OrganisationKind.DESK} <= kinds


def test_seed_demo_creates_one_user_per_role_who_can_log_in(demo_region):
    users = User.objects.exclude(organisation=None)

    assert {user.role for user in users} == {role.value for role in Role}
    for role in Role:
        user = users.filter(role=role).first()
        assert user.region == demo_region
        assert Client().login(request=HttpRequest(), username=user.username, password=DEMO_PASSWORD), user.username


def test_seed_demo_counts_respect_the_bed_rules(demo_region):
    for capacity in Capacity.objects.all():
        capacity.full_clean()
        assert 0 <= capacity.held <= capacity.available <= capacity.total


def test_seed_demo_has_some_stale_and_some_fresh_counts(demo_region):
    capacities = Capacity.objects.filter(location__organisation__region=demo_region)
    stale = [c for c in capacities if c.is_stale(stale_after_hours=demo_region.stale_after_hours)]

    assert 0 < len(stale) < capacities.count()


def test_seed_demo_offers_the_elv_products_with_free_beds_somewhere(demo_region):
    codes = set(
        Capacity.objects.filter(location__organisation__region=demo_region).values_list("product__code", flat=True)
    )

    assert codes == {"elv_laag", "elv_hoog", "elv_palliatief"}
    assert any(c.free > 0 for c in Capacity.objects.filter(location__organisation__region=demo_region))
    assert {"elv_laag", "elv_hoog", "elv_palliatief"} <= set(demo_region.products.values_list("code", flat=True))


# --- issue 16: a planner for every provider, the functional administrator, the new fields -----


def test_seed_demo_twice_creates_no_new_rows_of_any_kind(demo_region):
    devices = TOTPDevice.objects.count()
    organisations = list(Organisation.objects.order_by("pk").values())
    locations = list(Location.objects.order_by("pk").values())

    output = seed()

    assert TOTPDevice.objects.count() == devices
    assert list(Organisation.objects.order_by("pk").values()) == organisations
    assert list(Location.objects.order_by("pk").values()) == locations
    assert "planner-heuvelland" in output


def test_seed_demo_gives_every_provider_organisation_an_active_planner_who_can_log_in(demo_region):
    providers = Organisation.objects.filter(kind=OrganisationKind.PROVIDER)

    assert providers.filter(region=demo_region).count() >= 10
    assert providers.exclude(region=demo_region).exists()  # the neighbour region's too
    for organisation in providers:
        planners = organisation.users.filter(role=Role.PROVIDER_STAFF, is_active=True)
        assert planners.exists(), organisation.name
        planner = planners.first()
        assert TOTPDevice.objects.filter(user=planner, confirmed=True).exists(), planner.username
        assert Client().login(request=HttpRequest(), username=planner.username, password=DEMO_PASSWORD)


def test_seed_demo_creates_the_functional_administrator_beheer_at_the_desk(demo_region):
    beheer = User.objects.get(username="beheer")

    assert beheer.role == Role.ADMIN
    assert beheer.is_active
    assert beheer.organisation.kind == OrganisationKind.DESK
    assert beheer.region == demo_region
    assert TOTPDevice.objects.filter(user=beheer, confirmed=True).exists()


def test_seed_demo_fills_the_contact_and_referral_details_with_valid_values(demo_region):
    assert normalise_dutch_phone(demo_region.desk_phone) == demo_region.desk_phone
    assert demo_region.desk_phone.startswith("045 ")
    providers = Organisation.objects.filter(kind=OrganisationKind.PROVIDER)
    for organisation in providers:
        organisation.full_clean()
        assert organisation.street and organisation.city and organisation.email, organisation.name
        assert normalise_postcode(organisation.postcode) == organisation.postcode
        assert normalise_dutch_phone(organisation.phone) == organisation.phone
    assert 0 < providers.exclude(ura="").count() < providers.count()  # "where known"
    locations = Location.objects.all()
    for location in locations:
        location.full_clean()
        for phone in (location.phone_24_7, location.phone_office):
            assert normalise_dutch_phone(phone) == phone, location.name
        assert location.referral_procedure, location.name
    physicians = set(locations.values_list("treating_physician", flat=True))
    assert physicians == {TreatingPhysician.GP, TreatingPhysician.ELDERLY_CARE_SPECIALIST}
    assert {True, False} == set(locations.values_list("specialist_24_7", flat=True))


def test_seed_demo_fills_in_empty_fields_of_older_demo_data_and_keeps_changed_ones(demo_region):
    location = Location.objects.get(name="De Schacht")
    Location.objects.filter(pk=location.pk).update(phone_office="", referral_procedure="", phone_24_7="045 577 6677")
    Organisation.objects.filter(pk=location.organisation_id).update(street="", name="Mijnstreek Zorg (nieuw)")
    Region.objects.filter(pk=demo_region.pk).update(desk_phone="")

    seed()

    location.refresh_from_db()
    organisation = location.organisation
    organisation.refresh_from_db()
    demo_region.refresh_from_db()
    assert location.phone_office and location.referral_procedure
    assert location.phone_24_7 == "045 577 6677"  # changed in Beheer: kept
    assert organisation.street
    assert organisation.name == "Mijnstreek Zorg (nieuw)"  # renamed: kept, found by its AGB code
    assert not Organisation.objects.filter(name="Mijnstreek Zorg").exists()
    assert demo_region.desk_phone
