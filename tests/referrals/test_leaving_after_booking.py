"""A referral that leaves the desk after a bed was held or booked gives that bed back exactly once,
closes the offer with its own state and writes the event: cancel (desk or referrer), redirect, and
the no-show (the booking's provider or the desk records that the patient did not arrive).
The race of cancel against accept is in test_concurrency.py."""

from datetime import timedelta

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from beds.models import CapacityChange, ChangeSource
from elvdesk.errors import Conflict
from referrals import services
from referrals.models import Notification, Offer, OfferState, Referral, ReferralEvent, State
from referrals.notifications import Kind
from tests.referrals.test_api import api, assert_error, referral_url


def counts(capacity) -> tuple[int, int]:
    capacity.refresh_from_db()
    return capacity.available, capacity.held


def page_client(user) -> Client:
    client = Client(headers={"Accept-Language": "en"})
    client.force_login(user)
    return client


def booked_offer(referral) -> Offer:
    return Offer.objects.get(referral=referral)


def last_event(referral) -> ReferralEvent:
    return ReferralEvent.objects.filter(referral=referral).last()


# --- cancel ---------------------------------------------------------------------------------


def test_cancelling_a_booked_referral_through_the_api_gives_the_bed_back(desk, accepted):
    assert counts(desk.capacity) == (0, 0)

    response = api(desk.coordinator).post(
        referral_url(accepted.pk, "transitions"), {"to": "cancelled", "reason": "Overleden"}, format="json"
    )

    assert response.status_code == 200
    assert response.json()["state"] == State.CANCELLED
    assert counts(desk.capacity) == (1, 0)
    offer = booked_offer(accepted)
    assert (offer.state, offer.answered_by) == (OfferState.CANCELLED, desk.planner)  # who accepted stays
    event = last_event(accepted)
    assert (event.from_state, event.to_state, event.actor, event.reason) == (
        State.ACCEPTED,
        State.CANCELLED,
        desk.coordinator,
        "Overleden",
    )
    change = CapacityChange.objects.filter(capacity=desk.capacity).first()
    assert (change.source, change.changed_by, change.before["available"], change.after["available"]) == (
        ChangeSource.BOOKING,
        desk.coordinator,
        0,
        1,
    )


def test_the_provider_hears_that_the_booked_patient_will_not_come(desk, accepted):
    services.referral_step(referral=accepted, target=State.CANCELLED, by=desk.gp, reason="Opgeknapt")

    told = Notification.objects.filter(referral=accepted, kind=Kind.BOOKING_CANCELLED)
    assert {notification.user for notification in told} == {desk.planner}


def test_a_cancelled_booking_cannot_be_cancelled_again_or_admitted(desk, accepted):
    services.referral_step(referral=accepted, target=State.CANCELLED, by=desk.gp, reason="Opgeknapt")
    changes = CapacityChange.objects.count()

    again = api(desk.coordinator).post(
        referral_url(accepted.pk, "transitions"), {"to": "cancelled", "reason": "Nogmaals"}, format="json"
    )
    admit = api(desk.planner).post(referral_url(accepted.pk, "admission"), {}, format="json")

    assert_error(again, 409, "illegal_transition")
    assert_error(admit, 404)  # no booking of theirs any more
    assert counts(desk.capacity) == (1, 0)
    assert CapacityChange.objects.count() == changes


def test_cancelling_after_admission_is_refused_and_keeps_the_bed_taken(desk, accepted):
    services.stay_admit(referral=accepted, by=desk.planner, admitted_at=timezone.now())
    changes = CapacityChange.objects.count()

    response = api(desk.coordinator).post(
        referral_url(accepted.pk, "transitions"), {"to": "cancelled", "reason": "x"}, format="json"
    )

    assert_error(response, 409, "illegal_transition")
    assert counts(desk.capacity) == (0, 0)
    assert booked_offer(accepted).state == OfferState.ACCEPTED
    assert CapacityChange.objects.count() == changes


def test_the_page_cancels_a_booked_referral_and_gives_the_bed_back(desk, accepted):
    response = page_client(desk.gp).post(
        reverse("referrals:step", args=[accepted.pk]), {"target": "cancelled", "reason": "Opgeknapt"}
    )

    assert response.status_code == 302
    assert counts(desk.capacity) == (1, 0)
    assert booked_offer(accepted).state == OfferState.CANCELLED


# --- redirect and withdrawal ----------------------------------------------------------------


def test_redirecting_with_an_open_offer_releases_its_hold(desk, offer):
    services.referral_step(
        referral=offer.referral,
        target=State.REDIRECTED,
        by=desk.coordinator,
        reason="Ziekenhuis",
        redirect_target="hospital",
    )

    offer.refresh_from_db()
    assert offer.state == OfferState.WITHDRAWN
    assert counts(desk.capacity) == (1, 0)
    referral = Referral.objects.get(pk=offer.referral_id)
    assert (referral.state, referral.redirect_target, referral.close_reason) == (
        State.REDIRECTED,
        "hospital",
        "Ziekenhuis",
    )


def test_the_desk_withdraws_an_open_offer_and_searches_again(desk, offer):
    services.referral_step(referral=offer.referral, target=State.SEARCHING, by=desk.coordinator)

    offer.refresh_from_db()
    assert offer.state == OfferState.WITHDRAWN
    assert counts(desk.capacity) == (1, 0)
    assert Referral.objects.get(pk=offer.referral_id).state == State.SEARCHING


def test_searching_again_from_a_booking_is_refused_and_keeps_the_booking(desk, accepted):
    with pytest.raises(Conflict) as refused:
        services.referral_step(referral=accepted, target=State.SEARCHING, by=desk.coordinator)

    assert refused.value.code == "illegal_transition"
    assert counts(desk.capacity) == (0, 0)
    assert booked_offer(accepted).state == OfferState.ACCEPTED


# --- no-show --------------------------------------------------------------------------------


def test_the_provider_records_a_no_show_on_the_page(desk, accepted):
    client = page_client(desk.planner)
    assert 'id="no-show"' in client.get(reverse("referrals:detail", args=[accepted.pk])).content.decode()

    response = client.post(reverse("referrals:no_show", args=[accepted.pk]), {"reason": "Niet verschenen"})

    assert response.status_code == 302
    assert counts(desk.capacity) == (1, 0)
    assert booked_offer(accepted).state == OfferState.NO_SHOW
    accepted.refresh_from_db()
    assert (accepted.state, accepted.close_reason) == (State.CANCELLED, "Niet verschenen")
    event = last_event(accepted)
    assert (event.from_state, event.to_state, event.actor) == (State.ACCEPTED, State.CANCELLED, desk.planner)
    assert event.reason == "Patient did not arrive: Niet verschenen"
    told = Notification.objects.filter(referral=accepted, kind=Kind.NO_SHOW)
    assert {notification.user for notification in told} == {desk.gp, desk.coordinator}


def test_the_desk_records_a_no_show_through_the_api(desk, accepted):
    response = api(desk.coordinator).post(
        referral_url(accepted.pk, "no-show"), {"reason": "Familie belde af"}, format="json"
    )

    assert response.status_code == 200
    assert response.json()["state"] == State.CANCELLED
    assert counts(desk.capacity) == (1, 0)
    assert booked_offer(accepted).state == OfferState.NO_SHOW


def test_a_no_show_needs_a_reason_and_changes_nothing_without(desk, accepted):
    response = page_client(desk.planner).post(reverse("referrals:no_show", args=[accepted.pk]), {"reason": " "})

    assert response.status_code == 400
    assert "Give a reason." in response.content.decode()
    assert counts(desk.capacity) == (0, 0)
    accepted.refresh_from_db()
    assert accepted.state == State.ACCEPTED


def test_a_no_show_after_admission_is_refused_and_changes_nothing(desk, accepted):
    services.stay_admit(referral=accepted, by=desk.planner, admitted_at=timezone.now())
    changes = CapacityChange.objects.count()

    response = api(desk.planner).post(referral_url(accepted.pk, "no-show"), {"reason": "x"}, format="json")

    assert_error(response, 409, "illegal_transition")
    assert counts(desk.capacity) == (0, 0)
    assert booked_offer(accepted).state == OfferState.ACCEPTED
    assert CapacityChange.objects.count() == changes


def test_referrers_cannot_record_a_no_show(desk, accepted):
    response = api(desk.gp).post(referral_url(accepted.pk, "no-show"), {"reason": "x"}, format="json")

    assert_error(response, 403)
    assert counts(desk.capacity) == (0, 0)


def test_a_no_show_of_an_offer_never_accepted_is_refused(desk, offer):
    response = api(desk.coordinator).post(referral_url(offer.referral_id, "no-show"), {"reason": "x"}, format="json")

    assert_error(response, 409, "illegal_transition")
    assert counts(desk.capacity) == (1, 1)
    offer.refresh_from_db()
    assert offer.state == OfferState.OPEN


def test_a_second_no_show_record_gives_nothing_back(desk, offer):
    services.offer_accept(offer=offer, by=desk.planner, admission_at=timezone.now() + timedelta(hours=2))

    services.offer_no_show(referral=offer.referral, by=desk.coordinator, reason="Niet gekomen")
    with pytest.raises(Conflict):
        services.offer_no_show(referral=offer.referral, by=desk.planner, reason="Nogmaals")

    assert counts(desk.capacity) == (1, 0)
    assert CapacityChange.objects.filter(capacity=desk.capacity, source=ChangeSource.BOOKING).count() == 2  # book, free
