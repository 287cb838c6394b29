"""Issue 17 point 1, fewer steps for referrers: the GP's interactions counted.

From the first page after login (the bed overview) to a submitted referral for a typical ELV hoog
patient: filter, "Refer to this location" (product, postcode, care needs and the location filled
in; origin and urgency not asked), the patient, the LHV ticks, consent, send. Every click, tick,
choice, fill (a typed value, a date too, is one) and key press goes through `CountingPage`; the
goal is at most 15. Prints the count, the wall clock of this run and a keystroke-level estimate of
a person's time (README, "First five minutes").
"""

import re
import time

import pytest
from playwright.sync_api import expect

from providers.demo import DEMO_PASSWORD
from providers.models import Feature
from referrals.models import Referral
from tests.browser.journeys.a11y import (
    assert_focus_visible,
    check_page,
    draft_autosave,
    htmx_answer_to,
    wait_for_htmx,
)
from tests.browser.journeys.conftest import bookable, valid_bsn
from tests.conftest import login

pytestmark = pytest.mark.django_db(transaction=True)

PATIENT = "Johanna Ubachs-Lardinois"
POSTCODE = "6411 AB"
MAX_INTERACTIONS = 15

# Keystroke-level model (Card, Moran & Newell), seconds: think, point, press the button, move the
# hand between mouse and keyboard, one keystroke of an average typist. An estimate, not a measure.
KLM_MENTAL, KLM_POINT, KLM_BUTTON, KLM_HOME, KLM_KEY = 1.35, 1.1, 0.2, 0.4, 0.28


class CountingPage:
    """The user's actions on a page, each counted once: a click, a tick, a choice from a list, a
    field filled (typed; a date is one fill too), a key press. Waits are not actions."""

    def __init__(self, page):
        self.page = page
        self.actions: list[str] = []
        self.keystrokes = 0

    def _locate(self, target):
        return self.page.locator(target) if isinstance(target, str) else target

    def _count(self, action: str, target, typed: str = "") -> None:
        self.actions.append(f"{action} {target}")
        self.keystrokes += len(typed)

    def click(self, target, label: str | None = None) -> None:
        self._count("click", label or target)
        self._locate(target).click()

    def check(self, target) -> None:
        self._count("check", target)
        self._locate(target).check()

    def select(self, target, value: str) -> None:
        self._count("select", target)
        self._locate(target).select_option(value)

    def fill(self, target, text: str) -> None:
        self._count("fill", target, text)
        self._locate(target).fill(text)

    def type(self, target, text: str) -> None:
        """A fill key by key, for a field that answers to typing itself (keyup)."""
        self._count("type", target, text)
        self._locate(target).press_sequentially(text)

    def press(self, target, key: str) -> None:
        self._count("press", target, key[:1])
        self._locate(target).press(key)

    @property
    def count(self) -> int:
        return len(self.actions)

    def person_seconds(self) -> float:
        """Keystroke-level estimate: each action is thought of, pointed at and pressed; typing
        adds a move to the keyboard and back, and its keystrokes."""
        typed = sum(1 for action in self.actions if action.startswith(("fill", "type")))
        per_action = KLM_MENTAL + KLM_POINT + KLM_BUTTON
        return self.count * per_action + typed * 2 * KLM_HOME + self.keystrokes * KLM_KEY


def _huize_welten_with_oxygen():
    """An ELV hoog bed at a location that has oxygen, admitting around the clock."""
    capacity = bookable("Huize Welten", "elv_hoog")
    capacity.location.features.add(Feature.objects.get(code="oxygen"))
    return capacity


def _refer_link(page, capacity):
    return page.locator(f"#results a.refer-link[href*='?location={capacity.location_id}&product=elv_hoog&']")


def test_a_gp_refers_a_typical_elv_hoog_patient_from_the_bed_overview_in_at_most_15_interactions(demo, journey_page):
    capacity = _huize_welten_with_oxygen()
    location = capacity.location
    insurer = location.contracted_insurers.order_by("uzovi").first()
    page = journey_page()
    login(page, "huisarts", DEMO_PASSWORD)
    expect(page).to_have_url(re.compile(r"/beds/$"))  # the first page after login
    page.wait_for_load_state("load")
    gp = CountingPage(page)
    started = time.monotonic()

    # --- The bed overview: product, the patient's postcode, a required feature. -----------------
    with htmx_answer_to(page, "change"):
        gp.select("#id_product", "elv_hoog")
    with htmx_answer_to(page, "keyup"):  # the postcode field searches by itself once typed
        gp.type("#id_postcode", POSTCODE)
    # Leaving the postcode field sends its change too; wait for the answer with the feature.
    with page.expect_response(lambda r: "/beds/?" in r.url and "features=oxygen" in r.url and "postcode=" in r.url):
        gp.check("form.filters input[name='features'][value='oxygen']")
    wait_for_htmx(page)
    refer = _refer_link(page, capacity)
    expect(refer).to_have_count(1)
    gp.click(refer, f"Refer to this location: {location.name}, ELV hoog")

    # --- The referral form, with what the overview knew. ----------------------------------------
    page.wait_for_url(re.compile(r"/referrals/new/\?location="))
    expect(page.locator("#id_product")).to_have_value("elv_hoog")
    expect(page.locator("#id_postcode")).to_have_value(POSTCODE)
    expect(page.locator("input[name='care_needs'][value='oxygen']")).to_be_checked()
    expect(page.locator("input[name='preferred_location']")).to_have_value(str(location.pk))
    expect(page.locator("#preferred-location")).to_contain_text(location.name)
    expect(page.locator("#id_origin")).to_have_count(0)
    expect(page.locator("input[name='urgency'][value='today']")).to_be_checked()
    gp.fill("#id_bsn", valid_bsn(1717))
    gp.fill("#id_name", PATIENT)
    gp.fill("#id_date_of_birth", "1936-05-14")
    gp.select("#id_sex", "F")
    gp.select("#id_insurer", insurer.uzovi)
    gp.check("#id_wakeful_eye")  # LHV: supervision around the clock
    gp.check("#id_needs_elderly_care_specialist")  # the advice: ELV hoog
    gp.fill("#id_medical_reason", "Heupfractuur conservatief; delier, 's nachts onrustig. Partner kan het niet aan.")
    # The last change: its autosave (800 ms later) and the advice are answered before sending.
    with page.expect_response(draft_autosave(consent="on")):
        gp.check("#id_consent")
    wait_for_htmx(page)
    gp.click("#referral-form button[name='action'][value='submit']")
    page.wait_for_url(re.compile(r"/referrals/\d+/$"))
    expect(page.locator("#referral-state")).to_have_class(re.compile(r"\bstate-submitted\b"))
    seconds = time.monotonic() - started

    print(
        f"\nGP fast referral: {gp.count} interactions, {seconds:.1f} s wall clock in this run, "
        f"about {gp.person_seconds():.0f} s for a person (keystroke-level estimate)\n  " + "\n  ".join(gp.actions)
    )
    assert gp.count <= MAX_INTERACTIONS, gp.actions
    referral = Referral.objects.select_related("patient", "product", "preferred_location").get(patient__name=PATIENT)
    assert (referral.preferred_location, referral.product.code, referral.patient.postcode) == (
        location,
        "elv_hoog",
        POSTCODE,
    )
    assert set(referral.care_needs.values_list("code", flat=True)) == {"oxygen"}
    assert (referral.origin, referral.urgency, referral.organisation) == ("home", "today", demo.gp.organisation)
    assert referral.wakeful_eye and referral.needs_elderly_care_specialist and referral.consent


def test_the_shortcut_and_the_lhv_questions_work_with_the_keyboard(demo, journey_page):
    capacity = _huize_welten_with_oxygen()
    page = journey_page()
    login(page, "huisarts", DEMO_PASSWORD)
    page.goto(f"/beds/?product=elv_hoog&postcode={POSTCODE.replace(' ', '+')}&features=oxygen")
    refer = _refer_link(page, capacity)
    expect(refer).to_have_count(1)
    check_page(page, "fast-referral-1-overview-with-refer-links")

    # The link is an ordinary link: focus it, Enter follows it.
    refer.focus()
    assert_focus_visible(page)
    with page.expect_navigation():
        page.keyboard.press("Enter")
    expect(page.locator("#preferred-location")).to_contain_text(capacity.location.name)
    check_page(page, "fast-referral-2-form-with-preferred-location")

    # The LHV and advice questions: Tab goes through them in the order shown, Space ticks.
    boxes = page.locator(
        "#referral-form fieldset:has(#id_wakeful_eye) input[type='checkbox'],"
        " #referral-form fieldset:has(#id_needs_hospital_care) input[type='checkbox']"
    )
    order = boxes.evaluate_all("elements => elements.map(element => element.id)")
    assert order[:3] == ["id_wakeful_eye", "id_unplannable_nursing", "id_adl_taken_over"]
    page.locator("#id_wakeful_eye").focus()
    visited = [page.evaluate("document.activeElement.id")]
    for _ in order[1:]:
        page.keyboard.press("Tab")
        visited.append(page.evaluate("document.activeElement.id"))
    assert visited == order
    page.locator("#id_adl_taken_over").focus()
    assert_focus_visible(page)
    with htmx_answer_to(page, "change"):  # the advice follows the tick
        page.keyboard.press("Space")
    expect(page.locator("#id_adl_taken_over")).to_be_checked()
    expect(page.locator("input[name='care_needs'][value='oxygen']")).to_be_checked()  # still from the link
    with htmx_answer_to(page, "change"):
        page.keyboard.press("Space")
    expect(page.locator("#id_adl_taken_over")).not_to_be_checked()
