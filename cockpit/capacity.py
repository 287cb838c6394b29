"""The capacity picture: free / held / total beds per product and per location now (each
location flagged when it has no planner to hear of offers), and the trend of free beds per
product over the last 30 days, for the region and for those neighbouring regions that share
their counts. Four queries however many locations or changes.

The trend is a day grid computed by the database: for each capacity and each day, the last
known state at the end of that day is the `after` of the last change before the day ended, or
— when the capacity had no change yet — the `before` of its first change, or else its current
counts (a capacity never changed has always been as it is). Free = available − held.
"""

from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta

from django.db.models import F, IntegerField, OuterRef, Subquery, Sum
from django.db.models.fields.json import KT
from django.db.models.functions import Cast, Coalesce
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.translation import gettext as _

from beds.models import Capacity, CapacityChange
from cockpit import charts
from cockpit.tables import Column, Kind, Table
from providers.models import Location, Region
from providers.reachability import with_planner_flag

TREND_DAYS = 30


@dataclass
class ProductRow:
    product_id: int
    name: str
    total: int
    available: int
    held: int

    @property
    def free(self) -> int:
        return self.available - self.held

    @property
    def occupancy(self) -> float | None:
        """Share of the contracted beds that is occupied (not free, held beds count as free)."""
        return (self.total - self.available) / self.total if self.total else None


@dataclass
class LocationRow:
    location: Location
    capacities: list[Capacity] = field(default_factory=list)
    has_planner: bool = True  # False: nobody there hears of offers in the portal, phone them

    @property
    def any_stale(self) -> bool:
        return any(c.stale for c in self.capacities)


@dataclass
class RegionCapacity:
    region: Region
    is_own: bool
    products: list[ProductRow] = field(default_factory=list)
    locations: list[LocationRow] = field(default_factory=list)
    trend: Table | None = None

    @property
    def stale_count(self) -> int:
        return sum(1 for row in self.locations for c in row.capacities if c.stale)

    @property
    def unreachable_count(self) -> int:
        return sum(1 for row in self.locations if not row.has_planner)

    @property
    def totals(self) -> ProductRow:
        return ProductRow(
            0,
            _("All products"),
            sum(p.total for p in self.products),
            sum(p.available for p in self.products),
            sum(p.held for p in self.products),
        )


def _free(json_field: str):
    return Cast(KT(f"{json_field}__available"), IntegerField()) - Cast(KT(f"{json_field}__held"), IntegerField())


def _free_at(moment: datetime):
    """Free beds of the outer capacity at `moment`, from its change history."""
    last = (
        CapacityChange.objects.filter(capacity=OuterRef("pk"), changed_at__lt=moment)
        .order_by("-changed_at", "-id")
        .annotate(free=_free("after"))
        .values("free")[:1]
    )
    first_after = (
        CapacityChange.objects.filter(capacity=OuterRef("pk"), changed_at__gte=moment)
        .order_by("changed_at", "id")
        .annotate(free=_free("before"))
        .values("free")[:1]
    )
    return Coalesce(
        Subquery(last, output_field=IntegerField()),
        Subquery(first_after, output_field=IntegerField()),
        F("available") - F("held"),
    )


def trend_days(today: date | None = None) -> list[date]:
    today = today or timezone.localdate()
    return [today - timedelta(days=n) for n in range(TREND_DAYS - 1, -1, -1)]


def _day_end(day: date, now: datetime) -> datetime:
    return min(timezone.make_aware(datetime.combine(day + timedelta(days=1), time.min)), now)


def capacity_picture(*, region: Region, now: datetime | None = None) -> list[RegionCapacity]:
    """The region first, then each neighbouring region that shares its counts."""
    now = now or timezone.now()
    neighbours = list(region.neighbours.filter(share_capacity_with_neighbours=True).order_by("name"))
    regions = [RegionCapacity(region, True), *(RegionCapacity(n, False) for n in neighbours)]
    by_id = {rc.region.pk: rc for rc in regions}
    active = Capacity.objects.filter(location__organisation__region__in=by_id, location__is_active=True)

    for row in (
        active.order_by("location__organisation__region_id", "product__sort_order", "product__code")
        .values(
            "location__organisation__region_id", "product_id", "product__name", "product__sort_order", "product__code"
        )
        .annotate(total_sum=Sum("total"), available_sum=Sum("available"), held_sum=Sum("held"))
    ):
        by_id[row["location__organisation__region_id"]].products.append(
            ProductRow(row["product_id"], row["product__name"], row["total_sum"], row["available_sum"], row["held_sum"])
        )

    rows: dict[int, LocationRow] = {}
    for capacity in with_planner_flag(active.select_related("location", "location__organisation", "product")).order_by(
        "location__organisation__region_id", "location__name", "product__sort_order"
    ):
        rc = by_id[capacity.location.organisation.region_id]
        capacity.stale = capacity.is_stale(stale_after_hours=rc.region.stale_after_hours, now=now)
        if capacity.location_id not in rows:
            rows[capacity.location_id] = LocationRow(capacity.location, has_planner=capacity.has_planner)
            rc.locations.append(rows[capacity.location_id])
        rows[capacity.location_id].capacities.append(capacity)

    days = trend_days(timezone.localdate(now))
    grid = {f"d{i}": Sum(_free_at(_day_end(day, now))) for i, day in enumerate(days)}
    trend_rows = list(
        active.order_by("location__organisation__region_id", "product__sort_order", "product__code")
        .values("location__organisation__region_id", "product_id", "product__name")
        .annotate(**grid)
    )
    for rc in regions:
        series = [
            (row["product__name"], [row[f"d{i}"] for i in range(len(days))])
            for row in trend_rows
            if row["location__organisation__region_id"] == rc.region.pk
        ]
        rc.trend = _trend_table(rc.region, days, series)
    return regions


def _trend_table(region: Region, days: list[date], series: list[tuple[str, list[int]]]) -> Table:
    columns = [Column("day", _("Day"), Kind.DATE)] + [
        Column(f"s{i}", name, Kind.INT) for i, (name, _values) in enumerate(series)
    ]
    rows = [
        {"day": day, **{f"s{i}": values[n] for i, (_name, values) in enumerate(series)}} for n, day in enumerate(days)
    ]
    title = _("Free beds per product, last %(days)s days · %(region)s") % {"days": TREND_DAYS, "region": region.name}
    table = Table(
        f"trend-{region.code}",
        title,
        _(
            "Free beds (free minus held by open offers) per product at the end of each day, summed over the "
            "region's active locations, from the history of every change to the bed counts. Today: now."
        ),
        columns,
        rows,
    )
    table.chart = charts.line_chart(
        chart_id=f"chart-trend-{region.code}",
        title=title,
        description=_("Line chart with one line per product: free beds at the end of each day, %(start)s to %(end)s.")
        % {"start": date_format(days[0]), "end": date_format(days[-1])},
        x_labels=[date_format(day, "j M") for day in days],
        series=series,
    )
    return table
