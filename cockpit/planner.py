"""The capacity planner: how many beds a region needs for a chosen chance that an arriving patient
finds no free bed, from the desk's own history and the Erlang loss formula (cockpit/erlang.py).

Per product of the region (ELV products only), over a chosen period of whole days:

- **arrivals**: every referral for the product *submitted* in the period (drafts never count),
  whatever became of it — cancelled and redirected included. That is the demand the desk saw; some
  of it never needed a bed, so the figure errs on the safe side. Arrivals per day = arrivals /
  days in the period.
- **mean length of stay**: the stays of the product (the product the referral asked for, as the
  arrivals) *discharged* in the period, admission to discharge. Stays still running are left out
  (their length is not known yet). Without a discharged stay the national average of
  `DEFAULT_LOS_DAYS` (34 days, Vektis 2019) is used, and the row says so (`los_source`).
- **offered load** (erlangs) = arrivals per day × mean length of stay × (1 + growth).
- **beds today**: the contracted beds (`Capacity.total`) of the region's active locations, plus the
  what-if changes at chosen locations.
- **P(no free bed)** = Erlang B(load, beds); **beds needed** = the fewest beds with P ≤ target.
- **flex**: ELV laag and hoog as one pool (summed load, summed beds) instead of two rows.

A fixed number of queries (five) however many referrals, stays or locations.
"""

from collections.abc import Sequence
from dataclasses import dataclass, field

from django.core.exceptions import ValidationError
from django.db.models import Avg, Count, F, Sum
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from beds.models import Capacity
from cockpit.erlang import beds_needed, erlang_b
from cockpit.periods import Period
from cockpit.stats import SecondsBetween
from providers.models import Location, Product, Region
from referrals.models import Referral, State, Stay

DEFAULT_TARGET = 0.05
DEFAULT_LOS_DAYS = 34.0  # national mean length of ELV stay, 2019 (Vektis; ../shared/data/elv_figures.md)
DEFAULT_PERIOD_DAYS = 90
CURVE_MARGIN = 10  # beds shown either side of today's and the needed number
POOL_CODES = ("elv_laag", "elv_hoog")
POOL_KEY = "flex"
DAY = 86400.0


class LosSource:
    HISTORY = "history"
    DEFAULT = "default"
    MIXED = "mixed"  # the pool: one product from history, the other the default

    LABELS = {
        HISTORY: gettext_lazy("discharged stays in the period"),
        DEFAULT: gettext_lazy("national average (no discharged stays in the period)"),
        MIXED: gettext_lazy("partly the national average"),
    }


@dataclass(frozen=True)
class BedChange:
    """What-if: `delta` contracted beds more (or fewer, negative) of `product_code` at a location."""

    location_id: int
    product_code: str
    delta: int


@dataclass(frozen=True)
class CurvePoint:
    beds: int
    probability: float
    is_current: bool
    is_needed: bool


@dataclass
class PlanRow:
    key: str  # product code, or POOL_KEY
    name: str
    arrivals: int
    arrivals_per_day: float
    discharged_stays: int
    mean_los_days: float
    los_source: str
    load: float
    beds_contracted: int  # today, before the what-if changes
    beds_changed: int  # the what-if changes for this product
    probability: float  # P(no free bed) with beds_today
    needed: int
    curve: list[CurvePoint] = field(default_factory=list)
    chart: object | None = None

    @property
    def beds_today(self) -> int:
        return self.beds_contracted + self.beds_changed

    @property
    def shortfall(self) -> int:
        """Positive: beds short of the target; negative: beds to spare."""
        return self.needed - self.beds_today

    @property
    def surplus(self) -> int:
        return -self.shortfall

    @property
    def los_source_label(self) -> str:
        return str(LosSource.LABELS[self.los_source])


@dataclass(frozen=True)
class LocationBeds:
    location_id: int
    name: str
    organisation: str
    beds: dict  # product code -> contracted beds


@dataclass
class Plan:
    region: Region
    period: Period
    target: float
    growth_percent: float
    pooled: bool
    changes: list[BedChange]
    rows: list[PlanRow]
    locations: list[LocationBeds]

    @property
    def default_los_days(self) -> float:
        return DEFAULT_LOS_DAYS


def curve(*, load: float, current: int, needed: int, margin: int = CURVE_MARGIN) -> list[CurvePoint]:
    """(beds, P(no free bed)) from max(0, min(current, needed) − margin) to max(current, needed) +
    margin, by one pass of the Erlang B recurrence (not one formula per point)."""
    low, high = max(0, min(current, needed) - margin), max(current, needed) + margin
    points, blocking = [], 1.0
    for beds in range(0, high + 1):
        if beds:
            blocking = load * blocking / (beds + load * blocking) if load > 0 else 0.0
        if beds >= low:
            points.append(CurvePoint(beds, blocking, beds == current, beds == needed))
    return points


def _row(*, key, name, arrivals, days, stays, los_days, source, growth, beds, changed, target) -> PlanRow:
    per_day = arrivals / days
    load = per_day * los_days * (1 + growth / 100)
    today = beds + changed
    needed = beds_needed(load, target)
    return PlanRow(
        key=key,
        name=name,
        arrivals=arrivals,
        arrivals_per_day=per_day,
        discharged_stays=stays,
        mean_los_days=los_days,
        los_source=source,
        load=load,
        beds_contracted=beds,
        beds_changed=changed,
        probability=erlang_b(load, today),
        needed=needed,
        curve=curve(load=load, current=today, needed=needed),
    )


def _pool(rows: list[PlanRow], *, growth: float, target: float) -> PlanRow:
    arrivals = sum(r.arrivals for r in rows)
    load = sum(r.load for r in rows)
    per_day = sum(r.arrivals_per_day for r in rows)
    sources = {r.los_source for r in rows}
    beds, changed = sum(r.beds_contracted for r in rows), sum(r.beds_changed for r in rows)
    needed = beds_needed(load, target)
    return PlanRow(
        key=POOL_KEY,
        name=_("ELV laag and hoog together (flex)"),
        arrivals=arrivals,
        arrivals_per_day=per_day,
        discharged_stays=sum(r.discharged_stays for r in rows),
        # The pool's mean stay, weighted by arrivals (load = rate × stay, growth taken out again).
        mean_los_days=(load / (1 + growth / 100) / per_day) if per_day else rows[0].mean_los_days,
        los_source=sources.pop() if len(sources) == 1 else LosSource.MIXED,
        load=load,
        beds_contracted=beds,
        beds_changed=changed,
        probability=erlang_b(load, beds + changed),
        needed=needed,
        curve=curve(load=load, current=beds + changed, needed=needed),
    )


def _check_changes(
    changes: Sequence[BedChange], *, locations: dict[int, LocationBeds], products: dict[str, Product]
) -> None:
    """Only the region's own active locations, products of the plan, and never fewer than 0 beds."""
    errors, after = [], {}
    for change in changes:
        location = locations.get(change.location_id)
        if location is None:
            errors.append(_("Location %(id)s is not an active location of your region.") % {"id": change.location_id})
            continue
        if change.product_code not in products:
            errors.append(
                _("%(product)s is not a product of your region; use one of: %(codes)s.")
                % {"product": change.product_code, "codes": ", ".join(products)}
            )
            continue
        key = (change.location_id, change.product_code)
        after[key] = after.get(key, location.beds.get(change.product_code, 0)) + change.delta
        if after[key] < 0:
            errors.append(
                _("%(location)s has %(beds)s beds of %(product)s; it cannot lose more than that.")
                % {
                    "location": location.name,
                    "beds": location.beds.get(change.product_code, 0),
                    "product": products[change.product_code].name,
                }
            )
    if errors:
        raise ValidationError({"beds": errors})


def capacity_plan(
    *,
    region: Region,
    period: Period,
    target: float = DEFAULT_TARGET,
    growth_percent: float = 0.0,
    changes: Sequence[BedChange] = (),
    pooled: bool = False,
) -> Plan:
    """The plan for `region` from its history in `period`, with the what-ifs applied. Raises
    ValidationError (field "beds") for a change at a location that is not the region's own."""
    if not 0 < target < 1:
        raise ValueError("target must be between 0 and 1")
    products = {p.code: p for p in region.products.filter(is_elv=True).order_by("sort_order", "code")}
    arrivals = dict(
        Referral.objects.filter(region=region, created_at__gte=period.start_at, created_at__lt=period.end_at)
        .exclude(state=State.DRAFT)
        .values_list("product__code")
        .annotate(n=Count("id"))
        .order_by()
    )
    stays = {
        row["referral__product__code"]: row
        for row in Stay.objects.filter(
            referral__region=region, discharged_at__gte=period.start_at, discharged_at__lt=period.end_at
        )
        .values("referral__product__code")
        .annotate(n=Count("id"), mean_s=Avg(SecondsBetween(F("discharged_at"), F("admitted_at"))))
        .order_by()
    }
    contracted = (
        Capacity.objects.filter(location__organisation__region=region, location__is_active=True)
        .values("location_id", "product__code")
        .annotate(beds=Sum("total"))
        .order_by()
    )
    locations = {
        loc.pk: LocationBeds(loc.pk, loc.name, loc.organisation.name, {})
        for loc in Location.objects.filter(organisation__region=region, is_active=True)
        .select_related("organisation")
        .order_by("name", "pk")
    }
    beds: dict[str, int] = {}
    for row in contracted:
        locations[row["location_id"]].beds[row["product__code"]] = row["beds"]
        beds[row["product__code"]] = beds.get(row["product__code"], 0) + row["beds"]
    changes = list(changes)
    _check_changes(changes, locations=locations, products=products)

    days = len(period.days)
    rows = []
    for code, product in products.items():
        history = stays.get(code)
        source = LosSource.HISTORY if history else LosSource.DEFAULT
        rows.append(
            _row(
                key=code,
                name=product.name,
                arrivals=arrivals.get(code, 0),
                days=days,
                stays=history["n"] if history else 0,
                los_days=history["mean_s"] / DAY if history else DEFAULT_LOS_DAYS,
                source=source,
                growth=growth_percent,
                beds=beds.get(code, 0),
                changed=sum(c.delta for c in changes if c.product_code == code),
                target=target,
            )
        )
    pool = [row for row in rows if row.key in POOL_CODES]
    if pooled and len(pool) == len(POOL_CODES):
        at = rows.index(pool[0])
        rows = [row for row in rows if row.key not in POOL_CODES]
        rows.insert(at, _pool(pool, growth=growth_percent, target=target))
    return Plan(
        region=region,
        period=period,
        target=target,
        growth_percent=growth_percent,
        pooled=pooled,
        changes=changes,
        rows=rows,
        locations=list(locations.values()),
    )
