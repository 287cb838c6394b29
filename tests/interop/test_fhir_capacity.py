"""FHIR R4 read API for capacity: Organization, Location, HealthcareService, CodeSystem and the
CapabilityStatement; search parameters, paging, content negotiation and OperationOutcomes."""

from datetime import timedelta
from urllib.parse import parse_qs, urlparse

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from accounts.models import Role
from beds.models import ChangeSource
from beds.services import capacity_update
from interop.fhir import codes
from tests.factories import CapacityFactory, LocationFactory
from tests.interop.conftest import (
    FHIR,
    entries,
    fhir_body,
    link,
    outcome,
    product,
    token_client,
    validate_fhir,
)

pytestmark = pytest.mark.django_db


def ids(bundle: dict) -> list[str]:
    return [resource["id"] for resource in entries(bundle)]


# --- CapabilityStatement and CodeSystem -------------------------------------------------------


def test_metadata_lists_every_resource_interaction_and_search_parameter_without_login(client):
    statement = fhir_body(client.get(f"{FHIR}/metadata"))

    assert statement["resourceType"] == "CapabilityStatement"
    assert statement["fhirVersion"] == "4.0.1"
    [rest] = statement["rest"]
    by_type = {resource["type"]: resource for resource in rest["resource"]}
    assert set(by_type) == {
        "Organization",
        "Location",
        "HealthcareService",
        "MeasureReport",
        "ServiceRequest",
        "Task",
        "CodeSystem",
    }
    assert {i["code"] for i in by_type["ServiceRequest"]["interaction"]} == {"read", "create"}
    assert {p["name"] for p in by_type["Location"]["searchParam"]} >= {
        "_id",
        "organization",
        "address-postalcode",
        "near",
    }
    assert {p["name"] for p in by_type["HealthcareService"]["searchParam"]} >= {"_lastUpdated", "service-type"}
    assert {p["name"] for p in by_type["MeasureReport"]["searchParam"]} == {"period", "date", "subject"}
    assert {p["name"] for p in by_type["Task"]["searchParam"]} >= {"focus", "_id"}


# One working value per declared search parameter: the CapabilityStatement promises nothing the
# server ignores (an applied parameter shows up in the Bundle's self link).
SAMPLE_VALUES = {
    ("Organization", "_id"): lambda w: str(w.provider.pk),
    ("Organization", "identifier"): lambda w: f"{codes.AGB_SYSTEM}|73730002",
    ("Organization", "name"): lambda w: "Mijn",
    ("Location", "_id"): lambda w: str(w.locations[0].pk),
    ("Location", "organization"): lambda w: f"Organization/{w.provider.pk}",
    ("Location", "address-postalcode"): lambda w: "6411",
    ("Location", "address-city"): lambda w: "Heer",
    ("Location", "name"): lambda w: "De",
    ("Location", "status"): lambda w: "active",
    ("Location", "near"): lambda w: "50.8875|5.98|20|km",
    ("HealthcareService", "_id"): lambda w: str(w.locations[0].capacities.first().pk),
    ("HealthcareService", "organization"): lambda w: f"Organization/{w.provider.pk}",
    ("HealthcareService", "location"): lambda w: f"Location/{w.locations[0].pk}",
    ("HealthcareService", "service-type"): lambda w: "elv_hoog",
    ("HealthcareService", "active"): lambda w: "true",
    ("HealthcareService", "_lastUpdated"): lambda w: "ge2000-01-01",
    ("MeasureReport", "period"): lambda w: timezone.localdate().isoformat(),
    ("MeasureReport", "date"): lambda w: timezone.localdate().isoformat(),
    ("MeasureReport", "subject"): lambda w: f"Location/{w.locations[0].pk}",
    ("CodeSystem", "url"): lambda w: codes.system("bed-capacity"),
    ("CodeSystem", "_id"): lambda w: "bed-capacity",
    ("Task", "_id"): lambda w: "1",
    ("Task", "focus"): lambda w: "ServiceRequest/1",
    ("Task", "status"): lambda w: "requested",
    ("Task", "_lastUpdated"): lambda w: "ge2000-01-01",
}


def test_every_declared_search_parameter_is_applied(world, client):
    statement = client.get(f"{FHIR}/metadata").json()
    user = world.users[Role.GP]
    api = token_client(user)
    declared = [
        (resource["type"], param["name"])
        for resource in statement["rest"][0]["resource"]
        for param in resource.get("searchParam", [])
    ]
    assert set(declared) == set(SAMPLE_VALUES)
    for resource_type, name in declared:
        value = SAMPLE_VALUES[(resource_type, name)](world)
        bundle = fhir_body(api.get(f"{FHIR}/{resource_type}", {name: value}, HTTP_PREFER="handling=strict"))
        assert parse_qs(urlparse(link(bundle, "self")).query)[name] == [value], (resource_type, name)


def test_code_systems_are_public_and_their_urls_resolve(world, client):
    report = fhir_body(token_client(world.users[Role.ANALYST]).get(f"{FHIR}/MeasureReport"))
    population = entries(report)[0]["group"][0]["population"][0]["code"]["coding"][0]
    assert population["system"].startswith("http://")

    path = urlparse(population["system"]).path
    code_system = fhir_body(client.get(path))

    assert code_system["resourceType"] == "CodeSystem"
    assert code_system["url"] == population["system"]
    assert {c["code"] for c in code_system["concept"]} == {
        "total",
        "available",
        "held",
        "free",
        "expected-24h",
        "expected-72h",
        "locations",
        "stale",
    }
    assert all(concept["definition"] for concept in code_system["concept"])
    listing = fhir_body(client.get(f"{FHIR}/CodeSystem"))
    assert {"bed-capacity", "product", "referral-state", "referral-origin", "referral-criteria"} <= set(ids(listing))
    outcome(client.get(f"{FHIR}/CodeSystem/nope"), 404, "not-found")


# --- Organization -----------------------------------------------------------------------------


def test_organization_carries_its_agb_code(world):
    api = token_client(world.users[Role.GP])

    organisation = fhir_body(api.get(f"{FHIR}/Organization/{world.provider.pk}"))

    assert organisation["name"] == "Mijnstreek Zorg"
    assert organisation["identifier"] == [
        {"use": "official", "system": "http://fhir.nl/fhir/NamingSystem/agb-z", "value": "73730002"}
    ]
    found = fhir_body(api.get(f"{FHIR}/Organization", {"identifier": f"{codes.AGB_SYSTEM}|73730002"}))
    assert ids(found) == [str(world.provider.pk)]
    assert fhir_body(api.get(f"{FHIR}/Organization", {"identifier": "http://other|73730002"}))["total"] == 0


def test_organizations_of_another_region_are_invisible(world):
    api = token_client(world.users[Role.COORDINATOR])
    far = world.far_location.organisation

    outcome(api.get(f"{FHIR}/Organization/{far.pk}"), 404, "not-found")
    assert str(far.pk) not in ids(fhir_body(api.get(f"{FHIR}/Organization", {"_count": 200})))


# --- Location ---------------------------------------------------------------------------------


def test_location_has_address_position_telecom_types_and_managing_organization(world):
    location = world.locations[0]

    resource = fhir_body(token_client(world.users[Role.TRANSFER_NURSE]).get(f"{FHIR}/Location/{location.pk}"))

    assert resource["name"] == "De Schacht"
    assert resource["address"]["postalCode"] == "6411 AB"
    assert resource["address"]["city"] == "Heerlen"
    assert resource["position"] == {"longitude": pytest.approx(location.longitude), "latitude": pytest.approx(50.8875)}
    assert resource["telecom"] == [{"system": "phone", "value": "045 555 1234", "use": "work"}]
    assert resource["physicalType"]["coding"][0]["code"] == "bu"
    assert resource["operationalStatus"]["code"] == "U"  # elv_laag has free beds
    assert resource["managingOrganization"] == {
        "reference": f"Organization/{world.provider.pk}",
        "display": "Mijnstreek Zorg",
    }


def test_location_without_a_bed_to_offer_is_occupied_and_an_inactive_one_closed(world):
    location = world.other_location
    capacity_update(capacity_id=location.capacities.get().pk, by=None, counts={"available": 0})
    api = token_client(world.users[Role.GP])

    assert fhir_body(api.get(f"{FHIR}/Location/{location.pk}"))["operationalStatus"]["code"] == "O"
    location.is_active = False
    location.save()
    resource = fhir_body(api.get(f"{FHIR}/Location/{location.pk}"))
    assert (resource["status"], resource["operationalStatus"]["code"]) == ("inactive", "C")


def test_location_of_another_region_is_not_found(world):
    response = token_client(world.users[Role.GP]).get(f"{FHIR}/Location/{world.far_location.pk}")

    outcome(response, 404, "not-found")


def test_locations_are_searched_by_organization_and_postcode(world):
    api = token_client(world.users[Role.COORDINATOR])

    by_organisation = fhir_body(api.get(f"{FHIR}/Location", {"organization": f"Organization/{world.provider.pk}"}))
    by_postcode = fhir_body(api.get(f"{FHIR}/Location", {"address-postalcode": "6411ab"}))
    both = fhir_body(api.get(f"{FHIR}/Location", {"organization": world.other_provider.pk, "address-postalcode": "64"}))

    assert sorted(ids(by_organisation)) == sorted(str(location.pk) for location in world.locations)
    assert ids(by_postcode) == [str(world.locations[0].pk)]
    assert ids(both) == [str(world.other_location.pk)]


def test_near_orders_by_distance_and_leaves_out_what_is_too_far(world):
    heerlen = world.locations[0]
    api = token_client(world.users[Role.GP])

    bundle = fhir_body(api.get(f"{FHIR}/Location", {"near": f"{heerlen.latitude}|{heerlen.longitude}|15|km"}))

    names = [resource["name"] for resource in entries(bundle)]
    assert names == ["De Schacht", "Huize Welten", "De Geulhof"]  # Heerlen, Heerlen-Welten, Valkenburg
    distances = [entry["search"]["extension"][0]["valueDistance"]["value"] for entry in bundle["entry"]]
    assert distances == sorted(distances) and distances[0] == 0
    assert distances[-1] < 15
    wide = fhir_body(api.get(f"{FHIR}/Location", {"near": f"{heerlen.latitude}|{heerlen.longitude}|50"}))
    assert [r["name"] for r in entries(wide)][-1] == "Sint Pieter"  # Maastricht, about 20 km


@pytest.mark.parametrize("value", ["50.8|x", "50.8", "91|5|10|km", "50.8|5.9|10|mi", "50.8|5.9|-1"])
def test_a_malformed_near_is_a_400(world, value):
    outcome(token_client(world.users[Role.GP]).get(f"{FHIR}/Location", {"near": value}), 400, "invalid")


def test_paging_follows_next_and_previous_links(world):
    for n in range(4):
        LocationFactory(organisation=world.provider, name=f"Extra {n}")
    api = token_client(world.users[Role.GP])

    first = fhir_body(api.get(f"{FHIR}/Location", {"_count": 3}))
    assert first["total"] == 8 and len(first["entry"]) == 3
    assert link(first, "previous") is None
    seen, page = ids(first), first
    while link(page, "next"):
        page = fhir_body(api.get(link(page, "next")))
        seen += ids(page)
    assert len(seen) == 8 and len(set(seen)) == 8
    assert page["link"][0]["relation"] == "self" and link(page, "next") is None
    back = fhir_body(api.get(link(page, "previous")))
    assert ids(back) == seen[3:6]
    assert link(first, "last") == link(page, "self")


def test_count_zero_answers_only_the_total(world):
    bundle = fhir_body(token_client(world.users[Role.GP]).get(f"{FHIR}/Location", {"_count": 0}))

    assert bundle["total"] == 4 and "entry" not in bundle


@pytest.mark.parametrize("params", [{"_count": "many"}, {"_offset": -1}])
def test_bad_paging_parameters_are_a_400(world, params):
    outcome(token_client(world.users[Role.GP]).get(f"{FHIR}/Location", params), 400, "invalid")


def test_location_search_costs_the_same_queries_for_more_locations(world, django_assert_num_queries):
    api = token_client(world.users[Role.GP])
    api.get(f"{FHIR}/Location")  # warm up the token
    with django_assert_num_queries(4) as small:  # the token loads its user and organisation at once
        api.get(f"{FHIR}/Location")
    for n in range(6):
        location = LocationFactory(organisation=world.other_provider, name=f"More {n}")
        CapacityFactory(location=location, product=product("elv_laag"))
    with django_assert_num_queries(len(small.captured_queries)):
        api.get(f"{FHIR}/Location")


# --- HealthcareService ------------------------------------------------------------------------


def test_healthcare_service_is_one_product_at_one_location(world):
    capacity = world.locations[0].capacities.get(product__code="elv_hoog")

    service = fhir_body(token_client(world.users[Role.ANALYST]).get(f"{FHIR}/HealthcareService/{capacity.pk}"))

    assert service["type"][0]["coding"][0] == codes.coding("product", "elv_hoog", "ELV hoog complex")
    assert service["location"] == [{"reference": f"Location/{world.locations[0].pk}", "display": "De Schacht"}]
    assert service["providedBy"]["reference"] == f"Organization/{world.provider.pk}"
    assert service["meta"]["versionId"] == "1"
    assert service["characteristic"][0]["coding"][0]["code"] == "oxygen"
    assert service["availableTime"] == [
        {"daysOfWeek": ["mon", "tue", "wed", "thu", "fri", "sat", "sun"], "allDay": True}
    ]


def test_healthcare_services_are_searched_by_product_location_and_last_update(world):
    api = token_client(world.users[Role.GP])
    old = timezone.now() - timedelta(days=3)
    with time_machine.travel(old, tick=False):
        for capacity in world.locations[1].capacities.all():
            capacity_update(capacity_id=capacity.pk, by=None, counts={"total": 9}, source=ChangeSource.API)
    cutoff = (old + timedelta(days=1)).date().isoformat()

    hoog = fhir_body(api.get(f"{FHIR}/HealthcareService", {"service-type": "elv_hoog", "_count": 200}))
    at_location = fhir_body(api.get(f"{FHIR}/HealthcareService", {"location": f"Location/{world.locations[1].pk}"}))
    not_since = fhir_body(api.get(f"{FHIR}/HealthcareService", {"_lastUpdated": f"lt{cutoff}"}))

    assert hoog["total"] == 4  # three of the provider's locations and Huize Welten
    assert at_location["total"] == 2
    assert sorted(ids(not_since)) == sorted(str(c.pk) for c in world.locations[1].capacities.all())
    assert {r["meta"]["lastUpdated"][:10] for r in entries(not_since)} == {timezone.localtime(old).date().isoformat()}


# --- Access and protocol ----------------------------------------------------------------------


@pytest.mark.parametrize("role", list(Role))
def test_every_role_of_the_region_reads_capacity(world, role):
    api = token_client(world.users[role])

    for path in ("Organization", "Location", "HealthcareService", "MeasureReport"):
        assert fhir_body(api.get(f"{FHIR}/{path}"))["type"] == "searchset"


def test_anonymous_gets_a_401_outcome_with_the_scheme(world, client):
    response = client.get(f"{FHIR}/Location")

    outcome(response, 401, "login")
    assert response["WWW-Authenticate"] == "Token, Api-Key"


def test_a_user_without_organisation_is_refused(db):
    from tests.factories import UserFactory

    outcome(token_client(UserFactory(organisation=None, role="")).get(f"{FHIR}/Location"), 403, "forbidden")


def test_format_and_accept(world):
    api = token_client(world.users[Role.GP])

    assert fhir_body(api.get(f"{FHIR}/Location", {"_format": "json"}))["type"] == "searchset"
    assert fhir_body(api.get(f"{FHIR}/Location", {"_format": "application/fhir+json"}))["type"] == "searchset"
    assert fhir_body(api.get(f"{FHIR}/Location", HTTP_ACCEPT="application/fhir+json"))["type"] == "searchset"
    outcome(api.get(f"{FHIR}/Location", {"_format": "xml"}), 406, "not-supported")
    outcome(api.get(f"{FHIR}/Location", HTTP_ACCEPT="application/fhir+xml"), 406, "not-supported")


def test_unknown_paths_and_methods_answer_with_an_outcome(world):
    api = token_client(world.users[Role.GP])

    outcome(api.get(f"{FHIR}/Patient"), 404, "not-found")
    outcome(api.get(f"{FHIR}/Location/abc"), 404, "not-found")
    outcome(api.delete(f"{FHIR}/Location/{world.locations[0].pk}"), 405, "not-supported")


def test_unknown_parameters_are_ignored_unless_strict(world):
    api = token_client(world.users[Role.GP])

    lenient = fhir_body(api.get(f"{FHIR}/Location", {"colour": "blue"}))
    assert "colour" not in link(lenient, "self")
    outcome(api.get(f"{FHIR}/Location", {"colour": "blue"}, HTTP_PREFER="handling=strict"), 400, "invalid")


def test_validation_helper_rejects_what_fhir_forbids():
    """The test helper itself: an unknown element or an empty array does not pass."""
    with pytest.raises(Exception):  # noqa: B017 - pydantic's ValidationError
        validate_fhir({"resourceType": "Location", "colour": "blue"})
    with pytest.raises(AssertionError):
        validate_fhir({"resourceType": "Location", "alias": []})


@pytest.mark.parametrize("resource_type", ["Organization", "HealthcareService", "MeasureReport"])
def test_other_searches_cost_the_same_queries_for_more_data(world, resource_type):
    api = token_client(world.users[Role.COORDINATOR])
    small_count = _queries(api, f"{FHIR}/{resource_type}")
    for n in range(5):
        location = LocationFactory(
            organisation=world.other_provider, name=f"More {n}", features=["oxygen", "single_room"]
        )
        CapacityFactory(location=location, product=product("elv_palliatief"))
    assert _queries(api, f"{FHIR}/{resource_type}") == small_count


def _queries(api, url) -> int:
    with CaptureQueriesContext(connection) as context:
        assert api.get(url).status_code == 200
    return len(context.captured_queries)
