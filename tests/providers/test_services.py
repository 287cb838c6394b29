"""Organisations and locations changed in Beheer (providers.services): checked input, one
history row per change, and the rule that an active location needs an active organisation.
Users and API keys of an inactive organisation are refused."""

from datetime import time

import pytest
from django.core.exceptions import ValidationError
from django.test import Client
from django.urls import reverse
from django.utils import translation
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from accounts.models import Role
from audit.models import ChangeRecord
from beds.selectors import OverviewFilters, region_overview
from interop.services import api_key_create
from providers import services
from providers.models import Feature, Insurer, Location, Organisation, OrganisationKind
from tests.factories import (
    TEST_PASSWORD,
    DeskFactory,
    LocationFactory,
    ProviderFactory,
    RegionFactory,
    user_with_role,
)
from tests.providers.bookings import admitted_at, booked_at, discharged_at, open_offer_at

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def english():
    """Service messages are translated; assert on the English source text."""
    with translation.override("en"):
        yield


@pytest.fixture
def region():
    return RegionFactory(code="zuid-limburg", name="Zuid-Limburg")


@pytest.fixture
def admin(region):
    return user_with_role(Role.ADMIN, DeskFactory(region=region, name="Regioloket"), username="beheer")


@pytest.fixture
def provider(region):
    return ProviderFactory(region=region, name="Zorggroep Maasheuvel", agb_code="73730001")


def organisation_data(**overrides) -> dict:
    data = {
        "kind": OrganisationKind.PROVIDER,
        "name": "Mijnstreek Zorg",
        "agb_code": "7373 0002",
        "ura": "",
        "street": "Markt 1",
        "postcode": "6411ab",
        "city": "Heerlen",
        "phone": "045-5776677",
        "email": "info@mijnstreek.example",
    }
    data.update(overrides)
    return data


def location_data(**overrides) -> dict:
    data = {
        "name": "De Schacht",
        "street": "Schachtstraat 3",
        "postcode": "6212 ab",
        "city": "Maastricht",
        "phone_24_7": "+31 45 577 6677",
        "phone_office": "",
        "admission_24_7": True,
        "admission_from": None,
        "admission_until": None,
        "treating_physician": "specialist",
        "specialist_24_7": True,
        "features": list(Feature.objects.filter(code__in=["oxygen", "single_room"])),
        "contracted_insurers": list(Insurer.objects.filter(uzovi="9015")),
        "referral_procedure": "Bel de 24/7-lijn; de verpleegkundige neemt de overdracht op.",
    }
    data.update(overrides)
    return data


def records(object_type: str, object_id: int) -> list[ChangeRecord]:
    return list(ChangeRecord.objects.filter(object_type=object_type, object_id=object_id).order_by("id"))


def field_errors(excinfo) -> dict:
    return excinfo.value.message_dict


# --- Organisations --------------------------------------------------------------------------


def test_creating_an_organisation_normalises_the_input_and_places_it_in_the_admins_region(admin, region):
    organisation = services.organisation_create(by=admin, data=organisation_data())

    organisation.refresh_from_db()
    assert organisation.region == region
    assert (organisation.agb_code, organisation.postcode, organisation.phone) == ("73730002", "6411 AB", "045 577 6677")
    assert organisation.is_active
    [record] = records("organisation", organisation.pk)
    assert (record.action, record.by, record.region_id, record.object_name) == (
        "create",
        admin,
        region.pk,
        "Mijnstreek Zorg",
    )
    assert record.after["agb_code"] == "73730002" and record.after["kind"] == "provider"


def test_a_region_is_never_taken_from_the_input(admin, region):
    other = RegionFactory()

    organisation = services.organisation_create(by=admin, data=organisation_data(region=other))

    assert organisation.region == region


def test_the_desk_organisation_cannot_be_created(admin):
    with pytest.raises(ValidationError) as excinfo:
        services.organisation_create(by=admin, data=organisation_data(kind=OrganisationKind.DESK))

    assert "kind" in field_errors(excinfo)
    assert not Organisation.objects.filter(name="Mijnstreek Zorg").exists()


@pytest.mark.parametrize("agb", ["7373000", "737300021", "7373000x", "７３７３０００２"])
def test_an_agb_code_has_exactly_eight_digits(admin, agb):
    with pytest.raises(ValidationError) as excinfo:
        services.organisation_create(by=admin, data=organisation_data(agb_code=agb))

    assert field_errors(excinfo)["agb_code"] == ["An AGB code has exactly 8 digits."]
    assert not Organisation.objects.filter(name="Mijnstreek Zorg").exists()


def test_an_agb_code_in_use_names_the_organisation_that_has_it(admin, provider):
    with pytest.raises(ValidationError) as excinfo:
        services.organisation_create(by=admin, data=organisation_data(agb_code="73730001"))

    assert field_errors(excinfo)["agb_code"] == ["AGB code 73730001 already belongs to Zorggroep Maasheuvel."]


def test_care_providers_need_an_agb_code_insurers_do_not(admin):
    with pytest.raises(ValidationError) as excinfo:
        services.organisation_create(by=admin, data=organisation_data(agb_code=""))
    assert "AGB code" in field_errors(excinfo)["agb_code"][0]

    insurer = services.organisation_create(
        by=admin, data=organisation_data(kind=OrganisationKind.INSURER, name="VGZ", agb_code="")
    )
    assert insurer.agb_code is None


def test_bad_ura_postcode_and_phone_each_get_their_message_and_nothing_is_saved(admin):
    with pytest.raises(ValidationError) as excinfo:
        services.organisation_create(by=admin, data=organisation_data(ura="1234", postcode="64111", phone="12345"))

    errors = field_errors(excinfo)
    assert errors["ura"] == ["A URA number has exactly 8 digits."]
    assert errors["postcode"] == ["Enter a valid Dutch postcode, for example 6411 AB."]
    assert errors["phone"] == ["Enter a valid Dutch phone number, for example 045 577 6677."]
    assert not Organisation.objects.filter(name="Mijnstreek Zorg").exists()
    assert not ChangeRecord.objects.exists()


def test_an_update_records_only_what_changed(admin, provider):
    services.organisation_update(
        organisation=provider, by=admin, data={"name": "Zorggroep Maasheuvel", "city": "Kerkrade", "ura": "12345678"}
    )

    provider.refresh_from_db()
    assert (provider.city, provider.ura) == ("Kerkrade", "12345678")
    [record] = records("organisation", provider.pk)
    assert record.action == "update"
    assert record.before == {"city": "", "ura": ""}
    assert record.after == {"city": "Kerkrade", "ura": "12345678"}


def test_an_update_that_changes_nothing_records_nothing(admin, provider):
    services.organisation_update(organisation=provider, by=admin, data={"name": provider.name, "agb_code": "73730001"})

    assert not records("organisation", provider.pk)


def test_an_organisation_keeps_its_own_agb_code_when_edited(admin, provider):
    services.organisation_update(organisation=provider, by=admin, data={"agb_code": "7373 0001", "city": "Sittard"})

    provider.refresh_from_db()
    assert (provider.agb_code, provider.city) == ("73730001", "Sittard")


def test_the_desk_keeps_its_kind_and_a_provider_with_locations_stays_a_provider(admin, provider):
    with pytest.raises(ValidationError) as desk_error:
        services.organisation_update(organisation=admin.organisation, by=admin, data={"kind": "provider"})
    LocationFactory(organisation=provider)
    with pytest.raises(ValidationError) as provider_error:
        services.organisation_update(organisation=provider, by=admin, data={"kind": OrganisationKind.GP_PRACTICE})

    assert "kind" in field_errors(desk_error) and "kind" in field_errors(provider_error)
    assert Organisation.objects.get(pk=provider.pk).kind == OrganisationKind.PROVIDER


def test_the_desk_itself_can_be_edited(admin):
    services.organisation_update(organisation=admin.organisation, by=admin, data={"phone": "0455776677"})

    assert Organisation.objects.get(pk=admin.organisation_id).phone == "045 577 6677"


# --- Deactivating and reactivating organisations --------------------------------------------


def test_deactivating_an_organisation_deactivates_its_active_locations_with_history(admin, provider):
    first = LocationFactory(organisation=provider, name="A")
    second = LocationFactory(organisation=provider, name="B")
    closed = LocationFactory(organisation=provider, name="C", is_active=False)

    deactivated = services.organisation_deactivate(organisation=provider, by=admin)

    assert {location.pk for location in deactivated} == {first.pk, second.pk}
    assert not Organisation.objects.get(pk=provider.pk).is_active
    assert not Location.objects.filter(organisation=provider, is_active=True).exists()
    for location in (first, second):
        [record] = records("location", location.pk)
        assert (record.action, record.before, record.after) == ("deactivate", {"is_active": True}, {"is_active": False})
    assert not records("location", closed.pk)
    [record] = records("organisation", provider.pk)
    assert record.action == "deactivate"


def test_an_inactive_organisation_is_gone_from_the_bed_overview(admin, provider, region):
    LocationFactory(organisation=provider, name="De Schacht")
    assert [loc.name for loc in region_overview(region=region, filters=OverviewFilters())] == ["De Schacht"]

    services.organisation_deactivate(organisation=provider, by=admin)

    assert region_overview(region=region, filters=OverviewFilters()) == []


@pytest.mark.parametrize("make", [open_offer_at, booked_at, admitted_at], ids=["offer", "booked", "admitted"])
def test_an_organisation_is_not_deactivated_while_a_patient_depends_on_it(admin, provider, make):
    location = LocationFactory(organisation=provider)
    make(location)

    with pytest.raises(ValidationError) as excinfo:
        services.organisation_deactivate(organisation=provider, by=admin)

    assert excinfo.value.messages == [
        "Zorggroep Maasheuvel cannot be deactivated: 1 patient has an open offer or a booked bed there. "
        "Deactivate it once that patient is placed elsewhere or discharged."
    ]
    assert Organisation.objects.get(pk=provider.pk).is_active
    assert Location.objects.get(pk=location.pk).is_active
    assert not ChangeRecord.objects.exists()


def test_the_refusal_counts_every_dependent_patient(admin, provider):
    location = LocationFactory(organisation=provider)
    open_offer_at(location)
    admitted_at(LocationFactory(organisation=provider))

    with pytest.raises(ValidationError, match="2 patients have an open offer or a booked bed"):
        services.organisation_deactivate(organisation=provider, by=admin)


def test_a_discharged_patient_does_not_block_deactivation(admin, provider):
    discharged_at(LocationFactory(organisation=provider))

    services.organisation_deactivate(organisation=provider, by=admin)

    assert not Organisation.objects.get(pk=provider.pk).is_active


def test_the_desk_cannot_be_deactivated(admin):
    with pytest.raises(ValidationError, match="desk's own organisation"):
        services.organisation_deactivate(organisation=admin.organisation, by=admin)


def test_reactivating_an_organisation_leaves_its_locations_inactive(admin, provider):
    location = LocationFactory(organisation=provider)
    services.organisation_deactivate(organisation=provider, by=admin)

    services.organisation_reactivate(organisation=provider, by=admin)

    assert Organisation.objects.get(pk=provider.pk).is_active
    assert not Location.objects.get(pk=location.pk).is_active
    assert [record.action for record in records("organisation", provider.pk)] == ["deactivate", "activate"]


def test_deactivating_or_reactivating_twice_records_it_once(admin, provider):
    services.organisation_deactivate(organisation=provider, by=admin)
    services.organisation_deactivate(organisation=provider, by=admin)
    services.organisation_reactivate(organisation=provider, by=admin)
    services.organisation_reactivate(organisation=provider, by=admin)

    assert [record.action for record in records("organisation", provider.pk)] == ["deactivate", "activate"]


# --- The people and systems of an inactive organisation -------------------------------------


def signs_in(username: str, password: str = TEST_PASSWORD) -> bool:
    """Through the real login form (django-axes needs the request)."""
    client = Client(headers={"Accept-Language": "en"})
    client.post(reverse("login"), {"username": username, "password": password})
    return "_auth_user_id" in client.session


def test_users_of_an_inactive_organisation_cannot_sign_in(admin, provider):
    user_with_role(Role.PROVIDER_STAFF, provider, username="planner")
    assert signs_in("planner")

    services.organisation_deactivate(organisation=provider, by=admin)

    assert not signs_in("planner")
    services.organisation_reactivate(organisation=provider, by=admin)
    assert signs_in("planner")


def test_an_open_session_ends_when_the_organisation_is_deactivated(admin, provider):
    planner = user_with_role(Role.PROVIDER_STAFF, provider)
    client = Client()
    client.force_login(planner)
    assert client.get(reverse("beds:my_beds")).status_code == 200

    services.organisation_deactivate(organisation=provider, by=admin)

    response = client.get(reverse("beds:my_beds"))
    assert response.status_code == 302 and reverse("login") in response["Location"]


def test_the_api_token_of_a_user_of_an_inactive_organisation_is_refused(admin, provider):
    planner = user_with_role(Role.PROVIDER_STAFF, provider)
    token = Token.objects.create(user=planner)
    api = APIClient(HTTP_AUTHORIZATION=f"Token {token.key}", HTTP_ACCEPT_LANGUAGE="en")
    assert api.get("/api/v1/offers/").status_code == 200

    services.organisation_deactivate(organisation=provider, by=admin)

    response = api.get("/api/v1/offers/")
    assert response.status_code == 401
    assert "organisation of this account is inactive" in response.content.decode()


def test_an_api_key_of_an_inactive_organisation_is_refused(admin, provider):
    _key, full_key = api_key_create(organisation=provider, name="ECD")
    api = APIClient(HTTP_AUTHORIZATION=f"Api-Key {full_key}", HTTP_ACCEPT_LANGUAGE="en")
    assert api.get("/fhir/r4/Location").status_code == 200

    services.organisation_deactivate(organisation=provider, by=admin)

    response = api.get("/fhir/r4/Location")
    assert response.status_code == 401
    assert "organisation of this API key is inactive" in response.content.decode()


def test_a_superuser_without_organisation_still_signs_in(django_user_model):
    django_user_model.objects.create_superuser("root", "root@example.org", "Root-ELV-2026!")

    assert signs_in("root", "Root-ELV-2026!")


# --- Locations ------------------------------------------------------------------------------


def test_a_new_location_gets_the_coordinates_of_its_pc4_area_and_a_history_row(admin, provider):
    location = services.location_create(organisation=provider, by=admin, data=location_data())

    location.refresh_from_db()
    assert (location.postcode, location.phone_24_7) == ("6212 AB", "045 577 6677")
    assert location.latitude is not None and location.longitude is not None
    assert (location.admission_from, location.admission_until) == (None, None)
    assert {feature.code for feature in location.features.all()} == {"oxygen", "single_room"}
    [record] = records("location", location.pk)
    assert record.action == "create"
    assert record.after["features"] == ["Eenpersoonskamer", "Zuurstof"]
    assert record.after["treating_physician"] == "specialist"


def test_an_unknown_postcode_is_an_error_on_the_postcode(admin, provider):
    with pytest.raises(ValidationError) as excinfo:
        services.location_create(organisation=provider, by=admin, data=location_data(postcode="6000 AA"))

    # 6000 is missing from the shipped table (tests/providers/test_postcodes.py checks that).
    assert field_errors(excinfo)["postcode"] == ["Postcode area 6000 is unknown; check the postcode."]
    assert not Location.objects.exists()


def test_the_24_7_phone_is_required_and_must_be_dutch(admin, provider):
    with pytest.raises(ValidationError) as excinfo:
        services.location_create(organisation=provider, by=admin, data=location_data(phone_24_7="", phone_office="1"))

    errors = field_errors(excinfo)
    assert set(errors) == {"phone_24_7", "phone_office"}


def test_the_treating_physician_is_the_gp_or_a_specialist(admin, provider):
    with pytest.raises(ValidationError) as excinfo:
        services.location_create(organisation=provider, by=admin, data=location_data(treating_physician="nurse"))

    assert field_errors(excinfo) == {"treating_physician": ["Choose who treats the patients here."]}


def test_admission_is_either_24_7_or_a_window_of_two_times(admin, provider):
    with pytest.raises(ValidationError) as missing:
        services.location_create(organisation=provider, by=admin, data=location_data(admission_24_7=False))
    with pytest.raises(ValidationError) as reversed_window:
        services.location_create(
            organisation=provider,
            by=admin,
            data=location_data(admission_24_7=False, admission_from=time(20, 0), admission_until=time(8, 0)),
        )

    assert set(field_errors(missing)) == {"admission_from", "admission_until"}
    assert "admission 24/7" in field_errors(missing)["admission_from"][0]
    assert field_errors(reversed_window) == {"admission_until": ["Admission until must be later than admission from."]}
    assert not Location.objects.exists()


def test_admission_24_7_clears_the_times_and_a_window_is_kept(admin, provider):
    all_day = services.location_create(
        organisation=provider, by=admin, data=location_data(admission_from=time(8, 0), admission_until=time(20, 0))
    )
    window = services.location_create(
        organisation=provider,
        by=admin,
        data=location_data(name="Hof", admission_24_7=False, admission_from=time(8, 0), admission_until=time(20, 0)),
    )

    assert (all_day.admission_24_7, all_day.admission_from) == (True, None)
    assert (window.admission_24_7, window.admission_from, window.admission_until) == (False, time(8, 0), time(20, 0))


def test_only_an_active_care_provider_gets_locations(admin, provider, region):
    practice = Organisation.objects.create(region=region, kind=OrganisationKind.GP_PRACTICE, name="Praktijk")
    with pytest.raises(ValidationError, match="Only care providers"):
        services.location_create(organisation=practice, by=admin, data=location_data())
    services.organisation_deactivate(organisation=provider, by=admin)
    with pytest.raises(ValidationError, match="Reactivate the organisation"):
        services.location_create(organisation=provider, by=admin, data=location_data())


def test_a_location_update_records_the_changes_and_moves_with_its_postcode(admin, provider):
    location = LocationFactory(organisation=provider, pc4="6411", features=["oxygen"])
    heerlen = (location.latitude, location.longitude)

    services.location_update(
        location=location,
        by=admin,
        data={"postcode": "6212 AB", "features": list(Feature.objects.filter(code="bariatric")), "name": location.name},
    )

    location.refresh_from_db()
    assert (location.latitude, location.longitude) != heerlen
    [record] = records("location", location.pk)
    assert record.before == {"postcode": "6411 AB", "features": ["Zuurstof"]}
    assert record.after == {"postcode": "6212 AB", "features": ["Bariatrische zorg"]}


def test_switching_admission_to_a_window_needs_both_times(admin, provider):
    location = LocationFactory(organisation=provider, admission_24_7=True)

    with pytest.raises(ValidationError) as excinfo:
        services.location_update(location=location, by=admin, data={"admission_24_7": False, "admission_from": time(9)})

    assert set(field_errors(excinfo)) == {"admission_until"}


def test_a_location_is_not_deactivated_while_a_patient_has_an_offer_there(admin, provider):
    location = LocationFactory(organisation=provider, name="De Schacht")
    open_offer_at(location)

    with pytest.raises(ValidationError) as excinfo:
        services.location_deactivate(location=location, by=admin)

    assert excinfo.value.messages[0].startswith("De Schacht cannot be deactivated: 1 patient has an open offer")
    assert Location.objects.get(pk=location.pk).is_active


def test_deactivating_and_reactivating_a_location_is_recorded(admin, provider):
    location = LocationFactory(organisation=provider)

    services.location_deactivate(location=location, by=admin)
    assert not Location.objects.get(pk=location.pk).is_active
    services.location_reactivate(location=location, by=admin)

    assert Location.objects.get(pk=location.pk).is_active
    assert [record.action for record in records("location", location.pk)] == ["deactivate", "activate"]


def test_a_location_of_an_inactive_organisation_cannot_be_reactivated(admin, provider):
    location = LocationFactory(organisation=provider)
    services.organisation_deactivate(organisation=provider, by=admin)

    with pytest.raises(ValidationError, match="Zorggroep Maasheuvel is inactive: reactivate the organisation first."):
        services.location_reactivate(location=location, by=admin)

    assert not Location.objects.get(pk=location.pk).is_active
