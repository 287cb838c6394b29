"""What the schemathesis run (test_schemathesis.py) found, pinned as plain tests so a regression
names itself: each request here once answered 500, HTML, or 200 for invalid input."""

import pytest
from django.urls import reverse

from audit.models import AccessLog

HUGE_ID = "9" * 25  # matches <int:pk>, larger than any BIGINT


@pytest.fixture
def api(client, fuzz_region):
    def call(role, method, path, **kwargs):
        headers = {"Authorization": f"Token {fuzz_region.tokens[role]}"}
        return getattr(client, method)(path, headers=headers, content_type="application/json", **kwargs)

    return call


def assert_error(response, status: int, field: str | None = None):
    assert response.status_code == status, response.content
    assert response["Content-Type"] == "application/json"
    error = response.json()["error"]
    assert error["status"] == status
    if field:
        assert field in error["fields"]


@pytest.mark.parametrize("path", ["/api/v1/referrals/abc/", "/api/v1/capacities/null,null/", "/api/v1/nothing/"])
def test_an_api_path_that_matches_no_route_answers_404_in_the_error_shape(api, path):
    assert_error(api("gp", "get", path), 404)


def test_a_page_that_does_not_exist_still_gets_the_html_404_page(client):
    response = client.get("/no-such-page/")
    assert response.status_code == 404
    assert response["Content-Type"].startswith("text/html")


@pytest.mark.parametrize(
    ("role", "method", "name"),
    [
        ("gp", "get", "api-referral"),
        ("gp", "post", "api-referral-transition"),
        ("provider_staff", "post", "api-referral-admission"),
    ],
)
def test_an_id_beyond_bigint_is_not_found_and_still_logged(api, role, method, name):
    before = AccessLog.objects.count()
    path = reverse(name, kwargs={"pk": 1}).replace("/1/", f"/{HUGE_ID}/")

    response = api(role, method, path, **({"data": {}} if method == "post" else {}))

    assert response.status_code in (403, 404)
    log = AccessLog.objects.order_by("-pk").first()
    assert AccessLog.objects.count() == before + 1
    assert (log.referral_id, log.path) == (None, path)


def test_a_referral_page_with_an_id_beyond_bigint_is_not_found(client, fuzz_region):
    from accounts.models import User

    client.force_login(User.objects.get(username="huisarts"))
    assert client.get(f"/referrals/{HUGE_ID}/").status_code == 404


@pytest.mark.parametrize(
    ("role", "path", "field"),
    [
        ("gp", "/api/v1/referrals/?state=", "state"),
        ("gp", "/api/v1/referrals/?all=null", "all"),
        ("gp", "/api/v1/offers/?state=", "state"),
        ("gp", "/api/v1/locations/?only_free=null", "only_free"),
        ("provider_staff", "/api/v1/locations/?max_km=x", "max_km"),
    ],
)
def test_an_invalid_filter_is_refused(api, role, path, field):
    assert_error(api(role, "get", path), 400, field)


@pytest.mark.parametrize("query", ["", "?all=true", "?all=0", "?state=submitted"])
def test_valid_referral_filters_are_accepted(api, query):
    assert api("coordinator", "get", f"/api/v1/referrals/{query}").status_code == 200


def test_the_schema_states_the_input_rules_the_api_enforces(client):
    schema = client.get("/api/schema/?format=json").json()
    components = schema["components"]["schemas"]
    location = components["LocationListApiOutput"]["properties"]
    referral_input = components["ReferralListCreateApiInputRequest"]["properties"]
    parameters = {p["name"]: p["schema"] for p in schema["paths"]["/api/v1/locations/"]["get"]["parameters"]}

    assert "format" not in location["admission_from"]  # "08:00:00" has no UTC offset
    assert referral_input["medical_reason"]["pattern"] == r"\S"  # blank after trimming is refused
    assert components["PatchedCapacityDetailApiInputRequest"]["additionalProperties"] is False
    assert (parameters["max_km"]["minimum"], parameters["max_km"]["maximum"]) == (1, 300)
