"""Journey 1 (issue 9): the GP between two consultations.

Logs in with two factors, looks for an ELV laag bed near the patient's postcode, refers the
patient through the form, sends the offer himself (the region allows self-service) and sees the
bed booked once the provider's planner, in a browser of her own, accepts.
"""

import re

import pytest
from playwright.sync_api import expect

from beds.models import Capacity
from providers.demo import DEMO_PASSWORD
from providers.models import SelfServiceOffers
from referrals.models import Offer, OfferState, Referral, State
from tests.browser.journeys.a11y import check_page, draft_autosave, htmx_answer_to, wait_for_htmx
from tests.browser.journeys.conftest import bookable, valid_bsn
from tests.conftest import login

pytestmark = pytest.mark.django_db(transaction=True)

PATIENT = "Wilhelmina Hendriks-Coenen"


def test_gp_finds_a_bed_near_the_patient_refers_and_sees_it_accepted(demo, journey_page):
    demo.region.self_service_offers = SelfServiceOffers.ALWAYS
    demo.region.save(update_fields=["self_service_offers"])
    capacity = bookable("De Schacht", "elv_laag")
    start = (capacity.available, capacity.held)
    insurer = capacity.location.contracted_insurers.order_by("uzovi").first()

    # --- Two-factor login: the real form, then the authenticator code. -------------------------
    gp = journey_page()
    login(gp, "huisarts", DEMO_PASSWORD)
    expect(gp).to_have_url(re.compile(r"/beds/$"))  # a GP starts on the bed overview
    expect(gp.locator("html")).to_have_attribute("lang", "nl")

    # --- Search a bed near the patient's postcode. ---------------------------------------------
    gp.select_option("#id_product", "elv_laag")
    gp.fill("#id_postcode", "6411 AB")
    # Enter searches at once; releasing the key also starts the postcode field's debounced search
    # (hx-trigger "keyup changed delay:500ms"), which replaces the results once more after its
    # delay. Wait for that last answer too, or axe below runs while #results is being replaced.
    with gp.expect_response(lambda r: "/beds/?" in r.url and "postcode=6411" in r.url), htmx_answer_to(gp, "keyup"):
        gp.press("#id_postcode", "Enter")
    expect(gp).to_have_url(re.compile(r"product=elv_laag&postcode=6411(\+|%20)AB"))  # a shareable address
    rows = gp.locator("#results tbody tr")
    expect(rows.first.locator(".loc-name")).to_have_text("De Schacht")  # nearest first
    expect(gp.locator("#results thead th.num")).to_have_count(1)  # the distance column
    expect(rows.first.locator("td.num")).to_contain_text("km")
    expect(rows.first.locator(".capacity-list .free").first).to_have_text(re.compile(rf"^\s*{start[0] - start[1]}\b"))
    check_page(gp, "journey-gp-1-beds-near-6411")

    # --- Refer the patient through the form. ---------------------------------------------------
    gp.locator("nav a[href='/referrals/new/']").click()
    gp.wait_for_url(re.compile(r"/referrals/new/$"))
    check_page(gp, "journey-gp-2-referral-form")
    gp.fill("#id_bsn", valid_bsn(4711))
    gp.fill("#id_name", PATIENT)
    gp.fill("#id_date_of_birth", "1934-02-17")
    gp.select_option("#id_sex", "F")
    gp.fill("#id_postcode", "6411 AB")
    gp.select_option("#id_insurer", insurer.uzovi)
    expect(gp.locator("#id_origin")).to_have_count(0)  # a GP's patient is at home: not asked
    gp.select_option("#id_product", "elv_laag")
    gp.check("input[name='urgency'][value='today']")
    gp.check("#id_wakeful_eye")
    gp.check("#id_adl_taken_over")
    gp.fill("#id_medical_reason", "Delier bij urineweginfectie; 's nachts onrustig, partner kan zorg niet aan.")
    # The last change: its autosave (800 ms later) and the advice are answered before the form is
    # sent, so no draft is written while the referral is being made.
    with gp.expect_response(draft_autosave(consent="on")):
        gp.check("#id_consent")
    wait_for_htmx(gp)
    expect(gp.locator("#advice h2")).to_contain_text("ELV laag")
    gp.locator("#referral-form button[name='action'][value='submit']").click()
    gp.wait_for_url(re.compile(r"/referrals/\d+/$"))
    referral = Referral.objects.get(patient__name=PATIENT)
    expect(gp).to_have_url(re.compile(rf"/referrals/{referral.pk}/$"))
    # Self-service: the referral goes straight to "searching" and the GP sees the suggestions.
    expect(gp.locator("#referral-state")).to_have_class(re.compile(r"\bstate-searching\b"))
    offer_form = gp.locator(f"#matches form:has(input[name='capacity'][value='{capacity.pk}'])")
    expect(offer_form).to_have_count(1)
    check_page(gp, "journey-gp-3-suggestions")
    with gp.expect_navigation():  # back to the same address: wait for the navigation itself
        offer_form.locator("button[type='submit']").click()
    expect(gp.locator("#referral-state")).to_have_class(re.compile(r"\bstate-offered\b"))
    expect(gp.locator(".messages [role='status'], .messages")).to_be_visible()
    check_page(gp, "journey-gp-4-offer-sent")
    offer = Offer.objects.get(referral=referral)
    assert (offer.state, offer.capacity_id, offer.created_by.username) == (OfferState.OPEN, capacity.pk, "huisarts")

    # --- The planner of Mijnstreek Zorg accepts, in a browser of her own. -----------------------
    planner = journey_page()
    login(planner, "planner", DEMO_PASSWORD)
    planner.goto(f"/referrals/{referral.pk}/")
    expect(planner.locator("#answer")).to_contain_text("De Schacht")
    with planner.expect_navigation():  # back to the same address
        planner.locator(f"form[action='/referrals/offers/{offer.pk}/accept/'] button[type='submit']").click()
    expect(planner.locator("#referral-state")).to_have_class(re.compile(r"\bstate-accepted\b"))

    # --- The GP sees it: a notification, and the booked bed on the referral. --------------------
    gp.goto("/beds/")
    notifications_link = gp.locator("nav a[href='/referrals/notifications/']")
    expect(notifications_link.locator(".badge-count")).to_contain_text("1")
    notifications_link.click()
    gp.wait_for_url(re.compile(r"/referrals/notifications/$"))
    unread = gp.locator(f"li.unread a[href='/referrals/{referral.pk}/']")
    expect(unread).to_have_count(1)
    check_page(gp, "journey-gp-5-notifications")
    unread.click()
    gp.wait_for_url(re.compile(rf"/referrals/{referral.pk}/$"))
    expect(gp.locator("#referral-state")).to_have_class(re.compile(r"\bstate-accepted\b"))
    expect(gp.locator("#booking")).to_contain_text("De Schacht")
    expect(gp.locator("#booking a[href^='tel:']")).to_have_count(1)
    check_page(gp, "journey-gp-6-bed-booked")

    referral.refresh_from_db()
    assert referral.state == State.ACCEPTED
    capacity = Capacity.objects.get(pk=capacity.pk)
    assert (capacity.available, capacity.held) == (start[0] - 1, start[1])
