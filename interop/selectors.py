"""Reads for provider systems and FHIR clients: bed counts of an organisation, and the counts of
a region at any moment, rebuilt from the append-only CapacityChange history."""

from dataclasses import dataclass
from datetime import datetime

from django.db.models import Exists, OuterRef, Prefetch, QuerySet, Subquery

from beds.models import Capacity, CapacityChange, ChangeSource
from beds.selectors import mark_staleness
from providers.models import Location, Organisation, Region

# Changes that set confirmed_at (a person or system saying "these figures are right").
CONFIRMING_SOURCES = (ChangeSource.WEB, ChangeSource.API, ChangeSource.CONFIRM, ChangeSource.ADMIN)


def organisation_capacity_locations(*, organisation: Organisation, location_ids=None) -> list[Location]:
    """The organisation's locations (all, or those in `location_ids`) with every count."""
    capacities = Capacity.objects.select_related("product").order_by("product__sort_order", "product__code")
    locations = Location.objects.filter(organisation=organisation).order_by("name", "pk")
    if location_ids is not None:
        locations = locations.filter(pk__in=location_ids)
    locations = list(locations.prefetch_related(Prefetch("capacities", queryset=capacities)))
    return mark_staleness(locations, stale_after_hours=organisation.region.stale_after_hours)


@dataclass(frozen=True)
class CountsAt:
    """One bed count as it was at a moment."""

    capacity_id: int
    location_id: int
    product_id: int
    total: int
    available: int
    held: int
    expected_24h: int
    expected_72h: int
    confirmed_at: datetime | None
    reserved: int = 0  # planned admissions booked for a later day (not in available)

    @property
    def free(self) -> int:
        return self.available - self.held


def _changes(**filters) -> QuerySet:
    return CapacityChange.objects.filter(capacity=OuterRef("pk"), **filters)


def capacities_at(capacities: QuerySet, *, at: datetime | None = None) -> list[CountsAt]:
    """The counts of `capacities` at moment `at` (now when None), in one query.

    At `at` a count had the `after` of its last change up to then; without one, the `before` of
    its first change after then; without any change, today's values (the count has not changed
    since). It was confirmed at its last confirming change up to then; a count without history
    keeps today's confirmed_at when that lies before `at`.
    """
    if at is None:
        return [_current(capacity) for capacity in capacities]
    annotated = capacities.annotate(
        after_then=Subquery(_changes(changed_at__lte=at).order_by("-changed_at", "-id").values("after")[:1]),
        before_next=Subquery(_changes(changed_at__gt=at).order_by("changed_at", "id").values("before")[:1]),
        confirmed_then=Subquery(
            _changes(changed_at__lte=at, source__in=CONFIRMING_SOURCES)
            .order_by("-changed_at", "-id")
            .values("changed_at")[:1]
        ),
        confirmed_later=Exists(_changes(changed_at__gt=at, source__in=CONFIRMING_SOURCES)),
    )
    rows = []
    for capacity in annotated:
        counts = capacity.after_then or capacity.before_next or capacity.snapshot()
        confirmed_at = capacity.confirmed_then
        if (
            confirmed_at is None
            and not capacity.confirmed_later
            and capacity.confirmed_at
            and capacity.confirmed_at <= at
        ):
            confirmed_at = capacity.confirmed_at
        rows.append(
            CountsAt(
                capacity_id=capacity.pk,
                location_id=capacity.location_id,
                product_id=capacity.product_id,
                confirmed_at=confirmed_at,
                **{
                    name: counts.get(name, 0)
                    for name in ("total", "available", "held", "expected_24h", "expected_72h", "reserved")
                },
            )
        )
    return rows


def _current(capacity: Capacity) -> CountsAt:
    return CountsAt(
        capacity_id=capacity.pk,
        location_id=capacity.location_id,
        product_id=capacity.product_id,
        confirmed_at=capacity.confirmed_at,
        **capacity.snapshot(),
    )


def region_capacities(region: Region, *, location_id: int | None = None) -> QuerySet:
    capacities = Capacity.objects.filter(location__organisation__region=region).order_by("pk")
    if location_id is not None:
        capacities = capacities.filter(location_id=location_id)
    return capacities


def is_stale(counts: CountsAt, *, at: datetime, stale_after_hours: int) -> bool:
    if counts.confirmed_at is None:
        return True
    return (at - counts.confirmed_at).total_seconds() > stale_after_hours * 3600
