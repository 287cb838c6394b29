"""The referral state machine (docs/architecture.md §2.2): every allowed transition and who may take it.

All state changes go through `referral_transition`, which locks the referral, refuses what is
not in TRANSITIONS with a Conflict (HTTP 409), and writes one ReferralEvent.
"""

from dataclasses import dataclass

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.models import Role, User
from elvdesk.errors import Conflict, PermissionDenied
from referrals.models import OPEN_STATES, Referral, ReferralEvent, State

SYSTEM = "system"  # the desk's own jobs (expiry), not a person
REFERRER = (Role.GP, Role.TRANSFER_NURSE)
DESK = (Role.COORDINATOR,)
PROVIDER = (Role.PROVIDER_STAFF,)


@dataclass(frozen=True)
class Transition:
    source: str
    target: str
    roles: tuple[str, ...]


_OPEN_TO_CLOSED = [Transition(state, State.CANCELLED, (*DESK, *REFERRER)) for state in OPEN_STATES] + [
    Transition(state, State.REDIRECTED, DESK) for state in OPEN_STATES if state != State.ACCEPTED
]

TRANSITIONS: dict[tuple[str, str], Transition] = {
    (t.source, t.target): t
    for t in [
        Transition(State.DRAFT, State.SUBMITTED, REFERRER),
        Transition(State.SUBMITTED, State.TRIAGE, DESK),
        # Straight to searching: the desk skipping triage, or self-service out of office hours.
        Transition(State.SUBMITTED, State.SEARCHING, (*DESK, *REFERRER, SYSTEM)),
        Transition(State.TRIAGE, State.SEARCHING, DESK),
        Transition(State.SEARCHING, State.OFFERED, (*DESK, *REFERRER)),
        Transition(State.OFFERED, State.SEARCHING, (*DESK, *PROVIDER, SYSTEM)),  # decline, expiry, withdrawal
        Transition(State.OFFERED, State.ACCEPTED, PROVIDER),
        Transition(State.ACCEPTED, State.ADMITTED, PROVIDER),
        Transition(State.ADMITTED, State.DISCHARGED, PROVIDER),
        *_OPEN_TO_CLOSED,
    ]
}


def allowed_targets(*, state: str, role: str) -> list[str]:
    return [target for (source, target), t in TRANSITIONS.items() if source == state and role in t.roles]


def check_transition(*, referral: Referral, target: str, role: str) -> None:
    transition = TRANSITIONS.get((referral.state, target))
    if transition is None:
        raise Conflict(
            _("A referral that is %(state)s cannot become %(target)s.")
            % {"state": State(referral.state).label.lower(), "target": State(target).label.lower()},
            code="illegal_transition",
        )
    if role not in transition.roles:
        raise PermissionDenied(_("Your role may not take this step."))


def referral_transition(
    *, referral: Referral, target: str, by: User | None, reason: str = "", locked: bool = False
) -> Referral:
    """Move a referral to `target`. `by=None` is the system. Re-reads the row under a lock so
    two people acting at once cannot both move it.

    `locked=True`: the caller's transaction already holds that lock and read `referral` with it
    (the booking steps), so the row is not read a second time.
    """
    if locked:
        if not transaction.get_connection().in_atomic_block:
            raise RuntimeError("locked=True needs the caller's transaction holding the row lock")
        _record_transition(referral, target=target, by=by, reason=reason)
        return referral
    with transaction.atomic():
        row = Referral.objects.select_for_update().get(pk=referral.pk)
        _record_transition(row, target=target, by=by, reason=reason)
    referral.state = row.state
    referral.state_changed_at = row.state_changed_at
    return row


def _record_transition(locked: Referral, *, target: str, by: User | None, reason: str) -> None:
    check_transition(referral=locked, target=target, role=by.role if by is not None else SYSTEM)
    now = timezone.now()
    ReferralEvent.objects.create(
        referral=locked, from_state=locked.state, to_state=target, actor=by, at=now, reason=reason
    )
    locked.state = target
    locked.state_changed_at = now
    locked.save(update_fields=["state", "state_changed_at"])
