from datetime import timedelta

import pytest
import time_machine
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from beds.models import CapacityChange
from elvdesk.errors import Conflict
from providers.models import SelfServiceOffers
from referrals import services
from referrals.models import Notification, Offer, Referral, ReferralEvent, State
from tests.referrals.conftest import OTHER_BSN, referral_input


def test_submit_creates_a_submitted_referral_with_its_first_event(desk):
    referral, created = services.referral_submit(by=desk.gp, data=referral_input())
    assert created
    assert referral.state == State.SUBMITTED
    assert referral.organisation == desk.gp.organisation
    assert referral.region == desk.region
    assert [(e.from_state, e.to_state) for e in referral.events.all()] == [("draft", "submitted")]


def test_submit_notifies_the_desk_of_the_region(desk):
    referral, _ = services.referral_submit(by=desk.gp, data=referral_input())
    assert list(Notification.objects.filter(referral=referral).values_list("user", flat=True)) == [desk.coordinator.pk]


def test_submit_twice_with_the_same_key_creates_one_referral(desk):
    first, created_first = services.referral_submit(by=desk.gp, data=referral_input(), idempotency_key="k1")
    second, created_second = services.referral_submit(by=desk.gp, data=referral_input(), idempotency_key="k1")
    assert (created_first, created_second) == (True, False)
    assert first.pk == second.pk
    assert Referral.objects.count() == 1


def test_a_second_live_referral_for_the_same_patient_is_refused(desk, submitted):
    with pytest.raises(services.LiveReferralExists):
        services.referral_submit(by=desk.nurse, data=referral_input(origin="ward"))
    assert Referral.objects.count() == 1


def test_the_database_refuses_two_live_referrals_for_one_patient(desk, submitted):
    second, _ = services.referral_submit(by=desk.gp, data=referral_input(bsn=OTHER_BSN))
    with pytest.raises(IntegrityError), transaction.atomic():
        Referral.objects.filter(pk=second.pk).update(patient=submitted.patient)


def test_a_patient_can_be_referred_again_after_the_first_referral_closed(desk, submitted):
    services.referral_step(referral=submitted, target="cancelled", by=desk.gp, reason="Opgeknapt")
    again, created = services.referral_submit(by=desk.gp, data=referral_input())
    assert created and again.patient_id == submitted.patient_id


def test_submit_without_consent_changes_nothing(desk):
    with pytest.raises(ValidationError) as error:
        services.referral_submit(by=desk.gp, data=referral_input(consent=False))
    assert "consent" in error.value.message_dict
    assert Referral.objects.count() == 0


def test_submit_outside_office_hours_with_self_service_goes_straight_to_searching(desk):
    desk.region.self_service_offers = SelfServiceOffers.OUTSIDE_OFFICE_HOURS
    desk.region.save()
    saturday_night = timezone.make_aware(timezone.datetime(2026, 11, 28, 23, 0))
    with time_machine.travel(saturday_night, tick=False):
        referral, _ = services.referral_submit(by=desk.gp, data=referral_input())
    assert referral.state == State.SEARCHING
    assert referral.events.last().actor is None


def test_an_offer_holds_one_bed(desk, searching):
    offer = services.offer_create(referral=searching, capacity=desk.capacity, by=desk.coordinator)
    desk.capacity.refresh_from_db()
    assert (desk.capacity.available, desk.capacity.held) == (1, 1)
    assert offer.expires_at == offer.created_at + timedelta(minutes=desk.region.offer_expiry_minutes)
    searching.refresh_from_db()
    assert searching.state == State.OFFERED


def test_no_offer_without_a_free_bed(desk, searching, submitted):
    desk.capacity.available = 0
    desk.capacity.save()
    with pytest.raises(Conflict):
        services.offer_create(referral=searching, capacity=desk.capacity, by=desk.coordinator)
    assert Offer.objects.count() == 0
    searching.refresh_from_db()
    assert searching.state == State.SEARCHING


def test_no_offer_before_the_search_started(desk, submitted):
    with pytest.raises(Conflict):
        services.offer_create(referral=submitted, capacity=desk.capacity, by=desk.coordinator)


def test_a_referrer_may_not_send_offers_when_self_service_is_off(desk, searching):
    with pytest.raises(Conflict):
        services.offer_create(referral=searching, capacity=desk.capacity, by=desk.gp)


def test_accept_turns_the_hold_into_a_booking(desk, offer):
    services.offer_accept(offer=offer, by=desk.planner)
    desk.capacity.refresh_from_db()
    assert (desk.capacity.available, desk.capacity.held) == (0, 0)
    offer.refresh_from_db()
    assert offer.state == "accepted"
    assert offer.referral.state == State.ACCEPTED
    assert CapacityChange.objects.filter(capacity=desk.capacity, source="booking").count() == 1


def test_accepting_twice_is_a_conflict(desk, offer):
    services.offer_accept(offer=offer, by=desk.planner)
    with pytest.raises(Conflict):
        services.offer_accept(offer=offer, by=desk.planner)
    desk.capacity.refresh_from_db()
    assert desk.capacity.available == 0


def test_accepting_an_expired_offer_is_refused(desk, offer):
    with time_machine.travel(offer.expires_at + timedelta(seconds=1)):
        with pytest.raises(Conflict) as error:
            services.offer_accept(offer=offer, by=desk.planner)
    assert error.value.code == "offer_expired"
    desk.capacity.refresh_from_db()
    assert (desk.capacity.available, desk.capacity.held) == (1, 1)


def test_decline_releases_the_hold_and_searches_again(desk, offer):
    services.offer_decline(offer=offer, by=desk.planner, reason="too_complex")
    desk.capacity.refresh_from_db()
    assert (desk.capacity.available, desk.capacity.held) == (1, 0)
    offer.referral.refresh_from_db()
    assert offer.referral.state == State.SEARCHING
    assert Offer.objects.get().decline_reason == "too_complex"
    notified = set(Notification.objects.filter(kind="offer_declined").values_list("user", flat=True))
    assert notified == {desk.gp.pk, desk.coordinator.pk}


def test_decline_with_other_needs_an_explanation(desk, offer):
    with pytest.raises(ValidationError):
        services.offer_decline(offer=offer, by=desk.planner, reason="other", text=" ")
    offer.refresh_from_db()
    assert offer.state == "open"


def test_an_offer_expires_after_its_time_and_releases_the_bed(desk, offer):
    with time_machine.travel(offer.created_at + timedelta(minutes=29)):
        assert services.offer_expire(offer_id=offer.pk) is False
    with time_machine.travel(offer.created_at + timedelta(minutes=31)):
        assert services.offer_expire(offer_id=offer.pk) is True
        assert services.offer_expire(offer_id=offer.pk) is False  # safe twice
    offer.refresh_from_db()
    assert offer.state == "expired"
    desk.capacity.refresh_from_db()
    assert desk.capacity.held == 0
    assert offer.referral.state == State.SEARCHING
    assert ReferralEvent.objects.filter(referral=offer.referral, to_state="searching", actor=None).count() == 1


def test_admission_and_discharge_free_the_bed(desk, accepted):
    now = timezone.now()
    services.stay_admit(referral=accepted, by=desk.planner, admitted_at=now)
    desk.capacity.refresh_from_db()
    assert desk.capacity.available == 0
    stay = services.stay_discharge(
        referral=accepted, by=desk.planner, discharged_at=now + timedelta(minutes=1), destination="home"
    )
    desk.capacity.refresh_from_db()
    assert desk.capacity.available == 1
    assert stay.discharge_destination == "home"
    accepted.refresh_from_db()
    assert accepted.state == State.DISCHARGED
    assert CapacityChange.objects.filter(capacity=desk.capacity, source="discharge").count() == 1


def test_discharge_before_admission_is_refused(desk, accepted):
    now = timezone.now()
    services.stay_admit(referral=accepted, by=desk.planner, admitted_at=now)
    with pytest.raises(ValidationError):
        services.stay_discharge(
            referral=accepted, by=desk.planner, discharged_at=now - timedelta(hours=1), destination="home"
        )
    accepted.refresh_from_db()
    assert accepted.state == State.ADMITTED


def test_cancel_releases_an_open_offer(desk, offer):
    services.referral_step(referral=offer.referral, target="cancelled", by=desk.coordinator, reason="Overleden")
    desk.capacity.refresh_from_db()
    assert desk.capacity.held == 0
    offer.refresh_from_db()
    assert offer.state == "withdrawn"


def test_cancel_without_reason_changes_nothing(desk, submitted):
    with pytest.raises(ValidationError):
        services.referral_step(referral=submitted, target="cancelled", by=desk.coordinator, reason="")
    submitted.refresh_from_db()
    assert submitted.state == State.SUBMITTED


def test_redirect_records_where_to(desk, submitted):
    services.referral_step(
        referral=submitted,
        target="redirected",
        by=desk.coordinator,
        reason="Wlz-indicatie",
        redirect_target="wlz_crisis",
    )
    submitted.refresh_from_db()
    assert (submitted.state, submitted.redirect_target) == (State.REDIRECTED, "wlz_crisis")
