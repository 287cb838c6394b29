"""Retention: once every referral of a patient has been closed for longer than the region's
term, the patient's identifiers and the referrals' free text are gone; statistics still work;
the access log is untouched."""

from datetime import UTC, date, datetime, timedelta

import pytest
import time_machine

from audit.models import AccessLog, Channel
from referrals import retention, services
from referrals.models import Offer, Patient, Referral, ReferralDraft, ReferralEvent, State, Stay, StayProductChange
from referrals.tasks import pseudonymise_closed_referrals
from tests.referrals.conftest import OTHER_BSN, VALID_BSN, referral_input

# In UTC: adding days to an Amsterdam time would be wall-clock arithmetic across the DST change.
T0 = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)  # 10:00 in Amsterdam


DISCHARGED_AT = datetime(2026, 1, 15, 10, 0, tzinfo=UTC)


def run(moment) -> dict:
    with time_machine.travel(moment, tick=False):
        return pseudonymise_closed_referrals.apply().get()


def at(moment, action):
    with time_machine.travel(moment, tick=False):
        return action()


@pytest.fixture
def discharged(desk):
    """Maria Jansen: submitted, declined once, admitted and discharged home on 15 January."""
    referral, _ = at(T0, lambda: services.referral_submit(by=desk.gp, data=referral_input(notes="Hond thuis")))
    at(T0, lambda: services.referral_step(referral=referral, target="searching", by=desk.coordinator))
    declined = at(
        T0, lambda: services.offer_create(referral=referral, capacity=desk.other_capacity, by=desk.coordinator)
    )
    at(
        T0,
        lambda: services.offer_decline(offer=declined, by=desk.other_planner, reason="other", text="Mevr. valt vaak"),
    )
    offer = at(T0, lambda: services.offer_create(referral=referral, capacity=desk.capacity, by=desk.coordinator))
    at(T0, lambda: services.offer_accept(offer=offer, by=desk.planner))
    at(T0 + timedelta(hours=2), lambda: services.stay_admit(referral=referral, by=desk.planner, admitted_at=T0))
    discharge = DISCHARGED_AT
    at(
        discharge,
        lambda: services.stay_discharge(
            referral=referral, by=desk.planner, discharged_at=discharge, destination="home"
        ),
    )
    referral.refresh_from_db()
    return referral


def test_identifiers_stay_until_the_regions_term_has_passed(desk, discharged):
    assert run(DISCHARGED_AT + timedelta(days=89, hours=23))["pseudonymised"] == 0
    patient = Patient.objects.get(pk=discharged.patient_id)
    assert patient.bsn == VALID_BSN and patient.name == "Maria Jansen"


def test_after_the_term_identifiers_and_free_text_are_gone_and_statistics_remain(desk, discharged):
    when = DISCHARGED_AT + timedelta(days=90, minutes=1)
    assert run(when)["pseudonymised"] == 1

    patient = Patient.objects.get(pk=discharged.patient_id)
    assert patient.bsn is None
    assert patient.name != "Maria Jansen" and "Jansen" not in patient.name and patient.name.startswith("P-")
    assert patient.date_of_birth == date(1938, 1, 1)
    assert patient.postcode == "6411"
    assert patient.pseudonymised_at == when
    assert patient.insurer.uzovi == "9015" and patient.sex == "F"

    referral = Referral.objects.get(pk=discharged.pk)
    assert (referral.medical_reason, referral.carer_contact, referral.notes, referral.close_reason) == ("", "", "", "")
    assert not Offer.objects.filter(referral=referral).exclude(decline_text="").exists()
    assert not ReferralEvent.objects.filter(referral=referral, reason__contains="valt").exists()
    # What statistics need is still there.
    assert (referral.state, referral.product.code, referral.urgency, referral.origin) == (
        State.DISCHARGED,
        "elv_hoog",
        "today",
        "home",
    )
    assert referral.created_at == T0
    stay = Stay.objects.get(referral=referral)
    assert (stay.admitted_at, stay.discharged_at, stay.discharge_destination) == (T0, DISCHARGED_AT, "home")
    assert ReferralEvent.objects.filter(referral=referral).count() == 8
    assert Offer.objects.filter(referral=referral, decline_reason="other").exists()


def test_the_reason_for_a_product_change_goes_and_the_change_stays(desk, discharged):
    stay = Stay.objects.get(referral=discharged)
    StayProductChange.objects.create(
        stay=stay, from_capacity=desk.capacity, to_capacity=desk.capacity, reason="Mevr. opgeknapt", changed_at=T0
    )

    assert run(DISCHARGED_AT + timedelta(days=91))["pseudonymised"] == 1

    assert list(StayProductChange.objects.filter(stay=stay).values_list("reason", flat=True)) == [""]


def test_the_term_is_a_region_setting(desk, discharged):
    desk.region.retention_days = 30
    desk.region.save()
    assert run(DISCHARGED_AT + timedelta(days=29))["pseudonymised"] == 0
    assert run(DISCHARGED_AT + timedelta(days=31))["pseudonymised"] == 1


def test_cancelled_and_redirected_referrals_count_as_closed(desk):
    cancelled, _ = at(T0, lambda: services.referral_submit(by=desk.gp, data=referral_input()))
    at(T0, lambda: services.referral_step(referral=cancelled, target="cancelled", by=desk.gp, reason="Opgeknapt"))
    redirected, _ = at(T0, lambda: services.referral_submit(by=desk.gp, data=referral_input(bsn=OTHER_BSN)))
    at(
        T0,
        lambda: services.referral_step(
            referral=redirected,
            target="redirected",
            by=desk.coordinator,
            reason="Ziekenhuis",
            redirect_target="hospital",
        ),
    )
    assert run(T0 + timedelta(days=91))["pseudonymised"] == 2
    assert not Patient.objects.filter(bsn__isnull=False).exists()
    assert Referral.objects.get(pk=cancelled.pk).close_reason == ""
    assert Referral.objects.get(pk=redirected.pk).redirect_target == "hospital"


def test_a_patient_with_a_live_referral_is_skipped(desk, discharged):
    again, _ = at(
        DISCHARGED_AT + timedelta(days=80), lambda: services.referral_submit(by=desk.gp, data=referral_input())
    )
    assert again.patient_id == discharged.patient_id
    assert run(DISCHARGED_AT + timedelta(days=100))["pseudonymised"] == 0
    assert Patient.objects.get(pk=discharged.patient_id).bsn == VALID_BSN
    assert Referral.objects.get(pk=discharged.pk).notes == "Hond thuis"


def test_a_patient_with_a_recently_closed_referral_is_skipped(desk, discharged):
    later, _ = at(
        DISCHARGED_AT + timedelta(days=80), lambda: services.referral_submit(by=desk.gp, data=referral_input())
    )
    at(
        DISCHARGED_AT + timedelta(days=81),
        lambda: services.referral_step(referral=later, target="cancelled", by=desk.gp, reason="Niet nodig"),
    )
    assert run(DISCHARGED_AT + timedelta(days=100))["pseudonymised"] == 0
    assert run(DISCHARGED_AT + timedelta(days=81 + 91))["pseudonymised"] == 1


def test_running_twice_changes_nothing_the_second_time(desk, discharged):
    when = DISCHARGED_AT + timedelta(days=91)
    assert run(when)["pseudonymised"] == 1
    name = Patient.objects.get(pk=discharged.patient_id).name
    assert run(when + timedelta(hours=1))["pseudonymised"] == 0
    with time_machine.travel(when + timedelta(hours=2), tick=False):
        assert retention.patient_pseudonymise(patient_id=discharged.patient_id) is False
    assert Patient.objects.get(pk=discharged.patient_id).name == name


def test_the_access_log_is_kept_and_the_job_leaves_its_own_entry(desk, discharged, client):
    client.force_login(desk.gp)
    client.get(f"/referrals/{discharged.pk}/")
    before = list(AccessLog.objects.order_by("id").values_list("id", "user_name", "patient_id", "referral_id"))
    assert before

    run(DISCHARGED_AT + timedelta(days=91))
    after = list(AccessLog.objects.order_by("id").values_list("id", "user_name", "patient_id", "referral_id"))
    assert after[: len(before)] == before
    job_entry = AccessLog.objects.order_by("-id").first()
    assert (job_entry.user_name, job_entry.channel, job_entry.action, job_entry.patient_id) == (
        retention.JOB_NAME,
        Channel.JOB,
        "update",
        discharged.patient_id,
    )


def test_the_bsn_can_be_referred_again_after_pseudonymisation(desk, discharged):
    run(DISCHARGED_AT + timedelta(days=91))
    new, created = at(
        DISCHARGED_AT + timedelta(days=92), lambda: services.referral_submit(by=desk.gp, data=referral_input())
    )
    assert created and new.patient_id != discharged.patient_id


def test_untouched_drafts_are_deleted_after_the_term(desk):
    at(T0, lambda: ReferralDraft.objects.create(user=desk.gp, data={"bsn": VALID_BSN, "name": "Maria Jansen"}))
    assert run(T0 + timedelta(days=89))["drafts_deleted"] == 0
    assert run(T0 + timedelta(days=91))["drafts_deleted"] == 1
    assert not ReferralDraft.objects.exists()
