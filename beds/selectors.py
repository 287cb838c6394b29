"""Reads of bed capacity. Query counts do not grow with the number of locations."""

from dataclasses import dataclass, field

from django.db import connection
from django.db.models import Exists, F, OuterRef, Prefetch, QuerySet
from django.utils import timezone

from beds.models import Capacity
from providers.geo import haversine_km
from providers.models import Feature, Insurer, Location, Organisation, PostcodeArea, Product, Region


@dataclass(frozen=True)
class OverviewFilters:
    product: Product | None = None
    features: list[Feature] = field(default_factory=list)
    insurer: Insurer | None = None
    origin: PostcodeArea | None = None
    max_km: int | None = None
    only_free: bool = False


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


def region_counts_sql(*, region: Region) -> tuple[str, list]:
    """The query of `region_counts_version`, for fingerprints that combine it with their own."""
    capacity, location, organisation = (model._meta.db_table for model in (Capacity, Location, Organisation))
    sql = (
        "SELECT count(c.id), sum(c.version), sum(c.total), sum(c.available), sum(c.held),"  # nosec B608: table names come from the models
        " sum(c.expected_24h + c.expected_72h * 1000), max(c.confirmed_at)"
        f" FROM {capacity} c JOIN {location} l ON l.id = c.location_id"
        f" JOIN {organisation} o ON o.id = l.organisation_id"
        " WHERE o.region_id = %s AND l.is_active = %s"
    )
    return sql, [region.pk, True]


def region_counts_version(*, region: Region) -> str:
    """A fingerprint of every bed count of the region's active locations, in one aggregate query:
    it changes with any count, confirmation or version bump (also an edit in the admin), so a
    cached overview is never older than the counts it shows.

    Plain SQL because it runs on every overview, referral page and board request, and the ORM
    spends more time building this aggregate than the database spends answering it."""
    with connection.cursor() as cursor:
        cursor.execute(*region_counts_sql(region=region))
        figures = cursor.fetchone()
    return "-".join(map(str, figures))


def organisation_locations(*, organisation) -> list[Location]:
    """A provider's own locations with all their counts ("Mijn bedden")."""
    capacities = Capacity.objects.select_related("product", "confirmed_by").order_by("product__sort_order")
    locations = list(
        Location.objects.filter(organisation=organisation)
        .order_by("name")
        .prefetch_related(Prefetch("capacities", queryset=capacities))
    )
    return mark_staleness(locations, stale_after_hours=organisation.region.stale_after_hours)
