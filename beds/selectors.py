"""Reads of bed capacity. Query counts do not grow with the number of locations."""

from dataclasses import dataclass, field

from django.db.models import Exists, F, OuterRef, Prefetch, QuerySet
from django.utils import timezone

from beds.models import Capacity
from providers.geo import haversine_km
from providers.models import Feature, Insurer, Location, PostcodeArea, Product, Region


@dataclass(frozen=True)
class OverviewFilters:
    product: Product | None = None
    features: list[Feature] = field(default_factory=list)
    insurer: Insurer | None = None
    origin: PostcodeArea | None = None
    max_km: int | None = None
    only_free: bool = False

    @classmethod
    def from_cleaned(cls, data: dict) -> "OverviewFilters":
        """The filters of a cleaned OverviewFilterForm (the page and the API ask the same question)."""
        return cls(
            product=data.get("product"),
            features=list(data.get("features") or []),
            insurer=data.get("insurer"),
            origin=data.get("postcode"),
            max_km=data.get("max_km"),
            only_free=bool(data.get("only_free")),
        )


def mark_staleness(locations, *, stale_after_hours: int) -> list[Location]:
    now = timezone.now()
    for location in locations:
        for capacity in location.capacities.all():
            capacity.stale = capacity.is_stale(stale_after_hours=stale_after_hours, now=now)
        location.any_stale = any(c.stale for c in location.capacities.all())
    return locations


def location_list(*, regions: QuerySet | list[Region], filters: OverviewFilters) -> QuerySet:
    """Active locations of the given regions matching the filters, nearest first when a
    postcode is given. Each location has `capacities` prefetched (only the filtered product)."""
    locations = Location.objects.filter(organisation__region__in=regions, is_active=True).select_related(
        "organisation", "organisation__region"
    )
    capacities = Capacity.objects.select_related("product").order_by("product__sort_order")
    offering = Capacity.objects.filter(location=OuterRef("pk"))
    if filters.product is not None:
        capacities = capacities.filter(product=filters.product)
        offering = offering.filter(product=filters.product)
        locations = locations.filter(Exists(offering))
    if filters.only_free:
        locations = locations.filter(Exists(offering.filter(available__gt=F("held"))))
    for feature in filters.features:
        locations = locations.filter(features=feature)
    if filters.insurer is not None:
        locations = locations.filter(contracted_insurers=filters.insurer)
    if filters.origin is not None:
        locations = locations.annotate(
            distance_km=haversine_km(latitude=filters.origin.latitude, longitude=filters.origin.longitude)
        ).order_by(F("distance_km").asc(nulls_last=True), "name")
        if filters.max_km:
            locations = locations.filter(distance_km__lte=filters.max_km)
    else:
        locations = locations.order_by("name")
    return locations.prefetch_related(Prefetch("capacities", queryset=capacities), "features")


OVERVIEW_LIMIT = 200


def region_overview(*, region: Region, filters: OverviewFilters) -> list[Location]:
    """The regional bed overview: locations with their counts and freshness."""
    locations = list(location_list(regions=[region], filters=filters)[:OVERVIEW_LIMIT])
    return mark_staleness(locations, stale_after_hours=region.stale_after_hours)


def organisation_locations(*, organisation) -> list[Location]:
    """A provider's own locations with all their counts ("Mijn bedden")."""
    capacities = Capacity.objects.select_related("product", "confirmed_by").order_by("product__sort_order")
    locations = list(
        Location.objects.filter(organisation=organisation)
        .order_by("name")
        .prefetch_related(Prefetch("capacities", queryset=capacities))
    )
    return mark_staleness(locations, stale_after_hours=organisation.region.stale_after_hours)
