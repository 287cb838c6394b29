"""Journey 3 (issue 9): the provider planner, on her phone.

Updates bed counts on "Mijn bedden" with the touch steppers, answers an offer that reached her
as a notification (accepts it), and records the admission and, later, the discharge home. Every
page must fit a 390 px wide screen without sideways scrolling and keep its buttons easy to tap.
"""

import re

import pytest
from playwright.sync_api import expect

from beds.models import Capacity
from providers.demo import DEMO_PASSWORD
from referrals import services
from referrals.models import OfferState, State
from tests.browser.journeys.a11y import check_page, wait_for_htmx
from tests.browser.journeys.conftest import PHONE, bookable, submit_referral
from tests.conftest import login

pytestmark = pytest.mark.django_db(transaction=True)

MIN_TARGET_PX = 24  # WCAG 2.2 target size (minimum), AA


def _small_tap_targets(page) -> list[str]:
    """Buttons and button-like links in the main content smaller than MIN_TARGET_PX."""
    return page.evaluate(
        """(min) => Array.from(document.querySelectorAll(
                'main button, main .button, main select, main input:not([type=hidden])'))
            .filter(el => el.offsetParent !== null && !el.classList.contains('visually-hidden'))
            .map(el => [el, el.getBoundingClientRect()])
            .filter(([el, r]) => r.width < min || r.height < min)
            .map(([el, r]) => `${el.outerHTML.slice(0, 80)} ${Math.round(r.width)}x${Math.round(r.height)}`)""",
        MIN_TARGET_PX,
    )


def test_planner_on_a_phone_updates_counts_answers_an_offer_admits_and_discharges(demo, journey_page):
    # An offer for one of her locations, sent by the desk.
    offered = bookable("Hoensbroek Kasteelpark", "elv_laag")
    referral = submit_referral(demo.gp, 7, name="Hubertina Dautzenberg", product="elv_laag")
    services.referral_step(referral=referral, target=State.SEARCHING, by=demo.coordinator)
    offer = services.offer_create(referral=referral, capacity=offered, by=demo.coordinator)
    offered.refresh_from_db()
    before_offer = (offered.available, offered.held)
    # Another count she will change.
    capacity = Capacity.objects.get(location__name="Huize Welten", product__code="elv_hoog")
    before = capacity.snapshot()
    row = f"#capacity-{capacity.pk}"

    page = journey_page(**PHONE)
    login(page, "planner", DEMO_PASSWORD)
    expect(page).to_have_url(re.compile(r"/beds/mine/$"))  # a planner starts on "Mijn bedden"
    check_page(page, "journey-planner-1-my-beds-phone", full_page=False)
    assert not _small_tap_targets(page), _small_tap_targets(page)

    # --- Update counts: tap + on the free beds, type the expected count, save. -----------------
    page.locator(row).scroll_into_view_if_needed()
    with page.expect_response(lambda r: f"/beds/capacity/{capacity.pk}/" in r.url):
        page.locator(f"{row} button[name='adjust'][value='available:+1']").tap()
    expect(page.locator(f"{row} input[name='c{capacity.pk}-available']")).to_have_value(str(before["available"] + 1))
    page.locator(f"{row} input[name='c{capacity.pk}-expected_24h']").fill(str(before["expected_24h"] + 1))
    with page.expect_response(lambda r: f"/beds/capacity/{capacity.pk}/" in r.url):
        page.locator(f"{row} button.primary").tap()
    # The typed value is already in the field: wait for htmx to swap in the saved row, so the check
    # below reads the answer, not what was typed.
    wait_for_htmx(page)
    expect(page.locator(f"{row} input[name='c{capacity.pk}-expected_24h']")).to_have_value(
        str(before["expected_24h"] + 1)
    )
    page.locator(row).scroll_into_view_if_needed()
    check_page(page, "journey-planner-2-counts-saved-phone", full_page=False)
    capacity.refresh_from_db()
    assert (capacity.available, capacity.expected_24h) == (before["available"] + 1, before["expected_24h"] + 1)
    assert capacity.confirmed_by == demo.planner

    # --- The offer reached her as a notification. -----------------------------------------------
    notifications = page.locator("nav a[href='/referrals/notifications/']")
    expect(notifications.locator(".badge-count")).to_be_visible()
    notifications.tap()
    page.wait_for_url(re.compile(r"/referrals/notifications/$"))
    page.locator(f"main a[href='/referrals/{referral.pk}/']").first.tap()
    page.wait_for_url(re.compile(rf"/referrals/{referral.pk}/$"))
    answer = page.locator("#answer")
    expect(answer).to_contain_text("Hoensbroek Kasteelpark")
    answer.scroll_into_view_if_needed()
    check_page(page, "journey-planner-3-offer-phone", full_page=False)
    assert not _small_tap_targets(page), _small_tap_targets(page)

    # --- Accept: the held bed becomes a booking. ------------------------------------------------
    # Each answer below leads back to the same address: wait for the navigation itself.
    with page.expect_navigation():
        answer.locator(f"form[action='/referrals/offers/{offer.pk}/accept/'] button[type='submit']").tap()
    expect(page.locator("#referral-state")).to_have_class(re.compile(r"\bstate-accepted\b"))
    offered.refresh_from_db()
    assert (offered.available, offered.held) == (before_offer[0] - 1, before_offer[1] - 1)

    # --- Admission, then discharge home. --------------------------------------------------------
    admission = page.locator("#admission")
    admission.scroll_into_view_if_needed()
    check_page(page, "journey-planner-4-admission-phone", full_page=False)
    with page.expect_navigation():
        admission.locator("button[type='submit']").tap()
    expect(page.locator("#referral-state")).to_have_class(re.compile(r"\bstate-admitted\b"))

    discharge = page.locator("#discharge")
    discharge.scroll_into_view_if_needed()
    discharge.locator("select[name='destination']").select_option("home")
    check_page(page, "journey-planner-5-discharge-phone", full_page=False)
    with page.expect_navigation():
        discharge.locator("button[type='submit']").tap()
    expect(page.locator("#referral-state")).to_have_class(re.compile(r"\bstate-discharged\b"))
    check_page(page, "journey-planner-6-discharged-phone", full_page=False)

    # --- Her list of referrals fits the phone too. ----------------------------------------------
    page.locator("nav a[href='/referrals/']").tap()
    page.wait_for_url(re.compile(r"/referrals/$"))
    with page.expect_response(lambda r: "all=1" in r.url):
        page.locator("input[name='all']").tap()
    expect(page.locator(f"#referral-list a[href='/referrals/{referral.pk}/']")).to_be_visible()
    check_page(page, "journey-planner-7-referrals-phone", full_page=False)

    referral.refresh_from_db()
    offer.refresh_from_db()
    assert (referral.state, offer.state, referral.stay.discharge_destination) == (
        State.DISCHARGED,
        OfferState.ACCEPTED,
        "home",
    )
    offered.refresh_from_db()
    assert (offered.available, offered.held) == (before_offer[0], before_offer[1] - 1)  # the bed is free again
