"""Reminders for stale bed counts with a one-click signed "klopt nog" link (docs/architecture.md §5.3).

A location whose counts are older than its region's limit gets one reminder per planner of
its organisation; when no planner has an e-mail address the desk gets a "reminder_unheard"
contact problem instead (providers.contact_problems), once while it is open.

The link carries a signature (own salt, so no other signed value of the portal fits), the
reminder id and a random nonce; it expires after REMINDER_VALID_FOR and works once. Opening it
(GET) only shows a confirmation page: mail scanners fetch links, so the confirmation happens on
the POST of that page. The signed token is the authorisation: no login.
"""

import logging
import secrets
from datetime import datetime, timedelta

from django.core import signing
from django.db import IntegrityError, transaction
from django.db.models import Exists, OuterRef, Q
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.models import Role, User
from beds import services
from beds.models import Capacity, StaleCountReminder
from elvdesk.errors import DomainError
from elvdesk.outbox import outbox_wake_after_commit
from providers.contact_problems import contact_problem_raise, contact_problems_resolve_reachable
from providers.models import ContactProblem, ContactProblemKind, Location, Region

logger = logging.getLogger(__name__)

REMINDER_SALT = "beds.stale-count-reminder.still-correct"
REMINDER_VALID_FOR = timedelta(hours=24)


class ReminderLinkInvalid(DomainError):
    http_status = 400
    code = "reminder_link_invalid"

    def __init__(self):
        super().__init__(_("This link is not valid. Open “My beds” to confirm the counts."))


class ReminderLinkExpired(DomainError):
    http_status = 410
    code = "reminder_link_expired"

    def __init__(self):
        super().__init__(_("This link has expired. Open “My beds” to confirm the counts."))


class ReminderLinkUsed(DomainError):
    http_status = 410
    code = "reminder_link_used"

    def __init__(self):
        super().__init__(_("This link has already been used. Open “My beds” to see the counts."))


def stale_locations(*, region: Region, now: datetime) -> list[Location]:
    """Active locations of `region` with at least one count older than the region's limit
    and no open reminder."""
    cutoff = now - timedelta(hours=region.stale_after_hours)
    stale = Capacity.objects.filter(location=OuterRef("pk")).filter(
        Q(confirmed_at__isnull=True) | Q(confirmed_at__lt=cutoff)
    )
    reminded = StaleCountReminder.objects.filter(location=OuterRef("pk"), is_open=True)
    return list(
        Location.objects.filter(organisation__region=region, is_active=True)
        .filter(Exists(stale))
        .exclude(Exists(reminded))
        .order_by("pk")
    )


def stale_reminders_create(*, now: datetime | None = None) -> int:
    """Remind the planners of every stale location that has no open reminder; a stale location
    without a planner to e-mail becomes a contact problem for the desk. Returns the number of
    reminders created. Safe to run twice and concurrently (partial unique constraints on open
    reminders per location and planner, and on open reminder problems per location)."""
    now = now or timezone.now()
    # Reminders whose link has expired are closed, so the location can be reminded again.
    StaleCountReminder.objects.filter(is_open=True, expires_at__lte=now).update(is_open=False)
    # Problems of locations that can be reached again are closed; they are reminded as usual.
    contact_problems_resolve_reachable(now=now)
    created = 0
    for region in Region.objects.all():
        locations = stale_locations(region=region, now=now)
        if not locations:
            continue
        planners: dict[int, list[User]] = {}
        for user in User.objects.filter(
            is_active=True,
            role=Role.PROVIDER_STAFF,
            organisation_id__in={location.organisation_id for location in locations},
        ).exclude(email=""):
            planners.setdefault(user.organisation_id, []).append(user)
        for location in locations:
            for user in planners.get(location.organisation_id, []):
                created += _create_reminder(location=location, user=user, now=now)
        _report_unheard([location for location in locations if location.organisation_id not in planners], region=region)
    return created


def _report_unheard(locations: list[Location], *, region: Region) -> None:
    """Nobody to remind: the desk sees it (and phones) instead of the reminder vanishing."""
    if not locations:
        return
    reported = set(
        ContactProblem.objects.filter(
            kind=ContactProblemKind.REMINDER_UNHEARD,
            resolved_at__isnull=True,
            location_id__in=[location.pk for location in locations],
        ).values_list("location_id", flat=True)
    )
    for location in locations:
        if location.pk not in reported:
            contact_problem_raise(
                region_id=region.pk, location_id=location.pk, kind=ContactProblemKind.REMINDER_UNHEARD
            )


def _create_reminder(*, location: Location, user: User, now: datetime) -> int:
    try:
        with transaction.atomic():
            reminder = StaleCountReminder.objects.create(
                location=location,
                user=user,
                nonce=secrets.token_urlsafe(24),
                created_at=now,
                expires_at=now + REMINDER_VALID_FOR,
            )
            from beds.tasks import send_stale_reminder_email  # the task module imports this one

            outbox_wake_after_commit(task=send_stale_reminder_email, pks=[reminder.pk])
    except IntegrityError:  # another run reminded this planner a moment ago
        return 0
    return 1


def stale_reminder_token(reminder: StaleCountReminder) -> str:
    return signing.dumps({"r": reminder.pk, "n": reminder.nonce}, salt=REMINDER_SALT)


def stale_reminder_for_token(token: str, *, now: datetime | None = None) -> StaleCountReminder:
    """The reminder a link stands for, or ReminderLinkInvalid / Expired / Used."""
    try:
        data = signing.loads(token, salt=REMINDER_SALT, max_age=REMINDER_VALID_FOR)
    except signing.SignatureExpired:
        raise ReminderLinkExpired() from None
    except signing.BadSignature:
        raise ReminderLinkInvalid() from None
    if not isinstance(data, dict) or not isinstance(data.get("r"), int) or not isinstance(data.get("n"), str):
        raise ReminderLinkInvalid()
    reminder = (
        StaleCountReminder.objects.select_related("location", "location__organisation", "user")
        .filter(pk=data["r"], nonce=data["n"])
        .first()
    )
    if reminder is None:
        raise ReminderLinkInvalid()
    if reminder.used_at is not None:
        raise ReminderLinkUsed()
    if reminder.is_expired(now):
        raise ReminderLinkExpired()
    user = reminder.user
    if (
        not user.is_active
        or user.role != Role.PROVIDER_STAFF
        or user.organisation_id != reminder.location.organisation_id
    ):
        # The planner left the organisation or changed role: the link no longer speaks for them.
        raise ReminderLinkInvalid()
    return reminder


@transaction.atomic
def stale_reminder_use(*, token: str) -> StaleCountReminder:
    """ "Klopt nog" from the e-mail: confirm every count of the location as the reminded
    planner. Works once: the reminder is marked used with a conditional update in the same
    transaction as the confirmation."""
    reminder = stale_reminder_for_token(token)
    now = timezone.now()
    claimed = StaleCountReminder.objects.filter(pk=reminder.pk, used_at__isnull=True).update(used_at=now, is_open=False)
    if not claimed:
        raise ReminderLinkUsed()
    services.location_capacities_confirm(location_id=reminder.location_id, by=reminder.user)
    reminder.used_at = now
    reminder.is_open = False
    logger.info("stale reminder %s used: location %s confirmed", reminder.pk, reminder.location_id)
    return reminder
