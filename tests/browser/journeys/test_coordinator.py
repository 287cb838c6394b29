"""Journey 4 (issue 9): the regional coordinator at the desk.

Watches the board (every SLA state also in words), sends an offer from a board card, handles an
escalation raised by the escalation job (a referral nobody triaged within the region's triage
time) by triaging it, and opens the KPIs.
"""

import re
from datetime import timedelta

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from cockpit.demo import seed_cockpit_demo
from providers.demo import DEMO_PASSWORD
from referrals.models import Escalation, EscalationKind, Offer, OfferState, Referral, State
from referrals.services import referral_step
from referrals.tasks import update_escalations
from tests.browser.journeys.a11y import check_page
from tests.browser.journeys.conftest import bookable, submit_referral
from tests.conftest import login

pytestmark = pytest.mark.django_db(transaction=True)


def _card(page, referral: Referral):
    return page.locator(f"#card-{referral.pk}")


def test_coordinator_watches_the_board_sends_an_offer_handles_an_escalation_opens_kpis(demo, journey_page, settings):
    settings.BOARD_POLL_SECONDS = 600  # no refresh of the board under the test's fingers
    seed_cockpit_demo(region=demo.region)
    bookable("Heerlen Meezenbroek", "elv_hoog")
    searching = submit_referral(demo.gp, 11, name="Catharina Frijns", product="elv_hoog")
    referral_step(referral=searching, target=State.SEARCHING, by=demo.coordinator)
    # Submitted 25 minutes ago and nobody picked it up: past the region's triage time.
    waiting = submit_referral(demo.gp, 12, name="Leonard Bemelmans", product="elv_laag")
    long_ago = timezone.now() - timedelta(minutes=demo.region.triage_sla_minutes + 10)
    Referral.objects.filter(pk=waiting.pk).update(created_at=long_ago, state_changed_at=long_ago)
    assert update_escalations()["raised"] >= 1  # the periodic job, run directly
    escalation = Escalation.objects.get(referral=waiting, kind=EscalationKind.UNTRIAGED, resolved_at__isnull=True)

    page = journey_page()
    login(page, "coordinator", DEMO_PASSWORD)

    # --- The board: every card says its SLA in words; the overdue one shows its escalation. ------
    page.locator("nav a[href='/cockpit/']").click()
    page.wait_for_url(re.compile(r"/cockpit/$"))
    expect(page.locator(f"#column-submitted-list #card-{waiting.pk}")).to_be_visible()
    overdue = _card(page, waiting)
    expect(overdue).to_have_class(re.compile(r"\bsla-overdue\b"))
    expect(overdue.locator(".escalations li")).to_have_count(1)
    # Colour is never the only signal: what a screen reader reads (icons are aria-hidden) names the
    # SLA state in words, and cards in different states read differently.
    spoken = page.evaluate(
        """() => Array.from(document.querySelectorAll('.board-card')).map(card => {
             const text = card.querySelector('.sla-text').cloneNode(true);
             text.querySelectorAll('[aria-hidden=true]').forEach(icon => icon.remove());
             return [card.className.match(/sla-(\\w+)/)[1], text.textContent.replace(/\\s+/g, ' ').trim()];
           })"""
    )
    assert len(spoken) >= 5
    by_state: dict[str, set[str]] = {}
    for state, words in spoken:
        assert len(words) > 8, f"a {state} card has no SLA in words (only its colour): {words!r}"
        by_state.setdefault(state, set()).add(words)
    assert {"overdue", "ok"} <= set(by_state), by_state
    for state, words in by_state.items():
        others = set().union(*(w for s, w in by_state.items() if s != state))
        assert not words & others, f"{state} reads like another state: {words & others}"
    check_page(page, "journey-coordinator-1-board")

    # --- Send an offer from the board card of the searching referral. --------------------------
    card = _card(page, searching)
    expect(card.locator(f"#offer-{searching.pk}")).to_be_visible()
    location_name = card.locator(f"#offer-{searching.pk}").inner_text()
    # The post leads back to the same address (the board): wait for the navigation itself.
    with page.expect_navigation():
        card.locator(f"#offer-{searching.pk}").click()
    expect(page).to_have_url(re.compile(r"/cockpit/"))  # back on the board
    expect(page.locator(f"#column-offered-list #card-{searching.pk}")).to_be_visible()
    offer = Offer.objects.select_related("location").get(referral=searching)
    assert offer.state == OfferState.OPEN and offer.location.name in location_name
    check_page(page, "journey-coordinator-2-offer-sent")

    # --- Handle the escalation: from the list to the referral, triage it. ----------------------
    page.locator("nav a[href='/referrals/escalations/']").click()
    page.wait_for_url(re.compile(r"/referrals/escalations/$"))
    row = page.locator("table.escalation-list tbody tr").filter(has=page.locator(f"a[href='/referrals/{waiting.pk}/']"))
    expect(row).to_have_count(1)
    check_page(page, "journey-coordinator-3-escalations")
    row.locator(f"a[href='/referrals/{waiting.pk}/']").click()
    page.wait_for_url(re.compile(rf"/referrals/{waiting.pk}/$"))
    expect(page.locator("#escalations li.open")).to_have_count(1)
    check_page(page, "journey-coordinator-4-escalated-referral")
    with page.expect_navigation():  # back to the same address
        page.locator("#steps form:has(input[name='target'][value='triage']) button").click()
    expect(page.locator("#referral-state")).to_have_class(re.compile(r"\bstate-triage\b"))

    assert update_escalations()["resolved"] >= 1  # the job sees the cause is gone
    escalation.refresh_from_db()
    assert escalation.resolved_at is not None
    page.locator("nav a[href='/referrals/escalations/']").click()
    page.wait_for_url(re.compile(r"/referrals/escalations/$"))
    expect(page.locator(f"table.escalation-list a[href='/referrals/{waiting.pk}/']")).to_have_count(0)
    page.locator("input[name='resolved']").check()  # a plain form: only the button navigates
    page.locator("main form.inline-filters button[type='submit']").click()
    page.wait_for_url(re.compile(r"/referrals/escalations/\?(.*&)?resolved=1"))
    resolved = page.locator("table.escalation-list tbody tr.resolved").filter(
        has=page.locator(f"a[href='/referrals/{waiting.pk}/']")
    )
    expect(resolved).to_have_count(1)

    # --- The KPIs. --------------------------------------------------------------------------------
    page.locator("nav a[href='/cockpit/kpis/']").click()
    page.wait_for_url(re.compile(r"/cockpit/kpis/$"))
    expect(page.locator("#figure-providers table")).to_be_visible()
    expect(page.locator("#figure-outcome svg[role='img'], #figure-volume svg[role='img']").first).to_be_visible()
    check_page(page, "journey-coordinator-5-kpis")
