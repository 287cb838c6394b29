"""Ranks locations for a referral (docs/architecture.md §2.3) and says why, in words."""

import hashlib
import time
from dataclasses import dataclass, field

from django.core.cache import cache
from django.db.models import Exists, OuterRef
from django.utils import timezone
from django.utils.timesince import timesince
from django.utils.translation import get_language
from django.utils.translation import gettext as _

from beds.models import Capacity
from beds.selectors import OverviewFilters, location_list, mark_staleness, region_counts_version
from elvdesk.numbers import format_number
from providers.models import Location, PostcodeArea
from referrals.models import DeclineReason, Offer, OfferState, Referral, Urgency


@dataclass
class Suggestion:
    location: Location
    capacity: Capacity
    reasons: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


def _admission_possible(location: Location, referral: Referral, now) -> bool:
    if referral.urgency == Urgency.PLANNED:
        return location.admission_24_7 or location.admission_from is not None
    return location.admits_at(timezone.localtime(now).time())


# Ranking reads the region's locations and counts; the answer is cached per referral for at most
# a minute (ages of counts, stale marks, admission hours), and never past a change of a bed count
# in the region (their fingerprint is in the key) or of the referral. Found slow by `make bench`.
MATCH_CACHE_SECONDS = 60


def match_locations(*, referral: Referral, limit: int = 20) -> list[Suggestion]:
    """Hard filters: the product with a free unheld bed, every required feature, admission
    possible at the requested time, not declined before for this referral. Then ordered by
    insurer contracted, distance, fresh count, and offering both laag and hoog."""
    key = ranking_key(referral=referral, limit=limit)
    suggestions = cache.get(key)
    if suggestions is None:
        suggestions = _rank(referral=referral, limit=limit)
        cache.set(key, suggestions, MATCH_CACHE_SECONDS)
    return suggestions


def ranking_key(*, referral: Referral, limit: int = 20) -> str:
    """The cache key of the referral's ranking: everything it depends on (also the language of
    its reasons and the minute), so anything cached under it is never older than the ranking."""
    patient = referral.patient
    needs = sorted(feature.pk for feature in referral.care_needs.all())
    question = [
        referral.pk,
        referral.state,
        referral.state_changed_at.isoformat(),
        referral.product_id,
        referral.urgency,
        referral.planned_date,
        patient.postcode,
        patient.insurer_id,
        needs,
        limit,
        region_counts_version(region=referral.region),
    ]
    digest = hashlib.sha256(repr(question).encode()).hexdigest()[:32]
    return f"referrals:matches:{referral.pk}:{get_language()}:{int(time.time() // 60)}:{digest}"


def _rank(*, referral: Referral, limit: int) -> list[Suggestion]:
    now = timezone.now()
    required = list(referral.care_needs.all())
    origin = PostcodeArea.objects.filter(pc4=referral.patient.postcode[:4]).first()
    filters = OverviewFilters(product=referral.product, features=required, origin=origin, only_free=True)
    declined = Offer.objects.filter(referral=referral, location=OuterRef("pk"), state=OfferState.DECLINED).exclude(
        decline_reason=DeclineReason.NO_BED
    )
    contracted = Location.contracted_insurers.through.objects.filter(
        location=OuterRef("pk"), insurer_id=referral.patient.insurer_id
    )
    locations = (
        location_list(regions=[referral.region], filters=filters)
        .annotate(insurer_contracted=Exists(contracted))
        .exclude(Exists(declined))
    )
    candidates = mark_staleness(list(locations[:200]), stale_after_hours=referral.region.stale_after_hours)
    both = locations_offering_laag_and_hoog([location.pk for location in candidates])
    for location in candidates:
        location.offers_laag_and_hoog = location.pk in both
    suggestions = []
    for location in candidates:
        if not _admission_possible(location, referral, now):
            continue
        capacity = next(iter(location.capacities.all()))
        suggestions.append(_explain(location, capacity, referral, required, now))
    suggestions.sort(
        key=lambda s: (
            not s.location.insurer_contracted,
            s.location.distance_km if getattr(s.location, "distance_km", None) is not None else 9999,
            s.capacity.stale,
            not s.location.offers_laag_and_hoog,
        )
    )
    suggestions = suggestions[:limit]
    for suggestion in suggestions:
        # The list is cached and read on every view of the referral: without every candidate's
        # prefetched bed counts and features it unpickles about eight times faster.
        suggestion.location.__dict__.pop("_prefetched_objects_cache", None)
    return suggestions


def locations_offering_laag_and_hoog(location_ids: list[int]) -> set[int]:
    """The candidates that offer both ELV laag and hoog, in one query over those locations only
    (as EXISTS subqueries PostgreSQL hashed every laag and hoog bed count in the country)."""
    pairs = Capacity.objects.filter(location_id__in=location_ids, product__code__in=("elv_laag", "elv_hoog"))
    products: dict[int, set[str]] = {}
    for location_id, code in pairs.values_list("location_id", "product__code"):
        products.setdefault(location_id, set()).add(code)
    return {location_id for location_id, codes in products.items() if len(codes) == 2}


def _explain(location: Location, capacity: Capacity, referral: Referral, required: list, now) -> Suggestion:
    suggestion = Suggestion(location=location, capacity=capacity)
    reasons, warnings = suggestion.reasons, suggestion.warnings
    reasons.append(_("%(free)s free %(product)s bed(s)") % {"free": capacity.free, "product": capacity.product.name})
    if referral.patient.insurer_id is None:
        warnings.append(_("Insurer of the patient unknown: check the contract."))
    elif location.insurer_contracted:
        reasons.append(_("Contracted by %(insurer)s") % {"insurer": referral.patient.insurer.name})
    else:
        warnings.append(_("Not contracted by %(insurer)s") % {"insurer": referral.patient.insurer.name})
    distance = getattr(location, "distance_km", None)
    if distance is not None:
        reasons.append(_("%(km)s km from the patient's home") % {"km": format_number(distance, 1)})
    if capacity.stale:
        warnings.append(_("Count not confirmed recently: call before sending an offer."))
    elif capacity.confirmed_at:
        reasons.append(_("Count confirmed %(ago)s ago") % {"ago": timesince(capacity.confirmed_at, now)})
    if location.offers_laag_and_hoog:
        reasons.append(_("Offers laag and hoog: no move when care is stepped up or down"))
    if location.admission_24_7:
        reasons.append(_("Admission 24/7"))
    if required:
        reasons.append(_("Has %(features)s") % {"features": ", ".join(f.name for f in required)})
    return suggestion
