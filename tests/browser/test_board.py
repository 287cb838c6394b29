"""The regional board in a real Chromium: it refreshes itself (htmx polling of the board
partial) when a referral changes state, keeping the filters in the address and the scroll
position (no page reload), and screenshots of the board, capacity and KPI pages."""

import pytest
from playwright.sync_api import expect

from accounts.models import User
from cockpit.demo import seed_cockpit_demo
from providers.demo import DEMO_PASSWORD, seed_demo_region
from providers.models import Product, Region
from referrals.models import Patient, Referral, State
from referrals.workflow import referral_transition
from tests.browser.journeys.a11y import wait_for_htmx
from tests.conftest import login, screenshot

pytestmark = pytest.mark.django_db(transaction=True)


def test_board_updates_by_itself_when_a_referral_changes_state(new_page, settings):
    settings.BOARD_POLL_SECONDS = 1
    seed_demo_region()
    region = Region.objects.get(code="zuid-limburg")
    seed_cockpit_demo(region=region)
    coordinator = User.objects.get(username="coordinator")
    gp = User.objects.get(username="huisarts")
    referral = Referral.objects.create(
        patient=Patient.objects.create(name="Gerda Wolfs", sex="F", postcode="6411 AB"),
        region=region,
        organisation=gp.organisation,
        referred_by=gp,
        origin="home",
        product=Product.objects.get(code="elv_hoog"),
        urgency="today",
        medical_reason="Test",
        consent=True,
    )
    card = f"#card-{referral.pk}"

    page = new_page()
    login(page, "coordinator", DEMO_PASSWORD)
    page.goto("/cockpit/?urgency=today")
    expect(page.locator(f"#column-submitted-list {card}")).to_be_visible()
    expect(page.locator(card)).to_contain_text("G. W.")
    expect(page.locator(card)).not_to_contain_text("Gerda")
    screenshot(page, "cockpit-board")

    # A marker in the page's memory and a scroll position: both survive only without a reload.
    page.evaluate("window.boardMarker = 'still here'")
    page.evaluate("window.scrollTo(0, 240)")
    scrolled = page.evaluate("window.scrollY")
    assert scrolled > 0, "the board is not taller than the window; the scroll check would prove nothing"

    referral_transition(referral=referral, target=State.TRIAGE, by=coordinator)

    expect(page.locator(f"#column-triage-list {card}")).to_be_visible(timeout=10_000)
    expect(page.locator(f"#column-submitted-list {card}")).to_have_count(0)
    assert page.evaluate("window.boardMarker") == "still here", "the page was reloaded"
    # The marker proves there was no reload; the offset shows the swap did not throw the reader back
    # to the top. Swapping the board may shift it by a few pixels, so no exact equality; and it is
    # read between two polls, not while one is being swapped in.
    wait_for_htmx(page)
    offset = page.evaluate("window.scrollY")
    assert offset > scrolled / 2, f"the board jumped from {scrolled}px to {offset}px scrolled down"
    assert page.url.endswith("/cockpit/?urgency=today")
    expect(page.locator("#id_urgency")).to_have_value("today")
    screenshot(page, "cockpit-board-updated", full_page=False)

    page.goto("/cockpit/capacity/")
    expect(page.locator("svg[role='img']").first).to_be_visible()
    screenshot(page, "cockpit-capacity")
    page.goto("/cockpit/kpis/")
    expect(page.locator("#figure-providers table")).to_be_visible()
    screenshot(page, "cockpit-kpis")
