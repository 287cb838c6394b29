"""Per-organisation API keys: stored hashed, shown once, revocable, recorded when used; the
management command and the admin."""

import hashlib
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from accounts.models import Role
from interop.models import ApiKey
from interop.services import api_key_create, api_key_revoke
from providers.models import OrganisationKind
from tests.factories import UserFactory
from tests.interop.conftest import FHIR, fhir_body, key_client, outcome

pytestmark = pytest.mark.django_db

BULK = "/api/v1/capacity-bulk/"


def test_only_a_hash_of_the_secret_is_stored(world):
    key, full_key = api_key_create(organisation=world.provider, name="ECD")

    prefix, secret = full_key.split(".")
    assert prefix == key.prefix and len(secret) >= 43  # 32 random bytes, base64url
    stored = ApiKey.objects.filter(pk=key.pk).values().get()
    assert secret not in str(stored)
    assert stored["secret_hash"] == hashlib.sha256(secret.encode()).hexdigest()
    assert key.matches(secret) and not key.matches(secret[:-1] + "x")


def test_a_key_reads_its_regions_capacity_and_records_its_use(world, api_key):
    key, full_key = api_key

    bundle = fhir_body(key_client(full_key).get(f"{FHIR}/Location"))

    assert bundle["total"] == 4
    key.refresh_from_db()
    assert key.last_used_at is not None
    outcome(key_client(full_key).get(f"{FHIR}/Location/{world.far_location.pk}"), 404, "not-found")


def test_a_revoked_key_is_refused_everywhere(world, api_key):
    key, full_key = api_key
    api_key_revoke(api_key=key)

    response = key_client(full_key).get(f"{FHIR}/Location")
    outcome(response, 401, "login")
    assert "revoked" in response.json()["issue"][0]["details"]["text"]
    bulk = key_client(full_key).get(BULK)
    assert bulk.status_code == 401 and bulk.json()["error"]["status"] == 401


@pytest.mark.parametrize("header", ["Api-Key nodot", "Api-Key abc.def", "Api-Key", "Api-Key a.b c"])
def test_a_wrong_key_is_a_401(world, api_key, header, client):
    _key, full_key = api_key
    if header == "Api-Key abc.def":
        header = f"Api-Key {full_key.split('.')[0]}.wrong-secret"

    outcome(client.get(f"{FHIR}/Location", HTTP_AUTHORIZATION=header), 401, "login")


def test_a_key_of_an_organisation_that_is_not_a_provider_reads_but_does_not_write(world):
    hospital = world.users[Role.TRANSFER_NURSE].organisation
    assert hospital.kind == OrganisationKind.HOSPITAL
    _key, full_key = api_key_create(organisation=hospital, name="HIS")

    assert fhir_body(key_client(full_key).get(f"{FHIR}/HealthcareService"))["total"] == 7
    assert key_client(full_key).get(BULK).status_code == 403


def test_the_management_command_creates_lists_and_revokes(world):
    out, err = StringIO(), StringIO()
    call_command("api_key", "create", "--organisation", "73730002", "--name", "ECD productie", stdout=out, stderr=err)
    full_key = out.getvalue().strip()
    key = ApiKey.objects.get()
    assert full_key.startswith(f"{key.prefix}.") and key.organisation == world.provider
    assert "not shown again" in err.getvalue()
    assert fhir_body(key_client(full_key).get(f"{FHIR}/Organization"))["total"] >= 2

    listing = StringIO()
    call_command("api_key", "list", "--organisation", str(world.provider.pk), stdout=listing)
    assert key.prefix in listing.getvalue() and "active" in listing.getvalue()
    assert full_key.split(".")[1] not in listing.getvalue()

    call_command("api_key", "revoke", key.prefix, stdout=StringIO())
    key.refresh_from_db()
    assert key.revoked_at is not None
    outcome(key_client(full_key).get(f"{FHIR}/Organization"), 401, "login")
    with pytest.raises(CommandError):
        call_command("api_key", "revoke", "nope")
    with pytest.raises(CommandError):
        call_command("api_key", "create", "--organisation", "99999999", "--name", "x")


def test_revoking_twice_keeps_the_first_moment(world, api_key):
    key, _ = api_key
    first = api_key_revoke(api_key=key).revoked_at

    assert api_key_revoke(api_key=key).revoked_at == first <= timezone.now()


def test_the_admin_shows_a_new_key_once_and_revokes(world, client):
    admin = UserFactory(username="root", is_staff=True, is_superuser=True, organisation=None, role="")
    client.force_login(admin)

    response = client.post(
        "/admin/interop/apikey/add/", {"organisation": world.provider.pk, "name": "ECD via admin"}, follow=True
    )

    assert response.status_code == 200
    key = ApiKey.objects.get()
    messages = [str(m) for m in response.context["messages"]]
    [full_key] = [word for m in messages for word in m.split() if word.startswith(f"{key.prefix}.")]
    assert key.matches(full_key.split(".", 1)[1])
    assert key.created_by == admin
    page = client.get(f"/admin/interop/apikey/{key.pk}/change/")
    assert full_key.split(".", 1)[1] not in page.content.decode()
    client.post("/admin/interop/apikey/", {"action": "revoke", "_selected_action": [key.pk]})
    key.refresh_from_db()
    assert key.revoked_at is not None
