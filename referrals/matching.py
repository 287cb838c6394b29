"""Ranks locations for a referral (docs/architecture.md §2.3) and says why, in words."""

from dataclasses import dataclass, field
from datetime import date, datetime

from django.db.models import F, Q
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.timesince import timesince
from django.utils.translation import gettext as _

from beds.models import Capacity
from elvdesk.numbers import format_number
from providers.geo import distance_between
from providers.models import Location, PostcodeArea, Region
from referrals.models import DeclineReason, Offer, OfferState, Referral, Urgency
from referrals.reservations import reservation_day


@dataclass
class Suggestion:
    """One location to offer a referral, with the facts it was ranked by and the reasons in words."""

    location: Location
    capacity: Capacity
    contracted: bool = False
    distance_km: float | None = None
    stale: bool = False
    laag_and_hoog: bool = False
    preferred: bool = False
    for_date: date | None = None  # a reservation for a planned admission on a later day
    beds: int = 0  # free now, or reservable by `for_date`
    reasons: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    def rank(self) -> tuple:
        """The one order (docs/architecture.md §2.3): a confirmed count always before one not
        confirmed within the region's freshness limit ("fresh beats near": a stale count may be
        gone), then the location the referrer chose, insurer contracted, distance, laag and hoog."""
        return (
            self.stale,
            not self.preferred,
            not self.contracted,
            self.distance_km if self.distance_km is not None else 9999,
            not self.laag_and_hoog,
            self.location.name,
        )


def _admission_possible(location: Location, referral: Referral, now) -> bool:
    if referral.urgency == Urgency.PLANNED:
        return location.admission_24_7 or location.admission_from is not None
    return location.admits_at(timezone.localtime(now).time())


def match_locations(*, referral: Referral, limit: int = 20) -> list[Suggestion]:
    """The referral's suggestions, best first, explained (`rank_referrals`). Not cached: the
    referral's page caches what it renders of them (referrals/suggestions_cache.py)."""
    now = timezone.now()
    suggestions = rank_referrals([referral], region=referral.region, now=now).get(referral.pk, [])[:limit]
    for suggestion in suggestions:
        _explain(suggestion, referral, now)
    return suggestions


def explain(suggestions: list[Suggestion], *, referral: Referral, now: datetime) -> list[Suggestion]:
    """Fill in the reasons and warnings of suggestions ranked elsewhere (a neighbouring region's)."""
    for suggestion in suggestions:
        _explain(suggestion, referral, now)
    return suggestions


def rank_referrals(referrals: list[Referral], *, region: Region, now: datetime) -> dict[int, list[Suggestion]]:
    """The one ranking function, for the referral page, the board's best match and the API: per
    referral every location that fits, best first (`Suggestion.rank`), without reasons in words.

    Hard filters: an active location of the region with the product and a free unheld bed, every
    required care need, admission possible at the requested time, not declined before for this
    referral (unless for "no bed"), no open offer of this referral there already. A fixed number of
    queries for all referrals together; prefetch `care_needs` on a list of referrals."""
    products = {referral.product_id for referral in referrals}
    if not referrals:
        return {}
    capacities = list(
        Capacity.objects.filter(
            location__organisation__region=region,
            location__is_active=True,
            product_id__in=products,
        )
        # A bed free now, or (for a planned admission on a later day) one expected by then.
        .filter(Q(available__gt=F("held")) | Q(expected_24h__gt=0) | Q(expected_72h__gt=0))
        .select_related("location", "location__organisation", "product")
        .prefetch_related("location__features", "location__contracted_insurers")
    )
    both = locations_offering_laag_and_hoog(list({capacity.location_id for capacity in capacities}))
    # Per bed count once, not once per referral: features, insurers, freshness.
    facts = {
        capacity.pk: (
            {feature.pk for feature in capacity.location.features.all()},
            {insurer.pk for insurer in capacity.location.contracted_insurers.all()},
            capacity.is_stale(stale_after_hours=region.stale_after_hours, now=now),
        )
        for capacity in capacities
    }
    excluded = set(
        Offer.objects.filter(referral__in=referrals)
        .filter(Q(state=OfferState.OPEN) | Q(state=OfferState.DECLINED) & ~Q(decline_reason=DeclineReason.NO_BED))
        .values_list("referral_id", "location_id")
    )
    areas = {
        area.pc4: area
        for area in PostcodeArea.objects.filter(
            pc4__in={r.patient.postcode[:4] for r in referrals if r.patient.postcode}
        )
    }
    ranked = {}
    today = timezone.localdate(now)
    for referral in referrals:
        day = reservation_day(referral, now=now)
        needs = {need.pk for need in referral.care_needs.all()}
        origin = areas.get(referral.patient.postcode[:4])
        options = []
        for capacity in capacities:
            location = capacity.location
            if capacity.product_id != referral.product_id or (referral.pk, location.pk) in excluded:
                continue
            features, insurers, stale = facts[capacity.pk]
            beds = capacity.free if day is None else capacity.reservable(day, today=today)
            if beds < 1 or not needs <= features or not _admission_possible(location, referral, now):
                continue
            capacity.stale = stale
            options.append(
                Suggestion(
                    location=location,
                    capacity=capacity,
                    contracted=referral.patient.insurer_id is not None and referral.patient.insurer_id in insurers,
                    distance_km=(
                        distance_between(origin.latitude, origin.longitude, location.latitude, location.longitude)
                        if origin is not None and location.latitude is not None
                        else None
                    ),
                    stale=stale,
                    laag_and_hoog=location.pk in both,
                    preferred=location.pk == referral.preferred_location_id,
                    for_date=day,
                    beds=beds,
                )
            )
        options.sort(key=Suggestion.rank)
        ranked[referral.pk] = options
    for capacity in capacities:
        # Cached and read on every view of the referral: without the prefetched features and
        # insurers a suggestion unpickles several times faster.
        capacity.location.__dict__.pop("_prefetched_objects_cache", None)
    return ranked


def locations_offering_laag_and_hoog(location_ids: list[int]) -> set[int]:
    """The candidates that offer both ELV laag and hoog, in one query over those locations only
    (as EXISTS subqueries PostgreSQL hashed every laag and hoog bed count in the country)."""
    pairs = Capacity.objects.filter(location_id__in=location_ids, product__code__in=("elv_laag", "elv_hoog"))
    products: dict[int, set[str]] = {}
    for location_id, code in pairs.values_list("location_id", "product__code"):
        products.setdefault(location_id, set()).add(code)
    return {location_id for location_id, codes in products.items() if len(codes) == 2}


def _explain(suggestion: Suggestion, referral: Referral, now) -> None:
    location, capacity = suggestion.location, suggestion.capacity
    reasons, warnings = suggestion.reasons, suggestion.warnings
    if suggestion.preferred:
        reasons.append(_("Chosen by the referrer on the bed overview"))
    if suggestion.for_date is None:
        reasons.append(
            _("%(free)s free %(product)s bed(s)") % {"free": capacity.free, "product": capacity.product.name}
        )
    else:
        reasons.append(
            _("%(beds)s %(product)s bed(s) free or expected by %(day)s: reserved for that day, none held now")
            % {
                "beds": suggestion.beds,
                "product": capacity.product.name,
                "day": date_format(suggestion.for_date, "j F"),
            }
        )
    if referral.patient.insurer_id is None:
        warnings.append(_("Insurer of the patient unknown: check the contract."))
    elif suggestion.contracted:
        reasons.append(_("Contracted by %(insurer)s") % {"insurer": referral.patient.insurer.name})
    else:
        warnings.append(_("Not contracted by %(insurer)s") % {"insurer": referral.patient.insurer.name})
    if suggestion.distance_km is not None:
        reasons.append(_("%(km)s km from the patient's home") % {"km": format_number(suggestion.distance_km, 1)})
    if suggestion.stale:
        warnings.append(
            _(
                "Count not confirmed in the last %(hours)s hours: ranked after confirmed counts; "
                "call before sending an offer."
            )
            % {"hours": referral.region.stale_after_hours}
        )
    elif capacity.confirmed_at:
        reasons.append(_("Count confirmed %(ago)s ago") % {"ago": timesince(capacity.confirmed_at, now)})
    if suggestion.laag_and_hoog:
        reasons.append(_("Offers laag and hoog: no move when care is stepped up or down"))
    if location.admission_24_7:
        reasons.append(_("Admission 24/7"))
    required = list(referral.care_needs.all())
    if required:
        reasons.append(_("Has %(features)s") % {"features": ", ".join(f.name for f in required)})
