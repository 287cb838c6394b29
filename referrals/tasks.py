"""Celery tasks of the referral desk. They take ids, re-read, and are safe to run twice."""

import logging
from datetime import timedelta

from celery import shared_task
from celery.utils.time import get_exponential_backoff_interval
from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone, translation

from referrals import services
from referrals.models import Notification, Offer, OfferState

logger = logging.getLogger(__name__)


@shared_task(bind=True, acks_late=True, max_retries=8, time_limit=60, soft_time_limit=50)
def send_notification_email(self, notification_id: int) -> bool:
    """Send one notification e-mail. Claims the row first so two workers never both send."""
    claimed = Notification.objects.filter(pk=notification_id, emailed_at__isnull=True).update(emailed_at=timezone.now())
    if not claimed:
        return False
    notification = Notification.objects.select_related("user", "referral").get(pk=notification_id)
    user = notification.user
    if not user.email:
        return False
    with translation.override(user.language or settings.LANGUAGE_CODE):
        context = {
            "notification": notification,
            "user": user,
            "referral_number": notification.referral_id,
            "link": settings.SITE_URL + reverse("referrals:detail", args=[notification.referral_id]),
        }
        subject = render_to_string("referrals/email/subject.txt", context).strip()
        body = render_to_string("referrals/email/body.txt", context)
        html = render_to_string("referrals/email/body.html", context)
    message = EmailMultiAlternatives(subject, body, to=[user.email])
    message.attach_alternative(html, "text/html")
    try:
        message.send()
    except Exception as error:  # SMTP trouble: give the row back and try again later
        Notification.objects.filter(pk=notification_id).update(emailed_at=None)
        # Exponential backoff with jitter, at most 10 minutes: far below the broker's visibility
        # timeout, so a waiting retry is never handed to a second worker.
        countdown = get_exponential_backoff_interval(
            factor=10, retries=self.request.retries, maximum=600, full_jitter=True
        )
        raise self.retry(exc=error, countdown=countdown) from error
    logger.info("notification %s e-mailed (kind %s)", notification_id, notification.kind)
    return True


@shared_task(acks_late=True, time_limit=120, soft_time_limit=100)
def send_pending_notification_emails() -> int:
    """Outbox sweep: e-mails that could not be queued (broker down) are sent when it is back."""
    cutoff = timezone.now() - timedelta(minutes=1)
    pending = Notification.objects.filter(emailed_at__isnull=True, created_at__lte=cutoff).values_list("pk", flat=True)
    count = 0
    for notification_id in pending[:500]:
        send_notification_email.delay(notification_id)
        count += 1
    return count


@shared_task(acks_late=True, time_limit=120, soft_time_limit=100)
def expire_offers() -> int:
    """Release every offer whose time is up; each one in its own transaction."""
    due = Offer.objects.filter(state=OfferState.OPEN, expires_at__lte=timezone.now()).values_list("pk", flat=True)
    return sum(1 for offer_id in list(due[:500]) if services.offer_expire(offer_id=offer_id))


@shared_task(acks_late=True, time_limit=300, soft_time_limit=240)
def update_escalations() -> dict:
    """The escalation ladder: resolve what is no longer due, raise what is (referrals/escalations.py)."""
    from referrals.escalations import escalations_update

    return escalations_update()


@shared_task(acks_late=True, time_limit=600, soft_time_limit=540)
def pseudonymise_closed_referrals() -> dict:
    """Retention: pseudonymise patients whose referrals closed longer ago than the region's
    term; one transaction per patient (referrals/retention.py)."""
    from referrals.retention import retention_run

    return retention_run()
