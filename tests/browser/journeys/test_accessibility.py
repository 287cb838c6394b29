"""Accessibility beyond what axe-core sees on a quiet page (issue 9): the board used with the
keyboard alone, a visible focus, and errors that are announced and tied to their fields."""

import re

import pytest
from playwright.sync_api import expect

from beds.models import Capacity
from providers.demo import DEMO_PASSWORD
from referrals.models import Referral, State
from tests.browser.journeys.a11y import (
    assert_error_tied_to_field,
    assert_focus_visible,
    check_page,
    draft_autosave,
    wait_for_htmx,
)
from tests.browser.journeys.conftest import submit_referral
from tests.conftest import current_totp, login

pytestmark = pytest.mark.django_db(transaction=True)

MAX_TABS = 120


def _tab_to(page, element_id: str) -> int:
    """Press Tab until the element with `element_id` has the focus; return how many presses.

    Reading the focus right after each press is safe: Tab moves it while the key is handled, and
    `press` returns only after the page has handled the key."""
    for presses in range(1, MAX_TABS + 1):
        page.keyboard.press("Tab")
        if page.evaluate("document.activeElement && document.activeElement.id") == element_id:
            return presses
    raise AssertionError(f"#{element_id} was not reached with {MAX_TABS} presses of Tab")


def test_the_board_works_with_the_keyboard_alone(demo, journey_page, settings):
    settings.BOARD_POLL_SECONDS = 600
    referral = submit_referral(demo.gp, 21, name="Petronella Wolfs", product="elv_laag")
    page = journey_page()
    login(page, "coordinator", DEMO_PASSWORD)
    page.goto("/cockpit/")
    page.locator("body").focus()

    # The first Tab shows the skip link; Enter on it moves the focus to the content.
    page.keyboard.press("Tab")
    skip = page.locator(".skip-link")
    expect(skip).to_be_focused()
    # On screen, whatever its size in pixels (fonts differ): waited for, not measured once.
    expect(skip, "the skip link stays off screen when focused").to_be_in_viewport(ratio=1)
    assert_focus_visible(page)
    page.keyboard.press("Enter")
    expect(page.locator("main#main")).to_be_focused()

    # From there, Tab to "Start triage" on the card, with a visible focus, and press Enter.
    _tab_to(page, f"triage-{referral.pk}")
    assert_focus_visible(page)
    screenshot_name = "journey-keyboard-1-focus-on-board-action"
    check_page(page, screenshot_name, full_page=False)
    with page.expect_navigation():  # back to the same address: wait for the navigation itself
        page.keyboard.press("Enter")
    expect(page.locator(f"#column-triage-list #card-{referral.pk}")).to_be_visible()
    assert Referral.objects.get(pk=referral.pk).state == State.TRIAGE

    # Space works as well: start the search from the card.
    page.locator("body").focus()
    _tab_to(page, f"search-{referral.pk}")
    assert_focus_visible(page)
    with page.expect_navigation():  # back to the same address
        page.keyboard.press("Space")
    expect(page.locator(f"#column-searching-list #card-{referral.pk}")).to_be_visible()
    assert Referral.objects.get(pk=referral.pk).state == State.SEARCHING

    # A filter of the board, from the keyboard: the select reacts to the arrow keys (htmx).
    page.locator("#id_urgency").focus()
    assert_focus_visible(page)
    with page.expect_response(lambda r: "/cockpit/?" in r.url):
        page.keyboard.press("ArrowDown")
    expect(page).to_have_url(re.compile(r"urgency="))


def test_errors_are_announced_and_tied_to_their_fields(demo, journey_page):
    page = journey_page()

    # Login: a wrong password is announced, nothing else is given away.
    page.goto("/accounts/login/")
    page.fill("#id_username", "huisarts")
    page.fill("#id_password", "not the password")
    with page.expect_navigation():  # the login page again
        page.click("button.primary")
    expect(page.locator("main .form-errors[role='alert']")).to_be_visible()
    check_page(page, "journey-errors-1-login")

    # Second step: a wrong code is announced at the field.
    page.fill("#id_username", "huisarts")
    page.fill("#id_password", DEMO_PASSWORD)
    page.click("button.primary")
    page.wait_for_url(re.compile(r"/two-factor/verify/"))
    page.fill("#id_token", "000000")
    with page.expect_navigation():  # the same step again
        page.click("button.primary")
    assert_error_tied_to_field(page, "#id_token")
    check_page(page, "journey-errors-2-second-step")
    page.fill("#id_token", current_totp("huisarts"))
    page.click("button.primary")
    page.wait_for_url(re.compile(r"/beds/$"))

    # The referral form sent empty: a summary that links to each field, each field marked.
    page.goto("/referrals/new/?fresh=1")
    page.locator("#referral-form button[name='action'][value='submit']").click()
    page.wait_for_url(re.compile(r"/referrals/new/$"))  # the answer to the POST, without ?fresh=1
    summary = page.locator("#form-errors[role='alert']")
    expect(summary).to_be_visible()
    for field in ("bsn", "name", "postcode", "product", "medical_reason"):
        expect(summary.locator(f"a[href='#id_{field}']")).to_have_count(1)
        assert_error_tied_to_field(page, f"#id_{field}")
    consent = page.locator("#id_consent_error[role='alert']")
    expect(consent).to_be_visible()
    check_page(page, "journey-errors-3-referral-form")
    # What the GP typed is kept (design §9): fill one field, send again, it is still there.
    page.fill("#id_name", "Theodora Janssen")
    # Leaving the field starts the htmx advice and, 800 ms later, the autosave: let both answer
    # first, so no draft is being written while the form is sent (to the same address).
    with page.expect_response(draft_autosave(name="Theodora Janssen")):
        page.locator("#id_name").blur()
    wait_for_htmx(page)
    with page.expect_navigation():
        page.locator("#referral-form button[name='action'][value='submit']").click()
    expect(page.locator("#id_name")).to_have_value("Theodora Janssen")
    expect(page.locator("#id_name")).not_to_have_attribute("aria-invalid", "true")

    # "Mijn bedden": an emptied count is refused at the field, in the htmx answer too.
    planner = journey_page()
    login(planner, "planner", DEMO_PASSWORD)
    capacity = Capacity.objects.filter(location__organisation=demo.planner.organisation).order_by("pk").first()
    field = f"#id_c{capacity.pk}-available"
    planner.fill(field, "")
    with planner.expect_response(lambda r: f"/beds/capacity/{capacity.pk}/" in r.url):
        planner.locator(f"#capacity-{capacity.pk} button.primary").click()
    # The response has arrived, but htmx swaps it in a moment later: wait for the swap (and the
    # checks below retry) instead of reading the old, unmarked field.
    wait_for_htmx(planner)
    assert_error_tied_to_field(planner, field)
    planner.locator(field).scroll_into_view_if_needed()
    check_page(planner, "journey-errors-4-my-beds", full_page=False)
