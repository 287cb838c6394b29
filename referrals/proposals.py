"""The desk keeps looking (docs/architecture.md §2.11): when a bed comes free, the referrals still
searching that it fits are proposed.

A periodic job (`proposals_update`, every minute) reads the bed-count history of the last minutes
for changes that made a bed offerable (a count raised, a discharge, a decline, an expiry, a
withdrawal, a cancelled booking) and ranks the region's searching referrals with the one ranking
function (`referrals.matching.rank_referrals`): every referral the freed bed fits gets a
`BedProposal` (shown on the board, most urgent and longest waiting first). In self-service hours
the referrers of the first referrals in that order — as many as the count has free beds — are told,
in one notification per referral and at most one per `QUIET` (no storm when many beds move).

Reading history rather than being called by each service keeps the count services free of
referral logic, and makes the job safe to repeat or to run after an outage: a change is proposed
once per referral (unique constraint), whichever run sees it first.
"""

import logging
from datetime import datetime, timedelta

from django.utils import timezone

from beds.models import CapacityChange
from elvdesk.page_cache import region_changed
from providers.models import Region
from referrals import notifications
from referrals.matching import rank_referrals
from referrals.models import BedProposal, Notification, Referral, State
from referrals.urgency import most_urgent_first, urgency_order

logger = logging.getLogger(__name__)

LOOKBACK = timedelta(minutes=10)  # several runs see each change: one missed run loses nothing
QUIET = timedelta(minutes=30)  # a referrer hears of freed beds at most this often per referral
REFERRALS_PER_REGION = 500


def _offerable(snapshot: dict) -> int:
    return snapshot.get("available", 0) - snapshot.get("held", 0)


def freed_changes(*, since: datetime) -> dict[int, CapacityChange]:
    """Per bed count, the latest change since `since` that left more beds offerable than before."""
    changes = (
        CapacityChange.objects.filter(changed_at__gte=since, capacity__location__is_active=True)
        .select_related("capacity__location__organisation")
        .order_by("changed_at", "id")
    )
    return {change.capacity_id: change for change in changes if _offerable(change.after) > _offerable(change.before)}


def proposals_update(*, now: datetime | None = None) -> dict[str, int]:
    now = now or timezone.now()
    freed = freed_changes(since=now - LOOKBACK)
    by_region: dict[int, dict[int, CapacityChange]] = {}
    for capacity_id, change in freed.items():
        by_region.setdefault(change.capacity.location.organisation.region_id, {})[capacity_id] = change
    totals = {"proposed": 0, "notified": 0}
    for region in Region.objects.filter(pk__in=by_region):
        proposed, notified = _propose_in_region(region, by_region[region.pk], now=now)
        totals["proposed"] += proposed
        totals["notified"] += notified
    return totals


def _searching(region: Region) -> list[Referral]:
    return list(
        Referral.objects.filter(region=region, state=State.SEARCHING)
        .select_related("patient", "referred_by")
        .prefetch_related("care_needs")
        .order_by(*most_urgent_first())[:REFERRALS_PER_REGION]
    )


def _propose_in_region(region: Region, freed: dict[int, CapacityChange], *, now: datetime) -> tuple[int, int]:
    referrals = _searching(region)
    if not referrals:
        return 0, 0
    ranked = rank_referrals(referrals, region=region, now=now)
    rows, fits = [], {}
    for referral in referrals:
        for suggestion in ranked.get(referral.pk, []):
            change = freed.get(suggestion.capacity.pk)
            if change is not None:
                rows.append(
                    BedProposal(referral=referral, capacity_id=change.capacity_id, freed_by=change, created_at=now)
                )
                fits.setdefault(change.capacity_id, []).append((referral, suggestion.capacity.free))
    existing = set(
        BedProposal.objects.filter(freed_by__in=[row.freed_by for row in rows]).values_list(
            "referral_id", "freed_by_id"
        )
    )
    new = [row for row in rows if (row.referral_id, row.freed_by_id) not in existing]
    BedProposal.objects.bulk_create(new, ignore_conflicts=True)  # a concurrent run made the same rows
    if new:
        region_changed(region.pk)
    new_keys = {(row.referral_id, row.capacity_id) for row in new}
    notified = 0
    if region.self_service_allowed(now):
        notified = _tell_referrers(fits, new_keys, now=now)
    if new:
        logger.info("%s bed proposals in region %s", len(new), region.pk)
    return len(new), notified


def _tell_referrers(fits: dict[int, list[tuple[Referral, int]]], new_keys: set, *, now: datetime) -> int:
    """One notification per referral: the first referrals in urgency order per freed count, as
    many as it has free beds, unless told within QUIET."""
    chosen: dict[int, Referral] = {}
    for capacity_id, candidates in fits.items():
        free = candidates[0][1]
        for referral, _free in sorted(candidates, key=lambda pair: urgency_order(pair[0]))[:free]:
            if (referral.pk, capacity_id) in new_keys:
                chosen[referral.pk] = referral
    if not chosen:
        return 0
    recent = set(
        Notification.objects.filter(
            referral_id__in=chosen, kind=notifications.Kind.BED_PROPOSED, created_at__gte=now - QUIET
        ).values_list("referral_id", flat=True)
    )
    told = 0
    for referral_id, referral in chosen.items():
        if referral_id in recent or not referral.referred_by.is_active:
            continue
        notifications.notify(users=[referral.referred_by], referral=referral, kind=notifications.Kind.BED_PROPOSED)
        told += 1
    return told


def freed_meanwhile(referral: Referral, *, limit: int = 8) -> list[dict]:
    """The beds that came free and fit while the referral was searching (for its escalation)."""
    proposals = (
        BedProposal.objects.filter(referral=referral)
        .select_related("capacity__location", "capacity__product")
        .order_by("-created_at")[:limit]
    )
    return [
        {
            "location": proposal.capacity.location.name,
            "product": proposal.capacity.product.name,
            "at": proposal.created_at.isoformat(),
        }
        for proposal in proposals
    ]
