"""Fixtures for the FHIR server and the bulk capacity API: a region with two providers (one with
three locations), a GP practice, a hospital, the desk, an insurer, and a second region; clients
that authenticate the way real systems do (a user's token, an organisation's API key)."""

from dataclasses import dataclass

import pytest
from fhir.resources.R4B import get_fhir_model_class
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from accounts.models import Role
from interop.services import api_key_create
from providers.models import Product, SelfServiceOffers
from tests.factories import CapacityFactory, LocationFactory, ProviderFactory, RegionFactory, user_with_role

FHIR = "/fhir/r4"
FHIR_JSON = "application/fhir+json"


@dataclass
class Region:
    region: object
    provider: object
    other_provider: object
    locations: list  # the provider's: Heerlen (6411), Maastricht (6212), Valkenburg (6301)
    other_location: object
    far_location: object  # another region
    users: dict  # role -> user
    planner: object
    other_planner: object


def product(code: str) -> Product:
    return Product.objects.get(code=code)


@pytest.fixture
def world(db) -> Region:
    region = RegionFactory(code="zuid", name="Zuid-Limburg", self_service_offers=SelfServiceOffers.NEVER)
    far = RegionFactory(code="midden", name="Midden-Limburg")
    provider = ProviderFactory(region=region, name="Mijnstreek Zorg", agb_code="73730002")
    other_provider = ProviderFactory(region=region, name="Zorggroep Maasheuvel", agb_code="73730001")
    locations = [
        LocationFactory(organisation=provider, name="De Schacht", pc4="6411", city="Heerlen", features=["oxygen"]),
        LocationFactory(organisation=provider, name="Sint Pieter", pc4="6212", city="Maastricht"),
        LocationFactory(organisation=provider, name="De Geulhof", pc4="6301", city="Valkenburg"),
    ]
    for location in locations:
        CapacityFactory(location=location, product=product("elv_laag"), total=8, available=2, held=0)
        CapacityFactory(location=location, product=product("elv_hoog"), total=6, available=1, held=1)
    other_location = LocationFactory(organisation=other_provider, name="Huize Welten", pc4="6413", insurers=["9015"])
    CapacityFactory(location=other_location, product=product("elv_hoog"), total=5, available=3, held=0)
    far_location = LocationFactory(organisation=ProviderFactory(region=far), name="Roermond", pc4="6041")
    CapacityFactory(location=far_location, product=product("elv_hoog"), total=4, available=4)
    users = {
        role: user_with_role(role, region=region)
        for role in (Role.GP, Role.TRANSFER_NURSE, Role.COORDINATOR, Role.ADMIN, Role.ANALYST)
    }
    planner = user_with_role(Role.PROVIDER_STAFF, provider)
    users[Role.PROVIDER_STAFF] = planner
    return Region(
        region=region,
        provider=provider,
        other_provider=other_provider,
        locations=locations,
        other_location=other_location,
        far_location=far_location,
        users=users,
        planner=planner,
        other_planner=user_with_role(Role.PROVIDER_STAFF, other_provider),
    )


def token_client(user) -> APIClient:
    """A client that sends the user's DRF token, as an ECD or script does."""
    token, _ = Token.objects.get_or_create(user=user)
    return APIClient(HTTP_AUTHORIZATION=f"Token {token.key}", HTTP_ACCEPT_LANGUAGE="en")


def key_client(full_key: str) -> APIClient:
    return APIClient(HTTP_AUTHORIZATION=f"Api-Key {full_key}", HTTP_ACCEPT_LANGUAGE="en")


@pytest.fixture
def api_key(world):
    """(ApiKey, full key) of the provider's ECD."""
    return api_key_create(organisation=world.provider, name="ECD test")


# --- FHIR validation --------------------------------------------------------------------------


def validate_fhir(resource: dict):
    """Parse with the fhir.resources R4B model of its type (extra or malformed elements fail);
    the entries of a Bundle and contained resources are validated as their own types too."""
    assert isinstance(resource, dict) and resource.get("resourceType"), resource
    model = get_fhir_model_class(resource["resourceType"]).model_validate(resource)
    for entry in resource.get("entry", []):
        if "resource" in entry:
            validate_fhir(entry["resource"])
    for contained in resource.get("contained", []):
        validate_fhir(contained)
    _no_empty_values(resource)
    return model


def _no_empty_values(value, path="$"):
    """FHIR JSON has no empty objects, arrays or strings, and no nulls."""
    assert value not in (None, "", [], {}), f"empty value at {path}"
    if isinstance(value, dict):
        for key, item in value.items():
            _no_empty_values(item, f"{path}.{key}")
    elif isinstance(value, list):
        for index, item in enumerate(value):
            _no_empty_values(item, f"{path}[{index}]")


def fhir_body(response, status: int = 200) -> dict:
    """The response is FHIR JSON with this status and validates; returns the parsed body."""
    assert response.status_code == status, (response.status_code, response.content[:2000])
    assert response["Content-Type"].startswith(FHIR_JSON), response["Content-Type"]
    body = response.json()
    validate_fhir(body)
    return body


def outcome(response, status: int, code: str | None = None) -> dict:
    """An OperationOutcome error with this HTTP status (and issue code)."""
    body = fhir_body(response, status)
    assert body["resourceType"] == "OperationOutcome", body
    assert body["issue"] and all(item["severity"] in ("error", "fatal") for item in body["issue"])
    assert all(item["details"]["text"].strip() for item in body["issue"])
    if code is not None:
        assert {item["code"] for item in body["issue"]} == {code}, body
    return body


def entries(bundle: dict) -> list[dict]:
    return [entry["resource"] for entry in bundle.get("entry", [])]


def link(bundle: dict, relation: str) -> str | None:
    return next((item["url"] for item in bundle["link"] if item["relation"] == relation), None)
