"""Twenty desk workers race for the last bed on PostgreSQL, in real threads.

The positive test proves the row lock in beds.services keeps the count right; the negative
control removes the lock and shows the same race does overbook, so the test can fail.
"""

import threading

import pytest
from django.db import connection, connections
from stdnum.nl import bsn as nl_bsn

from beds import services as bed_services
from beds.models import Capacity
from elvdesk.errors import Conflict
from referrals import services
from referrals.models import Offer
from tests.referrals.conftest import referral_input

RACERS = 20

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def _postgres_only():
    if connection.vendor != "postgresql":
        pytest.skip("the concurrency test needs PostgreSQL row locks (run with DATABASE_URL=postgres://…)")


def _first_valid(n: int) -> list[str]:
    found = []
    candidate = 100000000
    while len(found) < n:
        number = f"{candidate:09d}"
        if nl_bsn.is_valid(number):
            found.append(number)
        candidate += 1
    return found


def _searching_referrals(desk, n: int):
    referrals = []
    for bsn in _first_valid(n):
        referral, _ = services.referral_submit(by=desk.gp, data=referral_input(bsn=bsn))
        services.referral_step(referral=referral, target="searching", by=desk.coordinator)
        referral.refresh_from_db()
        referrals.append(referral)
    return referrals


def _race(desk, referrals) -> tuple[int, int]:
    barrier = threading.Barrier(len(referrals))
    outcomes = []
    lock = threading.Lock()

    def offer(referral):
        try:
            barrier.wait()
            services.offer_create(referral=referral, capacity=desk.capacity, by=desk.coordinator)
            result = "ok"
        except Conflict as conflict:
            result = f"refused: {conflict.code}"
        except Exception as error:  # a constraint violation also counts as refused
            result = f"error: {type(error).__name__}"
        finally:
            connections.close_all()
        with lock:
            outcomes.append(result)

    threads = [threading.Thread(target=offer, args=(referral,)) for referral in referrals]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return outcomes.count("ok"), len(outcomes)


def test_twenty_offers_racing_for_the_last_bed_book_exactly_one(desk):
    referrals = _searching_referrals(desk, RACERS)
    successes, finished = _race(desk, referrals)
    assert finished == RACERS
    assert successes == 1
    capacity = Capacity.objects.get(pk=desk.capacity.pk)
    assert (capacity.available, capacity.held) == (1, 1)
    assert Offer.objects.filter(capacity=capacity, state="open").count() == 1


def test_negative_control_without_the_lock_the_same_race_overbooks(desk, monkeypatch):
    """Replace the locking read with a plain one: more than one offer now holds the single bed,
    so the positive test above is not passing by luck.

    The race is made to happen, not hoped for: every racer reads the count, then waits at a
    barrier until all have read, so all decide on the same "1 free" however slow the machine."""
    all_have_read = threading.Barrier(RACERS, timeout=30)

    def unlocked_read(capacity_id):
        capacity = Capacity.objects.get(pk=capacity_id)
        all_have_read.wait()
        return capacity

    monkeypatch.setattr(bed_services, "_locked", unlocked_read)
    referrals = _searching_referrals(desk, RACERS)
    successes, finished = _race(desk, referrals)
    assert finished == RACERS
    assert successes > 1
    assert Offer.objects.filter(capacity_id=desk.capacity.pk, state="open").count() > 1
    # The lost update shows in the counter: several offers, but `held` saw only one write.
    assert Capacity.objects.get(pk=desk.capacity.pk).held < successes


def test_two_planners_accepting_the_same_offer_book_one_bed(desk):
    referral = _searching_referrals(desk, 1)[0]
    offer = services.offer_create(referral=referral, capacity=desk.capacity, by=desk.coordinator)
    barrier = threading.Barrier(2)
    outcomes = []

    def accept():
        try:
            barrier.wait()
            services.offer_accept(offer=offer, by=desk.planner)
            outcomes.append("ok")
        except Conflict:
            outcomes.append("conflict")
        finally:
            connections.close_all()

    threads = [threading.Thread(target=accept) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert sorted(outcomes) == ["conflict", "ok"]
    capacity = Capacity.objects.get(pk=desk.capacity.pk)
    assert (capacity.available, capacity.held) == (0, 0)
