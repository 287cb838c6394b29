"""The state machine (docs/architecture.md §2.2), written out here independently of referrals/workflow.py,
so a change to the rules must change this table too."""

import itertools

import pytest
from django.db import transaction

from elvdesk.errors import Conflict, PermissionDenied
from referrals.models import Referral, ReferralEvent, State
from referrals.workflow import SYSTEM, TRANSITIONS, check_transition, referral_transition

GP, NURSE, PROVIDER, DESK, ADMIN, ANALYST = (
    "gp",
    "transfer_nurse",
    "provider_staff",
    "coordinator",
    "admin",
    "analyst",
)
ROLES = [GP, NURSE, PROVIDER, DESK, ADMIN, ANALYST, SYSTEM]
REFERRERS = {GP, NURSE}
OPEN = ["submitted", "triage", "searching", "offered", "accepted"]

EXPECTED = {
    ("draft", "submitted"): REFERRERS,
    ("submitted", "triage"): {DESK},
    ("submitted", "searching"): {DESK, SYSTEM} | REFERRERS,
    ("triage", "searching"): {DESK},
    ("searching", "offered"): {DESK} | REFERRERS,
    ("offered", "searching"): {DESK, PROVIDER, SYSTEM},
    ("offered", "accepted"): {PROVIDER},
    ("accepted", "admitted"): {PROVIDER},
    ("admitted", "discharged"): {PROVIDER},
    **{(state, "cancelled"): {DESK} | REFERRERS for state in OPEN},
    **{(state, "redirected"): {DESK} for state in OPEN if state != "accepted"},
}


class FakeReferral:
    def __init__(self, state):
        self.state = state


@pytest.mark.parametrize(("source", "target", "role"), list(itertools.product(State.values, State.values, ROLES)))
def test_each_transition_is_allowed_exactly_for_the_roles_in_the_design(source, target, role):
    allowed_roles = EXPECTED.get((source, target))
    referral = FakeReferral(source)
    if allowed_roles is None:
        with pytest.raises(Conflict):
            check_transition(referral=referral, target=target, role=role)
    elif role in allowed_roles:
        check_transition(referral=referral, target=target, role=role)
    else:
        with pytest.raises(PermissionDenied):
            check_transition(referral=referral, target=target, role=role)


def test_the_code_has_no_transition_the_design_lacks():
    assert set(TRANSITIONS) == set(EXPECTED)


def test_closed_referrals_never_move_again():
    for closed in ("discharged", "cancelled", "redirected"):
        assert not [key for key in TRANSITIONS if key[0] == closed]


def test_a_transition_writes_one_event_with_actor_and_reason(desk, submitted):
    referral_transition(referral=submitted, target="triage", by=desk.coordinator, reason="Bellen met huisarts")
    event = ReferralEvent.objects.filter(referral=submitted).last()
    assert (event.from_state, event.to_state, event.actor, event.reason) == (
        "submitted",
        "triage",
        desk.coordinator,
        "Bellen met huisarts",
    )
    submitted.refresh_from_db()
    assert submitted.state == "triage"


def test_an_illegal_transition_changes_nothing_and_says_why(desk, submitted):
    events_before = ReferralEvent.objects.count()
    with pytest.raises(Conflict) as error:
        referral_transition(referral=submitted, target="admitted", by=desk.planner)
    assert error.value.http_status == 409
    assert error.value.message
    submitted.refresh_from_db()
    assert submitted.state == "submitted"
    assert ReferralEvent.objects.count() == events_before


def test_a_transition_checks_the_state_in_the_database_not_a_stale_copy(desk, submitted):
    stale_copy = type(submitted).objects.get(pk=submitted.pk)
    referral_transition(referral=submitted, target="triage", by=desk.coordinator)
    with pytest.raises(Conflict):
        referral_transition(referral=stale_copy, target="triage", by=desk.coordinator)


def test_a_caller_holding_the_lock_moves_the_referral_without_reading_it_again(
    desk, submitted, django_assert_num_queries
):
    with transaction.atomic():
        locked = Referral.objects.select_for_update().get(pk=submitted.pk)
        with django_assert_num_queries(2):  # the event and the new state
            moved = referral_transition(referral=locked, target="triage", by=desk.coordinator, locked=True)
        with pytest.raises(Conflict), django_assert_num_queries(0):
            referral_transition(referral=locked, target="admitted", by=desk.coordinator, locked=True)

    submitted.refresh_from_db()
    assert moved is locked and submitted.state == locked.state == "triage"
    assert list(ReferralEvent.objects.filter(referral=submitted).values_list("to_state", flat=True)) == [
        "submitted",
        "triage",
    ]


def test_locked_needs_the_callers_transaction(desk, submitted, monkeypatch):
    with monkeypatch.context() as outside_any_transaction, pytest.raises(RuntimeError):
        outside_any_transaction.setattr(transaction.get_connection(), "in_atomic_block", False)
        referral_transition(referral=submitted, target="triage", by=desk.coordinator, locked=True)
