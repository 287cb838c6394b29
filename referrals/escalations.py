"""The escalation ladder (docs/architecture.md §2.8): referrals that need the desk's attention.

A periodic job (`escalations_update`) raises what is due and resolves what is no longer:

- untriaged: submitted and not picked up within the region's triage_sla_minutes → the desk;
- offer_unanswered: an offer expired without an answer (expiry already released the hold, put
  the referral back to searching and told the referrer and the desk) → recorded, shown;
- urgent_unplaced: urgency today / within 24 h and no bed booked within the region's
  urgent_placement_hours → the desk, with the free beds of neighbouring regions as a hint;
- discharge_tomorrow: a planned discharge (urgency planned) due tomorrow or earlier and no bed
  yet → the referrer (transfer nurse) and the desk;
- waiting_long: still searching longer than the region's search_limit_hours after it was
  submitted (today / within 24 h; planned ones have discharge_tomorrow) → the desk, with the beds
  that came free meanwhile and fitted it (referrals/proposals.py), so nobody waits unseen;
- reservation_at_risk: a planned admission's reserved bed due by tomorrow that the provider's free
  (and, for tomorrow, expected) beds do not cover, or that could not be taken on its day
  (referrals/reservations.py) → the desk and the referrer, a day ahead where possible.

Each cause is recorded once while open (partial unique constraints; an unanswered offer once
ever), so a second or concurrent run raises nothing and notifies nobody twice.
"""

import logging
from datetime import datetime, timedelta

from django.db import IntegrityError, transaction
from django.db.models import Exists, F, OuterRef, Q
from django.utils import timezone

from accounts.models import Role, User
from beds.models import Capacity
from elvdesk.page_cache import region_changed
from providers.models import Region
from referrals import notifications
from referrals.duty_of_care import duty_of_care_notify
from referrals.models import Escalation, EscalationKind, Offer, OfferState, Referral, State, Urgency
from referrals.proposals import freed_meanwhile
from referrals.reservations import reservations_at_risk

logger = logging.getLogger(__name__)

# States in which the patient has no bed booked yet.
UNPLACED_STATES = (State.SUBMITTED, State.TRIAGE, State.SEARCHING, State.OFFERED)
URGENT = (Urgency.TODAY, Urgency.WITHIN_24H)
BATCH = 500
NEIGHBOUR_HINT_LIMIT = 8

NOTIFICATION_KIND = {
    EscalationKind.UNTRIAGED: notifications.Kind.ESCALATION_UNTRIAGED,
    EscalationKind.URGENT_UNPLACED: notifications.Kind.ESCALATION_URGENT_UNPLACED,
    EscalationKind.DISCHARGE_TOMORROW: notifications.Kind.ESCALATION_DISCHARGE_TOMORROW,
    EscalationKind.WAITING_LONG: notifications.Kind.ESCALATION_WAITING_LONG,
    EscalationKind.RESERVATION_AT_RISK: notifications.Kind.ESCALATION_RESERVATION_AT_RISK,
}


def _tomorrow(now: datetime):
    return timezone.localdate(now) + timedelta(days=1)


def _desk(region_id: int):
    return list(User.objects.filter(is_active=True, role=Role.COORDINATOR, organisation__region_id=region_id))


def _open(kind: str):
    return Escalation.objects.filter(referral=OuterRef("pk"), kind=kind, resolved_at__isnull=True)


def neighbour_free_beds(*, region: Region, product_id: int, now: datetime | None = None) -> list[dict]:
    """Free beds of `product` in the neighbouring regions, most free first (a hint, no patient data)."""
    now = now or timezone.now()
    capacities = (
        Capacity.objects.filter(
            # Only neighbours that share their counts with neighbouring regions.
            location__organisation__region__in=region.neighbours.filter(share_capacity_with_neighbours=True),
            location__is_active=True,
            product_id=product_id,
            available__gt=F("held"),
        )
        .select_related("location", "location__organisation__region")
        .order_by(F("held") - F("available"), "location__name")[:NEIGHBOUR_HINT_LIMIT]
    )
    return [
        {
            "region": capacity.location.organisation.region.name,
            "location": capacity.location.name,
            "city": capacity.location.city,
            "phone": capacity.location.phone_24_7,
            "free": capacity.free,
            "stale": capacity.is_stale(
                stale_after_hours=capacity.location.organisation.region.stale_after_hours, now=now
            ),
        }
        for capacity in capacities
    ]


def _raise(referral: Referral, kind: str, *, now: datetime, offer: Offer | None = None, details=None, users=()) -> bool:
    """Record one escalation and notify `users`, in one transaction. False when the same cause
    is already recorded (by an earlier or a concurrent run): then nobody is notified."""
    try:
        with transaction.atomic():
            escalation = Escalation.objects.create(
                referral=referral, kind=kind, offer=offer, details=details or {}, created_at=now
            )
            region_changed(referral.region_id)
            if users and kind in NOTIFICATION_KIND:
                notifications.notify(users=users, referral=referral, kind=NOTIFICATION_KIND[kind])
            if kind == EscalationKind.WAITING_LONG:
                # Zorgplicht: the patient's insurer hears it too (referrals/duty_of_care.py).
                duty_of_care_notify(escalation=escalation)
    except IntegrityError:
        return False
    logger.info("escalation %s raised for referral %s", kind, referral.pk)
    return True


def _raise_for_region(region: Region, *, now: datetime) -> int:
    raised = 0
    desk = None

    def desk_users():
        nonlocal desk
        if desk is None:
            desk = _desk(region.pk)
        return desk

    referrals = Referral.objects.filter(region=region).select_related("referred_by")
    untriaged = referrals.filter(
        state=State.SUBMITTED, state_changed_at__lte=now - timedelta(minutes=region.triage_sla_minutes)
    ).exclude(Exists(_open(EscalationKind.UNTRIAGED)))
    for referral in untriaged[:BATCH]:
        raised += _raise(referral, EscalationKind.UNTRIAGED, now=now, users=desk_users())

    urgent = referrals.filter(
        urgency__in=URGENT,
        state__in=UNPLACED_STATES,
        created_at__lte=now - timedelta(hours=region.urgent_placement_hours),
    ).exclude(Exists(_open(EscalationKind.URGENT_UNPLACED)))
    for referral in urgent[:BATCH]:
        hint = {"neighbour_beds": neighbour_free_beds(region=region, product_id=referral.product_id, now=now)}
        raised += _raise(referral, EscalationKind.URGENT_UNPLACED, now=now, details=hint, users=desk_users())

    discharge = referrals.filter(
        urgency=Urgency.PLANNED, planned_date__lte=_tomorrow(now), state__in=UNPLACED_STATES
    ).exclude(Exists(_open(EscalationKind.DISCHARGE_TOMORROW)))
    for referral in discharge[:BATCH]:
        users = {referral.referred_by, *desk_users()}
        details = {"planned_date": referral.planned_date.isoformat()}
        raised += _raise(referral, EscalationKind.DISCHARGE_TOMORROW, now=now, details=details, users=users)

    waiting = (
        referrals.filter(state=State.SEARCHING, created_at__lte=now - timedelta(hours=region.search_limit_hours))
        .exclude(urgency=Urgency.PLANNED)  # planned ones have discharge_tomorrow
        .exclude(Exists(_open(EscalationKind.WAITING_LONG)))
    )
    for referral in waiting[:BATCH]:
        details = {"freed_beds": freed_meanwhile(referral)}
        raised += _raise(referral, EscalationKind.WAITING_LONG, now=now, details=details, users=desk_users())

    at_risk_open = set(
        Escalation.objects.filter(
            referral__region=region, kind=EscalationKind.RESERVATION_AT_RISK, resolved_at__isnull=True
        ).values_list("referral_id", flat=True)
    )
    for offer in reservations_at_risk(region=region, now=now):
        if offer.referral_id in at_risk_open:
            continue
        details = {"location": offer.location.name, "for_date": offer.for_date.isoformat()}
        users = {offer.referral.referred_by, *desk_users()}
        raised += _raise(offer.referral, EscalationKind.RESERVATION_AT_RISK, now=now, details=details, users=users)

    escalated = Escalation.objects.filter(offer=OuterRef("pk"))
    unanswered = (
        Offer.objects.filter(referral__region=region, state=OfferState.EXPIRED, referral__state=State.SEARCHING)
        .exclude(Exists(escalated))
        .select_related("referral", "location")
    )
    for offer in unanswered[:BATCH]:
        details = {"location": offer.location.name, "expired_at": offer.expires_at.isoformat()}
        # The desk and the referrer were told by the expiry itself (notifications.Kind.OFFER_EXPIRED).
        raised += _raise(offer.referral, EscalationKind.OFFER_UNANSWERED, now=now, offer=offer, details=details)
    return raised


def escalations_resolve(*, now: datetime | None = None) -> int:
    """Close every open escalation whose cause is gone. Conditional updates: safe to repeat."""
    now = now or timezone.now()
    open_escalations = Escalation.objects.filter(resolved_at__isnull=True)
    bed_taken = Offer.objects.filter(
        referral=OuterRef("referral"), state=OfferState.ACCEPTED, for_date__isnull=False, taken_at__isnull=False
    )
    gone = (
        Q(kind=EscalationKind.UNTRIAGED) & ~Q(referral__state=State.SUBMITTED)
        | Q(kind=EscalationKind.OFFER_UNANSWERED) & ~Q(referral__state=State.SEARCHING)
        | Q(kind=EscalationKind.URGENT_UNPLACED)
        & (~Q(referral__state__in=UNPLACED_STATES) | ~Q(referral__urgency__in=URGENT))
        | Q(kind=EscalationKind.WAITING_LONG) & ~Q(referral__state__in=UNPLACED_STATES)
        | Q(kind=EscalationKind.RESERVATION_AT_RISK) & (~Q(referral__state=State.ACCEPTED) | Q(Exists(bed_taken)))
        | Q(kind=EscalationKind.DISCHARGE_TOMORROW)
        & (
            ~Q(referral__state__in=UNPLACED_STATES)
            | ~Q(referral__urgency=Urgency.PLANNED)
            | Q(referral__planned_date__gt=_tomorrow(now))
        )
    )
    ids = list(open_escalations.filter(gone).values_list("pk", flat=True)[: BATCH * 4])
    if not ids:
        return 0
    resolved = Escalation.objects.filter(pk__in=ids, resolved_at__isnull=True)
    region_changed(*set(resolved.values_list("referral__region_id", flat=True)))
    return resolved.update(resolved_at=now)


def escalations_raise(*, now: datetime | None = None) -> int:
    now = now or timezone.now()
    return sum(_raise_for_region(region, now=now) for region in Region.objects.all())


def escalations_update(*, now: datetime | None = None) -> dict[str, int]:
    """Resolve first (a cause that is gone is not raised again), then raise what is due."""
    now = now or timezone.now()
    resolved = escalations_resolve(now=now)
    raised = escalations_raise(now=now)
    return {"raised": raised, "resolved": resolved}
