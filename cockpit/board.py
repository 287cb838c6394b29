"""The regional board ("Regiobord"): open referrals per state, with their SLA and next step.

Reads only; a fixed number of queries whatever the number of referrals (docs/architecture.md §6.1):
counts per state, the cards (at most BOARD_COLUMN_LIMIT per state, most urgent first),
their care needs, current offers and open escalations, and for the cards that are searching a
bed the best location to offer (the same order as the referral page's suggestions), each
flagged when nobody at the location hears of offers in the portal (providers.reachability).
"""

import math
from dataclasses import dataclass, field
from datetime import datetime, time, timedelta

from django.db.models import Case, Count, F, IntegerField, Prefetch, Value, When, Window
from django.db.models.functions import RowNumber
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from accounts.models import User
from beds.models import Capacity
from providers.models import PostcodeArea, Region
from providers.reachability import unreachable_location_ids
from referrals import models as referral_models
from referrals.matching import locations_offering_laag_and_hoog
from referrals.models import OPEN_STATES, DeclineReason, Offer, OfferState, Referral, State, Urgency
from referrals.selectors import referrals_visible_to

BOARD_COLUMN_LIMIT = 12  # cards per state; the rest is one click away in the referral list
WARN_SHARE = 0.25  # "due soon" when less than a quarter of the allowed time is left


def escalation_model():
    """`referrals.models.Escalation` once it exists (another part of the desk adds it)."""
    return getattr(referral_models, "Escalation", None)


# --- SLA --------------------------------------------------------------------------------------


class SlaState:
    OK = "ok"
    DUE_SOON = "due_soon"
    OVERDUE = "overdue"
    BOOKED = "booked"


@dataclass(frozen=True)
class Sla:
    state: str
    text: str  # the SLA in words: the colour is never the only signal
    deadline: datetime | None = None

    @property
    def sort_key(self) -> tuple:
        order = {SlaState.OVERDUE: 0, SlaState.DUE_SOON: 1, SlaState.OK: 2, SlaState.BOOKED: 3}[self.state]
        return (order, self.deadline or datetime.max.replace(tzinfo=timezone.get_current_timezone()))


def format_duration(delta: timedelta) -> str:
    """ "2 d 3 h", "3 h 10 min", "12 min" — rounded down to whole minutes."""
    minutes = max(0, int(delta.total_seconds() // 60))
    days, rest = divmod(minutes, 24 * 60)
    hours, minutes = divmod(rest, 60)
    if days:
        return _("%(days)s d %(hours)s h") % {"days": days, "hours": hours}
    if hours:
        return _("%(hours)s h %(minutes)s min") % {"hours": hours, "minutes": minutes}
    return _("%(minutes)s min") % {"minutes": minutes}


def placement_deadline(referral: Referral, region: Region) -> datetime:
    """When the bed must be booked: the region's urgent placement time for "today", 24 hours
    for "within 24 hours", and the start of the planned day for a planned admission."""
    if referral.urgency == Urgency.TODAY:
        return referral.created_at + timedelta(hours=region.urgent_placement_hours)
    if referral.urgency == Urgency.PLANNED and referral.planned_date:
        return timezone.make_aware(datetime.combine(referral.planned_date, time.min))
    return referral.created_at + timedelta(hours=24)


def referral_sla(referral: Referral, region: Region, now: datetime) -> Sla:
    if referral.state == State.ACCEPTED:
        return Sla(SlaState.BOOKED, _("Bed booked"))
    if referral.state == State.SUBMITTED:
        deadline = referral.created_at + timedelta(minutes=region.triage_sla_minutes)
        goal = ngettext("triage within %(n)s minute", "triage within %(n)s minutes", region.triage_sla_minutes) % {
            "n": region.triage_sla_minutes
        }
    else:
        deadline = placement_deadline(referral, region)
        goal = _("bed booked by %(when)s") % {"when": timezone.localtime(deadline).strftime("%d-%m %H:%M")}
    left = deadline - now
    window = max(deadline - referral.created_at, timedelta(minutes=1))
    if left <= timedelta(0):
        return Sla(
            SlaState.OVERDUE,
            _("Overdue by %(time)s (%(goal)s)") % {"time": format_duration(-left), "goal": goal},
            deadline,
        )
    if left <= window * WARN_SHARE:
        return Sla(
            SlaState.DUE_SOON,
            _("Due soon: %(time)s left (%(goal)s)") % {"time": format_duration(left), "goal": goal},
            deadline,
        )
    return Sla(
        SlaState.OK, _("On time: %(time)s left (%(goal)s)") % {"time": format_duration(left), "goal": goal}, deadline
    )


# --- Offer suggestion -------------------------------------------------------------------------


def _haversine_km(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    lat1, lon1, lat2, lon2 = map(math.radians, (lat1, lon1, lat2, lon2))
    a = math.sin((lat2 - lat1) / 2) ** 2 + math.cos(lat1) * math.cos(lat2) * math.sin((lon2 - lon1) / 2) ** 2
    return 2 * 6371.0 * math.asin(math.sqrt(a))


@dataclass
class OfferSuggestion:
    capacity: Capacity
    contracted: bool
    distance_km: float | None
    stale: bool


def offer_suggestions(referrals: list[Referral], region: Region, now: datetime) -> dict[int, OfferSuggestion]:
    """The best location to offer each searching referral, with the referral page's hard filters
    (product with a free unheld bed, every care need, admission possible, not declined before
    except for "no bed") and its order (insurer contracted, distance, fresh count, laag and hoog).
    Four queries for all cards together; `referrals` must have `care_needs` prefetched."""
    searching = [r for r in referrals if r.state == State.SEARCHING]
    if not searching:
        return {}
    capacities = list(
        Capacity.objects.filter(
            location__organisation__region=region,
            location__is_active=True,
            product_id__in={r.product_id for r in searching},
            available__gt=F("held"),
        )
        .select_related("location", "location__organisation", "product")
        .prefetch_related("location__features", "location__contracted_insurers")
    )
    both = locations_offering_laag_and_hoog(list({capacity.location_id for capacity in capacities}))
    # Per bed count once, not once per card: features, insurers, freshness, laag-and-hoog.
    facts = {
        capacity.pk: (
            {feature.pk for feature in capacity.location.features.all()},
            {insurer.pk for insurer in capacity.location.contracted_insurers.all()},
            capacity.is_stale(stale_after_hours=region.stale_after_hours, now=now),
        )
        for capacity in capacities
    }
    for capacity in capacities:
        capacity.laag_and_hoog = capacity.location_id in both
    declined = set(
        Offer.objects.filter(referral__in=searching, state=OfferState.DECLINED)
        .exclude(decline_reason=DeclineReason.NO_BED)
        .values_list("referral_id", "location_id")
    )
    areas = {
        area.pc4: area
        for area in PostcodeArea.objects.filter(
            pc4__in={r.patient.postcode[:4] for r in searching if r.patient.postcode}
        )
    }
    local_time = timezone.localtime(now).time()
    suggestions = {}
    for referral in searching:
        needs = {need.pk for need in referral.care_needs.all()}
        origin = areas.get(referral.patient.postcode[:4])
        options = []
        for capacity in capacities:
            location = capacity.location
            if capacity.product_id != referral.product_id or (referral.pk, location.pk) in declined:
                continue
            features, insurers, stale = facts[capacity.pk]
            if not needs <= features:
                continue
            if referral.urgency == Urgency.PLANNED:
                if not (location.admission_24_7 or location.admission_from is not None):
                    continue
            elif not location.admits_at(local_time):
                continue
            contracted = referral.patient.insurer_id is not None and referral.patient.insurer_id in insurers
            distance = (
                _haversine_km(origin.latitude, origin.longitude, location.latitude, location.longitude)
                if origin is not None and location.latitude is not None
                else None
            )
            options.append(OfferSuggestion(capacity, contracted, distance, stale))
        options.sort(
            key=lambda o: (
                not o.contracted,
                o.distance_km if o.distance_km is not None else 9999,
                o.stale,
                not o.capacity.laag_and_hoog,
            )
        )
        if options:
            suggestions[referral.pk] = options[0]
    return suggestions


# --- The board ----------------------------------------------------------------------------------


@dataclass
class Column:
    state: str
    label: str
    total: int
    cards: list[Referral] = field(default_factory=list)

    @property
    def hidden(self) -> int:
        return self.total - len(self.cards)


@dataclass
class Board:
    columns: list[Column]
    referrals: list[Referral]
    updated_at: datetime

    @property
    def total(self) -> int:
        return sum(column.total for column in self.columns)


def _urgency_rank():
    return Case(
        When(urgency=Urgency.TODAY, then=Value(0)),
        When(urgency=Urgency.WITHIN_24H, then=Value(1)),
        default=Value(2),
        output_field=IntegerField(),
    )


def regional_board(
    *,
    user: User,
    product=None,
    urgency: str = "",
    origin: str = "",
    state: str = "",
    now: datetime | None = None,
    unreachable_ids: frozenset[int] | None = None,
) -> Board:
    """`unreachable_ids`: the region's locations without a planner (providers.reachability), when
    the caller has them already; their suggestions and offers are flagged "no planner — phone"."""
    now = now or timezone.now()
    region = user.organisation.region
    if unreachable_ids is None:
        unreachable_ids = frozenset(unreachable_location_ids(region_id=region.pk))
    referrals = referrals_visible_to(user).filter(region=region, state__in=[state] if state else OPEN_STATES)
    if product is not None:
        referrals = referrals.filter(product=product)
    if urgency:
        referrals = referrals.filter(urgency=urgency)
    if origin:
        referrals = referrals.filter(origin=origin)
    totals = dict(referrals.order_by().values_list("state").annotate(n=Count("id")))

    current_offers = Offer.objects.filter(state__in=[OfferState.OPEN, OfferState.ACCEPTED]).select_related("location")
    prefetches = ["care_needs", Prefetch("offers", queryset=current_offers, to_attr="current_offers")]
    escalation = escalation_model()
    if escalation is not None:
        open_escalations = escalation.objects.filter(resolved_at__isnull=True).order_by("created_at")
        prefetches.append(Prefetch("escalations", queryset=open_escalations, to_attr="open_escalations"))
    cards = list(
        referrals.annotate(
            board_rank=Window(
                RowNumber(),
                partition_by=[F("state")],
                order_by=[
                    _urgency_rank().asc(),
                    F("planned_date").asc(nulls_first=True),
                    F("created_at").asc(),
                    F("id").asc(),
                ],
            )
        )
        .filter(board_rank__lte=BOARD_COLUMN_LIMIT)
        .prefetch_related(*prefetches)
    )
    suggestions = offer_suggestions(cards, region, now)
    for card in cards:
        card.sla = referral_sla(card, region, now)
        card.waiting = format_duration(now - card.created_at)
        card.in_state_for = format_duration(now - card.state_changed_at)
        card.suggestion = suggestions.get(card.pk)
        card.current_offer = next(iter(card.current_offers), None)
        card.suggestion_unreachable = (
            card.suggestion is not None and card.suggestion.capacity.location_id in unreachable_ids
        )
        card.offer_unreachable = card.current_offer is not None and card.current_offer.location_id in unreachable_ids
        if escalation is None:
            card.open_escalations = []
    columns = []
    for value in OPEN_STATES:
        if state and value != state:
            continue
        column_cards = sorted((c for c in cards if c.state == value), key=lambda c: (c.sla.sort_key, c.created_at))
        columns.append(Column(state=value, label=State(value).label, total=totals.get(value, 0), cards=column_cards))
    return Board(columns=columns, referrals=cards, updated_at=now)
