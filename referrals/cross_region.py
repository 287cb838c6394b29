"""Regions working together (docs/architecture.md §2.15): when no bed of the referral's own region
fits, the desk of that region may offer a bed at a location of a neighbouring region that shares
its counts (`Region.share_capacity_with_neighbours`). Only the desk: outside office hours a
referrer calls the desk for it, so a region never finds its beds taken by self-service from next
door. The host region's desk sees such referrals (`selectors.referrals_visible_to`) and may stop
the offer or booking at its own locations (`services.offer_stop`), nothing else of them.
"""

from datetime import datetime

from django.db.models import QuerySet
from django.http import Http404
from django.shortcuts import get_object_or_404
from django.utils.translation import gettext as _

from accounts.models import Role, User
from beds.models import Capacity
from elvdesk.errors import Conflict
from providers.models import Region
from referrals.matching import Suggestion, rank_referrals
from referrals.models import Referral


def sharing_neighbours(region: Region) -> QuerySet[Region]:
    """The neighbouring regions that share their bed counts with `region`."""
    return region.neighbours.filter(share_capacity_with_neighbours=True).order_by("name", "pk")


def capacity_to_offer(capacities: QuerySet[Capacity], *, pk: int, referral: Referral) -> Capacity:
    """The bed count an offer for `referral` is sent to: of its own region or of a sharing
    neighbour (404 for any other, so a count elsewhere is never revealed). The neighbours are read
    only for a count outside the own region."""
    capacity = get_object_or_404(capacities.select_related("location__organisation"), pk=pk)
    region_id = capacity.location.organisation.region_id
    if region_id != referral.region_id and not sharing_neighbours(referral.region).filter(pk=region_id).exists():
        raise Http404
    return capacity


def is_host_desk(user: User, referral: Referral) -> bool:
    """A coordinator of another region than the referral's: the desk where a neighbour's bed is."""
    return (
        user.role == Role.COORDINATOR
        and user.organisation_id is not None
        and (user.organisation.region_id != referral.region_id)
    )


def own_region_fits(referral: Referral, *, now: datetime) -> bool:
    return bool(rank_referrals([referral], region=referral.region, now=now)[referral.pk])


def neighbour_suggestions(referral: Referral, *, now: datetime) -> list[Suggestion]:
    """The beds of sharing neighbours that fit, best first, each ranked by its own region's rules
    (freshness); empty while a bed of the own region fits. Prefetch the referral's care needs."""
    if own_region_fits(referral, now=now):
        return []
    found = []
    for neighbour in sharing_neighbours(referral.region):
        found += rank_referrals([referral], region=neighbour, now=now)[referral.pk]
    return sorted(found, key=Suggestion.rank)


def check_neighbour_offer(*, referral: Referral, capacity: Capacity, by: User, now: datetime) -> None:
    """Refuse an offer to another region's bed unless the rules above allow it (409)."""
    if by.role != Role.COORDINATOR or is_host_desk(by, referral):
        raise Conflict(
            _("Only the desk of the referral's region offers a bed in a neighbouring region."),
            code="neighbour_desk_only",
        )
    if not sharing_neighbours(referral.region).filter(pk=capacity.location.organisation.region_id).exists():
        raise Conflict(
            _("This location is in a region that does not share its beds with yours."),
            code="not_a_sharing_neighbour",
        )
    if own_region_fits(referral, now=now):
        raise Conflict(
            _("A bed in your own region fits this patient: offer that one first."),
            code="bed_in_own_region",
        )
