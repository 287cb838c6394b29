"""Planned discharges reserved at their date (docs/architecture.md §2.12).

A referral with a planned date after today is offered as a reservation (`Offer.for_date`): the
offer holds no bed today, the provider accepts against the beds it expects by then
(`Capacity.reservable`), and the accepted reservation counts in `Capacity.reserved`, not in
`available`. On its day `reservations_take` turns it into an occupied bed. When the bed is not
there — the day before, the free and expected beds do not cover the reservations due; on the day,
no bed is free to take — the desk is escalated (`reservations_at_risk`, kind
`reservation_at_risk`, referrals/escalations.py) while there is still a day to find another.

`klikmoment_days` is the "Klikmoment" list for the desk's daily meeting with the hospitals.
"""

import logging
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from django.db import transaction
from django.db.models import Prefetch
from django.utils import timezone

from beds import services as beds
from providers.models import Region
from referrals.models import LIVE_STATES, Escalation, EscalationKind, Offer, OfferState, Referral, State, Urgency

logger = logging.getLogger(__name__)

BATCH = 500
KLIKMOMENT_DAYS = 7


def reservation_day(referral: Referral, *, now: datetime) -> date | None:
    """The day a planned admission's bed is reserved for: its planned date, when that is after
    today (§2.12). Today's or an unplanned admission takes a bed now."""
    if (
        referral.urgency == Urgency.PLANNED
        and referral.planned_date
        and referral.planned_date > timezone.localdate(now)
    ):
        return referral.planned_date
    return None


def _due(today: date):
    return Offer.objects.filter(
        state=OfferState.ACCEPTED, for_date__isnull=False, for_date__lte=today, taken_at__isnull=True
    ).filter(referral__state=State.ACCEPTED)


def reservation_take(*, offer_id: int, now: datetime | None = None) -> bool:
    """Take the reserved bed of an accepted reservation whose day has come. Safe twice: False when
    it was taken (or ended) already, or when no bed is free (the escalation job reports that)."""
    now = now or timezone.now()
    with transaction.atomic():
        offer = (
            Offer.objects.select_for_update(of=("self",), skip_locked=True)
            .filter(
                pk=offer_id, state=OfferState.ACCEPTED, taken_at__isnull=True, for_date__lte=timezone.localdate(now)
            )
            .first()
        )
        if offer is None:
            return False
        try:
            beds.capacity_take_reserved(capacity_id=offer.capacity_id, by=None)
        except beds.NoFreeBed:
            return False
        offer.taken_at = now
        offer.save(update_fields=["taken_at"])
    logger.info("reserved bed taken for offer %s", offer_id)
    return True


def reservations_take(*, now: datetime | None = None) -> dict[str, int]:
    now = now or timezone.now()
    due = list(_due(timezone.localdate(now)).values_list("pk", flat=True)[:BATCH])
    taken = sum(1 for offer_id in due if reservation_take(offer_id=offer_id, now=now))
    return {"taken": taken, "waiting": len(due) - taken}


def reservations_at_risk(*, region: Region, now: datetime) -> list[Offer]:
    """Accepted reservations of the region due by tomorrow, not yet taken, at a bed count whose
    free beds (plus, for tomorrow, the beds expected within 24 hours) do not cover all of them.
    The latest reservations at such a count are the ones at risk."""
    today = timezone.localdate(now)
    tomorrow = today + timedelta(days=1)
    reservations = list(
        _due(tomorrow)
        .filter(referral__region=region)
        .select_related("capacity", "location", "referral__referred_by")
        .order_by("capacity_id", "for_date", "answered_at", "pk")[:BATCH]
    )
    by_capacity: dict[int, list[Offer]] = {}
    for offer in reservations:
        by_capacity.setdefault(offer.capacity_id, []).append(offer)
    at_risk = []
    for offers in by_capacity.values():
        capacity = offers[0].capacity
        covered = capacity.free
        if any(offer.for_date > today for offer in offers):
            covered += capacity.expected_24h
        at_risk.extend(offers[max(covered, 0) :])
    return at_risk


# --- Klikmoment -------------------------------------------------------------------------------


class ReservationState:
    NO_BED = "no_bed"
    OFFERED = "offered"
    RESERVED = "reserved"
    AT_RISK = "at_risk"
    TAKEN = "taken"
    ADMITTED = "admitted"


@dataclass
class PlannedDay:
    day: date
    referrals: list[Referral] = field(default_factory=list)


def _state_of(referral: Referral) -> tuple[str, Offer | None]:
    booking = next((o for o in referral.klik_offers if o.state == OfferState.ACCEPTED), None)
    if referral.state == State.ADMITTED:
        return ReservationState.ADMITTED, booking
    if booking is not None:
        if referral.klik_risks:
            return ReservationState.AT_RISK, booking
        if booking.taken_at is not None or booking.for_date is None:
            return ReservationState.TAKEN, booking
        return ReservationState.RESERVED, booking
    open_offers = [o for o in referral.klik_offers if o.state == OfferState.OPEN]
    if open_offers:
        return ReservationState.OFFERED, open_offers[0]
    return ReservationState.NO_BED, None


def klikmoment_days(*, referrals, now: datetime, days: int = KLIKMOMENT_DAYS) -> list[PlannedDay]:
    """Per day from today, the planned discharges of the coming days among `referrals` (already
    scoped to what the user may see) with their reservation state. Four queries."""
    today = timezone.localdate(now)
    rows = list(
        referrals.filter(
            urgency=Urgency.PLANNED,
            planned_date__gte=today,
            planned_date__lt=today + timedelta(days=days),
            state__in=LIVE_STATES,
        )
        .select_related("patient", "product", "organisation")
        .prefetch_related(
            Prefetch(
                "offers",
                queryset=Offer.objects.filter(state__in=(OfferState.OPEN, OfferState.ACCEPTED)).select_related(
                    "location"
                ),
                to_attr="klik_offers",
            ),
            Prefetch(
                "escalations",
                queryset=Escalation.objects.filter(kind=EscalationKind.RESERVATION_AT_RISK, resolved_at__isnull=True),
                to_attr="klik_risks",
            ),
        )
        .order_by("planned_date", "created_at", "pk")
    )
    by_day = {today + timedelta(days=n): PlannedDay(day=today + timedelta(days=n)) for n in range(days)}
    for referral in rows:
        referral.reservation_state, referral.reservation_offer = _state_of(referral)
        by_day[referral.planned_date].referrals.append(referral)
    return list(by_day.values())
