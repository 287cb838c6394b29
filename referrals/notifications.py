"""Who hears about what. Creates in-app notifications (also the e-mail outbox) and asks
Celery to send the e-mails once the transaction has committed."""

from accounts.models import Role, User
from elvdesk.outbox import outbox_wake_after_commit
from providers.contact_problems import contact_problem_raise
from providers.models import ContactProblemKind
from referrals.models import Notification, Offer, Referral, Stay


class Kind:
    SUBMITTED = "referral_submitted"
    OFFER_RECEIVED = "offer_received"
    OFFER_ACCEPTED = "offer_accepted"
    OFFER_DECLINED = "offer_declined"
    OFFER_EXPIRED = "offer_expired"
    OFFER_WITHDRAWN = "offer_withdrawn"
    # The desk of a neighbouring region stopped a cross-region offer or booking (services.offer_stop).
    OFFER_STOPPED = "offer_stopped"
    BOOKING_CANCELLED = "booking_cancelled"
    NO_SHOW = "no_show"
    # The referrer hears how the referral ended: the patient is in the bed, and left it again.
    PATIENT_ADMITTED = "patient_admitted"
    PATIENT_DISCHARGED = "patient_discharged"
    # Escalations (referrals/escalations.py)
    ESCALATION_UNTRIAGED = "escalation_untriaged"
    ESCALATION_URGENT_UNPLACED = "escalation_urgent_unplaced"
    ESCALATION_DISCHARGE_TOMORROW = "escalation_discharge_tomorrow"
    ESCALATION_WAITING_LONG = "escalation_waiting_long"
    ESCALATION_RESERVATION_AT_RISK = "escalation_reservation_at_risk"
    # A bed came free that fits a searching referral (referrals/proposals.py).
    BED_PROPOSED = "bed_proposed"
    # Nobody at the provider heard an offer or a cancelled booking: the desk phones them.
    PROVIDER_UNREACHABLE = "provider_unreachable"


def notify(*, users, referral: Referral, kind: str) -> list[Notification]:
    from referrals.tasks import send_notification_email  # the tasks import the services, which import this

    notifications = Notification.objects.bulk_create(
        [Notification(user=user, referral=referral, kind=kind) for user in users]
    )
    # A broker outage must not fail or slow the user's action; the outbox sweep sends them later.
    outbox_wake_after_commit(task=send_notification_email, pks=[notification.pk for notification in notifications])
    return notifications


def _desk(referral: Referral):
    return User.objects.filter(is_active=True, role=Role.COORDINATOR, organisation__region_id=referral.region_id)


def notify_submitted(referral: Referral) -> None:
    notify(users=_desk(referral), referral=referral, kind=Kind.SUBMITTED)


def _planners(offer: Offer):
    """The planners of the provider the offer went to."""
    return User.objects.filter(is_active=True, role=Role.PROVIDER_STAFF, organisation_id=offer.location.organisation_id)


def _notify_planners_or_desk(offer: Offer, *, kind: str, problem_kind: str) -> None:
    """The provider's planners; with none, a problem for the desk instead of a message to
    nobody, and the region's coordinators are told (once per offer and kind)."""
    planners = list(_planners(offer))
    if planners:
        notify(users=planners, referral=offer.referral, kind=kind)
        return
    _problem, created = contact_problem_raise(
        region_id=offer.referral.region_id,
        location_id=offer.location_id,
        kind=problem_kind,
        referral_id=offer.referral_id,
        offer_id=offer.pk,
    )
    if created:
        notify(users=_desk(offer.referral), referral=offer.referral, kind=Kind.PROVIDER_UNREACHABLE)


def notify_offer_received(offer: Offer) -> None:
    _notify_planners_or_desk(offer, kind=Kind.OFFER_RECEIVED, problem_kind=ContactProblemKind.OFFER_UNHEARD)


def notify_offer_withdrawn(offer: Offer) -> None:
    """The provider need not answer any more (another location accepted, or the desk withdrew)."""
    notify(users=_planners(offer), referral=offer.referral, kind=Kind.OFFER_WITHDRAWN)


def notify_offer_accepted(offer: Offer) -> None:
    notify(users=[offer.referral.referred_by], referral=offer.referral, kind=Kind.OFFER_ACCEPTED)


def notify_booking_cancelled(offer: Offer) -> None:
    """The provider expects a patient who will not come; its bed count has it back already."""
    _notify_planners_or_desk(offer, kind=Kind.BOOKING_CANCELLED, problem_kind=ContactProblemKind.CANCELLATION_UNHEARD)


def notify_no_show(offer: Offer) -> None:
    """The referrer and the desk: the patient did not arrive where the bed was booked."""
    notify(users={offer.referral.referred_by, *_desk(offer.referral)}, referral=offer.referral, kind=Kind.NO_SHOW)


def notify_offer_closed(offer: Offer, *, kind: str) -> None:
    """Declined or expired: the referrer and the desk must look for another bed."""
    users = {offer.referral.referred_by, *_desk(offer.referral)}
    notify(users=users, referral=offer.referral, kind=kind)


def _referrer(referral: Referral):
    """The referrer, while their account is active (someone who left the practice hears nothing)."""
    return User.objects.filter(pk=referral.referred_by_id, is_active=True)


def notify_admitted(stay: Stay) -> None:
    notify(users=_referrer(stay.referral), referral=stay.referral, kind=Kind.PATIENT_ADMITTED)


def notify_discharged(stay: Stay) -> None:
    # The notification's text (the in-app list and the e-mail) says only that the patient was
    # discharged. Where to is patient data: it is shown on the referral page, behind the sign-in
    # and the access log, never in an e-mail (Notification carries no patient data).
    notify(users=_referrer(stay.referral), referral=stay.referral, kind=Kind.PATIENT_DISCHARGED)
