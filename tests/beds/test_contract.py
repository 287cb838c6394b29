"""The administrator's contracted totals (beds.services.capacity_contract_set): the same row lock,
version and history as every bed count; occupied beds stay occupied; a total below what is
booked or held is refused; the counts stay the planner's to confirm."""

import threading
from datetime import timedelta

import pytest
from django.core.exceptions import ValidationError
from django.db import connection, connections
from django.test.utils import CaptureQueriesContext
from django.utils import timezone, translation

from accounts.models import Role
from audit.models import ChangeRecord
from beds import services
from beds.models import Capacity, CapacityChange, ChangeSource
from providers.models import Product
from tests.factories import CapacityFactory, DeskFactory, LocationFactory, RegionFactory, product, user_with_role


@pytest.fixture(autouse=True)
def english():
    with translation.override("en"):
        yield


@pytest.fixture
def admin(region):
    return user_with_role(Role.ADMIN, DeskFactory(region=region))


def counts(capacity: Capacity) -> tuple:
    capacity.refresh_from_db()
    return capacity.total, capacity.available, capacity.held


def invariant_holds(capacity: Capacity) -> bool:
    capacity.refresh_from_db()
    return 0 <= capacity.held <= capacity.available <= capacity.total


@pytest.fixture
def occupied(location):
    """ELV hoog: 10 contracted, 4 free of which 1 held by an offer, so 6 occupied. Confirmed an hour ago."""
    return CapacityFactory(
        location=location,
        product=product("elv_hoog"),
        total=10,
        available=4,
        held=1,
        confirmed_at=timezone.now() - timedelta(hours=1),
    )


@pytest.mark.django_db
def test_a_higher_total_keeps_the_occupied_beds_and_adds_free_ones(occupied, location, admin):
    confirmed_at, version = occupied.confirmed_at, occupied.version

    updated = services.capacity_contract_set(location=location, product=product("elv_hoog"), by=admin, total=12)

    assert counts(occupied) == (12, 6, 1)
    assert updated.version == occupied.version == version + 1
    # The planner vouches for the counts, not the administrator.
    assert occupied.confirmed_at == confirmed_at
    change = CapacityChange.objects.get(capacity=occupied)
    assert (change.source, change.changed_by) == (ChangeSource.ADMIN, admin)
    assert (change.before["total"], change.before["available"]) == (10, 4)
    assert (change.after["total"], change.after["available"]) == (12, 6)
    record = ChangeRecord.objects.get(object_type="location", object_id=location.pk)
    assert (record.action, record.before, record.after) == (
        "contract",
        {"ELV hoog complex": 10},
        {"ELV hoog complex": 12},
    )


@pytest.mark.django_db
def test_a_lower_total_keeps_the_occupied_beds_and_takes_free_ones(occupied, location, admin):
    services.capacity_contract_set(location=location, product=product("elv_hoog"), by=admin, total=8)

    assert counts(occupied) == (8, 2, 1)


@pytest.mark.django_db
def test_a_total_down_to_occupied_plus_held_leaves_only_the_held_bed(occupied, location, admin):
    services.capacity_contract_set(location=location, product=product("elv_hoog"), by=admin, total=7)

    assert counts(occupied) == (7, 1, 1)
    assert invariant_holds(occupied)


@pytest.mark.django_db
def test_a_total_below_what_is_booked_and_held_is_refused_and_nothing_changes(occupied, location, admin):
    version = occupied.version

    with pytest.raises(ValidationError) as excinfo:
        services.capacity_contract_set(location=location, product=product("elv_hoog"), by=admin, total=6)

    assert excinfo.value.message_dict == {
        "total": ["6 beds are occupied and 1 is held by an offer: the contracted total cannot be lower than 7."]
    }
    assert counts(occupied) == (10, 4, 1) and occupied.version == version
    assert not CapacityChange.objects.exists() and not ChangeRecord.objects.exists()


@pytest.mark.django_db
def test_the_refusal_without_holds_names_only_the_occupied_beds(location, admin):
    CapacityFactory(location=location, product=product("elv_laag"), total=5, available=2, held=0)

    with pytest.raises(ValidationError) as excinfo:
        services.capacity_contract_set(location=location, product=product("elv_laag"), by=admin, total=2)

    assert excinfo.value.messages == ["3 beds are occupied: the contracted total cannot be lower than 3."]


@pytest.mark.django_db
def test_a_negative_total_is_refused(occupied, location, admin):
    with pytest.raises(ValidationError) as excinfo:
        services.capacity_contract_set(location=location, product=product("elv_hoog"), by=admin, total=-1)

    assert "total" in excinfo.value.message_dict


@pytest.mark.django_db
def test_a_new_product_starts_with_no_free_beds_unconfirmed_and_with_history(location, admin):
    capacity = services.capacity_contract_set(
        location=location, product=product("elv_palliatief"), by=admin, total=4, expected_version=0
    )

    assert counts(capacity) == (4, 0, 0)
    assert capacity.confirmed_at is None and capacity.version == 1
    change = CapacityChange.objects.get(capacity=capacity)
    assert (change.source, change.changed_by, change.before["total"], change.after["total"]) == (
        ChangeSource.ADMIN,
        admin,
        0,
        4,
    )
    record = ChangeRecord.objects.get(object_type="location", object_id=location.pk)
    assert (record.before, record.after) == ({"ELV palliatief": None}, {"ELV palliatief": 4})


@pytest.mark.django_db
def test_only_products_of_the_region_are_offered(location, admin, region):
    region.products.set(Product.objects.filter(code__in=["elv_laag", "elv_hoog"]))

    with pytest.raises(ValidationError) as excinfo:
        services.capacity_contract_set(location=location, product=product("grz"), by=admin, total=3)

    assert "product" in excinfo.value.message_dict
    assert not Capacity.objects.filter(location=location).exists()


@pytest.mark.django_db
def test_a_total_based_on_an_old_version_is_a_conflict(occupied, location, admin, planner):
    seen = occupied.version
    services.capacity_update(capacity_id=occupied.pk, by=planner, counts={"available": 3})

    with pytest.raises(services.StaleCapacity) as excinfo:
        services.capacity_contract_set(
            location=location, product=product("elv_hoog"), by=admin, total=12, expected_version=seen
        )

    assert excinfo.value.current.available == 3
    assert counts(occupied) == (10, 3, 1)


@pytest.mark.django_db
def test_adding_a_product_someone_else_added_meanwhile_is_a_conflict(occupied, location, admin):
    with pytest.raises(services.StaleCapacity):
        services.capacity_contract_set(
            location=location, product=product("elv_hoog"), by=admin, total=12, expected_version=0
        )


@pytest.mark.django_db
def test_the_same_total_again_changes_and_records_nothing(occupied, location, admin):
    version = occupied.version

    services.capacity_contract_set(
        location=location, product=product("elv_hoog"), by=admin, total=10, expected_version=version
    )

    assert Capacity.objects.get(pk=occupied.pk).version == version
    assert not CapacityChange.objects.exists() and not ChangeRecord.objects.exists()


@pytest.mark.django_db
def test_the_planner_publishes_free_beds_after_the_contract(location, admin, planner):
    capacity = services.capacity_contract_set(location=location, product=product("elv_laag"), by=admin, total=6)

    services.capacity_update(capacity_id=capacity.pk, by=planner, counts={"available": 2}, expected_version=1)
    services.capacity_adjust(capacity_id=capacity.pk, by=planner, field="available", delta=+1)

    assert counts(capacity) == (6, 3, 0)
    assert capacity.confirmed_by == planner and capacity.version == 3


@pytest.mark.django_db
def test_the_contract_change_reads_the_count_under_a_row_lock(occupied, location, admin):
    if connection.vendor != "postgresql":
        pytest.skip("SQLite has no row locks: select_for_update() writes no FOR UPDATE there")
    with CaptureQueriesContext(connection) as queries:
        services.capacity_contract_set(location=location, product=product("elv_hoog"), by=admin, total=11)

    locked = [q["sql"] for q in queries.captured_queries if "FOR UPDATE" in q["sql"] and "beds_capacity" in q["sql"]]
    assert len(locked) == 1


# --- Real concurrency (PostgreSQL, real threads and commits) ---------------------------------


@pytest.fixture
def racing_world(transactional_db):
    if connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL row locks (run with DATABASE_URL=postgres://…)")
    region = RegionFactory()
    location = LocationFactory(organisation__region=region)
    capacity = CapacityFactory(location=location, product=product("elv_hoog"), total=10, available=4, held=0)
    admins = [user_with_role(Role.ADMIN, region=region) for _ in range(2)]
    return location, capacity, admins


def _race(location, capacity, admins, totals) -> list[str]:
    """Both administrators change the total from the same page (same version) at once."""
    barrier = threading.Barrier(len(admins), timeout=30)
    outcomes, outcomes_lock = [], threading.Lock()
    version = capacity.version

    def change(admin, total):
        try:
            barrier.wait()
            services.capacity_contract_set(
                location=location, product=capacity.product, by=admin, total=total, expected_version=version
            )
            result = "ok"
        except services.StaleCapacity:
            result = "stale"
        except Exception as error:  # a constraint violation also shows a race gone wrong
            result = f"error: {type(error).__name__}"
        finally:
            connections.close_all()
        with outcomes_lock:
            outcomes.append(result)

    threads = [threading.Thread(target=change, args=pair) for pair in zip(admins, totals, strict=True)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return sorted(outcomes)


def test_two_administrators_changing_one_total_at_once_one_wins_the_other_is_told(racing_world):
    location, capacity, admins = racing_world

    outcomes = _race(location, capacity, admins, totals=[12, 8])

    assert outcomes == ["ok", "stale"]
    assert CapacityChange.objects.filter(capacity=capacity).count() == 1
    capacity.refresh_from_db()
    assert capacity.total in (12, 8) and capacity.available == capacity.total - 6
    assert capacity.version == 2


def test_negative_control_without_the_lock_both_write_and_one_update_is_lost(racing_world, monkeypatch):
    """Both read the count, then wait until both have read: without the row lock each decides on
    the same version, so both "succeed" and the history has two rows for one version step."""
    location, capacity, admins = racing_world
    all_have_read = threading.Barrier(2, timeout=30)

    def unlocked_read(capacity_id):
        row = Capacity.objects.get(pk=capacity_id)
        all_have_read.wait()
        return row

    monkeypatch.setattr(services, "_locked", unlocked_read)

    outcomes = _race(location, capacity, admins, totals=[12, 8])

    assert outcomes == ["ok", "ok"]
    assert CapacityChange.objects.filter(capacity=capacity).count() == 2
    assert Capacity.objects.get(pk=capacity.pk).version == 2
