"""Races on PostgreSQL, in real threads with real commits: twenty desk workers for the last bed,
two planners accepting one offer, a cancel against an accept, two identical submits, an offer
against the deactivation of its location in Beheer.

The positive tests prove the row locks keep the counts right; each negative control takes a
guard away and shows the same race does go wrong, so the tests can fail.
"""

import threading
import time

import pytest
from django.db import connection, connections
from django.test import Client
from django.urls import reverse
from stdnum.nl import bsn as nl_bsn

from accounts.models import Role
from beds import services as bed_services
from beds.models import Capacity, CapacityChange
from elvdesk.errors import Conflict
from providers import services as provider_services
from providers.models import Location
from referrals import services
from referrals.models import Notification, Offer, OfferState, Referral, State
from tests.factories import CapacityFactory, LocationFactory, user_with_role
from tests.referrals.conftest import form_post, referral_input

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


# --- Cancel racing accept -------------------------------------------------------------------
# The interleaving is made, not hoped for: the first step stops while it holds its locks until
# PostgreSQL reports the other one waiting for a lock, then commits.


def _wait_for_a_lock_waiter(timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    with connection.cursor() as cursor:
        while time.monotonic() < deadline:
            cursor.execute("SELECT pg_stat_clear_snapshot()")  # pg_stat_activity is cached per transaction
            cursor.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'"
            )
            if cursor.fetchone()[0]:
                return
            time.sleep(0.01)
    raise AssertionError("the other step never waited for a lock")


def _run_together(jobs: dict) -> dict:
    outcomes = {}

    def run(name, job):
        try:
            job()
            outcomes[name] = "ok"
        except Conflict as conflict:
            outcomes[name] = conflict.code
        except Exception as error:
            outcomes[name] = f"error: {type(error).__name__}: {error}"
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run, args=item) for item in jobs.items()]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return outcomes


def _cancel(referral, desk):
    return lambda: services.referral_step(
        referral=referral, target=State.CANCELLED, by=desk.coordinator, reason="Overleden"
    )


def _beds_given_back(capacity_id: int) -> int:
    """History rows that made a bed offerable again (a hold released or a booking freed)."""
    return sum(
        1
        for change in CapacityChange.objects.filter(capacity_id=capacity_id)
        if change.after["available"] - change.after["held"] > change.before["available"] - change.before["held"]
    )


def _assert_consistent(capacity_id: int) -> Capacity:
    capacity = Capacity.objects.get(pk=capacity_id)
    assert 0 <= capacity.held <= capacity.available <= capacity.total
    return capacity


def _accept_pausing_while_it_holds_the_bed(monkeypatch, holds_locks: threading.Event):
    book_held = bed_services.capacity_book_held

    def pausing(**kwargs):
        capacity = book_held(**kwargs)
        holds_locks.set()
        _wait_for_a_lock_waiter()
        return capacity

    monkeypatch.setattr(bed_services, "capacity_book_held", pausing)


def _cancel_while_an_accept_holds_the_bed(desk, monkeypatch, referral, offer) -> dict:
    """Accept and cancel the referral at once, the cancel starting only once the accept holds
    the offer's and the bed count's locks; their outcomes."""
    accept_holds_locks = threading.Event()
    _accept_pausing_while_it_holds_the_bed(monkeypatch, accept_holds_locks)

    def cancel_once_accept_holds_locks():
        assert accept_holds_locks.wait(timeout=20)
        _cancel(referral, desk)()

    return _run_together(
        {
            "accept": lambda: services.offer_accept(offer=offer, by=desk.planner),
            "cancel": cancel_once_accept_holds_locks,
        }
    )


def test_a_cancel_that_waited_for_an_accept_gives_the_booked_bed_back_once(desk, monkeypatch):
    referral = _searching_referrals(desk, 1)[0]
    offer = services.offer_create(referral=referral, capacity=desk.capacity, by=desk.coordinator)
    outcomes = _cancel_while_an_accept_holds_the_bed(desk, monkeypatch, referral, offer)

    assert outcomes == {"accept": "ok", "cancel": "ok"}
    capacity = _assert_consistent(desk.capacity.pk)
    assert (capacity.available, capacity.held) == (1, 0)
    assert _beds_given_back(desk.capacity.pk) == 1
    assert Offer.objects.get(pk=offer.pk).state == OfferState.CANCELLED
    assert Referral.objects.get(pk=referral.pk).state == State.CANCELLED


def test_an_accept_that_waited_for_a_cancel_is_refused_and_the_hold_released_once(desk, monkeypatch):
    referral = _searching_referrals(desk, 1)[0]
    offer = services.offer_create(referral=referral, capacity=desk.capacity, by=desk.coordinator)
    cancel_holds_locks = threading.Event()
    lock_live_offers = services._lock_live_offers

    def pausing(referral_id):
        offers = lock_live_offers(referral_id)
        if not cancel_holds_locks.is_set():  # the cancel pauses; the accept takes the same locks after it
            cancel_holds_locks.set()
            _wait_for_a_lock_waiter()
        return offers

    monkeypatch.setattr(services, "_lock_live_offers", pausing)

    def accept_once_cancel_holds_locks():
        assert cancel_holds_locks.wait(timeout=20)
        services.offer_accept(offer=offer, by=desk.planner)

    outcomes = _run_together({"cancel": _cancel(referral, desk), "accept": accept_once_cancel_holds_locks})

    assert outcomes == {"cancel": "ok", "accept": "offer_answered"}
    capacity = _assert_consistent(desk.capacity.pk)
    assert (capacity.available, capacity.held) == (1, 0)
    assert _beds_given_back(desk.capacity.pk) == 1
    assert Offer.objects.get(pk=offer.pk).state == OfferState.WITHDRAWN
    assert Referral.objects.get(pk=referral.pk).state == State.CANCELLED


def test_negative_control_a_cancel_that_looks_at_open_offers_only_leaves_the_bed_booked(desk, monkeypatch):
    """The cancel as it was (it released open offers only, and did not look again once it held
    the referral): the same interleaving cancels the referral and keeps its bed booked, so the
    positive test above is not passing by luck."""
    referral = _searching_referrals(desk, 1)[0]
    offer = services.offer_create(referral=referral, capacity=desk.capacity, by=desk.coordinator)
    monkeypatch.setattr(
        services,
        "_lock_live_offers",
        lambda referral_id: list(Offer.objects.select_for_update().filter(referral_id=referral_id, state="open")),
    )
    monkeypatch.setattr(services, "_refuse_offers_sent_meanwhile", lambda locked: None)

    outcomes = _cancel_while_an_accept_holds_the_bed(desk, monkeypatch, referral, offer)

    assert outcomes == {"accept": "ok", "cancel": "ok"}
    assert Referral.objects.get(pk=referral.pk).state == State.CANCELLED
    assert Offer.objects.get(pk=offer.pk).state == OfferState.ACCEPTED
    capacity = _assert_consistent(desk.capacity.pk)
    assert (capacity.available, capacity.held) == (0, 0), "the cancelled referral still has its bed"
    assert _beds_given_back(desk.capacity.pk) == 0


def test_a_cancel_overtaken_by_a_new_offer_is_refused_and_leaves_no_hold_behind(desk, monkeypatch):
    referral = _searching_referrals(desk, 1)[0]
    cancel_has_read, offer_sent = threading.Event(), threading.Event()
    lock_live_offers = services._lock_live_offers

    def pausing(referral_id):
        offers = lock_live_offers(referral_id)  # none yet
        cancel_has_read.set()
        assert offer_sent.wait(timeout=20)
        return offers

    monkeypatch.setattr(services, "_lock_live_offers", pausing)

    def send_offer():
        try:
            assert cancel_has_read.wait(timeout=20)
            services.offer_create(referral=referral, capacity=desk.capacity, by=desk.coordinator)
        finally:
            offer_sent.set()

    outcomes = _run_together({"cancel": _cancel(referral, desk), "offer": send_offer})

    assert outcomes == {"cancel": "referral_changed", "offer": "ok"}
    assert Referral.objects.get(pk=referral.pk).state == State.OFFERED
    assert Offer.objects.get(referral=referral).state == OfferState.OPEN
    capacity = _assert_consistent(desk.capacity.pk)
    assert (capacity.available, capacity.held) == (1, 1)


# --- Two identical submits at once (a double click) -----------------------------------------


@pytest.mark.parametrize("returning_patient", [False, True], ids=["new patient", "returning patient"])
def test_two_identical_submits_at_once_both_land_on_the_one_referral(desk, monkeypatch, returning_patient):
    if returning_patient:
        earlier, _ = services.referral_submit(by=desk.gp, data=referral_input())
        services.referral_step(referral=earlier, target=State.CANCELLED, by=desk.gp, reason="Opgeknapt")
    # Both requests pass the "already sent?" check before either has created anything.
    both_checked = threading.Barrier(2, timeout=20)
    checked = threading.local()
    existing_for_key = services._existing_for_key

    def first_check_waits(by, key):
        found = existing_for_key(by, key)
        if not getattr(checked, "done", False):
            checked.done = True
            both_checked.wait()
        return found

    monkeypatch.setattr(services, "_existing_for_key", first_check_waits)
    responses = {}

    def submit(name):
        client = Client(headers={"Accept-Language": "en"})
        client.force_login(desk.gp)
        responses[name] = client.post(reverse("referrals:new"), form_post(submit_token="double-click"))

    outcomes = _run_together({"first": lambda: submit("first"), "second": lambda: submit("second")})

    assert outcomes == {"first": "ok", "second": "ok"}
    created = Referral.objects.get(idempotency_key="double-click")
    assert Referral.objects.filter(patient=created.patient, state=State.SUBMITTED).count() == 1
    for response in responses.values():
        assert response.status_code == 302, response.content.decode()[:2000]
        assert response.url == reverse("referrals:detail", args=[created.pk])


def _offer_pausing_after_the_location_check(desk, referral, monkeypatch, *, pause):
    """An offer whose transaction stops right after it checked that the location is active,
    until `pause()` returns."""
    hold = services.beds.capacity_hold

    def pausing_hold(**kwargs):
        pause()
        return hold(**kwargs)

    monkeypatch.setattr(services.beds, "capacity_hold", pausing_hold)
    return lambda: services.offer_create(referral=referral, capacity=desk.capacity, by=desk.coordinator)


def _deactivate(desk, admin):
    return lambda: provider_services.location_deactivate(location=desk.location, by=admin)


def test_a_deactivation_that_waited_for_an_offer_sees_it_and_is_refused(desk, monkeypatch):
    admin = user_with_role(Role.ADMIN, region=desk.region)
    referral = _searching_referrals(desk, 1)[0]
    offer_checked = threading.Event()

    def pause():
        offer_checked.set()
        _wait_for_a_lock_waiter()  # the deactivation waits for the offer's shared lock

    def deactivate_once_the_offer_checked():
        assert offer_checked.wait(timeout=20)
        _deactivate(desk, admin)()

    offer = _offer_pausing_after_the_location_check(desk, referral, monkeypatch, pause=pause)
    outcomes = _run_together({"offer": offer, "deactivate": deactivate_once_the_offer_checked})

    assert outcomes["offer"] == "ok"
    assert outcomes["deactivate"].startswith("error: ValidationError"), outcomes
    assert Location.objects.get(pk=desk.location.pk).is_active
    assert Offer.objects.filter(location=desk.location, state=OfferState.OPEN).count() == 1


def test_negative_control_without_the_shared_lock_a_location_is_deactivated_under_an_open_offer(desk, monkeypatch):
    """The location check without its lock: the same interleaving deactivates the location while
    an offer to it goes out, so the positive test above is not passing by luck."""
    admin = user_with_role(Role.ADMIN, region=desk.region)
    referral = _searching_referrals(desk, 1)[0]
    monkeypatch.setattr(
        services,
        "_location_takes_patients",
        lambda location_id: Location.objects.filter(pk=location_id, is_active=True).exists(),
    )
    offer_checked, deactivated = threading.Event(), threading.Event()

    def pause():
        offer_checked.set()
        assert deactivated.wait(timeout=20)

    def deactivate_once_the_offer_checked():
        assert offer_checked.wait(timeout=20)
        _deactivate(desk, admin)()
        deactivated.set()

    offer = _offer_pausing_after_the_location_check(desk, referral, monkeypatch, pause=pause)
    outcomes = _run_together({"offer": offer, "deactivate": deactivate_once_the_offer_checked})

    assert outcomes == {"offer": "ok", "deactivate": "ok"}
    assert not Location.objects.get(pk=desk.location.pk).is_active
    assert Offer.objects.filter(location=desk.location, state=OfferState.OPEN).count() == 1


# --- Parallel offers: N providers accept at once (issue 17) ---------------------------------

PARALLEL = 3


def _parallel_offers(desk):
    """A referral offered at once to PARALLEL locations of PARALLEL providers, each with a planner."""
    referral = _searching_referrals(desk, 1)[0]
    offers, planners = [], []
    for _ in range(PARALLEL):
        planner = user_with_role(Role.PROVIDER_STAFF, region=desk.region)
        location = LocationFactory(organisation=planner.organisation, pc4="6411", insurers=["9015"])
        capacity = CapacityFactory(location=location, product=desk.capacity.product, total=4, available=2)
        offers.append(services.offer_create(referral=referral, capacity=capacity, by=desk.coordinator))
        planners.append(planner)
    return referral, offers, planners


def _accept_all_at_once(offers, planners) -> list[str]:
    barrier = threading.Barrier(len(offers), timeout=30)
    outcomes, lock = [], threading.Lock()

    def accept(offer, planner):
        try:
            barrier.wait()
            services.offer_accept(offer=offer, by=planner)
            result = "ok"
        except Conflict as conflict:
            result = conflict.code
        except Exception as error:
            result = f"error: {type(error).__name__}: {error}"
        finally:
            connections.close_all()
        with lock:
            outcomes.append(result)

    threads = [threading.Thread(target=accept, args=pair) for pair in zip(offers, planners, strict=True)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return outcomes


def test_parallel_offers_accepted_at_once_book_exactly_one_bed_and_withdraw_the_others(desk):
    referral, offers, planners = _parallel_offers(desk)

    outcomes = _accept_all_at_once(offers, planners)

    assert sorted(outcomes) == ["offer_answered"] * (PARALLEL - 1) + ["ok"]
    states = [Offer.objects.get(pk=offer.pk).state for offer in offers]
    assert sorted(states) == ["accepted"] + ["withdrawn"] * (PARALLEL - 1)
    assert Referral.objects.get(pk=referral.pk).state == State.ACCEPTED
    for offer, state in zip(offers, states, strict=True):
        capacity = _assert_consistent(offer.capacity_id)
        assert capacity.held == 0, "every hold released or booked"
        assert capacity.available == (1 if state == "accepted" else 2)
    withdrawn_planners = {planner.pk for planner, state in zip(planners, states, strict=True) if state == "withdrawn"}
    told = set(Notification.objects.filter(referral=referral, kind="offer_withdrawn").values_list("user", flat=True))
    assert told == withdrawn_planners


def test_negative_control_without_the_referrals_offer_locks_parallel_accepts_book_several_beds(desk, monkeypatch):
    """Each accept locks only its own offer and reads the referral without a lock (as a single
    offer's accept could): all see "offered", all book, the patient holds PARALLEL beds. The
    accepts are made to overlap: each waits, having read the referral, until all have read it."""
    referral, offers, planners = _parallel_offers(desk)
    all_have_read = threading.Barrier(PARALLEL, timeout=30)

    def own_offer_only(offer):
        return Offer.objects.select_for_update(of=("self",)).select_related("location", "product").get(pk=offer.pk), []

    def unlocked_referral(offer):
        row = Referral.objects.select_related("referred_by").get(pk=offer.referral_id)
        all_have_read.wait()
        return row

    monkeypatch.setattr(services, "_lock_open_offer", own_offer_only)
    monkeypatch.setattr(services, "_lock_answered_referral", unlocked_referral)
    monkeypatch.setattr(services, "_withdraw_siblings", lambda offer, siblings: [])

    outcomes = _accept_all_at_once(offers, planners)

    assert outcomes.count("ok") > 1
    assert Offer.objects.filter(referral=referral, state="accepted").count() > 1, "one patient, several beds"
