"""The referral state machine (docs/architecture.md §2.2): every step, the transition it makes and who may take it.

STEPS is the one table: pages show a user exactly the steps it allows them (`allowed_actions`)
and services refuse the rest. All state changes go through `referral_transition`, which locks
the referral, refuses what no step allows with a Conflict (HTTP 409) or PermissionDenied (403),
and writes one ReferralEvent.
"""

from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.models import Role, User
from elvdesk.errors import Conflict, PermissionDenied
from elvdesk.page_cache import region_changed
from referrals.models import OPEN_STATES, Referral, ReferralEvent, State

SYSTEM = "system"  # the desk's own jobs (expiry), not a person
REFERRER = (Role.GP, Role.TRANSFER_NURSE)
DESK = (Role.COORDINATOR,)
PROVIDER = (Role.PROVIDER_STAFF,)


class Action(StrEnum):
    """What someone does to a referral: each is one entry point (a page form and its API call)."""

    SUBMIT = "submit"
    TRIAGE = "triage"
    START_SEARCH = "start_search"
    SEND_OFFER = "send_offer"
    WITHDRAW_OFFER = "withdraw_offer"
    ACCEPT_OFFER = "accept_offer"
    DECLINE_OFFER = "decline_offer"
    EXPIRE_OFFER = "expire_offer"
    ADMIT = "admit"
    NO_SHOW = "no_show"
    DISCHARGE = "discharge"
    CANCEL = "cancel"
    REDIRECT = "redirect"
    # The desk of a neighbouring region stops an offer or booking at its location (cross_region.py).
    STOP_OFFER = "stop_offer"


@dataclass(frozen=True)
class Step:
    source: str
    action: str
    target: str
    roles: tuple[str, ...]


_CLOSING = [Step(state, Action.CANCEL, State.CANCELLED, (*DESK, *REFERRER)) for state in OPEN_STATES] + [
    Step(state, Action.REDIRECT, State.REDIRECTED, DESK) for state in OPEN_STATES if state != State.ACCEPTED
]

STEPS: dict[tuple[str, str], Step] = {
    (s.source, s.action): s
    for s in [
        Step(State.DRAFT, Action.SUBMIT, State.SUBMITTED, REFERRER),
        Step(State.SUBMITTED, Action.TRIAGE, State.TRIAGE, DESK),
        # Straight to searching: the desk skipping triage, or self-service out of office hours.
        Step(State.SUBMITTED, Action.START_SEARCH, State.SEARCHING, (*DESK, *REFERRER, SYSTEM)),
        Step(State.TRIAGE, Action.START_SEARCH, State.SEARCHING, DESK),
        Step(State.SEARCHING, Action.SEND_OFFER, State.OFFERED, (*DESK, *REFERRER)),
        # Parallel offers: another location while the first ones are open (services.offer_create).
        Step(State.OFFERED, Action.SEND_OFFER, State.OFFERED, (*DESK, *REFERRER)),
        Step(State.OFFERED, Action.WITHDRAW_OFFER, State.SEARCHING, DESK),
        Step(State.OFFERED, Action.DECLINE_OFFER, State.SEARCHING, PROVIDER),
        Step(State.OFFERED, Action.EXPIRE_OFFER, State.SEARCHING, (SYSTEM,)),
        Step(State.OFFERED, Action.ACCEPT_OFFER, State.ACCEPTED, PROVIDER),
        Step(State.ACCEPTED, Action.ADMIT, State.ADMITTED, PROVIDER),
        # The booked patient did not arrive: the booking's provider or the desk closes the referral.
        Step(State.ACCEPTED, Action.NO_SHOW, State.CANCELLED, (*DESK, *PROVIDER)),
        Step(State.ADMITTED, Action.DISCHARGE, State.DISCHARGED, PROVIDER),
        Step(State.OFFERED, Action.STOP_OFFER, State.SEARCHING, DESK),
        Step(State.ACCEPTED, Action.STOP_OFFER, State.SEARCHING, DESK),
        *_CLOSING,
    ]
}


# The steps taken with the referral page's "Next step" form and the API's transitions (services.referral_step).
STEP_ACTIONS = frozenset({Action.TRIAGE, Action.START_SEARCH, Action.WITHDRAW_OFFER, Action.CANCEL, Action.REDIRECT})


def allowed_actions(*, state: str, role: str) -> set[str]:
    """The steps a role may take on a referral in `state`; pages show these and no others."""
    return {step.action for step in STEPS.values() if step.source == state and role in step.roles}


def check_transition(*, referral: Referral, target: str, role: str, actions: Iterable[str] | None = None) -> None:
    """Refuse a change to `target` that no step (of `actions`, when given: the caller's entry
    point) makes from the referral's state (409), or that the role may not make (403)."""
    steps = [
        step
        for step in STEPS.values()
        if step.source == referral.state and step.target == target and (actions is None or step.action in actions)
    ]
    if not steps:
        raise Conflict(
            _("A referral that is %(state)s cannot become %(target)s.")
            % {"state": State(referral.state).label.lower(), "target": State(target).label.lower()},
            code="illegal_transition",
        )
    if not any(role in step.roles for step in steps):
        raise PermissionDenied(_("Your role may not take this step."))


def referral_transition(
    *,
    referral: Referral,
    target: str,
    by: User | None,
    reason: str = "",
    locked: bool = False,
    actions: Iterable[str] | None = None,
) -> Referral:
    """Move a referral to `target`. `by=None` is the system. Re-reads the row under a lock so
    two people acting at once cannot both move it. `actions`: the steps the caller's entry point
    takes (a provider may move offered → searching by declining, not by the desk's withdrawal).

    `locked=True`: the caller's transaction already holds that lock and read `referral` with it
    (the booking steps), so the row is not read a second time.
    """
    if locked:
        if not transaction.get_connection().in_atomic_block:
            raise RuntimeError("locked=True needs the caller's transaction holding the row lock")
        _record_transition(referral, target=target, by=by, reason=reason, actions=actions)
        return referral
    with transaction.atomic():
        row = Referral.objects.select_for_update().get(pk=referral.pk)
        _record_transition(row, target=target, by=by, reason=reason, actions=actions)
    referral.state = row.state
    referral.state_changed_at = row.state_changed_at
    return row


def _check_own_region(referral: Referral, *, by: User | None, actions: Iterable[str] | None) -> None:
    """The desk of another region (where a cross-region offer's bed is) may only stop that offer
    or booking (services.offer_stop); every other desk step is the referral's own desk's (403)."""
    if by is None or by.role != Role.COORDINATOR or by.organisation_id is None:
        return
    if by.organisation.region_id != referral.region_id and set(actions or ()) != {Action.STOP_OFFER}:
        raise PermissionDenied(_("The desk of the referral's own region takes this step."))


def referral_note(*, referral: Referral, by: User | None, reason: str, action: str) -> None:
    """A step that leaves the state as it is (one of several parallel offers declined or expired):
    checked like the transition it would otherwise be, recorded in the timeline as an event from
    the state to itself. The caller holds the referral's row lock."""
    check_transition(
        referral=referral, target=State.SEARCHING, role=by.role if by is not None else SYSTEM, actions=(action,)
    )
    _check_own_region(referral, by=by, actions=(action,))
    ReferralEvent.objects.create(
        referral=referral,
        from_state=referral.state,
        to_state=referral.state,
        actor=by,
        at=timezone.now(),
        reason=reason,
    )
    region_changed(referral.region_id)


def _record_transition(
    locked: Referral, *, target: str, by: User | None, reason: str, actions: Iterable[str] | None
) -> None:
    check_transition(referral=locked, target=target, role=by.role if by is not None else SYSTEM, actions=actions)
    _check_own_region(locked, by=by, actions=actions)
    now = timezone.now()
    ReferralEvent.objects.create(
        referral=locked, from_state=locked.state, to_state=target, actor=by, at=now, reason=reason
    )
    locked.state = target
    locked.state_changed_at = now
    locked.save(update_fields=["state", "state_changed_at"])
    region_changed(locked.region_id)
