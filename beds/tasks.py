"""Celery tasks for bed counts: daily overviews, stale-count reminders and their e-mails.

Every task takes ids, re-reads, and is safe to run twice or concurrently: snapshots and
reminders are created under unique constraints, e-mails are claimed with a conditional UPDATE
(a lease, so a crashed worker's claim runs out) before they are sent.
"""

import logging
from datetime import timedelta

from celery import shared_task
from celery.utils.time import get_exponential_backoff_interval
from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.db.models import Q
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone, translation

from beds import overviews, reminders
from beds.models import Capacity, OverviewDelivery, OverviewSubscription, StaleCountReminder

logger = logging.getLogger(__name__)

# Longer than a send task may run (time_limit), so a live claim never runs out under a worker.
CLAIM_LEASE = timedelta(minutes=10)
# Retries back off exponentially (with jitter) up to 10 minutes, far below the broker's
# visibility timeout (settings.CELERY_BROKER_TRANSPORT_OPTIONS, 1 hour), so a retry waiting in a
# worker is never redelivered to another one. (Celery's retry_backoff options apply only to
# autoretry_for, so the countdown is computed in _send.)
RETRY_BACKOFF_SECONDS = 10
RETRY_BACKOFF_MAX = 600
SEND_OPTIONS = {
    "bind": True,
    "acks_late": True,
    "max_retries": 8,
    "time_limit": 60,
    "soft_time_limit": 50,
}


def _unclaimed(now) -> Q:
    return Q(claimed_at__isnull=True) | Q(claimed_at__lt=now - CLAIM_LEASE)


def _claim(model, pk: int) -> bool:
    now = timezone.now()
    return bool(model.objects.filter(_unclaimed(now), pk=pk, sent_at__isnull=True).update(claimed_at=now))


def _send(task, model, pk: int, message: EmailMultiAlternatives) -> None:
    try:
        message.send()
    except Exception as error:  # SMTP trouble: give the claim back and try again later
        model.objects.filter(pk=pk).update(claimed_at=None)
        countdown = get_exponential_backoff_interval(
            factor=RETRY_BACKOFF_SECONDS, retries=task.request.retries, maximum=RETRY_BACKOFF_MAX, full_jitter=True
        )
        raise task.retry(exc=error, countdown=countdown) from error
    model.objects.filter(pk=pk).update(sent_at=timezone.now())


def _finish_unsent(model, pk: int) -> None:
    """Nothing to send (recipient gone or unsubscribed): close the outbox row."""
    model.objects.filter(pk=pk).update(sent_at=timezone.now())


@shared_task(**SEND_OPTIONS)
def send_overview_email(self, delivery_id: int) -> bool:
    """Mail one daily overview to one subscriber, in the subscriber's language."""
    if not _claim(OverviewDelivery, delivery_id):
        return False
    delivery = OverviewDelivery.objects.select_related("user", "snapshot", "snapshot__region").get(pk=delivery_id)
    user, snapshot = delivery.user, delivery.snapshot
    subscribed = OverviewSubscription.objects.filter(user=user, region=snapshot.region).exists()
    if not (user.is_active and user.email and subscribed):
        _finish_unsent(OverviewDelivery, delivery_id)
        return False
    with translation.override(user.language or settings.LANGUAGE_CODE):
        context = {
            "user": user,
            "snapshot": snapshot,
            "region": snapshot.region,
            "table": overviews.overview_table(snapshot),
            "link": settings.SITE_URL + reverse("beds:overview_snapshot", args=[snapshot.pk]),
            "settings_link": settings.SITE_URL + reverse("beds:overview_subscription"),
        }
        subject = render_to_string("beds/email/overview_subject.txt", context).strip()
        body = render_to_string("beds/email/overview.txt", context)
        html = render_to_string("beds/email/overview.html", context)
        attachment = overviews.overview_csv(snapshot)
    message = EmailMultiAlternatives(subject, body, to=[user.email])
    message.attach_alternative(html, "text/html")
    message.attach(overviews.overview_csv_filename(snapshot), attachment, "text/csv")
    _send(self, OverviewDelivery, delivery_id, message)
    logger.info("bed overview %s e-mailed (delivery %s)", snapshot.pk, delivery_id)
    return True


@shared_task(**SEND_OPTIONS)
def send_stale_reminder_email(self, reminder_id: int) -> bool:
    """Mail one "are these counts still correct?" reminder with its signed link."""
    if not _claim(StaleCountReminder, reminder_id):
        return False
    reminder = StaleCountReminder.objects.select_related("user", "location", "location__organisation__region").get(
        pk=reminder_id
    )
    user = reminder.user
    if not (user.is_active and user.email and reminder.is_open and not reminder.is_expired()):
        _finish_unsent(StaleCountReminder, reminder_id)
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
    _send(self, StaleCountReminder, reminder_id, message)
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
    settled = now - timedelta(minutes=1)  # give the on-commit enqueue its chance first
    deliveries = (
        OverviewDelivery.objects.filter(
            _unclaimed(now),
            sent_at__isnull=True,
            created_at__lte=settled,
            created_at__gt=now - overviews.DELIVERY_WINDOW,
        )
        .order_by("pk")
        .values_list("pk", flat=True)[:500]
    )
    pending_reminders = (
        StaleCountReminder.objects.filter(
            _unclaimed(now), sent_at__isnull=True, is_open=True, expires_at__gt=now, created_at__lte=settled
        )
        .order_by("pk")
        .values_list("pk", flat=True)[:500]
    )
    count = 0
    for delivery_id in list(deliveries):
        send_overview_email.delay(delivery_id)
        count += 1
    for reminder_id in list(pending_reminders):
        send_stale_reminder_email.delay(reminder_id)
        count += 1
    return count
