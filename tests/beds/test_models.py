"""The database keeps 0 <= held <= available <= total even when the services are bypassed,
and staleness follows the region's limit."""

from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.db import IntegrityError, transaction

from beds.models import Capacity
from tests.factories import CapacityFactory, LocationFactory, ProviderFactory, RegionFactory, product

pytestmark = pytest.mark.django_db

NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def _raw_update(capacity, **values):
    with pytest.raises(IntegrityError), transaction.atomic():
        Capacity.objects.filter(pk=capacity.pk).update(**values)


@pytest.mark.parametrize(
    "values",
    [
        pytest.param({"available": 11}, id="available-above-total"),
        pytest.param({"total": 2}, id="total-below-available"),
        pytest.param({"held": 4}, id="held-above-available"),
        pytest.param({"available": 0}, id="available-below-held"),
        pytest.param({"held": -1}, id="held-negative"),
        pytest.param({"available": -1}, id="available-negative"),
        pytest.param({"total": -1}, id="total-negative"),
        pytest.param({"expected_24h": -1}, id="expected-24h-negative"),
        pytest.param({"expected_72h": -1}, id="expected-72h-negative"),
    ],
)
def test_database_refuses_counts_that_break_the_bed_rules(capacity, values):
    _raw_update(capacity, **values)

    capacity.refresh_from_db()
    assert (capacity.total, capacity.available, capacity.held) == (10, 3, 1)


def test_database_accepts_the_edges_of_the_bed_rules(capacity):
    Capacity.objects.filter(pk=capacity.pk).update(total=3, available=3, held=3)
    Capacity.objects.filter(pk=capacity.pk).update(total=0, available=0, held=0)

    capacity.refresh_from_db()
    assert (capacity.total, capacity.available, capacity.held) == (0, 0, 0)


def test_database_refuses_a_second_count_for_the_same_location_and_product(capacity):
    with pytest.raises(IntegrityError), transaction.atomic():
        Capacity.objects.create(location=capacity.location, product=capacity.product)


def test_free_beds_are_available_minus_held(capacity):
    assert capacity.free == 2


def test_a_count_never_confirmed_is_stale():
    capacity = CapacityFactory.build(confirmed_at=None)

    assert capacity.is_stale(stale_after_hours=12)


@pytest.mark.parametrize(
    ("age", "stale"),
    [
        (timedelta(hours=11, minutes=59), False),
        (timedelta(hours=12), False),
        (timedelta(hours=12, seconds=1), True),
        (timedelta(days=3), True),
    ],
)
def test_a_count_is_stale_only_after_the_regions_limit(age, stale):
    capacity = CapacityFactory.build(confirmed_at=NOW - age)

    with time_machine.travel(NOW, tick=False):
        assert capacity.is_stale(stale_after_hours=12) is stale


def test_region_limit_defaults_to_twelve_hours():
    assert RegionFactory().stale_after_hours == 12


def test_a_count_goes_stale_when_time_passes_the_limit():
    with time_machine.travel(NOW, tick=False):
        capacity = CapacityFactory()
    limit = capacity.location.organisation.region.stale_after_hours

    with time_machine.travel(NOW + timedelta(hours=limit), tick=False):
        assert not capacity.is_stale(stale_after_hours=limit)
    with time_machine.travel(NOW + timedelta(hours=limit, minutes=1), tick=False):
        assert capacity.is_stale(stale_after_hours=limit)


def test_a_region_with_a_shorter_limit_marks_counts_stale_sooner():
    region = RegionFactory(stale_after_hours=4)
    location = LocationFactory(organisation=ProviderFactory(region=region))
    capacity = CapacityFactory(location=location, product=product("elv_laag"), confirmed_at=NOW - timedelta(hours=5))

    with time_machine.travel(NOW, tick=False):
        assert capacity.is_stale(stale_after_hours=region.stale_after_hours)
        assert not capacity.is_stale(stale_after_hours=12)
