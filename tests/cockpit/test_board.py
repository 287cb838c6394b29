"""The regional board: who may see it, what a card shows (and never shows), SLA in colour and
words, filters, the htmx partial, access logging and the one-click steps back to the board."""

from datetime import timedelta

import pytest
import time_machine
from django.urls import reverse

from accounts.models import Role
from audit.models import AccessLog
from cockpit.board import BOARD_COLUMN_LIMIT, offer_suggestions, referral_sla
from referrals.matching import match_locations
from referrals.models import Escalation, OfferState, Patient, Referral, State
from tests.clients import client_for
from tests.cockpit.conftest import NOW, make_offer, make_referral
from tests.factories import user_with_role

BOARD = reverse("cockpit:board")


@pytest.fixture
def frozen():
    with time_machine.travel(NOW, tick=False):
        yield


@pytest.fixture
def open_referrals(world, frozen):
    """One referral per open state; the submitted one is 20 minutes old (triage SLA 15 minutes)."""
    r = {
        State.SUBMITTED: make_referral(world, created_at=NOW - timedelta(minutes=20), name="Johanna van den Berg"),
        State.TRIAGE: make_referral(
            world, created_at=NOW - timedelta(minutes=30), state=State.TRIAGE, name="Piet Smeets"
        ),
        State.SEARCHING: make_referral(
            world, created_at=NOW - timedelta(hours=3, minutes=10), state=State.SEARCHING, name="Truus Hermans"
        ),
        State.OFFERED: make_referral(
            world, created_at=NOW - timedelta(hours=1), state=State.OFFERED, name="Sjef Frijns"
        ),
        State.ACCEPTED: make_referral(
            world, created_at=NOW - timedelta(hours=5), state=State.ACCEPTED, name="Lies Peters"
        ),
    }
    Patient.objects.filter(pk=r[State.SUBMITTED].patient_id).update(bsn="111222333")
    make_offer(world, r[State.OFFERED], world.cap["b", "elv_hoog"], sent_after=50)
    make_offer(
        world,
        r[State.ACCEPTED],
        world.cap["a", "elv_hoog"],
        sent_after=30,
        answered_after=60,
        state=OfferState.ACCEPTED,
    )
    return r


def test_coordinator_sees_open_referrals_grouped_by_state_with_initials_only(world, open_referrals):
    response = client_for(world.coordinator).get(BOARD)
    assert response.status_code == 200
    page = response.content.decode()
    for state in (State.SUBMITTED, State.TRIAGE, State.SEARCHING, State.OFFERED, State.ACCEPTED):
        assert f'id="column-{state}"' in page
        assert f'id="card-{open_referrals[state].pk}"' in page
    assert "J. v. d. B." not in page  # lower-case particles are kept as they are:
    assert "J. van den B." in page
    for name in ("Johanna van den Berg", "Johanna", "Berg", "111222333", "Truus Hermans"):
        assert name not in page
    assert "Offered to Locatie Beekdal" in page
    assert "Booked at Locatie Aardenburg" in page


def test_sla_is_given_in_words_as_well_as_colour(world, open_referrals):
    page = client_for(world.coordinator).get(BOARD).content.decode()
    assert 'class="board-card sla-overdue"' in page
    assert "Overdue by 5 min (triage within 15 minutes)" in page
    # searching 3 h 10 min with a 4 h placement target: 50 minutes left, under a quarter of 4 h
    assert "Due soon: 50 min left" in page
    assert "On time: 14 min left (triage" not in page
    assert "Bed booked" in page


def test_sla_thresholds_come_from_the_region(world, frozen):
    world.region.triage_sla_minutes = 30
    world.region.urgent_placement_hours = 2
    referral = make_referral(world, created_at=NOW - timedelta(minutes=20))
    sla = referral_sla(referral, world.region, NOW)
    assert (sla.state, sla.text) == ("ok", "On time: 10 min left (triage within 30 minutes)")
    referral.state = State.SEARCHING
    referral.created_at = NOW - timedelta(hours=2, minutes=1)
    assert referral_sla(referral, world.region, NOW).state == "overdue"
    referral.urgency = "within_24h"
    assert referral_sla(referral, world.region, NOW).state == "ok"


def test_board_shows_open_escalations_only(world, open_referrals):
    searching = open_referrals[State.SEARCHING]
    Escalation.objects.create(referral=searching, kind="urgent_unplaced")
    Escalation.objects.create(referral=searching, kind="untriaged", resolved_at=NOW)
    page = client_for(world.coordinator).get(BOARD).content.decode()
    assert "Urgent referral still without a bed" in page
    assert "Not triaged in time" not in page


@pytest.mark.parametrize("role", [Role.ANALYST, Role.GP, Role.TRANSFER_NURSE, Role.PROVIDER_STAFF, Role.ADMIN])
def test_only_coordinators_may_open_the_board(world, role):
    user = user_with_role(role, region=world.region)
    assert client_for(user).get(BOARD).status_code == 403


def test_board_refused_for_analyst_is_logged_as_denied(world):
    client_for(world.analyst).get(BOARD)
    assert AccessLog.objects.filter(user=world.analyst, outcome="denied", path=BOARD).exists()


def test_board_answers_only_get(world):
    assert client_for(world.coordinator).post(BOARD).status_code == 405


def test_board_logs_each_referral_shown(world, open_referrals):
    client_for(world.coordinator).get(BOARD)
    logged = set(AccessLog.objects.filter(user=world.coordinator, action="read").values_list("referral_id", flat=True))
    assert logged == {referral.pk for referral in open_referrals.values()}


def test_board_shows_only_the_own_region(world, open_referrals):
    from tests.factories import RegionFactory

    other = make_referral(world, created_at=NOW - timedelta(minutes=5), region=RegionFactory(), name="Ander Regio")
    page = client_for(world.coordinator).get(BOARD).content.decode()
    assert f'id="card-{other.pk}"' not in page


def test_filters_by_product_urgency_origin_and_state(world, open_referrals, frozen):
    palliative = make_referral(
        world,
        created_at=NOW - timedelta(minutes=3),
        product="elv_palliatief",
        origin="ward",
        urgency="within_24h",
        name="Wiel Vaessen",
    )
    client = client_for(world.coordinator)
    page = client.get(BOARD, {"product": "elv_palliatief"}).content.decode()
    assert f'id="card-{palliative.pk}"' in page and f'id="card-{open_referrals[State.TRIAGE].pk}"' not in page
    page = client.get(BOARD, {"urgency": "within_24h", "origin": "ward"}).content.decode()
    assert page.count('class="board-card ') == 1
    page = client.get(BOARD, {"state": "triage"}).content.decode()
    assert f'id="card-{open_referrals[State.TRIAGE].pk}"' in page and page.count('class="board-card ') == 1
    assert 'id="column-submitted"' not in page


def test_unknown_filter_value_gives_a_clear_message(world, open_referrals):
    response = client_for(world.coordinator).get(BOARD, {"urgency": "yesterday", "product": "nonsense"})
    assert response.status_code == 400
    page = response.content.decode()
    assert "Urgency: This filter value is unknown; choose one from the list." in page
    assert "Product: This filter value is unknown" in page
    assert 'class="board-card ' not in page


def test_htmx_poll_returns_only_the_board_partial_with_the_filters(world, open_referrals):
    response = client_for(world.coordinator, htmx=True).get(BOARD, {"state": "submitted"})
    page = response.content.decode()
    assert response.status_code == 200
    assert page.lstrip().startswith('<section id="board"')
    assert "<html" not in page and 'id="board-filters"' not in page
    assert 'hx-trigger="every 15s"' in page and 'hx-include="#board-filters"' in page and 'hx-swap="outerHTML"' in page
    assert 'name="next" value="/cockpit/?state=submitted"' in page
    assert "HX-Request" in response["Vary"]


def test_full_page_polls_the_named_partial_and_works_without_javascript(world, open_referrals, settings):
    settings.BOARD_POLL_SECONDS = 2
    page = client_for(world.coordinator).get(BOARD, {"product": "elv_hoog"}).content.decode()
    assert '<form id="board-filters" method="get" action="/cockpit/"' in page
    assert 'hx-trigger="every 2s"' in page
    assert '<a class="button" href="/cockpit/?product=elv_hoog">' in page  # refresh link keeps the filters
    assert 'hx-preserve="true"' in page  # an open cancel form with a typed reason survives a refresh


def test_a_full_column_shows_the_most_urgent_and_links_to_the_rest(world, frozen):
    for n in range(BOARD_COLUMN_LIMIT + 2):
        make_referral(world, created_at=NOW - timedelta(minutes=n + 1), name=f"Anna Jansen {n}")
    page = client_for(world.coordinator).get(BOARD).content.decode()
    assert page.count('class="board-card ') == BOARD_COLUMN_LIMIT
    assert "2 more in the referral list" in page
    assert "Anna Jansen" not in page


def test_triage_from_the_board_comes_back_to_the_board(world, open_referrals):
    referral = open_referrals[State.SUBMITTED]
    response = client_for(world.coordinator).post(
        reverse("referrals:step", args=[referral.pk]), {"target": "triage", "next": "/cockpit/?product=elv_hoog"}
    )
    assert response.status_code == 302 and response["Location"] == "/cockpit/?product=elv_hoog"
    referral.refresh_from_db()
    assert referral.state == State.TRIAGE


def test_a_foreign_next_address_is_ignored(world, open_referrals):
    referral = open_referrals[State.SUBMITTED]
    response = client_for(world.coordinator).post(
        reverse("referrals:step", args=[referral.pk]), {"target": "triage", "next": "https://evil.example/"}
    )
    assert response["Location"] == reverse("referrals:detail", args=[referral.pk])


def test_send_offer_from_the_board_uses_the_first_suggestion_of_the_referral_page(world, open_referrals):
    referral = open_referrals[State.SEARCHING]
    cards = list(
        Referral.objects.filter(pk=referral.pk).select_related("patient", "product").prefetch_related("care_needs")
    )
    suggestion = offer_suggestions(cards, world.region, NOW)[referral.pk]
    assert suggestion.capacity == match_locations(referral=referral)[0].capacity
    page = client_for(world.coordinator).get(BOARD).content.decode()
    assert f'name="capacity" value="{suggestion.capacity.pk}"' in page
    response = client_for(world.coordinator).post(
        reverse("referrals:offer_send", args=[referral.pk]), {"capacity": suggestion.capacity.pk, "next": "/cockpit/"}
    )
    assert response["Location"] == "/cockpit/"
    referral.refresh_from_db()
    assert referral.state == State.OFFERED


def test_no_suggestion_for_a_location_that_declined_before(world, open_referrals):
    referral = open_referrals[State.SEARCHING]
    make_offer(
        world,
        referral,
        world.cap["a", "elv_hoog"],
        sent_after=10,
        answered_after=20,
        state=OfferState.DECLINED,
        reason="too_complex",
    )
    make_offer(
        world,
        referral,
        world.cap["b", "elv_hoog"],
        sent_after=30,
        answered_after=40,
        state=OfferState.DECLINED,
        reason="too_complex",
    )
    cards = list(Referral.objects.filter(pk=referral.pk).select_related("patient").prefetch_related("care_needs"))
    assert offer_suggestions(cards, world.region, NOW) == {}
    page = client_for(world.coordinator).get(BOARD).content.decode()
    assert "No location has a free bed that fits." in page


def test_cancel_from_the_board_needs_a_reason(world, open_referrals):
    referral = open_referrals[State.TRIAGE]
    client = client_for(world.coordinator)
    response = client.post(
        reverse("referrals:step", args=[referral.pk]), {"target": "cancelled", "reason": "", "next": "/cockpit/"}
    )
    assert response.status_code == 400
    referral.refresh_from_db()
    assert referral.state == State.TRIAGE
    response = client.post(
        reverse("referrals:step", args=[referral.pk]),
        {"target": "cancelled", "reason": "Opgelost", "next": "/cockpit/"},
    )
    assert response["Location"] == "/cockpit/"
