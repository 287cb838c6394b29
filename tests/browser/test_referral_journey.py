"""The referral journey of issue 3 in a real Chromium, one browser context per person.

A GP refers a patient from home, the desk starts the search and sends an offer to a location
of Mijnstreek Zorg from the suggestions, the planner accepts and records admission and
discharge home, and the GP sees the referral discharged. The bed count ends where it started.
"""

import re

import pytest
from playwright.sync_api import expect

from accounts.models import User
from beds.models import Capacity
from providers.demo import DEMO_PASSWORD, seed_demo_region
from providers.models import Region, SelfServiceOffers
from referrals.models import Offer, OfferState, Referral, ReferralDraft, State
from tests.browser.journeys.a11y import draft_autosave, wait_for_htmx
from tests.conftest import login, screenshot

# transaction=True: the live server thread must see the test's rows (the reference data of the
# data migration comes back after every flush: tests/conftest.py).
pytestmark = pytest.mark.django_db(transaction=True)

PATIENT = "Johanna Lemmens-Bouwens"
BSN = "111222333"


def _mijnstreek_capacity(planner: User) -> Capacity:
    """An ELV hoog or laag capacity of Mijnstreek Zorg, nearest to 6411 first, made sure to
    have a free bed and to admit around the clock (so the test does not depend on the hour)."""
    capacities = (
        Capacity.objects.filter(location__organisation=planner.organisation, product__code__in=["elv_hoog", "elv_laag"])
        .select_related("location", "product")
        .order_by("location__postcode", "product__sort_order")
    )
    capacity = capacities.first()
    assert capacity is not None, "Mijnstreek Zorg has no ELV hoog or laag beds in the demo region"
    if capacity.free < 1:
        capacity.total = max(capacity.total, capacity.held + 1)
        capacity.available = capacity.held + 1
        capacity.save(update_fields=["total", "available"])
    location = capacity.location
    if not location.admission_24_7:
        location.admission_24_7 = True
        location.save(update_fields=["admission_24_7"])
    return capacity


def _click_and_wait(page, selector: str) -> None:
    """Click a button whose post leads back to the same address: wait for the navigation itself."""
    with page.expect_navigation():
        page.locator(selector).click()


def test_gp_refers_desk_offers_provider_accepts_admits_and_discharges(new_page):
    seed_demo_region()
    region = Region.objects.get(code="zuid-limburg")
    region.self_service_offers = SelfServiceOffers.NEVER
    region.save(update_fields=["self_service_offers"])
    planner = User.objects.get(username="planner")
    assert planner.organisation.name == "Mijnstreek Zorg"
    capacity = _mijnstreek_capacity(planner)
    capacity.refresh_from_db()
    start = (capacity.total, capacity.available, capacity.held)
    insurer = capacity.location.contracted_insurers.order_by("uzovi").first()
    assert insurer is not None

    # --- The GP fills the referral form. ----------------------------------------------------
    gp = new_page()
    login(gp, "huisarts", DEMO_PASSWORD)
    gp.goto("/referrals/new/?fresh=1")
    gp.fill("#id_bsn", BSN)
    gp.fill("#id_name", PATIENT)
    gp.fill("#id_date_of_birth", "1936-09-14")
    gp.select_option("#id_sex", "F")
    gp.fill("#id_postcode", "6411 AB")
    gp.select_option("#id_insurer", insurer.uzovi)
    expect(gp.locator("#id_origin")).to_have_count(0)  # a GP's patient is at home: not asked
    gp.select_option("#id_product", capacity.product.code)
    gp.check("input[name='urgency'][value='today']")
    gp.check("#id_wakeful_eye")
    gp.check("#id_adl_taken_over")
    if capacity.product.code == "elv_hoog":
        gp.check("#id_needs_elderly_care_specialist")
    gp.fill("#id_medical_reason", "Heupfractuur conservatief behandeld; thuis niet verantwoord.")
    gp.fill("#id_carer_contact", "Peter Lemmens, 06 1111 2222")
    gp.check("#id_consent")
    # The advice beside the form follows the answers (htmx).
    expect(gp.locator("#advice h2")).to_contain_text("ELV")
    # Autosave (htmx): the draft is stored, and a later change updates that same draft. Wait for
    # the autosave that carries the notes: an earlier one may still be on its way.
    expect(gp.locator("#draft-status")).not_to_be_empty()
    with gp.expect_response(draft_autosave(notes="Graag bellen bij opname.")) as saved:
        gp.fill("#id_notes", "Graag bellen bij opname.")
        gp.locator("#id_notes").blur()
    assert saved.value.ok
    wait_for_htmx(gp)  # its swap and the advice, before the screenshot and sending the form
    drafts = ReferralDraft.objects.filter(user__username="huisarts")
    assert drafts.count() == 1, "every autosave started a new draft"
    assert drafts.get().data["notes"] == "Graag bellen bij opname."
    screenshot(gp, "referral-1-form")

    gp.locator("#referral-form button[name='action'][value='submit']").click()
    gp.wait_for_url(re.compile(r"/referrals/(\d+|new)/$"))  # the referral, or the form with its errors
    match = re.search(r"/referrals/(\d+)/$", gp.url)
    assert match, f"not on the referral page after submitting: {gp.url}"
    referral_id = int(match.group(1))
    detail = f"/referrals/{referral_id}/"
    expect(gp.locator("#referral-state")).to_have_class(re.compile(r"\bstate-submitted\b"))
    expect(gp.locator("h1")).to_contain_text(PATIENT)
    screenshot(gp, "referral-2-submitted")
    assert not ReferralDraft.objects.filter(user__username="huisarts").exists(), "the draft outlived the referral"
    referral = Referral.objects.get(pk=referral_id)
    assert (referral.state, referral.patient.bsn, referral.product_id) == (State.SUBMITTED, BSN, capacity.product_id)

    # --- The coordinator starts the search and sends an offer to Mijnstreek Zorg. -----------
    desk = new_page()
    login(desk, "coordinator", DEMO_PASSWORD)
    desk.goto(detail)
    expect(desk.locator("#referral-state")).to_have_class(re.compile(r"\bstate-submitted\b"))
    _click_and_wait(desk, f"form[action='{detail}step/']:has(input[name='target'][value='searching']) button")
    expect(desk.locator("#referral-state")).to_have_class(re.compile(r"\bstate-searching\b"))
    offer_form_selector = f"form[action='{detail}offers/']:has(input[name='capacity'][value='{capacity.pk}'])"
    suggestion = desk.locator("#matches ol.suggestions > li").filter(has=desk.locator(offer_form_selector))
    expect(suggestion).to_have_count(1)
    expect(suggestion.locator("strong").first).to_have_text(capacity.location.name)
    expect(suggestion).to_contain_text("Mijnstreek Zorg")
    offer_form = suggestion.locator(offer_form_selector)
    screenshot(desk, "referral-3-suggestions")

    with desk.expect_navigation():  # back to the same address
        offer_form.locator("button[type='submit']").click()
    expect(desk.locator("#referral-state")).to_have_class(re.compile(r"\bstate-offered\b"))
    screenshot(desk, "referral-4-offer-sent")
    offer = Offer.objects.get(referral_id=referral_id)
    assert (offer.state, offer.capacity_id) == (OfferState.OPEN, capacity.pk)
    capacity.refresh_from_db()
    assert (capacity.available, capacity.held) == (start[1], start[2] + 1)

    # --- The planner of Mijnstreek Zorg accepts, then records admission and discharge. ------
    provider = new_page()
    login(provider, "planner", DEMO_PASSWORD)
    provider.goto(detail)
    expect(provider.locator("#answer")).to_contain_text(capacity.location.name)
    screenshot(provider, "referral-5-planner-offer")
    _click_and_wait(provider, f"form[action='/referrals/offers/{offer.pk}/accept/'] button[type='submit']")
    expect(provider.locator("#referral-state")).to_have_class(re.compile(r"\bstate-accepted\b"))
    expect(provider.locator("#booking")).to_contain_text(capacity.location.name)
    screenshot(provider, "referral-6-accepted")
    capacity.refresh_from_db()
    assert (capacity.available, capacity.held) == (start[1] - 1, start[2])

    _click_and_wait(provider, f"form[action='{detail}admission/'] button[type='submit']")
    expect(provider.locator("#referral-state")).to_have_class(re.compile(r"\bstate-admitted\b"))
    screenshot(provider, "referral-7-admitted")

    provider.select_option(f"form[action='{detail}discharge/'] select[name='destination']", "home")
    _click_and_wait(provider, f"form[action='{detail}discharge/'] button[type='submit']")
    expect(provider.locator("#referral-state")).to_have_class(re.compile(r"\bstate-discharged\b"))
    screenshot(provider, "referral-8-discharged")

    # --- The GP sees the outcome. -----------------------------------------------------------
    gp.goto(detail)
    expect(gp.locator("#referral-state")).to_have_class(re.compile(r"\bstate-discharged\b"))
    expect(gp.locator("ol.timeline > li")).to_have_count(6)
    screenshot(gp, "referral-9-gp-discharged")

    # --- What the database holds now. -------------------------------------------------------
    referral.refresh_from_db()
    assert referral.state == State.DISCHARGED
    assert referral.stay.discharge_destination == "home"
    assert referral.stay.location_id == capacity.location_id
    assert [(e.to_state, e.actor.username if e.actor else None) for e in referral.events.all()] == [
        ("submitted", "huisarts"),
        ("searching", "coordinator"),
        ("offered", "coordinator"),
        ("accepted", "planner"),
        ("admitted", "planner"),
        ("discharged", "planner"),
    ]
    capacity.refresh_from_db()
    assert (capacity.total, capacity.available, capacity.held) == start
