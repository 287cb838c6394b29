"""Journey 2 (issue 9): the transfer nurse on a hospital ward.

Books a bed for a patient whose discharge is planned for tomorrow (the region allows her to send
the offer herself), and follows her other patients, each in another state, on "Mijn aanmeldingen".
"""

import re
from datetime import datetime, time, timedelta

import pytest
from django.utils import formats, timezone, translation
from playwright.sync_api import expect

from providers.demo import DEMO_PASSWORD
from providers.models import SelfServiceOffers
from referrals import services
from referrals.models import Offer, OfferState, Referral, State
from tests.browser.journeys.a11y import check_page, draft_autosave
from tests.browser.journeys.conftest import bookable, submit_referral, tomorrow, valid_bsn
from tests.conftest import login

pytestmark = pytest.mark.django_db(transaction=True)

PATIENT = "Gerardus Vaessen"


def _her_other_patients(demo) -> dict[str, Referral]:
    """Four earlier referrals of the nurse: waiting for the desk, in triage, bed booked, and
    one already discharged (closed)."""
    capacity = bookable("Hoensbroek Kasteelpark", "elv_laag")
    nurse, desk, planner = demo.nurse, demo.coordinator, demo.planner
    submitted = submit_referral(nurse, 1, name="Maria Smeets", product="elv_laag")
    triage = submit_referral(nurse, 2, name="Jan Hermans", product="elv_laag")
    services.referral_step(referral=triage, target=State.TRIAGE, by=desk)
    booked = submit_referral(nurse, 3, name="Anna Peters", product="elv_laag")
    services.referral_step(referral=booked, target=State.SEARCHING, by=desk)
    services.offer_accept(offer=services.offer_create(referral=booked, capacity=capacity, by=desk), by=planner)
    home = submit_referral(nurse, 4, name="Sjef Lemmens", product="elv_laag")
    services.referral_step(referral=home, target=State.SEARCHING, by=desk)
    services.offer_accept(offer=services.offer_create(referral=home, capacity=capacity, by=desk), by=planner)
    now = timezone.now()
    services.stay_admit(referral=home, by=planner, admitted_at=now - timedelta(hours=2))
    services.stay_discharge(referral=home, by=planner, discharged_at=now - timedelta(hours=1), destination="home")
    return {"submitted": submitted, "triage": triage, "accepted": booked, "discharged": home}


def test_transfer_nurse_books_a_bed_for_tomorrow_and_follows_her_patients(demo, journey_page):
    others = _her_other_patients(demo)  # made while only the desk sends offers
    demo.region.self_service_offers = SelfServiceOffers.ALWAYS
    demo.region.save(update_fields=["self_service_offers"])
    capacity = bookable("Huize Welten", "elv_hoog")
    insurer = capacity.location.contracted_insurers.order_by("uzovi").first()

    nurse = journey_page()
    login(nurse, "transfer", DEMO_PASSWORD)

    # --- Refer the patient from the ward, discharge planned for tomorrow. ------------------------
    nurse.goto("/referrals/")
    nurse.locator("main a.button.primary[href='/referrals/new/']").click()
    nurse.wait_for_url(re.compile(r"/referrals/new/$"))
    nurse.fill("#id_bsn", valid_bsn(815))
    nurse.fill("#id_name", PATIENT)
    nurse.fill("#id_date_of_birth", "1941-11-03")
    nurse.select_option("#id_sex", "M")
    nurse.fill("#id_postcode", "6413 AB")
    nurse.select_option("#id_insurer", insurer.uzovi)
    nurse.select_option("#id_origin", "ward")
    nurse.select_option("#id_product", "elv_hoog")
    nurse.check("input[name='urgency'][value='planned']")
    nurse.fill("#id_planned_date", tomorrow().isoformat())
    nurse.check("#id_unplannable_nursing")
    nurse.check("#id_adl_taken_over")
    nurse.check("#id_needs_elderly_care_specialist")
    nurse.fill("#id_medical_reason", "CVA rechts, medisch uitbehandeld; ontslag morgen, thuis nog niet mogelijk.")
    nurse.fill("#id_carer_contact", "Dochter: Els Vaessen, 06 2345 6789")
    # The last change: wait for its autosave (800 ms later), which swaps the draft status in;
    # check_page then waits for the advice to settle.
    with nurse.expect_response(draft_autosave(consent="on")):
        nurse.check("#id_consent")
    check_page(nurse, "journey-nurse-1-referral-form")
    nurse.locator("#referral-form button[name='action'][value='submit']").click()
    nurse.wait_for_url(re.compile(r"/referrals/\d+/$"))
    referral = Referral.objects.get(patient__name=PATIENT)
    assert (referral.urgency, referral.planned_date, referral.origin) == ("planned", tomorrow(), "ward")
    expect(nurse.locator("#referral-state")).to_have_class(re.compile(r"\bstate-searching\b"))

    # --- Book the bed: send the offer herself; the planner accepts for tomorrow morning. --------
    offer_form = nurse.locator(f"#matches form:has(input[name='capacity'][value='{capacity.pk}'])")
    with nurse.expect_navigation():  # back to the same address
        offer_form.locator("button[type='submit']").click()
    expect(nurse.locator("#referral-state")).to_have_class(re.compile(r"\bstate-offered\b"))
    offer = Offer.objects.get(referral=referral)
    admission = timezone.make_aware(datetime.combine(tomorrow(), time(10, 30)))
    services.offer_accept(offer=offer, by=demo.planner, admission_at=admission)

    nurse.reload()
    expect(nurse.locator("#referral-state")).to_have_class(re.compile(r"\bstate-accepted\b"))
    with translation.override("nl"):
        expected_admission = formats.date_format(timezone.localtime(admission), "j F H:i")
    expect(nurse.locator("#booking")).to_contain_text("Huize Welten")
    expect(nurse.locator("#booking")).to_contain_text(expected_admission)
    check_page(nurse, "journey-nurse-2-bed-booked-for-tomorrow")

    # --- Follow her patients on "Mijn aanmeldingen". --------------------------------------------
    nurse.locator("nav a[href='/referrals/']").click()
    nurse.wait_for_url(re.compile(r"/referrals/$"))
    rows = nurse.locator("#referral-list tbody tr")
    expected = {**{state: r for state, r in others.items() if state != "discharged"}, "new": referral}
    expect(rows).to_have_count(len(expected))  # the open ones; the discharged patient is closed
    for state, shown in expected.items():
        row = rows.filter(has=nurse.locator(f"a[href='/referrals/{shown.pk}/']"))
        state_class = "accepted" if state == "new" else state
        expect(row.locator(".state")).to_have_class(re.compile(rf"\bstate-{state_class}\b"))
        expect(row).to_contain_text(shown.patient.initials)
        expect(row).not_to_contain_text(shown.patient.name)  # initials only in a list
    new_row = rows.filter(has=nurse.locator(f"a[href='/referrals/{referral.pk}/']"))
    expect(new_row).to_contain_text("Huize Welten")
    check_page(nurse, "journey-nurse-3-my-referrals")

    # Only the ones in triage (htmx filter, the address keeps the filter).
    with nurse.expect_response(lambda r: "state=triage" in r.url):
        nurse.select_option("#id_state", "triage")
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text(f"#{others['triage'].pk}")
    expect(nurse).to_have_url(re.compile(r"state=triage"))

    # All states again, closed ones included: the discharged patient comes back.
    with nurse.expect_response(lambda r: "state=" in r.url and "triage" not in r.url):
        nurse.select_option("#id_state", "")
    with nurse.expect_response(lambda r: "all=1" in r.url):
        nurse.check("input[name='all']")
    expect(rows).to_have_count(len(expected) + 1)
    discharged = rows.filter(has=nurse.locator(f"a[href='/referrals/{others['discharged'].pk}/']"))
    expect(discharged.locator(".state")).to_have_class(re.compile(r"\bstate-discharged\b"))
    check_page(nurse, "journey-nurse-4-my-referrals-with-closed")

    offer.refresh_from_db()
    assert offer.state == OfferState.ACCEPTED and offer.admission_at == admission
