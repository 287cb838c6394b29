"""Celery tasks of the referral desk. They take ids, re-read, and are safe to run twice."""

import logging

from celery import shared_task
from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone, translation

from elvdesk.outbox import (
    SEND_TASK_OPTIONS,
    outbox_claim,
    outbox_close_unsent,
    outbox_due,
    outbox_send,
    outbox_wake,
)
from providers.models import DutyOfCareMessage
from referrals import services
from referrals.duty_of_care import age_in_years
from referrals.models import Notification, Offer, OfferState, Patient

logger = logging.getLogger(__name__)


@shared_task(**SEND_TASK_OPTIONS)
def send_notification_email(self, notification_id: int) -> bool:
    """Send one notification e-mail through the outbox (elvdesk/outbox.py): claimed with a
    lease, marked sent once the mail server accepted it."""
    if not outbox_claim(model=Notification, pk=notification_id):
        return False
    notification = Notification.objects.select_related("user", "referral").get(pk=notification_id)
    user = notification.user
    if not user.email:
        outbox_close_unsent(model=Notification, pk=notification_id)
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
    outbox_send(task=self, model=Notification, pk=notification_id, message=message)
    logger.info("notification %s e-mailed (kind %s)", notification_id, notification.kind)
    return True


@shared_task(**SEND_TASK_OPTIONS)
def send_duty_of_care_email(self, message_id: int) -> bool:
    """Zorgplicht (referrals/duty_of_care.py): one e-mail to an insurer's duty-of-care contact,
    in Dutch, pseudonymised, through the outbox like every other e-mail."""
    if not outbox_claim(model=DutyOfCareMessage, pk=message_id):
        return False
    row = DutyOfCareMessage.objects.select_related(
        "organisation", "escalation__referral__product", "escalation__referral__region"
    ).get(pk=message_id)
    organisation, escalation = row.organisation, row.escalation
    referral = escalation.referral
    birth, insurer_id = Patient.objects.filter(pk=referral.patient_id).values_list("date_of_birth", "insurer_id").get()
    # Still the patient's insurer's organisation, in the referral's region, with an address.
    still_entitled = organisation.insurer_id == insurer_id and organisation.region_id == referral.region_id
    if not (organisation.is_active and organisation.duty_of_care_email and still_entitled):
        outbox_close_unsent(model=DutyOfCareMessage, pk=message_id)
        return False
    with translation.override("nl"):
        context = {
            "referral_number": referral.pk,
            "organisation": organisation,
            "region": referral.region,
            "product": referral.product.name,
            "age": age_in_years(birth),
            "waiting_hours": int((escalation.created_at - referral.created_at).total_seconds() // 3600),
            "limit_hours": referral.region.search_limit_hours,
        }
        subject = render_to_string("referrals/email/duty_of_care_subject.txt", context).strip()
        body = render_to_string("referrals/email/duty_of_care_body.txt", context)
    message = EmailMultiAlternatives(subject, body, to=[organisation.duty_of_care_email])
    outbox_send(task=self, model=DutyOfCareMessage, pk=message_id, message=message)
    logger.info("duty of care e-mail %s sent (escalation %s)", message_id, escalation.pk)
    return True


@shared_task(acks_late=True, time_limit=120, soft_time_limit=100)
def send_pending_notification_emails() -> int:
    """Outbox sweep: e-mails that could not be queued (broker down) or whose worker died.
    Also the duty-of-care e-mails to insurers (same outbox, same sweep)."""
    sent = outbox_wake(task=send_notification_email, pks=outbox_due(rows=Notification.objects.all()))
    return sent + outbox_wake(task=send_duty_of_care_email, pks=outbox_due(rows=DutyOfCareMessage.objects.all()))


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


@shared_task(acks_late=True, time_limit=120, soft_time_limit=100)
def propose_freed_beds() -> dict:
    """The desk keeps looking: beds that came free, proposed to the referrals they fit
    (referrals/proposals.py). Safe to repeat."""
    from referrals.proposals import proposals_update

    return proposals_update()


@shared_task(acks_late=True, time_limit=120, soft_time_limit=100)
def take_reserved_beds() -> dict:
    """Planned admissions whose day has come: their reserved beds become occupied ones
    (referrals/reservations.py). Safe to repeat."""
    from referrals.reservations import reservations_take

    return reservations_take()


@shared_task(acks_late=True, time_limit=600, soft_time_limit=540)
def pseudonymise_closed_referrals() -> dict:
    """Retention: pseudonymise patients whose referrals closed longer ago than the region's
    term, in batches of 500 patients (one transaction each) until none is due (referrals/retention.py)."""
    from referrals.retention import retention_run

    return retention_run()
