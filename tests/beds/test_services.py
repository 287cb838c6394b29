"""Every write to a bed count goes through beds.services: validated, versioned, and logged in
the append-only CapacityChange history."""

from datetime import UTC, datetime

import pytest
import time_machine
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import translation

from beds import services
from beds.models import Capacity, CapacityChange, ChangeSource
from tests.factories import CapacityFactory, LocationFactory, product

pytestmark = pytest.mark.django_db

NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


@pytest.fixture(autouse=True)
def english():
    """Service messages are translated; assert on the English source text."""
    with translation.override("en"):
        yield


def _counts(capacity: Capacity) -> tuple:
    capacity.refresh_from_db()
    return (capacity.total, capacity.available, capacity.held, capacity.expected_24h, capacity.expected_72h)


def test_capacity_update_sets_counts_confirms_them_and_bumps_the_version(capacity, planner):
    with time_machine.travel(NOW, tick=False):
        updated = services.capacity_update(
            capacity_id=capacity.pk,
            by=planner,
            counts={"total": 12, "available": 5, "expected_24h": 2, "expected_72h": 4},
            expected_version=1,
        )

    assert _counts(capacity) == (12, 5, 1, 2, 4)
    assert capacity.confirmed_at == NOW
    assert capacity.confirmed_by == planner
    assert capacity.version == updated.version == 2


def test_capacity_update_appends_a_change_with_before_after_and_source(capacity, planner):
    services.capacity_update(capacity_id=capacity.pk, by=planner, counts={"available": 5}, source=ChangeSource.API)

    change = CapacityChange.objects.get(capacity=capacity)
    assert change.source == "api"
    assert change.changed_by == planner
    assert change.before == {
        "total": 10,
        "available": 3,
        "held": 1,
        "expected_24h": 1,
        "expected_72h": 2,
        "reserved": 0,
    }
    assert change.after == {"total": 10, "available": 5, "held": 1, "expected_24h": 1, "expected_72h": 2, "reserved": 0}


def test_every_write_appends_one_change_and_keeps_the_old_ones(capacity, planner):
    services.capacity_update(capacity_id=capacity.pk, by=planner, counts={"available": 4})
    services.capacity_adjust(capacity_id=capacity.pk, by=planner, field="available", delta=+1)
    services.location_capacities_confirm(location_id=capacity.location_id, by=planner)

    changes = list(CapacityChange.objects.filter(capacity=capacity).order_by("id"))
    assert [c.source for c in changes] == ["web", "web", "confirm"]
    assert [c.after["available"] for c in changes] == [4, 5, 5]
    assert changes[1].before["available"] == 4
    capacity.refresh_from_db()
    assert capacity.version == 4


@pytest.mark.parametrize(
    ("counts", "field", "message"),
    [
        ({"available": 11}, "available", "Free beds (11) cannot exceed contracted beds (10)."),
        ({"total": 2}, "available", "Free beds (3) cannot exceed contracted beds (2)."),
        ({"available": 0}, "available", "1 beds are held by open offers; free beds cannot be lower than that."),
        ({"available": -1}, "available", "A count cannot be negative."),
        ({"total": -5}, "total", "A count cannot be negative."),
        ({"expected_24h": -1}, "expected_24h", "A count cannot be negative."),
        ({"expected_72h": -2}, "expected_72h", "A count cannot be negative."),
    ],
)
def test_capacity_update_refuses_bad_counts_with_a_message_per_field(capacity, planner, counts, field, message):
    with pytest.raises(ValidationError) as caught:
        services.capacity_update(capacity_id=capacity.pk, by=planner, counts=counts)

    assert caught.value.message_dict[field] == [message]
    assert _counts(capacity) == (10, 3, 1, 1, 2)
    assert capacity.version == 1
    assert not CapacityChange.objects.exists()


def test_capacity_update_refuses_to_set_held_directly(capacity, planner):
    with pytest.raises(ValueError):
        services.capacity_update(capacity_id=capacity.pk, by=planner, counts={"held": 0})

    assert _counts(capacity) == (10, 3, 1, 1, 2)


def test_capacity_update_with_an_old_version_is_a_conflict_and_changes_nothing(capacity, planner):
    services.capacity_update(capacity_id=capacity.pk, by=planner, counts={"available": 4}, expected_version=1)

    with pytest.raises(services.StaleCapacity) as caught:
        services.capacity_update(capacity_id=capacity.pk, by=planner, counts={"available": 7}, expected_version=1)

    assert caught.value.http_status == 409
    assert caught.value.code == "stale_version"
    assert "changed by someone else" in caught.value.message
    assert caught.value.current.available == 4
    assert caught.value.current.version == 2
    assert _counts(capacity)[1] == 4
    assert capacity.version == 2
    assert CapacityChange.objects.filter(capacity=capacity).count() == 1


def test_capacity_update_with_the_current_version_succeeds(capacity, planner):
    services.capacity_update(capacity_id=capacity.pk, by=planner, counts={"available": 4}, expected_version=1)
    services.capacity_update(capacity_id=capacity.pk, by=planner, counts={"available": 6}, expected_version=2)

    assert _counts(capacity)[1] == 6


@pytest.mark.parametrize(("delta", "expected"), [(+1, 4), (-1, 2)])
def test_capacity_adjust_adds_or_removes_one_free_bed(capacity, planner, delta, expected):
    services.capacity_adjust(capacity_id=capacity.pk, by=planner, field="available", delta=delta)

    assert _counts(capacity)[1] == expected
    change = CapacityChange.objects.get(capacity=capacity)
    assert (change.before["available"], change.after["available"]) == (3, expected)


def test_capacity_adjust_is_relative_so_two_plus_presses_both_count(capacity, planner):
    services.capacity_adjust(capacity_id=capacity.pk, by=planner, field="available", delta=+1)
    services.capacity_adjust(capacity_id=capacity.pk, by=planner, field="available", delta=+1)

    assert _counts(capacity)[1] == 5


def test_capacity_adjust_refuses_to_go_below_zero(location, planner):
    capacity = CapacityFactory(location=location, product=product("elv_laag"), total=4, available=0, held=0)

    with pytest.raises(ValidationError) as caught:
        services.capacity_adjust(capacity_id=capacity.pk, by=planner, field="available", delta=-1)

    assert caught.value.message_dict == {"available": ["A count cannot be negative."]}
    assert _counts(capacity)[1] == 0
    assert not CapacityChange.objects.exists()


def test_capacity_adjust_refuses_free_beds_above_the_contracted_total(location, planner):
    capacity = CapacityFactory(location=location, product=product("elv_laag"), total=4, available=4, held=0)

    with pytest.raises(ValidationError) as caught:
        services.capacity_adjust(capacity_id=capacity.pk, by=planner, field="available", delta=+1)

    assert caught.value.message_dict == {"available": ["Free beds (5) cannot exceed contracted beds (4)."]}
    assert _counts(capacity)[:2] == (4, 4)


def test_capacity_adjust_refuses_a_total_below_the_free_beds(location, planner):
    capacity = CapacityFactory(location=location, product=product("elv_laag"), total=4, available=4, held=0)

    with pytest.raises(ValidationError) as caught:
        services.capacity_adjust(capacity_id=capacity.pk, by=planner, field="total", delta=-1)

    assert caught.value.message_dict == {"available": ["Free beds (4) cannot exceed contracted beds (3)."]}
    assert _counts(capacity)[:2] == (4, 4)


def test_capacity_adjust_refuses_to_drop_free_beds_below_the_held_ones(location, planner):
    capacity = CapacityFactory(location=location, product=product("elv_laag"), total=4, available=2, held=2)

    with pytest.raises(ValidationError) as caught:
        services.capacity_adjust(capacity_id=capacity.pk, by=planner, field="available", delta=-1)

    assert "held by open offers" in caught.value.message_dict["available"][0]
    assert _counts(capacity)[1] == 2


def test_capacity_adjust_refuses_held_which_only_offers_may_change(capacity, planner):
    with pytest.raises(ValueError):
        services.capacity_adjust(capacity_id=capacity.pk, by=planner, field="held", delta=+1)


def test_confirm_stamps_every_count_of_the_location_and_logs_it(location, planner):
    old = datetime(2026, 3, 1, 6, 0, tzinfo=UTC)
    capacities = [
        CapacityFactory(location=location, product=product(code), confirmed_at=old)
        for code in ("elv_laag", "elv_hoog", "elv_palliatief")
    ]
    elsewhere = CapacityFactory(location=LocationFactory(organisation=location.organisation), confirmed_at=old)

    with time_machine.travel(NOW, tick=False):
        confirmed = services.location_capacities_confirm(location_id=location.pk, by=planner)

    assert confirmed == 3
    for capacity in capacities:
        capacity.refresh_from_db()
        assert capacity.confirmed_at == NOW
        assert capacity.confirmed_by == planner
        assert capacity.version == 2
    changes = CapacityChange.objects.filter(capacity__location=location)
    assert changes.count() == 3
    assert {c.source for c in changes} == {"confirm"}
    assert all(c.before == c.after for c in changes)
    elsewhere.refresh_from_db()
    assert elsewhere.confirmed_at == old


def test_confirm_makes_a_stale_count_fresh(location, planner):
    capacity = CapacityFactory(location=location, confirmed_at=datetime(2026, 3, 1, 6, 0, tzinfo=UTC))

    with time_machine.travel(NOW, tick=False):
        assert capacity.is_stale(stale_after_hours=12)
        services.location_capacities_confirm(location_id=location.pk, by=planner)
        capacity.refresh_from_db()
        assert not capacity.is_stale(stale_after_hours=12)


def test_hold_book_and_release_keep_the_bed_rules_and_log_their_source(capacity, planner):
    services.capacity_hold(capacity_id=capacity.pk, by=planner)
    services.capacity_hold(capacity_id=capacity.pk, by=planner)
    assert _counts(capacity)[1:3] == (3, 3)

    with pytest.raises(services.NoFreeBed):
        services.capacity_hold(capacity_id=capacity.pk, by=planner)
    assert _counts(capacity)[1:3] == (3, 3)

    services.capacity_book_held(capacity_id=capacity.pk, by=planner)
    assert _counts(capacity)[1:3] == (2, 2)
    services.capacity_release_hold(capacity_id=capacity.pk, by=planner)
    assert _counts(capacity)[1:3] == (2, 1)
    services.capacity_free_bed(capacity_id=capacity.pk, by=planner)
    assert _counts(capacity)[1:3] == (3, 1)

    sources = list(CapacityChange.objects.filter(capacity=capacity).order_by("id").values_list("source", flat=True))
    assert sources == ["offer", "offer", "booking", "offer", "discharge"]


def test_a_discharge_never_frees_more_beds_than_contracted(location, planner):
    capacity = CapacityFactory(location=location, total=2, available=2, held=0)

    services.capacity_free_bed(capacity_id=capacity.pk, by=planner)

    assert _counts(capacity)[:2] == (2, 2)


def test_the_booking_steps_add_no_savepoint_and_a_refusal_leaves_the_callers_transaction_usable(
    capacity, planner, django_assert_num_queries
):
    capacity.held = capacity.available - 1
    capacity.save()
    with transaction.atomic():
        # Locked read, count, history: no SAVEPOINT/RELEASE around them, no re-read of the version;
        # the region's generation (after the commit; in tests at once).
        with django_assert_num_queries(4):
            held = services.capacity_hold(capacity_id=capacity.pk, by=planner)
        with django_assert_num_queries(1), pytest.raises(services.NoFreeBed):
            services.capacity_hold(capacity_id=capacity.pk, by=planner)
        # Still usable (a refusal inside a block without savepoint would have broken it).
        assert Capacity.objects.get(pk=capacity.pk).version == held.version
        booked = services.capacity_book_held(capacity_id=capacity.pk, by=planner)
    assert booked.version == Capacity.objects.get(pk=capacity.pk).version == held.version + 1


def test_a_button_press_reads_and_locks_the_count_once(capacity, planner, django_assert_num_queries):
    # Locked read, count, history, the region's generation (in tests the transaction is a
    # savepoint: two more).
    with django_assert_num_queries(6):
        adjusted = services.capacity_adjust(capacity_id=capacity.pk, by=planner, field="available", delta=+1)

    assert _counts(capacity)[1] == 4
    assert adjusted.version == capacity.version


def test_moving_an_occupied_bed_takes_one_from_the_new_count_and_frees_one_on_the_old(location, planner):
    hoog = CapacityFactory(location=location, product=product("elv_hoog"), total=5, available=0)
    laag = CapacityFactory(location=location, product=product("elv_laag"), total=4, available=2, held=1)

    old, new = services.capacity_move_occupied_bed(from_capacity_id=hoog.pk, to_capacity_id=laag.pk, by=planner)

    assert (old.pk, new.pk) == (hoog.pk, laag.pk)
    assert _counts(hoog)[:3] == (5, 1, 0)
    assert _counts(laag)[:3] == (4, 1, 1)
    assert set(CapacityChange.objects.values_list("capacity_id", "source")) == {
        (hoog.pk, ChangeSource.PRODUCT_CHANGE),
        (laag.pk, ChangeSource.PRODUCT_CHANGE),
    }


def test_moving_a_bed_needs_a_free_one_on_the_new_count_and_otherwise_writes_nothing(location, planner):
    hoog = CapacityFactory(location=location, product=product("elv_hoog"), total=5, available=0)
    laag = CapacityFactory(location=location, product=product("elv_laag"), total=4, available=1, held=1)

    with transaction.atomic():
        with pytest.raises(services.NoFreeBed):
            services.capacity_move_occupied_bed(from_capacity_id=hoog.pk, to_capacity_id=laag.pk, by=planner)
        # No savepoint of its own: the refusal leaves the caller's transaction usable.
        assert Capacity.objects.filter(pk=hoog.pk).exists()

    assert _counts(hoog)[:3] == (5, 0, 0)
    assert _counts(laag)[:3] == (4, 1, 1)
    assert not CapacityChange.objects.exists()


def test_moving_a_bed_never_frees_more_than_the_old_count_contracts(location, planner):
    hoog = CapacityFactory(location=location, product=product("elv_hoog"), total=5, available=5)
    laag = CapacityFactory(location=location, product=product("elv_laag"), total=4, available=2)

    services.capacity_move_occupied_bed(from_capacity_id=hoog.pk, to_capacity_id=laag.pk, by=planner)

    assert _counts(hoog)[:2] == (5, 5)


def test_a_bed_moves_only_between_two_counts_of_one_location(location, planner):
    hoog = CapacityFactory(location=location, product=product("elv_hoog"), total=5, available=0)
    laag = CapacityFactory(location=LocationFactory(organisation=location.organisation), product=product("elv_laag"))

    for to_capacity in (hoog, laag):
        with pytest.raises(ValueError):
            services.capacity_move_occupied_bed(from_capacity_id=hoog.pk, to_capacity_id=to_capacity.pk, by=planner)

    assert not CapacityChange.objects.exists()
