"""Raising and closing `ContactProblem`s: what the portal could tell nobody, for the desk to phone.

Reads are in providers.reachability. Raising is idempotent and safe under concurrency: the
partial unique constraints (one open reminder problem per location, one problem per offer and
kind) decide, and a losing insert in its own savepoint returns the problem that won.
"""

import logging
from datetime import datetime

from django.db import IntegrityError, transaction
from django.utils import timezone

from accounts.models import User
from elvdesk.page_cache import region_changed
from providers.models import ContactProblem, ContactProblemKind
from providers.reachability import has_planner

logger = logging.getLogger(__name__)


def contact_problem_raise(
    *, region_id: int, location_id: int, kind: str, referral_id: int | None = None, offer_id: int | None = None
) -> tuple[ContactProblem, bool]:
    """The open problem of this kind for the location (or for `offer_id`), created if there is none.
    Returns (problem, created)."""
    if kind != ContactProblemKind.REMINDER_UNHEARD and offer_id is None:
        raise ValueError("An offer problem names its offer.")
    try:
        with transaction.atomic():
            problem = ContactProblem.objects.create(
                region_id=region_id, location_id=location_id, kind=kind, referral_id=referral_id, offer_id=offer_id
            )
    except IntegrityError:  # raised a moment ago (another run, or the same offer twice)
        existing = ContactProblem.objects.filter(location_id=location_id, kind=kind)
        existing = existing.filter(offer_id=offer_id) if offer_id else existing.filter(resolved_at__isnull=True)
        return existing.get(), False
    logger.warning("contact problem %s: %s at location %s", problem.pk, kind, location_id)
    region_changed(region_id)
    return problem, True


def contact_problem_resolve(*, problem: ContactProblem, by: User | None) -> bool:
    """The desk handled it (phoned the provider). Returns False when it was already resolved."""
    now = timezone.now()
    closed = ContactProblem.objects.filter(pk=problem.pk, resolved_at__isnull=True).update(
        resolved_at=now, resolved_by=by
    )
    if closed:
        region_changed(problem.region_id)
        problem.resolved_at, problem.resolved_by = now, by
        logger.info("contact problem %s resolved by %s", problem.pk, by.pk if by else "the system")
    return bool(closed)


def contact_problems_resolve_reachable(*, now: datetime | None = None) -> int:
    """Close the open problems of locations that can be reached again: a planner now sees the
    offer in the portal, the next reminder goes to a planner with an e-mail address. A later loss
    raises a new problem instead of bringing back an old one. Run by the stale-count reminder job
    (beds.reminders); until then the list hides them (providers.reachability). Returns how many."""
    now = now or timezone.now()
    open_problems = ContactProblem.objects.filter(resolved_at__isnull=True)
    reminders = open_problems.filter(kind=ContactProblemKind.REMINDER_UNHEARD).filter(
        has_planner("location__organisation_id", with_email=True)
    )
    offers = open_problems.exclude(kind=ContactProblemKind.REMINDER_UNHEARD).filter(
        has_planner("location__organisation_id")
    )
    region_changed(*{*reminders.values_list("region_id", flat=True), *offers.values_list("region_id", flat=True)})
    return reminders.update(resolved_at=now) + offers.update(resolved_at=now)
