"""Suggested locations are ranked once per referral and shared through the cache (found slow by
`make bench`); a cached ranking is never older than the region's bed counts or the referral."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from beds import services as beds
from beds.models import Capacity
from providers.models import Product
from referrals import services
from referrals.matching import match_locations
from referrals.models import Referral
from tests.factories import CapacityFactory, LocationFactory

pytestmark = pytest.mark.django_db


def fresh(referral) -> Referral:
    return Referral.objects.select_related("patient", "region", "product").get(pk=referral.pk)


def suggested(referral) -> list[int]:
    return [suggestion.capacity.pk for suggestion in match_locations(referral=fresh(referral))]


def test_a_second_ranking_comes_from_the_cache(desk, searching):
    referral = fresh(searching)
    with CaptureQueriesContext(connection) as first:
        ranked = match_locations(referral=referral)
    with CaptureQueriesContext(connection) as again:
        cached = match_locations(referral=referral)

    assert [s.capacity.pk for s in cached] == [s.capacity.pk for s in ranked] != []
    # The care needs (prefetched on the pages) and the fingerprint of the region's bed counts.
    assert len(again.captured_queries) == 2 < len(first.captured_queries)


def test_a_bed_that_is_taken_leaves_the_suggestions_at_once(desk, searching):
    assert desk.capacity.pk in suggested(searching)

    beds.capacity_update(capacity_id=desk.capacity.pk, by=desk.planner, counts={"available": 0})

    assert desk.capacity.pk not in suggested(searching)


def test_a_new_location_with_a_free_bed_is_suggested_at_once(desk, searching):
    suggested(searching)
    location = LocationFactory(organisation=desk.other_planner.organisation, pc4="6413")
    capacity = CapacityFactory(location=location, product=Product.objects.get(code="elv_hoog"), available=2)

    assert capacity.pk in suggested(searching)


def test_a_declined_offer_changes_the_ranking_at_once(desk, searching):
    suggested(searching)
    offer = services.offer_create(referral=fresh(searching), capacity=desk.capacity, by=desk.coordinator)
    services.offer_decline(offer=offer, by=desk.planner, reason="too_complex")

    assert desk.capacity.pk not in suggested(searching)
    assert Capacity.objects.get(pk=desk.capacity.pk).free == 1
