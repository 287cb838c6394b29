"""Celery tasks of the accounts: the invitation e-mails.

They go through the outbox (elvdesk/outbox.py): each Invitation row is claimed with a lease and
marked sent once the mail server accepted it; the sweep queues what could not be queued (broker
down) or whose worker died.
"""

import logging

from celery import shared_task
from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone, translation

from accounts import invitations
from accounts.models import Invitation
from accounts.twofactor import two_factor_required
from elvdesk.outbox import (
    SEND_TASK_OPTIONS,
    outbox_claim,
    outbox_close_unsent,
    outbox_due,
    outbox_send,
    outbox_wake,
)

logger = logging.getLogger(__name__)


@shared_task(**SEND_TASK_OPTIONS)
def send_invitation_email(self, invitation_id: int) -> bool:
    """Mail one invitation with its signed link, in the invitee's language. An invitation that
    can no longer be used (replaced, used, expired, user deactivated) is closed unsent."""
    if not outbox_claim(model=Invitation, pk=invitation_id):
        return False
    invitation = Invitation.objects.select_related("user", "user__organisation__region").get(pk=invitation_id)
    user = invitation.user
    usable = (
        user.is_active
        and user.email
        and invitation.used_at is None
        and not invitation.is_expired()
        and not user.has_usable_password()
        and invitations.is_newest(invitation)
    )
    if not usable:
        outbox_close_unsent(model=Invitation, pk=invitation_id)
        return False
    region = user.organisation.region if user.organisation_id else None
    with translation.override(user.language or settings.LANGUAGE_CODE):
        context = {
            "user": user,
            "role": user.get_role_display(),
            "organisation": user.organisation,
            "region": region,
            "desk_phone": region.desk_phone if region else "",
            "two_factor": two_factor_required(user),
            "expires_at": invitation.expires_at,
            "link": settings.SITE_URL + reverse("invitation_accept", args=[invitations.invitation_token(invitation)]),
        }
        subject = render_to_string("accounts/email/invitation_subject.txt", context).strip()
        body = render_to_string("accounts/email/invitation.txt", context)
        html = render_to_string("accounts/email/invitation.html", context)
    message = EmailMultiAlternatives(subject, body, to=[user.email])
    message.attach_alternative(html, "text/html")
    outbox_send(task=self, model=Invitation, pk=invitation_id, message=message)
    logger.info("invitation %s e-mailed (user %s)", invitation_id, user.pk)
    return True


@shared_task(acks_late=True, time_limit=120, soft_time_limit=100)
def send_pending_invitation_emails() -> int:
    """Outbox sweep: invitation e-mails that could not be queued (broker down) or whose worker
    died are queued again. Used and expired ones are left: their link helps nobody."""
    now = timezone.now()
    due = outbox_due(rows=Invitation.objects.filter(used_at__isnull=True, expires_at__gt=now), now=now)
    return outbox_wake(task=send_invitation_email, pks=due)
