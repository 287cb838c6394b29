"""The state machine (docs/architecture.md §2.2), written out here independently of referrals/workflow.py,
so a change to the rules must change this table too."""

import itertools

import pytest
from django.db import transaction

from elvdesk.errors import Conflict, PermissionDenied
from referrals.models import Referral, ReferralEvent, State
from referrals.workflow import STEPS, SYSTEM, Action, check_transition, referral_transition

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

# (state, step) -> (new state, who may take that step)
EXPECTED_STEPS = {
    ("draft", "submit"): ("submitted", REFERRERS),
    ("submitted", "triage"): ("triage", {DESK}),
    ("submitted", "start_search"): ("searching", {DESK, SYSTEM} | REFERRERS),
    ("triage", "start_search"): ("searching", {DESK}),
    ("searching", "send_offer"): ("offered", {DESK} | REFERRERS),
    ("offered", "send_offer"): ("offered", {DESK} | REFERRERS),  # parallel offers (issue 17)
    ("offered", "withdraw_offer"): ("searching", {DESK}),
    ("offered", "decline_offer"): ("searching", {PROVIDER}),
    ("offered", "expire_offer"): ("searching", {SYSTEM}),
    ("offered", "accept_offer"): ("accepted", {PROVIDER}),
    ("accepted", "admit"): ("admitted", {PROVIDER}),
    ("accepted", "no_show"): ("cancelled", {DESK, PROVIDER}),
    ("admitted", "discharge"): ("discharged", {PROVIDER}),
    # The desk of a neighbouring region stops a cross-region offer or booking at its location (issue 18).
    ("offered", "stop_offer"): ("searching", {DESK}),
    ("accepted", "stop_offer"): ("searching", {DESK}),
    **{(state, "cancel"): ("cancelled", {DESK} | REFERRERS) for state in OPEN},
    **{(state, "redirect"): ("redirected", {DESK}) for state in OPEN if state != "accepted"},
}
# (state, new state) -> everyone who may make that change by some step
EXPECTED: dict[tuple[str, str], set] = {}
for (_source, _action), (_target, _roles) in EXPECTED_STEPS.items():
    EXPECTED.setdefault((_source, _target), set()).update(_roles)
TARGET_OF = {action: target for (_, action), (target, _) in EXPECTED_STEPS.items()}


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


@pytest.mark.parametrize(("source", "action", "role"), list(itertools.product(State.values, list(Action), ROLES)))
def test_each_step_is_allowed_exactly_for_its_roles(source, action, role):
    """Through one entry point only its own step counts: a provider declines offered → searching,
    but may not take the desk's withdrawal, which makes the same change."""
    expected = EXPECTED_STEPS.get((source, action))
    referral = FakeReferral(source)
    check = lambda: check_transition(referral=referral, target=TARGET_OF[action], role=role, actions=(action,))  # noqa: E731
    if expected is None:
        with pytest.raises(Conflict):
            check()
    elif role in expected[1]:
        check()
    else:
        with pytest.raises(PermissionDenied):
            check()


def test_the_code_has_no_step_the_design_lacks():
    assert {key: (step.target, set(step.roles)) for key, step in STEPS.items()} == EXPECTED_STEPS


def test_closed_referrals_never_move_again():
    for closed in ("discharged", "cancelled", "redirected"):
        assert not [key for key in STEPS if key[0] == closed]


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
        with django_assert_num_queries(3):  # the event, the new state, the region's generation
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
