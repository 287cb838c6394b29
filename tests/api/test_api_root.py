"""GET /api/v1/ lists where to go: the resources, the schema, the docs and FHIR."""

import pytest
from django.urls import reverse

pytestmark = pytest.mark.django_db


def test_the_api_root_links_to_every_collection_and_the_documentation(client):
    response = client.get("/api/v1/")

    assert response.status_code == 200
    body = response.json()
    assert body["resources"] == {
        "locations": "http://testserver/api/v1/locations/",
        "capacity_bulk": "http://testserver/api/v1/capacity-bulk/",
        "referrals": "http://testserver/api/v1/referrals/",
        "offers": "http://testserver/api/v1/offers/",
    }
    assert body["schema"] == "http://testserver" + reverse("api-schema")
    assert body["docs"] == "http://testserver" + reverse("api-docs")
    assert body["fhir"] == "http://testserver/fhir/r4/metadata"


def test_every_link_of_the_api_root_leads_somewhere(client):
    links = [*client.get("/api/v1/").json()["resources"].values()]
    for link in links:
        # Signed out: the API asks for credentials (401), it does not say "not found".
        assert client.get(link).status_code == 401, link
    body = client.get("/api/v1/").json()
    for link in (body["schema"], body["docs"], body["fhir"]):
        assert client.get(link).status_code == 200, link


def test_the_api_root_only_reads(client):
    assert client.post("/api/v1/", {}).status_code == 405
