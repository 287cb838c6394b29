"""Bulk bed counts for provider systems: GET with an ETag, PUT with If-Match; idempotent, one
transaction, 412 on a stale write, 404 for another organisation's location, one error shape."""

from datetime import timedelta

import pytest
import time_machine
from django.utils import timezone

from accounts.models import Role
from beds.models import Capacity, CapacityChange, ChangeSource
from beds.services import capacity_hold, capacity_update
from interop.models import ApiKeyWrite
from tests.interop.conftest import key_client, token_client

pytestmark = pytest.mark.django_db

URL = "/api/v1/capacity-bulk/"


def assert_error(response, status: int, code: str | None = None) -> dict:
    """The API's one error shape."""
    assert response.status_code == status, response.content
    body = response.json()
    assert set(body) == {"error"} and body["error"]["status"] == status and body["error"]["message"]
    if code:
        assert body["error"]["code"] == code
    return body["error"]


def body_for(world, **counts_by_location) -> dict:
    """Set elv_laag and elv_hoog of the provider's first two locations."""
    first, second = world.locations[:2]
    return {
        "locations": [
            {
                "id": first.pk,
                "capacities": [
                    {"product": "elv_laag", "total": 8, "available": 5, "expected_24h": 1},
                    {"product": "elv_hoog", "total": 7, "available": 2},
                ],
            },
            {"id": second.pk, "capacities": [{"product": "elv_hoog", "total": 6, "available": 4}]},
        ]
    }


def get(client, **params):
    response = client.get(URL, params)
    assert response.status_code == 200, response.content
    return response


def put(client, body, etag=None):
    headers = {"HTTP_IF_MATCH": etag} if etag else {}
    return client.put(URL, body, format="json", **headers)


def counts(location, product_code):
    capacity = Capacity.objects.get(location=location, product__code=product_code)
    return capacity.total, capacity.available, capacity.held


def test_get_lists_every_count_of_the_organisation_with_an_etag(world):
    response = get(token_client(world.planner))

    body = response.json()
    assert [location["name"] for location in body["locations"]] == ["De Geulhof", "De Schacht", "Sint Pieter"]
    assert body["locations"][0]["capacities"][1] | {"confirmed_at": None} == {
        "product": "elv_hoog",
        "total": 6,
        "available": 1,
        "held": 1,
        "free": 0,
        "expected_24h": 1,
        "expected_72h": 2,
        "reserved": 0,
        "version": 1,
        "confirmed_at": None,
        "stale": False,
    }
    assert response["ETag"].startswith('"') and len(response["ETag"]) == 34
    assert get(token_client(world.planner))["ETag"] == response["ETag"]


def test_put_sets_many_products_at_many_locations_through_the_service(world):
    client = token_client(world.planner)
    etag = get(client)["ETag"]

    response = put(client, body_for(world), etag)

    assert response.status_code == 200, response.content
    body = response.json()
    assert (body["changed"], body["confirmed"], body["unchanged"]) == (3, 0, 0)
    assert response["ETag"] != etag
    first, second = world.locations[:2]
    assert counts(first, "elv_laag") == (8, 5, 0) and counts(first, "elv_hoog") == (7, 2, 1)
    assert counts(second, "elv_hoog") == (6, 4, 1)
    changes = CapacityChange.objects.filter(source=ChangeSource.API)
    assert changes.count() == 3 and {c.changed_by for c in changes} == {world.planner}
    laag = Capacity.objects.get(location=first, product__code="elv_laag")
    assert laag.expected_24h == 1 and laag.expected_72h == 2  # not sent: unchanged
    assert laag.confirmed_by == world.planner


def test_the_same_body_twice_changes_nothing_the_second_time(world):
    client = token_client(world.planner)
    etag = get(client)["ETag"]
    assert put(client, body_for(world), etag).status_code == 200
    history = CapacityChange.objects.count()
    versions = list(Capacity.objects.order_by("pk").values_list("version", flat=True))

    again = put(client, body_for(world), etag)  # a retry with the ETag it had

    assert again.status_code == 200, again.content
    assert (again.json()["changed"], again.json()["unchanged"]) == (0, 3)
    assert CapacityChange.objects.count() == history
    assert list(Capacity.objects.order_by("pk").values_list("version", flat=True)) == versions


def test_a_stale_if_match_is_refused_and_nothing_is_written(world):
    client = token_client(world.planner)
    etag = get(client)["ETag"]
    first = world.locations[0]
    capacity_hold(capacity_id=Capacity.objects.get(location=first, product__code="elv_laag").pk, by=None)
    history = CapacityChange.objects.count()

    response = put(client, body_for(world), etag)

    error = assert_error(response, 412, "precondition_failed")
    assert "GET them again" in error["message"]
    assert response["ETag"] != etag
    assert CapacityChange.objects.count() == history
    assert counts(first, "elv_laag") == (8, 2, 1)
    retry = put(client, body_for(world), response["ETag"])
    assert retry.status_code == 200
    assert counts(first, "elv_laag") == (8, 5, 1)


def test_the_etag_of_the_written_locations_is_accepted_too(world):
    client = token_client(world.planner)
    first, second = world.locations[:2]
    scoped = client.get(URL, {"location": [first.pk, second.pk]})
    # a change at the third location does not block a write to the first two
    capacity_update(capacity_id=world.locations[2].capacities.first().pk, by=None, counts={"total": 9})

    assert put(client, body_for(world), scoped["ETag"]).status_code == 200


def test_an_item_version_that_is_no_longer_current_is_refused(world):
    client = token_client(world.planner)
    body = body_for(world)
    body["locations"][1]["capacities"][0]["version"] = 7

    assert_error(put(client, body, "*"), 412, "precondition_failed")
    assert counts(world.locations[0], "elv_laag") == (8, 2, 0)


def test_without_if_match_nothing_is_written(world):
    assert_error(put(token_client(world.planner), body_for(world)), 428, "precondition_required")
    assert not CapacityChange.objects.exists()


def test_if_match_star_overwrites_deliberately(world):
    assert put(token_client(world.planner), body_for(world), "*").status_code == 200


def test_one_bad_item_writes_nothing_and_names_the_item(world):
    body = body_for(world)
    body["locations"][1]["capacities"][0]["available"] = 9  # more than contracted

    error = assert_error(put(token_client(world.planner), body, "*"), 400, "invalid")

    assert list(error["fields"]) == ["locations[1].capacities[0].available"]
    assert not CapacityChange.objects.exists()
    assert counts(world.locations[0], "elv_laag") == (8, 2, 0)


@pytest.mark.parametrize(
    ("change", "field"),
    [
        (lambda b: b["locations"][0]["capacities"][0].update(colour="red"), "locations[0].capacities[0].colour"),
        (lambda b: b["locations"][0]["capacities"][0].update(held=0), "locations[0].capacities[0].held"),
        (lambda b: b["locations"][0].update(name="De Schacht"), "locations[0].name"),
        (lambda b: b["locations"][0]["capacities"][0].update(total=-1), "locations[0].capacities[0].total"),
        (lambda b: b["locations"][0]["capacities"][0].pop("available"), "locations[0].capacities[0].available"),
        (lambda b: b["locations"][0]["capacities"][1].update(product="elv_laag"), "locations[0].capacities[1].product"),
        (lambda b: b["locations"][1].update(id=b["locations"][0]["id"]), "locations[1].capacities[0].product"),
        (lambda b: b["locations"][1].update(capacities=[]), "locations[1].capacities"),
        (lambda b: b.update(locations=[]), "locations"),
    ],
)
def test_bad_input_names_the_field(world, change, field):
    body = body_for(world)
    change(body)

    error = assert_error(put(token_client(world.planner), body, "*"), 400, "invalid")

    assert field in error["fields"], error
    assert not CapacityChange.objects.exists()


def test_a_product_the_location_has_no_count_for_is_not_found(world):
    body = body_for(world)
    body["locations"][1]["capacities"][0]["product"] = "grz"

    error = assert_error(put(token_client(world.planner), body, "*"), 404, "not_found")

    assert "locations[1].capacities[0]" in error["message"] and "grz" in error["message"]
    assert not CapacityChange.objects.exists()


def test_another_organisations_location_is_not_found_and_nothing_is_written(world):
    body = body_for(world)
    body["locations"].append(
        {"id": world.other_location.pk, "capacities": [{"product": "elv_hoog", "total": 5, "available": 0}]}
    )

    error = assert_error(put(token_client(world.planner), body, "*"), 404, "not_found")

    assert str(world.other_location.pk) in error["message"]
    assert not CapacityChange.objects.exists()
    assert_error(token_client(world.planner).get(URL, {"location": world.other_location.pk}), 404, "not_found")


@pytest.mark.parametrize("role", [Role.GP, Role.TRANSFER_NURSE, Role.COORDINATOR, Role.ADMIN, Role.ANALYST])
def test_only_provider_staff_and_provider_systems_use_it(world, role):
    assert_error(token_client(world.users[role]).get(URL), 403)
    assert_error(put(token_client(world.users[role]), body_for(world), "*"), 403)


def test_anonymous_is_a_401(world, client):
    assert_error(client.get(URL), 401)


def test_an_api_key_writes_as_its_organisation_and_is_recorded(world, api_key):
    key, full_key = api_key
    client = key_client(full_key)

    response = put(client, body_for(world), get(client)["ETag"])

    assert response.status_code == 200, response.content
    changes = CapacityChange.objects.filter(source=ChangeSource.API)
    assert changes.count() == 3 and set(changes.values_list("changed_by", flat=True)) == {None}
    assert ApiKeyWrite.objects.filter(api_key=key).count() == 3
    body = body_for(world)
    body["locations"][0]["id"] = world.other_location.pk
    assert_error(put(client, body, "*"), 404, "not_found")


def test_an_unchanged_count_is_confirmed_again_once_it_gets_old(world):
    client = token_client(world.planner)
    assert put(client, body_for(world), "*").status_code == 200
    later = timezone.now() + timedelta(hours=world.region.stale_after_hours / 2 + 1)
    with time_machine.travel(later, tick=False):
        response = put(client, body_for(world), "*")
        assert (response.json()["changed"], response.json()["confirmed"]) == (0, 3)
        assert CapacityChange.objects.filter(source=ChangeSource.API).count() == 6
        assert not any(location["capacities"][0]["stale"] for location in response.json()["locations"])


@pytest.mark.parametrize("if_match", ["abc", '"unterminated', "W/abc"])
def test_a_malformed_if_match_is_a_400(world, if_match):
    error = assert_error(put(token_client(world.planner), body_for(world), if_match), 400, "invalid")

    assert "If-Match" in error["fields"]
    assert not CapacityChange.objects.exists()


def test_only_json_is_accepted(world):
    response = token_client(world.planner).put(URL, {"locations": "x"}, HTTP_IF_MATCH="*")  # multipart

    assert_error(response, 415)
