"""API v1: locations with their counts (same filters as the overview), and a provider's own
system PATCHing its own counts, nobody else's. Every error has one shape."""

from io import StringIO

import pytest
from django.core.management import call_command
from django.urls import reverse
from rest_framework.test import APIClient

from accounts.models import Role
from beds.models import CapacityChange
from elvdesk import page_cache
from tests.factories import CapacityFactory, LocationFactory, ProviderFactory, RegionFactory, product, user_with_role

pytestmark = pytest.mark.django_db

LOCATIONS = reverse("api-locations")


def capacity_url(capacity):
    return reverse("api-capacity", args=[capacity.pk])


def assert_error(response, status: int, code: str | None = None) -> dict:
    """The one error shape: {"error": {"status", "code", "message", "fields"?}}."""
    assert response.status_code == status, response.content
    body = response.json()
    assert set(body) == {"error"}
    error = body["error"]
    assert error["status"] == status
    assert error["code"]
    assert isinstance(error["message"], str) and error["message"].strip()
    assert set(error) <= {"status", "code", "message", "fields"}
    if code is not None:
        assert error["code"] == code
    return error


def counts(capacity) -> tuple:
    capacity.refresh_from_db()
    return (capacity.total, capacity.available, capacity.held, capacity.expected_24h, capacity.expected_72h)


@pytest.fixture
def three_locations(provider):
    names = {}
    for name, pc4 in (("Far", "6212"), ("Middle", "6301"), ("Near", "6413")):
        location = LocationFactory(organisation=provider, name=name, pc4=pc4)
        CapacityFactory(location=location, product=product("elv_hoog"), total=8, available=2, held=1)
        names[name] = location
    return names


# --- GET /api/v1/locations/ ------------------------------------------------------------------


def test_api_lists_the_regions_locations_with_their_counts(make_api_client, gp, capacity):
    response = make_api_client(gp).get(LOCATIONS)

    assert response.status_code == 200
    [location] = response.json()
    assert location["name"] == "De Schacht"
    assert location["postcode"] == "6411 AB"
    assert location["organisation"]["name"] == "Zorggroep Maasheuvel"
    assert len(location["organisation"]["agb_code"]) == 8
    assert location["latitude"] == pytest.approx(50.8875)
    [count] = location["capacities"]
    assert count == {
        "id": capacity.pk,
        "product": "elv_hoog",
        "total": 10,
        "available": 3,
        "held": 1,
        "free": 2,
        "expected_24h": 1,
        "expected_72h": 2,
        "reserved": 0,
        "confirmed_at": count["confirmed_at"],
        "stale": False,
        "version": 1,
    }


def test_api_lists_locations_nearest_first_with_their_distance(make_api_client, gp, three_locations):
    response = make_api_client(gp).get(LOCATIONS, {"postcode": "6411AB"})

    assert response.status_code == 200
    data = response.json()
    assert [item["name"] for item in data] == ["Near", "Middle", "Far"]
    distances = [item["distance_km"] for item in data]
    assert distances == sorted(distances)
    assert distances[0] == pytest.approx(3.45, abs=0.1)
    assert distances[2] == pytest.approx(20.8, abs=0.1)


def test_api_applies_the_overview_filters(make_api_client, gp, provider, three_locations):
    special = LocationFactory(organisation=provider, name="Special", pc4="6413", features=["oxygen"], insurers=["3311"])
    CapacityFactory(location=special, product=product("elv_laag"), available=1)
    client = make_api_client(gp)

    def names(**params):
        response = client.get(LOCATIONS, params)
        assert response.status_code == 200, response.content
        return [item["name"] for item in response.json()]

    assert names(product="elv_laag") == ["Special"]
    assert names(product="elv_hoog", postcode="6411", max_km=15) == ["Near", "Middle"]
    assert names(features="oxygen") == ["Special"]
    assert names(insurer="3311") == ["Special"]
    assert sorted(names(only_free="true")) == ["Far", "Middle", "Near", "Special"]
    CapacityFactory(location=LocationFactory(organisation=provider, name="Full"), available=1, held=1)
    assert "Full" not in names(only_free="true")
    assert "Full" in names()


@pytest.mark.parametrize(
    ("params", "field", "message"),
    [
        ({"postcode": "64"}, "postcode", "Enter a valid Dutch postcode, for example 6411 AB."),
        ({"postcode": "6000 AA"}, "postcode", "Postcode area 6000 is unknown; check the postcode."),
        ({"max_km": "5"}, "postcode", "Enter a postcode to search within a distance."),
        ({"postcode": "6411", "max_km": "x"}, "max_km", "Enter a whole number of kilometres."),
        ({"product": "nonsense"}, "product", None),
        ({"insurer": "0000"}, "insurer", None),
    ],
)
def test_api_bad_filters_give_400_with_field_errors(make_api_client, gp, three_locations, params, field, message):
    response = make_api_client(gp).get(LOCATIONS, params)

    error = assert_error(response, 400, "invalid")
    assert error["fields"][field]
    if message is not None:
        assert error["fields"][field] == [message]


def test_api_shows_only_the_users_own_region(make_api_client, gp, capacity):
    elsewhere = ProviderFactory(region=RegionFactory(code="elsewhere"))
    CapacityFactory(location=LocationFactory(organisation=elsewhere, name="Elders"))

    assert [item["name"] for item in make_api_client(gp).get(LOCATIONS).json()] == ["De Schacht"]


def test_api_provider_staff_list_their_own_locations_only(make_api_client, planner, capacity, foreign_capacity):
    response = make_api_client(planner).get(LOCATIONS)

    assert response.status_code == 200
    assert [item["name"] for item in response.json()] == ["De Schacht"]


@pytest.mark.parametrize("role", [Role.GP, Role.TRANSFER_NURSE, Role.COORDINATOR, Role.ADMIN])
def test_api_bed_finders_may_list_locations(make_api_client, region, capacity, role):
    assert make_api_client(user_with_role(role, region=region)).get(LOCATIONS).status_code == 200


def test_api_analysts_may_not_list_locations(make_api_client, region, capacity):
    response = make_api_client(user_with_role(Role.ANALYST, region=region)).get(LOCATIONS)

    assert_error(response, 403)


def test_api_list_query_count_does_not_grow_with_locations(make_api_client, gp, provider, django_assert_num_queries):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    def add(n):
        page_cache.region_changed(provider.region_id)  # as the services would (factories bypass them)
        for _ in range(n):
            location = LocationFactory(organisation=provider, features=["oxygen"])
            CapacityFactory(location=location, product=product("elv_laag"))
            CapacityFactory(location=location, product=product("elv_hoog"))

    client = make_api_client(gp)
    add(3)
    with CaptureQueriesContext(connection) as few:
        assert len(client.get(LOCATIONS, {"postcode": "6411"}).json()) == 3
    add(27)
    with django_assert_num_queries(len(few.captured_queries)):
        assert len(client.get(LOCATIONS, {"postcode": "6411"}).json()) == 30


# --- PATCH /api/v1/capacities/<pk>/ ----------------------------------------------------------


def test_api_patch_of_an_own_count_changes_it_and_logs_it_as_api(make_api_client, planner, capacity):
    response = make_api_client(planner).patch(
        capacity_url(capacity), {"available": 5, "expected_24h": 3, "version": 1}, format="json"
    )

    assert response.status_code == 200, response.content
    body = response.json()
    assert (body["available"], body["free"], body["expected_24h"], body["version"], body["stale"]) == (
        5,
        4,
        3,
        2,
        False,
    )
    assert counts(capacity) == (10, 5, 1, 3, 2)
    assert capacity.confirmed_by == planner
    change = CapacityChange.objects.get(capacity=capacity)
    assert change.source == "api"
    assert change.changed_by == planner
    assert (change.before["available"], change.after["available"]) == (3, 5)


def test_api_patch_without_a_version_changes_the_count(make_api_client, planner, capacity):
    response = make_api_client(planner).patch(capacity_url(capacity), {"total": 12}, format="json")

    assert response.status_code == 200
    assert counts(capacity)[0] == 12


def test_api_get_of_an_own_count(make_api_client, planner, capacity):
    response = make_api_client(planner).get(capacity_url(capacity))

    assert response.status_code == 200
    assert response.json()["version"] == 1


def test_api_patch_of_another_providers_count_is_404_and_changes_nothing(make_api_client, planner, foreign_capacity):
    client = make_api_client(planner)

    assert_error(client.patch(capacity_url(foreign_capacity), {"available": 0}, format="json"), 404, "not_found")
    assert_error(client.get(capacity_url(foreign_capacity)), 404, "not_found")
    assert counts(foreign_capacity)[1] == 3
    assert not CapacityChange.objects.exists()


def test_api_patch_of_a_count_that_does_not_exist_is_404(make_api_client, planner):
    assert_error(make_api_client(planner).patch("/api/v1/capacities/999999/", {"available": 1}, format="json"), 404)


@pytest.mark.parametrize("role", [Role.GP, Role.TRANSFER_NURSE, Role.COORDINATOR, Role.ADMIN, Role.ANALYST])
def test_api_patch_by_other_roles_is_403(make_api_client, region, capacity, role):
    response = make_api_client(user_with_role(role, region=region)).patch(
        capacity_url(capacity), {"available": 5}, format="json"
    )

    assert_error(response, 403)
    assert counts(capacity)[1] == 3


@pytest.mark.parametrize(
    ("payload", "field", "message"),
    [
        ({"available": -1}, "available", None),
        ({"total": -2}, "total", None),
        ({"available": "abc"}, "available", "A valid integer is required."),
        ({"expected_72h": 1.5}, "expected_72h", "A valid integer is required."),
        ({"available": 11}, "available", "Free beds (11) cannot exceed contracted beds (10)."),
        ({"total": 2}, "available", "Free beds (3) cannot exceed contracted beds (2)."),
        ({"available": 0}, "available", "1 beds are held by open offers; free beds cannot be lower than that."),
        ({}, "non_field_errors", "Send at least one count to change."),
        ({"held": 0}, "held", "This field cannot be set here; held beds change only through offers."),
        ({"version": 1}, "non_field_errors", "Send at least one count to change."),
    ],
)
def test_api_patch_with_bad_counts_is_400_with_field_errors_and_changes_nothing(
    make_api_client, planner, capacity, payload, field, message
):
    response = make_api_client(planner).patch(capacity_url(capacity), payload, format="json")

    error = assert_error(response, 400, "invalid")
    assert error["fields"][field]
    assert all(isinstance(m, str) and m for m in error["fields"][field])
    if message is not None:
        assert error["fields"][field] == [message]
    assert counts(capacity) == (10, 3, 1, 1, 2)
    assert capacity.version == 1
    assert not CapacityChange.objects.exists()


def test_api_patch_with_an_old_version_is_409_and_changes_nothing(make_api_client, planner, capacity):
    client = make_api_client(planner)
    assert client.patch(capacity_url(capacity), {"available": 4, "version": 1}, format="json").status_code == 200

    response = client.patch(capacity_url(capacity), {"available": 7, "version": 1}, format="json")

    error = assert_error(response, 409, "stale_version")
    assert "changed by someone else" in error["message"]
    assert counts(capacity)[1] == 4
    assert CapacityChange.objects.filter(capacity=capacity).count() == 1


def test_api_without_credentials_is_401(capacity):
    client = APIClient(HTTP_ACCEPT_LANGUAGE="en")

    assert_error(client.get(LOCATIONS), 401, "not_authenticated")
    response = client.patch(capacity_url(capacity), {"available": 5}, format="json")
    assert_error(response, 401, "not_authenticated")
    assert response.headers["WWW-Authenticate"] == "Token"
    assert counts(capacity)[1] == 3


def test_api_with_a_wrong_token_is_401(capacity):
    client = APIClient(HTTP_ACCEPT_LANGUAGE="en", HTTP_AUTHORIZATION="Token 0123456789abcdef")

    assert_error(client.get(LOCATIONS), 401, "authentication_failed")


def test_api_token_from_the_management_command_works(planner, capacity):
    out = StringIO()
    call_command("issue_api_token", planner.username, stdout=out)
    token = out.getvalue().strip()
    client = APIClient(HTTP_AUTHORIZATION=f"Token {token}")

    response = client.patch(capacity_url(capacity), {"available": 6, "version": 1}, format="json")

    assert response.status_code == 200, response.content
    assert counts(capacity)[1] == 6
    assert CapacityChange.objects.get(capacity=capacity).changed_by == planner


def test_api_token_of_another_provider_cannot_patch_our_count(other_provider, capacity):
    stranger = user_with_role(Role.PROVIDER_STAFF, other_provider, username="stranger")
    out = StringIO()
    call_command("issue_api_token", stranger.username, stdout=out)
    client = APIClient(HTTP_AUTHORIZATION=f"Token {out.getvalue().strip()}")

    assert_error(client.patch(capacity_url(capacity), {"available": 0}, format="json"), 404)
    assert counts(capacity)[1] == 3


def test_api_errors_answer_in_dutch_by_default(planner, capacity):
    client = APIClient()  # no Accept-Language: the default language applies
    client.force_authenticate(planner)

    response = client.patch(capacity_url(capacity), {"available": 11}, format="json")

    assert response.status_code == 400
    assert response.headers["Content-Language"] == "nl"
    assert response.json()["error"]["fields"]["available"][0]
    assert counts(capacity)[1] == 3


# --- OpenAPI -------------------------------------------------------------------------------


def test_api_schema_describes_the_paths():
    response = APIClient().get("/api/schema/")

    assert response.status_code == 200
    text = response.content.decode()
    assert "/api/v1/locations/:" in text
    assert "/api/v1/capacities/{id}/:" in text
    assert "patch:" in text


def test_api_schema_as_json_lists_the_paths_and_the_error_shape():
    response = APIClient().get("/api/schema/", {"format": "json"})

    assert response.status_code == 200
    schema = response.json()
    assert {"/api/v1/locations/", "/api/v1/capacities/{id}/"} <= set(schema["paths"])
    patch = schema["paths"]["/api/v1/capacities/{id}/"]["patch"]
    assert {"200", "400", "403", "404", "409"} <= set(patch["responses"])


def test_api_docs_page_is_served():
    assert APIClient().get("/api/docs/").status_code == 200


def test_api_lists_feature_codes_and_contact_details(make_api_client, gp, provider):
    location = LocationFactory(organisation=provider, name="Met extra's", features=["oxygen", "single_room"])
    CapacityFactory(location=location)

    [item] = make_api_client(gp).get(LOCATIONS).json()

    assert sorted(item["features"]) == ["oxygen", "single_room"]
    assert item["phone_24_7"] == "045 555 1234"
    assert item["admission_24_7"] is True


def test_patch_with_a_field_that_cannot_be_set_is_refused_and_changes_nothing(make_api_client, planner, capacity):
    before = capacity.snapshot()
    response = make_api_client(planner).patch(
        f"/api/v1/capacities/{capacity.pk}/", {"available": 2, "held": 0}, format="json"
    )
    assert response.status_code == 400
    assert "held" in response.json()["error"]["fields"]
    capacity.refresh_from_db()
    assert capacity.snapshot() == before
