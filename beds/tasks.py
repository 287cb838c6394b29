"""Celery tasks for bed counts: daily overviews, stale-count reminders and their e-mails.

Every task takes ids, re-reads, and is safe to run twice or concurrently: snapshots and
reminders are created under unique constraints, e-mails go through the outbox (elvdesk/outbox.py:
claimed with a lease, marked sent once the mail server accepted them).
"""

import hashlib
import json
import logging
import threading

from celery import shared_task
from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone, translation

from beds import overviews, reminders
from beds.models import BedOverviewSnapshot, Capacity, OverviewDelivery, OverviewSubscription, StaleCountReminder
from elvdesk.outbox import (
    SEND_TASK_OPTIONS,
    outbox_claim,
    outbox_close_unsent,
    outbox_due,
    outbox_send,
    outbox_wake,
)

logger = logging.getLogger(__name__)


# What every subscriber of a snapshot gets alike (the subject, the e-mail without its greeting, the
# CSV), kept per snapshot and language for the last few: a worker mails one snapshot to all its
# subscribers in a row, and rendering the table for each of them cost most of the job. The key
# holds everything the parts are made of, so a changed region name or a reused id is a new entry.
_shared_parts: dict[tuple, dict[str, str]] = {}
_shared_parts_lock = threading.Lock()
SHARED_PARTS_KEPT = 8


def _overview_shared_parts(snapshot: BedOverviewSnapshot) -> dict[str, str]:
    """The parts of a snapshot's e-mail that do not depend on the subscriber, in the active language."""
    content = json.dumps([snapshot.slot.isoformat(), snapshot.rows, snapshot.totals], default=str)
    key = (
        snapshot.pk,
        translation.get_language(),
        snapshot.region.name,
        settings.SITE_URL,
        hashlib.blake2b(content.encode(), digest_size=16).digest(),
    )
    with _shared_parts_lock:
        parts = _shared_parts.get(key)
    if parts is not None:
        return parts
    context = {
        "snapshot": snapshot,
        "region": snapshot.region,
        "table": overviews.overview_table(snapshot),
        "link": settings.SITE_URL + reverse("beds:overview_snapshot", args=[snapshot.pk]),
        "settings_link": settings.SITE_URL + reverse("beds:overview_subscription"),
    }
    parts = {
        "subject": render_to_string("beds/email/overview_subject.txt", context).strip(),
        "body": render_to_string("beds/email/overview.txt#shared", context),
        "html": render_to_string("beds/email/overview.html#shared", context),
        "csv": overviews.overview_csv(snapshot),
    }
    with _shared_parts_lock:
        _shared_parts[key] = parts
        while len(_shared_parts) > SHARED_PARTS_KEPT:
            del _shared_parts[next(iter(_shared_parts))]  # the oldest
    return parts


@shared_task(**SEND_TASK_OPTIONS)
def send_overview_email(self, delivery_id: int) -> bool:
    """Mail one daily overview to one subscriber, in the subscriber's language."""
    if not outbox_claim(model=OverviewDelivery, pk=delivery_id):
        return False
    delivery = OverviewDelivery.objects.select_related("user", "snapshot", "snapshot__region").get(pk=delivery_id)
    user, snapshot = delivery.user, delivery.snapshot
    subscribed = OverviewSubscription.objects.filter(user=user, region=snapshot.region).exists()
    if not (user.is_active and user.email and subscribed):
        outbox_close_unsent(model=OverviewDelivery, pk=delivery_id)
        return False
    with translation.override(user.language or settings.LANGUAGE_CODE):
        parts = _overview_shared_parts(snapshot)
        body = render_to_string("beds/email/overview.txt", {"user": user, "shared": parts["body"]})
        html = render_to_string("beds/email/overview.html", {"user": user, "shared": parts["html"]})
    message = EmailMultiAlternatives(parts["subject"], body, to=[user.email])
    message.attach_alternative(html, "text/html")
    message.attach(overviews.overview_csv_filename(snapshot), parts["csv"], "text/csv")
    outbox_send(task=self, model=OverviewDelivery, pk=delivery_id, message=message)
    logger.info("bed overview %s e-mailed (delivery %s)", snapshot.pk, delivery_id)
    return True


@shared_task(**SEND_TASK_OPTIONS)
def send_stale_reminder_email(self, reminder_id: int) -> bool:
    """Mail one "are these counts still correct?" reminder with its signed link."""
    if not outbox_claim(model=StaleCountReminder, pk=reminder_id):
        return False
    reminder = StaleCountReminder.objects.select_related("user", "location", "location__organisation__region").get(
        pk=reminder_id
    )
    user = reminder.user
    if not (user.is_active and user.email and reminder.is_open and not reminder.is_expired()):
        outbox_close_unsent(model=StaleCountReminder, pk=reminder_id)
        return False
    region = reminder.location.organisation.region
    capacities = list(Capacity.objects.filter(location=reminder.location).select_related("product"))
    with translation.override(user.language or settings.LANGUAGE_CODE):
        context = {
            "user": user,
            "location": reminder.location,
            "capacities": capacities,
            "stale_after_hours": region.stale_after_hours,
            "expires_at": reminder.expires_at,
            "link": settings.SITE_URL
            + reverse("beds:reminder_confirm", args=[reminders.stale_reminder_token(reminder)]),
            "my_beds_link": settings.SITE_URL + reverse("beds:my_beds"),
        }
        subject = render_to_string("beds/email/reminder_subject.txt", context).strip()
        body = render_to_string("beds/email/reminder.txt", context)
        html = render_to_string("beds/email/reminder.html", context)
    message = EmailMultiAlternatives(subject, body, to=[user.email])
    message.attach_alternative(html, "text/html")
    outbox_send(task=self, model=StaleCountReminder, pk=reminder_id, message=message)
    logger.info("stale reminder %s e-mailed (location %s)", reminder_id, reminder.location_id)
    return True


@shared_task(acks_late=True, time_limit=300, soft_time_limit=240)
def create_due_bed_overviews() -> int:
    """Every few minutes: the overview of each region whose configured time has passed today
    and that has no snapshot for that slot yet. Returns the number of snapshots created."""
    created = 0
    for region_id, slot in overviews.due_overview_slots():
        _, was_created = overviews.overview_snapshot_create(region_id=region_id, slot=slot)
        created += int(was_created)
    return created


@shared_task(acks_late=True, time_limit=300, soft_time_limit=240)
def remind_stale_bed_counts() -> int:
    """Remind the planners of locations whose counts are stale. Returns reminders created."""
    return reminders.stale_reminders_create()


@shared_task(acks_late=True, time_limit=120, soft_time_limit=100)
def send_pending_bed_emails() -> int:
    """Outbox sweep: overview and reminder e-mails that could not be queued (broker down) or
    whose worker died are queued again. Old ones are left: a day-old overview or an expired
    link helps nobody."""
    now = timezone.now()
    deliveries = outbox_due(
        rows=OverviewDelivery.objects.filter(created_at__gt=now - overviews.DELIVERY_WINDOW), now=now
    )
    pending_reminders = outbox_due(rows=StaleCountReminder.objects.filter(is_open=True, expires_at__gt=now), now=now)
    queued = outbox_wake(task=send_overview_email, pks=deliveries)
    return queued + outbox_wake(task=send_stale_reminder_email, pks=pending_reminders)
