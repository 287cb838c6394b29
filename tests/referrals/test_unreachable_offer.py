"""An offer to a location nobody hears (no active planner) warns the sender first: the referral
page and the board show "Nobody at X receives offers in the portal: phone …" with an "I will phone
them" box, and without that confirmation the page and the API refuse the offer and hold nothing.
With it the offer goes out and the desk has a contact problem to phone about."""

import pytest
import time_machine
from django.core import mail
from django.urls import reverse
from django.utils import timezone
from rest_framework.test import APIClient

from accounts.models import Role
from accounts.services import user_deactivate
from elvdesk import page_cache
from providers.models import ContactProblem, ContactProblemKind, Product, SelfServiceOffers
from referrals.models import Notification, Offer, State
from tests.clients import client_for
from tests.factories import CapacityFactory, LocationFactory, ProviderFactory, user_with_role
from tests.referrals.conftest import VALID_BSN

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _clock_stands_still():
    """The suggestions are cached per minute: views in one test stay in one minute."""
    with time_machine.travel(timezone.now(), tick=False):
        yield


@pytest.fixture
def unheard(desk):
    """A location of a provider without a planner, with free ELV hoog beds, closest to the patient."""
    location = LocationFactory(
        organisation=ProviderFactory(region=desk.region, name="Zorg Zonder Planner"),
        name="Huize Stilte",
        pc4="6411",
        insurers=["9015"],
        phone_24_7="045 577 6677",
    )
    return CapacityFactory(location=location, product=Product.objects.get(code="elv_hoog"), total=5, available=2)


def detail(referral) -> str:
    return reverse("referrals:detail", args=[referral.pk])


def send_url(referral) -> str:
    return reverse("referrals:offer_send", args=[referral.pk])


def counts(capacity) -> tuple[int, int]:
    capacity.refresh_from_db()
    return capacity.available, capacity.held


def suggestion_of(html: str, location_name: str) -> str:
    """The suggestion item of one location on the referral page."""
    start = html.index(f"<strong>{location_name}</strong>")
    return html[start : html.index("</form>", start)]


# --- The page ---------------------------------------------------------------------------------


def test_the_page_warns_and_asks_for_a_confirmation_next_to_an_unheard_location(desk, searching, unheard):
    html = client_for(desk.coordinator).get(detail(searching)).content.decode()

    unheard_item = suggestion_of(html, "Huize Stilte")
    assert "Nobody at Huize Stilte receives offers in the portal: phone" in unheard_item
    assert 'href="tel:+31455776677"' in unheard_item
    assert 'name="confirm_unreachable"' in unheard_item and "I will phone them" in unheard_item
    heard_item = suggestion_of(html, desk.location.name)
    assert "receives offers in the portal" not in heard_item and "confirm_unreachable" not in heard_item


def test_without_the_confirmation_the_offer_is_refused_and_nothing_is_held(desk, searching, unheard):
    response = client_for(desk.coordinator).post(send_url(searching), {"capacity": unheard.pk})

    assert response.status_code == 409
    html = response.content.decode()
    assert "Nobody at Huize Stilte receives offers in the portal: phone them on 045 577 6677." in html
    assert counts(unheard) == (2, 0)
    assert not Offer.objects.exists() and not ContactProblem.objects.exists()
    searching.refresh_from_db()
    assert searching.state == State.SEARCHING


def test_with_the_confirmation_the_offer_goes_out_and_the_desk_has_a_problem_to_phone(desk, searching, unheard):
    response = client_for(desk.coordinator).post(
        send_url(searching), {"capacity": unheard.pk, "confirm_unreachable": "on"}
    )

    assert response.status_code == 302
    offer = Offer.objects.get()
    assert offer.location_id == unheard.location_id
    assert counts(unheard) == (2, 1)
    problem = ContactProblem.objects.get()
    assert (problem.kind, problem.offer_id, problem.referral_id) == (
        ContactProblemKind.OFFER_UNHEARD,
        offer.pk,
        searching.pk,
    )
    assert Notification.objects.filter(user=desk.coordinator, kind="provider_unreachable").exists()


def test_the_desks_email_asks_to_phone_and_carries_no_patient_data(
    desk, searching, unheard, django_capture_on_commit_callbacks
):
    desk.coordinator.language = "en"
    desk.coordinator.save()
    with django_capture_on_commit_callbacks(execute=True):
        client_for(desk.coordinator).post(send_url(searching), {"capacity": unheard.pk, "confirm_unreachable": "on"})

    [message] = [m for m in mail.outbox if m.to == [desk.coordinator.email]]
    assert message.subject == (
        f"Referral #{searching.pk}: nobody at the provider receives this in the portal, please phone them"
    )
    assert "Cannot be reached" in message.body and "Cannot be reached" in message.alternatives[0][0]
    everything = message.subject + message.body + message.alternatives[0][0]
    for secret in (VALID_BSN, "Maria", "Jansen", "1938"):
        assert secret not in everything


def test_the_notification_list_names_the_problem(desk, searching, unheard):
    client = client_for(desk.coordinator)
    client.post(send_url(searching), {"capacity": unheard.pk, "confirm_unreachable": "on"})

    html = client.get(reverse("referrals:notifications")).content.decode()

    assert "nobody at the provider receives this in the portal, please phone them" in html


def test_an_offer_to_a_location_with_a_planner_needs_no_confirmation(desk, searching, unheard):
    response = client_for(desk.coordinator).post(send_url(searching), {"capacity": desk.capacity.pk})

    assert response.status_code == 302
    assert not ContactProblem.objects.exists()


def test_the_cached_suggestions_follow_a_planner_added_or_leaving(desk, searching, unheard):
    client = client_for(desk.coordinator)
    assert "receives offers in the portal" in client.get(detail(searching)).content.decode()

    administrator = user_with_role(Role.ADMIN, desk.coordinator.organisation)
    planner = user_with_role(Role.PROVIDER_STAFF, unheard.location.organisation)
    page_cache.region_changed(desk.region.pk)  # as Beheer's invitation does (audit.changes)
    assert "receives offers in the portal" not in client.get(detail(searching)).content.decode()

    user_deactivate(user=planner, by=administrator)  # Beheer
    assert "receives offers in the portal" in client.get(detail(searching)).content.decode()


def test_a_referrer_in_self_service_hours_gets_the_same_warning_and_refusal(desk, searching, unheard):
    desk.region.self_service_offers = SelfServiceOffers.ALWAYS
    desk.region.save()
    client = client_for(desk.gp)

    html = client.get(detail(searching)).content.decode()
    assert "Nobody at Huize Stilte receives offers in the portal" in suggestion_of(html, "Huize Stilte")
    refused = client.post(send_url(searching), {"capacity": unheard.pk})
    assert refused.status_code == 409
    assert counts(unheard) == (2, 0)

    sent = client.post(send_url(searching), {"capacity": unheard.pk, "confirm_unreachable": "on"})
    assert sent.status_code == 302
    assert Offer.objects.get().created_by == desk.gp


def test_an_unconfirmed_offer_from_the_board_is_refused_too(desk, searching, unheard):
    response = client_for(desk.coordinator).post(send_url(searching), {"capacity": unheard.pk, "next": "/cockpit/"})

    assert response.status_code == 409
    assert counts(unheard) == (2, 0)


@pytest.mark.parametrize(
    ("next_url", "lands_on"),
    [("/cockpit/", "/cockpit/"), ("0", None), ("https://example.org/", None), ("", None)],
)
def test_a_step_returns_to_a_local_next_page_and_ignores_anything_else(desk, searching, unheard, next_url, lands_on):
    """`next=0` once made redirect() look for a URL named "0" and answer 500."""
    response = client_for(desk.coordinator).post(
        send_url(searching), {"capacity": unheard.pk, "confirm_unreachable": "on", "next": next_url}
    )

    assert response.status_code == 302
    assert response.url == (lands_on or detail(searching))


# --- The API ----------------------------------------------------------------------------------


def api_for(user) -> APIClient:
    client = APIClient(HTTP_ACCEPT_LANGUAGE="en")
    client.force_authenticate(user)
    return client


def api_offers(referral) -> str:
    return reverse("api-referral-offers", args=[referral.pk])


def test_the_api_refuses_an_unconfirmed_offer_with_409_provider_unreachable(desk, searching, unheard):
    response = api_for(desk.coordinator).post(api_offers(searching), {"capacity": unheard.pk}, format="json")

    assert response.status_code == 409
    error = response.json()["error"]
    assert error["code"] == "provider_unreachable"
    assert "Nobody at Huize Stilte receives offers in the portal" in error["message"]
    assert counts(unheard) == (2, 0)
    assert not Offer.objects.exists()


def test_the_api_sends_a_confirmed_offer(desk, searching, unheard):
    response = api_for(desk.coordinator).post(
        api_offers(searching), {"capacity": unheard.pk, "confirm_unreachable": True}, format="json"
    )

    assert response.status_code == 201, response.content
    assert response.json()["location"] == unheard.location_id
    assert counts(unheard) == (2, 1)
    assert ContactProblem.objects.get().kind == ContactProblemKind.OFFER_UNHEARD


def test_the_api_refuses_a_confirmation_that_is_not_a_boolean(desk, searching, unheard):
    response = api_for(desk.coordinator).post(
        api_offers(searching), {"capacity": unheard.pk, "confirm_unreachable": "maybe"}, format="json"
    )

    assert response.status_code == 400
    assert "confirm_unreachable" in response.json()["error"]["fields"]
    assert counts(unheard) == (2, 0)


def test_the_schema_documents_the_confirmation():
    schema = APIClient().get("/api/schema/", {"format": "json"}).json()
    body = schema["paths"]["/api/v1/referrals/{id}/offers/"]["post"]["requestBody"]["content"]["application/json"]
    name = body["schema"]["$ref"].rsplit("/", 1)[1]
    field = schema["components"]["schemas"][name]["properties"]["confirm_unreachable"]
    assert field["type"] == "boolean" and "provider_unreachable" in field["description"]
