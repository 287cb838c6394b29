"""Every answer under /fhir/ is an OperationOutcome with the right status, whoever answers: the
FHIR views, handler404, the input guard, or Django itself (interop/fhir/middleware.py)."""

import pytest

from accounts.models import Role
from tests.interop.conftest import FHIR, outcome, token_client

pytestmark = pytest.mark.django_db

UNKNOWN_PATHS = [
    f"{FHIR}/Location/does-not-exist",  # ids are numbers
    f"{FHIR}/Patient/1",  # a type this server does not have
    f"{FHIR}/nothing/at/all",
    f"{FHIR}/",
    "/fhir/r5/metadata",
]


@pytest.mark.parametrize("debug", [False, True], ids=["production", "debug"])
@pytest.mark.parametrize("path", UNKNOWN_PATHS)
def test_an_unknown_path_is_a_404_operation_outcome_also_with_debug_on(world, settings, path, debug):
    """With DEBUG on, Django answers an unmatched path with its HTML 404 page, not handler404."""
    settings.DEBUG = debug

    outcome(token_client(world.users[Role.GP]).get(path), 404, "not-found")


def test_a_non_numeric_id_of_a_known_type_is_not_found_like_a_missing_one(world):
    client = token_client(world.users[Role.GP])

    missing = outcome(client.get(f"{FHIR}/Location/999999"), 404, "not-found")
    non_numeric = outcome(client.get(f"{FHIR}/Location/does-not-exist"), 404, "not-found")
    unknown_type = outcome(client.get(f"{FHIR}/Patient/1"), 404, "not-found")

    assert non_numeric["issue"][0]["details"] == missing["issue"][0]["details"]
    assert unknown_type["issue"][0]["details"] != missing["issue"][0]["details"]


def test_a_method_the_resource_does_not_support_is_a_405_operation_outcome(world):
    response = token_client(world.users[Role.GP]).delete(f"{FHIR}/Location")

    outcome(response, 405, "not-supported")


def test_a_refused_host_header_is_a_400_operation_outcome(world):
    """Django answers a Host outside ALLOWED_HOSTS with its own 400 page."""
    response = token_client(world.users[Role.GP]).get(f"{FHIR}/metadata", HTTP_HOST="evil.example")

    outcome(response, 400, "invalid")


def test_a_body_over_the_limit_is_a_413_operation_outcome(world, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1000
    body = '{"resourceType": "Bundle", "type": "transaction", "note": "' + "x" * 2000 + '"}'

    response = token_client(world.users[Role.GP]).generic(
        "POST", f"{FHIR}/ServiceRequest", body, content_type="application/fhir+json"
    )

    outcome(response, 413, "too-long")


@pytest.mark.parametrize(
    ("query", "parameter"),
    [("_offset=99999999999999999999", "_offset"), ("name=Maria%00", "name"), ("_offset=-1", "_offset")],
)
def test_a_search_parameter_out_of_range_or_with_a_nul_is_a_400(world, query, parameter):
    response = token_client(world.users[Role.GP]).get(f"{FHIR}/Organization?{query}")

    body = outcome(response, 400, "invalid")
    assert parameter in body["issue"][0]["details"]["text"] + str(body["issue"][0].get("expression"))


def test_an_overlong_count_is_answered_with_the_largest_page(world):
    response = token_client(world.users[Role.GP]).get(f"{FHIR}/Organization?_count=99999999999999999999")

    assert response.status_code == 200
    assert "_count=200" in response.json()["link"][0]["url"]


def test_json_nested_too_deep_is_a_400_operation_outcome(world):
    body = "[" * 100_000 + "]" * 100_000

    response = token_client(world.users[Role.GP]).generic(
        "POST", f"{FHIR}/ServiceRequest", body, content_type="application/fhir+json"
    )

    outcome(response, 400, "structure")


def test_an_if_none_exist_with_an_encoded_nul_is_a_400(world):
    from tests.interop.test_fhir_referrals import post, referral_bundle

    response = post(world.users[Role.GP], referral_bundle(), HTTP_IF_NONE_EXIST="identifier=http://ecd.example|R%00")

    outcome(response, 400, "invalid")
