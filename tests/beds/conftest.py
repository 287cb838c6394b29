"""Shared fixtures of the bed-count tests: a region, a provider with a planner, clients."""

import pytest
from django.test import Client
from rest_framework.test import APIClient

from accounts.models import Role
from tests.factories import (
    CapacityFactory,
    LocationFactory,
    ProviderFactory,
    RegionFactory,
    product,
    user_with_role,
)


@pytest.fixture
def region(db):
    return RegionFactory(code="zuid-limburg", name="Zuid-Limburg")


@pytest.fixture
def provider(region):
    return ProviderFactory(region=region, name="Zorggroep Maasheuvel")


@pytest.fixture
def other_provider(region):
    return ProviderFactory(region=region, name="Mijnstreek Zorg")


@pytest.fixture
def planner(provider):
    return user_with_role(Role.PROVIDER_STAFF, provider, username="planner")


@pytest.fixture
def location(provider):
    return LocationFactory(organisation=provider, name="De Schacht", pc4="6411")


@pytest.fixture
def capacity(location):
    """ELV hoog at the planner's location: 10 contracted, 3 free, 1 held."""
    return CapacityFactory(location=location, product=product("elv_hoog"), total=10, available=3, held=1)


@pytest.fixture
def foreign_capacity(other_provider):
    location = LocationFactory(organisation=other_provider, name="Huize Welten", pc4="6413")
    return CapacityFactory(location=location, product=product("elv_hoog"))


@pytest.fixture
def gp(region):
    return user_with_role(Role.GP, region=region, username="huisarts")


@pytest.fixture
def make_client():
    """A page client in English (Dutch is the default; asserting on English keeps these tests
    valid once Dutch translations exist), signed in as `user` when given."""

    def make(user=None, *, htmx: bool = False) -> Client:
        headers = {"Accept-Language": "en"}
        if htmx:
            headers["HX-Request"] = "true"
        client = Client(headers=headers)
        if user is not None:
            client.force_login(user)
        return client

    return make


@pytest.fixture
def make_api_client():
    def make(user=None) -> APIClient:
        client = APIClient(HTTP_ACCEPT_LANGUAGE="en")
        if user is not None:
            client.force_authenticate(user)
        return client

    return make
