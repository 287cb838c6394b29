"""Referral API v1: the whole journey, idempotent create, every error in the one shape, the
same visibility as the pages, and an OpenAPI schema that documents it all."""

from datetime import timedelta

import pytest
import time_machine
from django.utils import timezone
from rest_framework.test import APIClient
from stdnum.nl import bsn as nl_bsn

from accounts.models import Role
from audit.models import AccessLog
from beds.models import CapacityChange
from referrals import services
from referrals.models import Notification, Offer, OfferState, Referral, ReferralEvent, State
from tests.factories import RegionFactory, user_with_role
from tests.referrals.conftest import OTHER_BSN, VALID_BSN, referral_input

REFERRALS = "/api/v1/referrals/"
OFFERS = "/api/v1/offers/"


def api(user=None) -> APIClient:
    client = APIClient(HTTP_ACCEPT_LANGUAGE="en")
    if user is not None:
        client.force_authenticate(user)
    return client


def token_api(user) -> APIClient:
    """Signed in with an API token as integrations are (force_authenticate skips its query)."""
    from rest_framework.authtoken.models import Token

    client = APIClient(HTTP_ACCEPT_LANGUAGE="en")
    client.key = Token.objects.create(user=user).key
    client.credentials(HTTP_AUTHORIZATION=f"Token {client.key}")
    return client


def referral_url(pk, action: str = "") -> str:
    return f"{REFERRALS}{pk}/" + (f"{action}/" if action else "")


def offer_url(pk, action: str) -> str:
    return f"{OFFERS}{pk}/{action}/"


def referral_json(**overrides) -> dict:
    body = {
        "bsn": VALID_BSN,
        "name": "Maria Jansen",
        "date_of_birth": "1938-04-02",
        "sex": "F",
        "postcode": "6411 AB",
        "insurer": "9015",
        "origin": "home",
        "product": "elv_hoog",
        "urgency": "today",
        "wakeful_eye": True,
        "adl_taken_over": True,
        "needs_elderly_care_specialist": True,
        "consent": True,
        "medical_reason": "Gevallen, niet meer mobiel; mantelzorger overbelast.",
        "carer_contact": "Jan Jansen, 06 1234 5678",
    }
    body.update(overrides)
    return {key: value for key, value in body.items() if value is not None}


def assert_error(response, status: int, code: str | None = None) -> dict:
    """The one error shape: {"error": {"status", "code", "message", "fields"?}}."""
    assert response.status_code == status, response.content
    body = response.json()
    assert set(body) == {"error"}
    error = body["error"]
    assert error["status"] == status
    assert isinstance(error["code"], str) and error["code"]
    assert isinstance(error["message"], str) and error["message"].strip()
    assert set(error) <= {"status", "code", "message", "fields"}
    if code is not None:
        assert error["code"] == code
    return error


def valid_bsns(count: int, start: int) -> list[str]:
    """`count` distinct BSNs that pass the eleven test."""
    numbers, prefix = [], start
    while len(numbers) < count:
        numbers += [f"{prefix}{d}" for d in "0123456789" if nl_bsn.is_valid(f"{prefix}{d}")][:1]
        prefix += 1
    return numbers


def counts(capacity) -> tuple[int, int, int]:
    capacity.refresh_from_db()
    return capacity.total, capacity.available, capacity.held


# --- The journey ----------------------------------------------------------------------------


def test_the_full_journey_through_the_api(desk):
    start = counts(desk.capacity)

    created = api(desk.gp).post(REFERRALS, referral_json(), format="json")
    assert created.status_code == 201, created.content
    referral = created.json()
    pk = referral["id"]
    assert referral["state"] == "submitted"
    assert referral["patient"]["postcode"] == "6411 AB" and referral["patient"]["insurer"] == "9015"
    assert referral["product"] == "elv_hoog" and referral["organisation"] == desk.gp.organisation.name

    coordinator = api(desk.coordinator)
    searching = coordinator.post(referral_url(pk, "transitions"), {"to": "searching"}, format="json")
    assert searching.status_code == 200 and searching.json()["state"] == "searching"

    matches = coordinator.get(referral_url(pk, "matches"))
    assert matches.status_code == 200
    match = next(m for m in matches.json() if m["location"] == desk.location.pk)
    assert match["capacity"] == desk.capacity.pk
    assert match["location_name"] == desk.location.name
    assert match["free"] == 1
    assert match["distance_km"] is not None
    assert any("free" in reason for reason in match["reasons"])
    assert any("Contracted by" in reason for reason in match["reasons"])
    assert match == matches.json()[0], "the nearest contracted location comes first"

    sent = coordinator.post(referral_url(pk, "offers"), {"capacity": desk.capacity.pk}, format="json")
    assert sent.status_code == 201, sent.content
    offer = sent.json()
    assert (offer["state"], offer["location"], offer["referral"]) == ("open", desk.location.pk, pk)
    assert counts(desk.capacity) == (start[0], start[1], 1)

    planner = api(desk.planner)
    incoming = planner.get(OFFERS, {"state": "open"})
    assert incoming.status_code == 200
    assert [o["id"] for o in incoming.json()] == [offer["id"]]
    assert api(desk.other_planner).get(OFFERS, {"state": "open"}).json() == []

    admission_at = (timezone.now() + timedelta(hours=1)).replace(microsecond=0)
    accepted = planner.post(offer_url(offer["id"], "accept"), {"admission_at": admission_at.isoformat()}, format="json")
    assert accepted.status_code == 200, accepted.content
    assert accepted.json()["state"] == "accepted"
    assert counts(desk.capacity) == (start[0], start[1] - 1, 0)

    admitted = planner.post(referral_url(pk, "admission"), {}, format="json")
    assert admitted.status_code == 201, admitted.content
    assert admitted.json()["location"] == desk.location.pk and admitted.json()["discharged_at"] is None

    discharged = planner.post(referral_url(pk, "discharge"), {"destination": "home"}, format="json")
    assert discharged.status_code == 200, discharged.content
    assert discharged.json()["discharge_destination"] == "home"
    assert discharged.json()["discharged_at"] >= discharged.json()["admitted_at"]

    final = api(desk.gp).get(referral_url(pk))
    assert final.status_code == 200
    body = final.json()
    assert body["state"] == "discharged"
    assert [(e["from_state"], e["to_state"]) for e in body["events"]] == [
        ("draft", "submitted"),
        ("submitted", "searching"),
        ("searching", "offered"),
        ("offered", "accepted"),
        ("accepted", "admitted"),
        ("admitted", "discharged"),
    ]
    assert [e["actor"] for e in body["events"]][1:] == [
        str(desk.coordinator),
        str(desk.coordinator),
        str(desk.planner),
        str(desk.planner),
        str(desk.planner),
    ]
    assert [(o["id"], o["state"]) for o in body["offers"]] == [(offer["id"], "accepted")]
    assert counts(desk.capacity) == start
    sources = list(
        CapacityChange.objects.filter(capacity=desk.capacity)
        .order_by("changed_at", "id")
        .values_list("source", flat=True)
    )
    assert sources == ["offer", "booking", "discharge"]
    assert Referral.objects.get(pk=pk).state == State.DISCHARGED


def test_a_transfer_nurse_refers_a_ward_patient_with_a_planned_date(desk):
    planned = (timezone.localdate() + timedelta(days=3)).isoformat()

    response = api(desk.nurse).post(
        REFERRALS, referral_json(origin="ward", urgency="planned", planned_date=planned), format="json"
    )

    assert response.status_code == 201, response.content
    assert (response.json()["origin"], response.json()["planned_date"]) == ("ward", planned)


def test_the_provider_declines_through_the_api_and_the_bed_is_released(desk, offer):
    response = api(desk.planner).post(
        offer_url(offer.pk, "decline"), {"reason": "other", "text": "Geen arts"}, format="json"
    )

    assert response.status_code == 200
    assert (response.json()["state"], response.json()["decline_reason"]) == ("declined", "other")
    assert counts(desk.capacity) == (5, 1, 0)
    offer.referral.refresh_from_db()
    assert offer.referral.state == State.SEARCHING


def test_decline_with_reason_other_and_no_text_is_refused(desk, offer):
    response = api(desk.planner).post(offer_url(offer.pk, "decline"), {"reason": "other"}, format="json")

    error = assert_error(response, 400)
    assert "text" in error["fields"]
    offer.refresh_from_db()
    assert offer.state == OfferState.OPEN


# --- Idempotency ----------------------------------------------------------------------------


def test_the_same_idempotency_key_twice_returns_the_first_referral(desk):
    client = api(desk.gp)

    first = client.post(REFERRALS, referral_json(), format="json", HTTP_IDEMPOTENCY_KEY="retry-1")
    second = client.post(REFERRALS, referral_json(), format="json", HTTP_IDEMPOTENCY_KEY="retry-1")

    assert (first.status_code, second.status_code) == (201, 200)
    assert first.json()["id"] == second.json()["id"]
    assert Referral.objects.count() == 1


def test_a_different_idempotency_key_for_the_same_patient_is_a_conflict(desk):
    client = api(desk.gp)
    client.post(REFERRALS, referral_json(), format="json", HTTP_IDEMPOTENCY_KEY="one")

    response = client.post(REFERRALS, referral_json(), format="json", HTTP_IDEMPOTENCY_KEY="two")

    assert_error(response, 409, "live_referral_exists")
    assert Referral.objects.count() == 1


def test_another_users_idempotency_key_is_not_shared(desk):
    colleague = user_with_role(Role.GP, desk.gp.organisation)
    api(desk.gp).post(REFERRALS, referral_json(), format="json", HTTP_IDEMPOTENCY_KEY="same")

    response = api(colleague).post(REFERRALS, referral_json(bsn=OTHER_BSN), format="json", HTTP_IDEMPOTENCY_KEY="same")

    assert response.status_code == 201
    assert Referral.objects.count() == 2


# --- Bad input: 400 with fields -------------------------------------------------------------


def _tomorrow() -> str:
    return (timezone.localdate() + timedelta(days=1)).isoformat()


def _yesterday() -> str:
    return (timezone.localdate() - timedelta(days=1)).isoformat()


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        pytest.param({"bsn": "123456789"}, "bsn", id="invalid-bsn"),
        pytest.param({"postcode": "64 11"}, "postcode", id="malformed-postcode"),
        pytest.param({"postcode": "0999 AA"}, "postcode", id="impossible-postcode"),
        pytest.param({"date_of_birth": _tomorrow}, "date_of_birth", id="future-birth-date"),
        pytest.param({"urgency": "planned", "planned_date": _yesterday}, "planned_date", id="past-planned-date"),
        pytest.param({"urgency": "planned"}, "planned_date", id="planned-without-date"),
        pytest.param({"consent": False}, "consent", id="consent-false"),
        pytest.param({"consent": None}, "consent", id="consent-missing"),
        pytest.param({"product": "elv_onbekend"}, "product", id="unknown-product"),
        pytest.param({"insurer": "0000"}, "insurer", id="unknown-insurer"),
        pytest.param({"origin": "ward"}, "origin", id="ward-origin-for-a-gp"),
        pytest.param({"sex": "Q"}, "sex", id="unknown-sex"),
        pytest.param({"medical_reason": None}, "medical_reason", id="no-medical-reason"),
    ],
)
def test_bad_input_is_a_400_naming_the_field_and_creates_nothing(desk, overrides, field):
    overrides = {key: value() if callable(value) else value for key, value in overrides.items()}

    response = api(desk.gp).post(REFERRALS, referral_json(**overrides), format="json")

    error = assert_error(response, 400, "invalid")
    assert field in error["fields"], error
    assert all(isinstance(m, str) and m for m in error["fields"][field])
    assert Referral.objects.count() == 0


def test_a_product_the_region_does_not_offer_is_a_400(db):
    from providers.models import Product

    region = RegionFactory(products=[Product.objects.get(code="elv_laag")])
    gp = user_with_role(Role.GP, region=region)

    response = api(gp).post(REFERRALS, referral_json(product="elv_hoog"), format="json")

    error = assert_error(response, 400)
    assert "product" in error["fields"]
    assert Referral.objects.count() == 0


def test_an_error_message_is_in_english_when_asked_for(desk):
    response = api(desk.gp).post(REFERRALS, referral_json(bsn="123456789"), format="json")

    assert "eleven test" in " ".join(assert_error(response, 400)["fields"]["bsn"])


def test_an_unknown_state_filter_is_a_400(desk, submitted):
    assert_error(api(desk.coordinator).get(REFERRALS, {"state": "lost"}), 400)
    assert_error(api(desk.planner).get(OFFERS, {"state": "lost"}), 400)


# --- Conflicts: 409 -------------------------------------------------------------------------


@pytest.mark.parametrize("target", ["triage", "searching"])
def test_an_illegal_transition_is_a_409_and_changes_nothing(desk, searching, target):
    events = ReferralEvent.objects.count()

    response = api(desk.coordinator).post(referral_url(searching.pk, "transitions"), {"to": target}, format="json")

    assert_error(response, 409, "illegal_transition")
    searching.refresh_from_db()
    assert searching.state == State.SEARCHING
    assert ReferralEvent.objects.count() == events


def test_a_transition_that_is_not_a_desk_step_is_a_400(desk, submitted):
    response = api(desk.coordinator).post(referral_url(submitted.pk, "transitions"), {"to": "accepted"}, format="json")

    assert "to" in assert_error(response, 400)["fields"]
    submitted.refresh_from_db()
    assert submitted.state == State.SUBMITTED


def test_cancel_without_a_reason_is_a_400(desk, submitted):
    response = api(desk.gp).post(referral_url(submitted.pk, "transitions"), {"to": "cancelled"}, format="json")

    assert "reason" in assert_error(response, 400)["fields"]
    submitted.refresh_from_db()
    assert submitted.state == State.SUBMITTED


def test_a_referrer_may_not_triage(desk, submitted):
    response = api(desk.gp).post(referral_url(submitted.pk, "transitions"), {"to": "triage"}, format="json")

    assert_error(response, 403)
    submitted.refresh_from_db()
    assert submitted.state == State.SUBMITTED


@pytest.mark.parametrize("answer", ["accept", "decline"])
def test_accepting_an_already_answered_offer_is_a_409(desk, offer, answer):
    if answer == "accept":
        services.offer_accept(offer=offer, by=desk.planner)
    else:
        services.offer_decline(offer=offer, by=desk.planner, reason="no_bed")
    before = counts(desk.capacity)

    response = api(desk.planner).post(offer_url(offer.pk, "accept"), {}, format="json")

    assert_error(response, 409, "offer_answered")
    assert counts(desk.capacity) == before


def test_accepting_an_expired_offer_is_a_409(desk, offer):
    with time_machine.travel(offer.expires_at + timedelta(seconds=1)):
        response = api(desk.planner).post(offer_url(offer.pk, "accept"), {}, format="json")

    assert_error(response, 409, "offer_expired")
    assert counts(desk.capacity) == (5, 1, 1)


def test_an_offer_without_a_free_bed_is_a_409(desk, searching):
    desk.capacity.available = 0
    desk.capacity.save()

    response = api(desk.coordinator).post(
        referral_url(searching.pk, "offers"), {"capacity": desk.capacity.pk}, format="json"
    )

    assert_error(response, 409, "no_free_bed")
    assert not Offer.objects.exists()


def test_a_second_offer_to_another_location_holds_a_second_bed(desk, offer):
    response = api(desk.coordinator).post(
        referral_url(offer.referral_id, "offers"), {"capacity": desk.other_capacity.pk}, format="json"
    )

    assert response.status_code == 201
    assert Offer.objects.filter(state="open").count() == 2
    assert counts(desk.other_capacity) == (5, 2, 1)


def test_a_second_offer_to_the_same_location_is_a_409(desk, offer):
    desk.capacity.available = 3
    desk.capacity.save()
    response = api(desk.coordinator).post(
        referral_url(offer.referral_id, "offers"), {"capacity": desk.capacity.pk}, format="json"
    )

    assert_error(response, 409, "offer_open_here")
    assert Offer.objects.count() == 1


def test_an_offer_beyond_the_regions_parallel_limit_is_a_409(desk, offer):
    desk.region.max_parallel_offers = 1
    desk.region.save(update_fields=["max_parallel_offers"])
    response = api(desk.coordinator).post(
        referral_url(offer.referral_id, "offers"), {"capacity": desk.other_capacity.pk}, format="json"
    )

    assert_error(response, 409, "too_many_offers")
    assert Offer.objects.count() == 1
    assert counts(desk.other_capacity) == (5, 2, 0)


def test_a_referrer_may_not_send_offers_when_self_service_is_off(desk, searching):
    response = api(desk.gp).post(referral_url(searching.pk, "offers"), {"capacity": desk.capacity.pk}, format="json")

    assert_error(response, 409, "self_service_closed")
    assert not Offer.objects.exists()


def test_admission_twice_is_a_409(desk, accepted):
    planner = api(desk.planner)
    assert planner.post(referral_url(accepted.pk, "admission"), {}, format="json").status_code == 201

    assert_error(planner.post(referral_url(accepted.pk, "admission"), {}, format="json"), 409)


def test_discharge_without_a_destination_is_a_400(desk, accepted):
    services.stay_admit(referral=accepted, by=desk.planner, admitted_at=timezone.now())

    response = api(desk.planner).post(referral_url(accepted.pk, "discharge"), {}, format="json")

    assert "destination" in assert_error(response, 400)["fields"]
    accepted.refresh_from_db()
    assert accepted.state == State.ADMITTED


def test_admission_in_the_future_is_a_400(desk, accepted):
    later = (timezone.now() + timedelta(days=1)).isoformat()

    response = api(desk.planner).post(referral_url(accepted.pk, "admission"), {"admitted_at": later}, format="json")

    assert "admitted_at" in assert_error(response, 400)["fields"]
    accepted.refresh_from_db()
    assert accepted.state == State.ACCEPTED


# --- Another organisation's referral: 404 ---------------------------------------------------


def test_another_practices_referral_is_not_found(desk, submitted):
    stranger = user_with_role(Role.GP, region=desk.region)

    assert_error(api(stranger).get(referral_url(submitted.pk)), 404)
    assert_error(api(stranger).post(referral_url(submitted.pk, "transitions"), {"to": "cancelled", "reason": "x"}), 404)
    assert api(stranger).get(REFERRALS).json() == []
    submitted.refresh_from_db()
    assert submitted.state == State.SUBMITTED


def test_another_regions_coordinator_does_not_find_the_referral(desk, submitted):
    stranger = user_with_role(Role.COORDINATOR, region=RegionFactory())

    assert_error(api(stranger).get(referral_url(submitted.pk)), 404)
    assert_error(api(stranger).post(referral_url(submitted.pk, "transitions"), {"to": "searching"}), 404)
    assert_error(api(stranger).get(referral_url(submitted.pk, "matches")), 404)


def test_another_providers_offer_is_not_found(desk, offer):
    other = api(desk.other_planner)

    assert_error(other.post(offer_url(offer.pk, "accept"), {}, format="json"), 404)
    assert_error(other.post(offer_url(offer.pk, "decline"), {"reason": "no_bed"}, format="json"), 404)
    assert_error(other.get(referral_url(offer.referral_id)), 404)
    assert other.get(OFFERS).json() == []
    offer.refresh_from_db()
    assert offer.state == OfferState.OPEN


def test_only_the_provider_that_took_the_patient_records_admission(desk, accepted):
    assert_error(api(desk.other_planner).post(referral_url(accepted.pk, "admission"), {}, format="json"), 404)


def test_the_provider_with_an_offer_reads_the_referral(desk, offer):
    response = api(desk.planner).get(referral_url(offer.referral_id))

    assert response.status_code == 200
    assert response.json()["patient"]["name"] == "Maria Jansen"


def test_each_role_lists_exactly_its_referrals(desk, offer):
    neighbour_gp = user_with_role(Role.GP, region=desk.region)
    neighbours, _ = services.referral_submit(by=neighbour_gp, data=referral_input(bsn=OTHER_BSN))

    def ids(user):
        response = api(user).get(REFERRALS)
        assert response.status_code == 200
        return {item["id"] for item in response.json()}

    assert ids(desk.gp) == {offer.referral_id}
    assert ids(neighbour_gp) == {neighbours.pk}
    assert ids(desk.planner) == {offer.referral_id}
    assert ids(desk.other_planner) == set()
    assert ids(desk.coordinator) == {offer.referral_id, neighbours.pk}


def test_the_api_list_does_not_show_the_bsn_to_whom_may_not_see_it(desk, submitted):
    """Sanity: the list is patient data only for those who may see the referral."""
    assert "111222333" not in api(desk.other_planner).get(REFERRALS).content.decode()


def _refer_and_offer(desk, count: int, first_bsn: int) -> None:
    desk.capacity.total = desk.capacity.available = 50
    desk.capacity.save()
    for bsn in valid_bsns(count, start=first_bsn):
        referral, _ = services.referral_submit(by=desk.gp, data=referral_input(bsn=bsn))
        services.referral_step(referral=referral, target="searching", by=desk.coordinator)
        services.offer_create(referral=referral, capacity=desk.capacity, by=desk.coordinator)


@pytest.mark.parametrize(("who", "path"), [("gp", REFERRALS), ("coordinator", REFERRALS), ("planner", OFFERS)])
def test_api_list_query_count_is_the_same_for_2_and_12_items(desk, django_assert_num_queries, who, path):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    client = api(getattr(desk, who))
    _refer_and_offer(desk, 2, 30000000)
    with CaptureQueriesContext(connection) as few:
        assert len(client.get(path).json()) == 2
    _refer_and_offer(desk, 10, 31000000)
    with django_assert_num_queries(len(few.captured_queries)):
        assert len(client.get(path).json()) == 12


# --- Roles: 403 and 401 ---------------------------------------------------------------------


@pytest.mark.parametrize("role", [Role.ANALYST, Role.ADMIN])
def test_analysts_and_admins_get_403_everywhere(desk, offer, role):
    client = api(user_with_role(role, region=desk.region))
    pk = offer.referral_id

    assert_error(client.get(REFERRALS), 403)
    assert_error(client.get(referral_url(pk)), 403)
    assert_error(client.get(OFFERS), 403)
    assert_error(client.post(REFERRALS, referral_json(bsn=OTHER_BSN), format="json"), 403)
    assert_error(client.post(offer_url(offer.pk, "accept"), {}, format="json"), 403)
    assert Referral.objects.count() == 1


@pytest.mark.parametrize("who", ["coordinator", "planner"])
def test_only_referrers_may_create_a_referral(desk, who):
    response = api(getattr(desk, who)).post(REFERRALS, referral_json(), format="json")

    assert_error(response, 403)
    assert Referral.objects.count() == 0


def test_a_coordinator_may_not_accept_an_offer(desk, offer):
    assert_error(api(desk.coordinator).post(offer_url(offer.pk, "accept"), {}, format="json"), 403)


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("get", REFERRALS),
        ("post", REFERRALS),
        ("get", "/api/v1/referrals/1/"),
        ("post", "/api/v1/referrals/1/transitions/"),
        ("get", "/api/v1/referrals/1/matches/"),
        ("post", "/api/v1/referrals/1/offers/"),
        ("post", "/api/v1/referrals/1/admission/"),
        ("post", "/api/v1/referrals/1/discharge/"),
        ("get", OFFERS),
        ("post", "/api/v1/offers/1/accept/"),
        ("post", "/api/v1/offers/1/decline/"),
    ],
)
def test_unauthenticated_requests_get_401(db, method, path):
    response = getattr(api(), method)(path, {}, format="json") if method == "post" else api().get(path)

    assert_error(response, 401)


def test_a_token_authenticates(desk, submitted):
    from rest_framework.authtoken.models import Token

    token = Token.objects.create(user=desk.coordinator)
    client = APIClient(HTTP_AUTHORIZATION=f"Token {token.key}")

    assert client.get(referral_url(submitted.pk)).status_code == 200


def test_an_unknown_token_or_an_inactive_users_token_is_a_401(desk, submitted):
    desk.coordinator.is_active = False
    desk.coordinator.save()

    for key in ("0123456789abcdef", token_api(desk.coordinator).key):
        client = APIClient(HTTP_ACCEPT_LANGUAGE="en", HTTP_AUTHORIZATION=f"Token {key}")
        assert_error(client.get(referral_url(submitted.pk)), 401, "authentication_failed")


# --- Query counts of the booking path (README, Performance) ---------------------------------


def test_offer_and_acceptance_cost_a_fixed_number_of_queries(desk, searching, django_assert_num_queries):
    coordinator, planner = token_api(desk.coordinator), token_api(desk.planner)

    # Token with user and organisation, referral, bed count; in the transaction: referral and bed
    # the locations with an open offer of it (parallel offers), location still active (shared lock),
    # count locked, count, history, offer, event, referral state, planners, their notification; then
    # the access log; the region's generation for the bed count and for the referral's state (in
    # tests each at once; after a real commit one statement for both). (In tests the transaction's
    # BEGIN and COMMIT are a savepoint's.)
    with django_assert_num_queries(19):
        sent = coordinator.post(referral_url(searching.pk, "offers"), {"capacity": desk.capacity.pk}, format="json")
    assert sent.status_code == 201, sent.content

    # Token, offer; in the transaction: the referral's live offers, bed count and referral locked,
    # open offers sent meanwhile (none), count, history, offer, event, referral state, the referrer's
    # notification; then the access log; the region's generation twice (as above: once in production).
    with django_assert_num_queries(17):
        accepted = planner.post(offer_url(sent.json()["id"], "accept"), {}, format="json")
    assert accepted.status_code == 200, accepted.content
    assert (accepted.json()["product"], accepted.json()["location_name"]) == ("elv_hoog", desk.location.name)
    assert counts(desk.capacity) == (5, 0, 0)
    notified = Notification.objects.filter(referral=searching, kind__startswith="offer_").values_list("user", "kind")
    assert set(notified) == {(desk.planner.pk, "offer_received"), (desk.gp.pk, "offer_accepted")}
    logged = AccessLog.objects.filter(referral=searching, patient=searching.patient_id).values_list("user", "outcome")
    assert sorted(logged) == sorted([(desk.coordinator.pk, "ok"), (desk.planner.pk, "ok")])


def test_an_offer_refused_for_want_of_a_bed_costs_a_fixed_number_of_queries(desk, searching, django_assert_num_queries):
    desk.capacity.available = 0
    desk.capacity.save()
    coordinator = token_api(desk.coordinator)

    # Token, referral, bed count; referral locked, its open offers, location still active, bed count
    # locked, rolled back; the access log. (In tests the rollback is a savepoint's: two statements
    # where production sends one.)
    with django_assert_num_queries(11):
        response = coordinator.post(referral_url(searching.pk, "offers"), {"capacity": desk.capacity.pk}, format="json")

    assert_error(response, 409, "no_free_bed")


# --- OpenAPI --------------------------------------------------------------------------------

REFERRAL_PATHS = {
    "/api/v1/referrals/": {"get", "post"},
    "/api/v1/referrals/{id}/": {"get"},
    "/api/v1/referrals/{id}/transitions/": {"post"},
    "/api/v1/referrals/{id}/matches/": {"get"},
    "/api/v1/referrals/{id}/offers/": {"post"},
    "/api/v1/referrals/{id}/admission/": {"post"},
    "/api/v1/referrals/{id}/discharge/": {"post"},
    "/api/v1/offers/": {"get"},
    "/api/v1/offers/{id}/accept/": {"post"},
    "/api/v1/offers/{id}/decline/": {"post"},
}


@pytest.mark.parametrize("authenticated", [False, True])
def test_the_schema_is_served(desk, authenticated):
    client = api(desk.gp if authenticated else None)

    response = client.get("/api/schema/", {"format": "json"})

    assert response.status_code == 200
    assert set(REFERRAL_PATHS) <= set(response.json()["paths"])


def test_the_schema_documents_every_referral_operation_and_its_errors():
    schema = APIClient().get("/api/schema/", {"format": "json"}).json()
    error_ref = "#/components/schemas/ErrorResponse"
    assert {"error"} <= set(schema["components"]["schemas"]["ErrorResponse"]["properties"])

    for path, methods in REFERRAL_PATHS.items():
        assert set(schema["paths"][path]) >= methods, path
        for method in methods:
            responses = schema["paths"][path][method]["responses"]
            for status in ("400", "401", "403", "404"):
                ref = responses[status]["content"]["application/json"]["schema"]["$ref"]
                assert ref == error_ref, (path, method, status)
            if method == "post":
                assert responses["409"]["content"]["application/json"]["schema"]["$ref"] == error_ref, path


def test_the_schema_documents_the_idempotency_key_and_the_created_response():
    schema = APIClient().get("/api/schema/", {"format": "json"}).json()
    create = schema["paths"]["/api/v1/referrals/"]["post"]

    assert {"200", "201"} <= set(create["responses"])
    assert any(p["name"] == "Idempotency-Key" and p["in"] == "header" for p in create["parameters"])
    assert "requestBody" in create
    assert {"201"} <= set(schema["paths"]["/api/v1/referrals/{id}/offers/"]["post"]["responses"])
    assert {"201"} <= set(schema["paths"]["/api/v1/referrals/{id}/admission/"]["post"]["responses"])
