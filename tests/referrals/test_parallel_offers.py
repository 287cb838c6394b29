"""Parallel offers (issue 17 point 4): one referral offered to up to Region.max_parallel_offers
locations at once, each holding a bed; the first accept wins, the others are withdrawn in the same
transaction with their holds released and their providers told. Races: tests/referrals/test_concurrency.py."""

from datetime import timedelta

import pytest
import time_machine
from django.utils import timezone

from accounts.models import Role
from beds.models import Capacity
from elvdesk.errors import Conflict
from providers.models import SelfServiceOffers
from referrals import services
from referrals.matching import match_locations
from referrals.models import Notification, Offer, OfferState, Referral, ReferralEvent, State
from tests.factories import CapacityFactory, LocationFactory, user_with_role


def _third(desk):
    planner = user_with_role(Role.PROVIDER_STAFF, region=desk.region)
    location = LocationFactory(organisation=planner.organisation, pc4="6413", insurers=["9015"])
    return CapacityFactory(location=location, product=desk.capacity.product, total=4, available=2), planner


def _free(capacity) -> tuple[int, int]:
    row = Capacity.objects.get(pk=capacity.pk)
    return row.available, row.held


@pytest.fixture
def two_offers(desk, searching):
    first = services.offer_create(referral=searching, capacity=desk.capacity, by=desk.coordinator)
    second = services.offer_create(referral=searching, capacity=desk.other_capacity, by=desk.coordinator)
    return first, second


def test_each_parallel_offer_holds_a_bed_and_the_timeline_names_the_extra_location(desk, searching, two_offers):
    assert _free(desk.capacity) == (1, 1) and _free(desk.other_capacity) == (2, 1)
    searching.refresh_from_db()
    assert searching.state == State.OFFERED
    last = ReferralEvent.objects.filter(referral=searching).last()
    assert (last.from_state, last.to_state) == (State.OFFERED, State.OFFERED)
    assert desk.other_capacity.location.name in last.reason


def test_the_first_accept_wins_and_the_other_offers_are_withdrawn_and_their_providers_told(desk, searching, two_offers):
    first, second = two_offers

    services.offer_accept(offer=second, by=desk.other_planner)

    assert Offer.objects.get(pk=second.pk).state == OfferState.ACCEPTED
    assert Offer.objects.get(pk=first.pk).state == OfferState.WITHDRAWN
    assert _free(desk.capacity) == (1, 0), "the withdrawn offer's hold is released"
    assert _free(desk.other_capacity) == (1, 0), "the accepted one is booked"
    assert Referral.objects.get(pk=searching.pk).state == State.ACCEPTED
    told = Notification.objects.filter(referral=searching, kind="offer_withdrawn").values_list("user", flat=True)
    assert list(told) == [desk.planner.pk]
    with pytest.raises(Conflict) as refused:
        services.offer_accept(offer=first, by=desk.planner)
    assert refused.value.code == "offer_answered"
    assert _free(desk.capacity) == (1, 0)


def test_a_decline_with_another_offer_open_keeps_the_referral_offered(desk, searching, two_offers):
    first, second = two_offers

    services.offer_decline(offer=first, by=desk.planner, reason="too_complex")

    referral = Referral.objects.get(pk=searching.pk)
    assert referral.state == State.OFFERED
    assert _free(desk.capacity) == (1, 0)
    note = ReferralEvent.objects.filter(referral=searching).last()
    assert (note.from_state, note.to_state, note.actor) == (State.OFFERED, State.OFFERED, desk.planner)
    services.offer_decline(offer=second, by=desk.other_planner, reason="no_bed")
    assert Referral.objects.get(pk=searching.pk).state == State.SEARCHING, "the last answer ends the offering"


def test_an_expired_offer_with_another_open_keeps_the_referral_offered(desk, searching, two_offers):
    first, second = two_offers
    Offer.objects.filter(pk=first.pk).update(expires_at=timezone.now() - timedelta(minutes=1))

    assert services.offer_expire(offer_id=first.pk) is True
    assert services.offer_expire(offer_id=first.pk) is False, "safe twice"

    assert Offer.objects.get(pk=first.pk).state == OfferState.EXPIRED
    assert Referral.objects.get(pk=searching.pk).state == State.OFFERED
    assert _free(desk.capacity) == (1, 0)
    services.offer_accept(offer=second, by=desk.other_planner)
    assert Referral.objects.get(pk=searching.pk).state == State.ACCEPTED


def test_the_desk_withdrawing_ends_every_open_offer_and_tells_each_provider(desk, searching, two_offers):
    services.referral_step(referral=searching, target=State.SEARCHING, by=desk.coordinator)

    assert set(Offer.objects.values_list("state", flat=True)) == {OfferState.WITHDRAWN}
    assert _free(desk.capacity) == (1, 0) and _free(desk.other_capacity) == (2, 0)
    told = set(Notification.objects.filter(kind="offer_withdrawn").values_list("user", flat=True))
    assert told == {desk.planner.pk, desk.other_planner.pk}


def test_no_more_offers_than_the_region_allows_and_never_twice_at_one_location(desk, searching, two_offers):
    third, _planner = _third(desk)
    desk.region.max_parallel_offers = 2
    desk.region.save(update_fields=["max_parallel_offers"])
    with pytest.raises(Conflict) as refused:
        services.offer_create(referral=searching, capacity=third, by=desk.coordinator)
    assert refused.value.code == "too_many_offers"
    assert _free(third) == (2, 0), "nothing held"
    desk.region.max_parallel_offers = 3
    desk.region.save(update_fields=["max_parallel_offers"])
    with pytest.raises(Conflict) as refused:
        services.offer_create(referral=searching, capacity=desk.capacity, by=desk.coordinator)
    assert refused.value.code == "offer_open_here"
    services.offer_create(referral=searching, capacity=third, by=desk.coordinator)
    assert Offer.objects.filter(state=OfferState.OPEN).count() == 3


def test_a_referrer_may_send_parallel_offers_in_self_service_hours(desk, searching):
    desk.region.self_service_offers = SelfServiceOffers.ALWAYS
    desk.region.save(update_fields=["self_service_offers"])
    services.offer_create(referral=searching, capacity=desk.capacity, by=desk.gp)
    services.offer_create(referral=searching, capacity=desk.other_capacity, by=desk.gp)
    assert Offer.objects.filter(referral=searching, state=OfferState.OPEN).count() == 2


def test_the_ranking_leaves_out_locations_that_have_the_offer_already(desk, searching, two_offers):
    third, _planner = _third(desk)
    with time_machine.travel(timezone.now() + timedelta(minutes=2)):  # past the ranking's minute
        referral = Referral.objects.get(pk=searching.pk)
        assert [s.capacity for s in match_locations(referral=referral)] == [third]
