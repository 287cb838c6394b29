"""Who hears about what. Creates in-app notifications (also the e-mail outbox) and asks
Celery to send the e-mails once the transaction has committed."""

from django.db import transaction

from accounts.models import Role, User
from referrals.models import Notification, Offer, Referral


class Kind:
    SUBMITTED = "referral_submitted"
    OFFER_RECEIVED = "offer_received"
    OFFER_ACCEPTED = "offer_accepted"
    OFFER_DECLINED = "offer_declined"
    OFFER_EXPIRED = "offer_expired"
    # Escalations (referrals/escalations.py)
    ESCALATION_UNTRIAGED = "escalation_untriaged"
    ESCALATION_URGENT_UNPLACED = "escalation_urgent_unplaced"
    ESCALATION_DISCHARGE_TOMORROW = "escalation_discharge_tomorrow"


def _enqueue_email(notification_id: int) -> None:
    from referrals.tasks import send_notification_email

    send_notification_email.delay(notification_id)


def notify(*, users, referral: Referral, kind: str) -> list[Notification]:
    notifications = Notification.objects.bulk_create(
        [Notification(user=user, referral=referral, kind=kind) for user in users]
    )
    for notification in notifications:
        # robust: a broker outage must not fail the user's action; the outbox sweep sends it later.
        transaction.on_commit(lambda pk=notification.pk: _enqueue_email(pk), robust=True)
    return notifications


def _desk(referral: Referral):
    return User.objects.filter(is_active=True, role=Role.COORDINATOR, organisation__region_id=referral.region_id)


def notify_submitted(referral: Referral) -> None:
    notify(users=_desk(referral), referral=referral, kind=Kind.SUBMITTED)


def notify_offer_received(offer: Offer) -> None:
    planners = User.objects.filter(
        is_active=True, role=Role.PROVIDER_STAFF, organisation_id=offer.location.organisation_id
    )
    notify(users=planners, referral=offer.referral, kind=Kind.OFFER_RECEIVED)


def notify_offer_accepted(offer: Offer) -> None:
    notify(users=[offer.referral.referred_by], referral=offer.referral, kind=Kind.OFFER_ACCEPTED)


def notify_offer_closed(offer: Offer, *, kind: str) -> None:
    """Declined or expired: the referrer and the desk must look for another bed."""
    users = {offer.referral.referred_by, *_desk(offer.referral)}
    notify(users=users, referral=offer.referral, kind=kind)
