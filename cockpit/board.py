"""The regional board ("Regiobord"): open referrals per state, with their SLA and next step.

Reads only; a fixed number of queries whatever the number of referrals (docs/architecture.md §6.1):
counts per state, the cards (at most BOARD_COLUMN_LIMIT per state, most urgent first),
their care needs, current offers and open escalations, and for the cards that are searching a
bed the best location to offer (the same order as the referral page's suggestions), each
flagged when nobody at the location hears of offers in the portal (providers.reachability).
"""

from dataclasses import dataclass, field
from datetime import datetime, time, timedelta

from django.db.models import Count, F, Prefetch, Window
from django.db.models.functions import RowNumber
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from accounts.models import User
from providers.models import Region
from providers.reachability import unreachable_location_ids
from referrals import models as referral_models
from referrals.matching import Suggestion, rank_referrals
from referrals.models import OPEN_STATES, BedProposal, Offer, OfferState, Referral, State, Urgency
from referrals.selectors import referrals_visible_to
from referrals.urgency import most_urgent_first

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


def offer_suggestions(referrals: list[Referral], region: Region, now: datetime) -> dict[int, Suggestion]:
    """The best location to offer each searching referral: the first of the referral page's
    ranking (`referrals.matching.rank_referrals`, the one ranking function). `referrals` must have
    `care_needs` prefetched."""
    return {
        referral_id: options[0] for referral_id, options in offer_options(referrals, region, now).items() if options
    }


def offer_options(referrals: list[Referral], region: Region, now: datetime) -> dict[int, list[Suggestion]]:
    searching = [r for r in referrals if r.state == State.SEARCHING]
    return rank_referrals(searching, region=region, now=now)


FREED_RECENTLY = timedelta(hours=1)


def came_free(options: dict[int, list[Suggestion]], now: datetime) -> dict[int, list[Suggestion]]:
    """Per searching card, the beds that came free for it in the last hour (referrals/proposals.py)
    and still fit and are free: the desk keeps looking. One query."""
    if not options:
        return {}
    proposed = set(
        BedProposal.objects.filter(referral_id__in=options, created_at__gte=now - FREED_RECENTLY).values_list(
            "referral_id", "capacity_id"
        )
    )
    return {
        referral_id: [s for s in ranked if (referral_id, s.capacity.pk) in proposed]
        for referral_id, ranked in options.items()
    }


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
                    *most_urgent_first(),
                ],
            )
        )
        .filter(board_rank__lte=BOARD_COLUMN_LIMIT)
        .prefetch_related(*prefetches)
    )
    options = offer_options(cards, region, now)
    freed = came_free(options, now)
    for card in cards:
        card.sla = referral_sla(card, region, now)
        card.waiting = format_duration(now - card.created_at)
        card.in_state_for = format_duration(now - card.state_changed_at)
        card.suggestion = next(iter(options.get(card.pk, [])), None)
        card.came_free = freed.get(card.pk, [])
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
