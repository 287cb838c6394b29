"""Regional KPIs over a period (issue 6), computed by the database: one aggregate query per
figure family, a fixed number of queries whatever the data size.

Which rows a figure counts is part of its definition, shown on the page next to it:
- referral figures count the referrals *submitted* in the period (the cohort);
- offer figures count the offers *sent* (declines: *answered*) in the period;
- stay figures count the stays that *ended* (discharge) in the period;
- product changes (op- en afschaling) count the changes *recorded* in the period.
"""

from dataclasses import dataclass

from django.db.models import (
    Avg,
    Case,
    CharField,
    Count,
    Exists,
    F,
    Func,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    Value,
    When,
)
from django.db.models.functions import TruncDate
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.translation import gettext as _

from cockpit import charts
from cockpit.periods import Period
from cockpit.stats import SecondsBetween, percentiles
from cockpit.tables import Column, Kind, Table
from elvdesk.numbers import format_percentage
from providers.models import Region
from referrals.models import (
    BOOKED_OFFER_STATES,
    DeclineReason,
    DischargeDestination,
    Offer,
    OfferState,
    Origin,
    RedirectTarget,
    Referral,
    State,
    Stay,
    StayProductChange,
    Urgency,
)

HOUR = 3600.0
DAY = 86400.0
PLACED_STATES = (State.ACCEPTED, State.ADMITTED, State.DISCHARGED)
WAITING_STATES = (State.SUBMITTED, State.TRIAGE, State.SEARCHING, State.OFFERED)
HOME_DESTINATIONS = (DischargeDestination.HOME, DischargeDestination.HOME_DISTRICT_NURSING)
ANSWERED_OFFER_STATES = (*BOOKED_OFFER_STATES, OfferState.DECLINED)
JUDGED_OFFER_STATES = (*BOOKED_OFFER_STATES, OfferState.DECLINED, OfferState.EXPIRED)


class Outcome:
    PLACED = "placed"
    REDIRECTED = "redirected"
    CANCELLED = "cancelled"
    WAITING = "waiting"

    @staticmethod
    def choices() -> list[tuple[str, str]]:
        return [
            (Outcome.PLACED, _("Bed booked (booked, admitted or discharged)")),
            (Outcome.REDIRECTED, _("Redirected elsewhere")),
            (Outcome.CANCELLED, _("Cancelled")),
            (Outcome.WAITING, _("Still waiting for a bed")),
        ]


class Shift:
    """Kinds of product change during a stay. ELV hoog is "higher" than ELV laag; a change to
    ELV palliatief counts on its own, whichever product it came from."""

    UP = "up"
    DOWN = "down"
    PALLIATIVE = "palliative"
    OTHER = "other"
    LAAG, HOOG, PALLIATIEF = "elv_laag", "elv_hoog", "elv_palliatief"

    @staticmethod
    def choices() -> list[tuple[str, str]]:
        return [
            (Shift.UP, _("Opschaling: ELV laag to ELV hoog")),
            (Shift.DOWN, _("Afschaling: ELV hoog to ELV laag")),
            (Shift.PALLIATIVE, _("To ELV palliatief")),
            (Shift.OTHER, _("Other product change")),
        ]


def shift_expression() -> Case:
    old, new = "from_capacity__product__code", "to_capacity__product__code"
    return Case(
        When(**{old: Shift.LAAG, new: Shift.HOOG}, then=Value(Shift.UP)),
        When(**{old: Shift.HOOG, new: Shift.LAAG}, then=Value(Shift.DOWN)),
        When(**{new: Shift.PALLIATIEF}, then=Value(Shift.PALLIATIVE)),
        default=Value(Shift.OTHER),
        output_field=CharField(),
    )


def outcome_expression() -> Case:
    return Case(
        When(state__in=PLACED_STATES, then=Value(Outcome.PLACED)),
        When(state=State.REDIRECTED, then=Value(Outcome.REDIRECTED)),
        When(state=State.CANCELLED, then=Value(Outcome.CANCELLED)),
        default=Value(Outcome.WAITING),
        output_field=CharField(),
    )


def cohort(region: Region, period: Period) -> QuerySet[Referral]:
    """The referrals of the region submitted in the period (drafts never count)."""
    return Referral.objects.filter(
        region=region, created_at__gte=period.start_at, created_at__lt=period.end_at
    ).exclude(state=State.DRAFT)


def with_timings(referrals: QuerySet[Referral]) -> QuerySet[Referral]:
    """Adds first_offer_at, accepted_at and the seconds from submission to each."""
    first_offer = Offer.objects.filter(referral=OuterRef("pk")).order_by("created_at", "id").values("created_at")[:1]
    acceptance = (
        Offer.objects.filter(referral=OuterRef("pk"), state__in=BOOKED_OFFER_STATES)
        .order_by("answered_at", "id")
        .values("answered_at")[:1]
    )
    return referrals.annotate(first_offer_at=Subquery(first_offer), accepted_at=Subquery(acceptance)).annotate(
        to_offer_s=SecondsBetween(F("first_offer_at"), F("created_at")),
        to_accept_s=SecondsBetween(F("accepted_at"), F("created_at")),
    )


def offers_in(region: Region, period: Period) -> QuerySet[Offer]:
    return Offer.objects.filter(referral__region=region, created_at__gte=period.start_at, created_at__lt=period.end_at)


def stays_ended_in(region: Region, period: Period) -> QuerySet[Stay]:
    return Stay.objects.filter(
        referral__region=region, discharged_at__gte=period.start_at, discharged_at__lt=period.end_at
    ).annotate(los_s=SecondsBetween(F("discharged_at"), F("admitted_at")))


def _share(part, whole) -> float | None:
    return part / whole if whole else None


def _scaled(value, unit: float) -> float | None:
    return None if value is None else value / unit


def _pct(value) -> str:
    return "—" if value is None else format_percentage(value)


@dataclass
class KpiReport:
    period: Period
    tables: list[Table]

    def table(self, key: str) -> Table | None:
        return next((t for t in self.tables if t.key == key), None)


def _count_table(key, title, definition, label, counts: dict, labels: list[tuple[str, str]], chart_desc=None):
    total = sum(counts.values())
    rows = [
        {"label": text, "count": counts.get(value, 0), "share": _share(counts.get(value, 0), total)}
        for value, text in labels
    ]
    rows.append({"label": _("Total"), "count": total, "share": 1.0 if total else None, "is_total": True})
    table = Table(
        key,
        title,
        definition,
        [Column("label", label), Column("count", _("Number"), Kind.INT), Column("share", _("Share"), Kind.SHARE)],
        rows,
    )
    if chart_desc is not None:
        table.chart = charts.bar_chart(
            chart_id=f"chart-{key}",
            title=title,
            description=chart_desc,
            items=[
                (r["label"], r["count"], f"{r['count']} ({_pct(r['share'])})") for r in rows if not r.get("is_total")
            ],
        )
    return table


def kpi_report(*, region: Region, period: Period) -> KpiReport:
    referrals = cohort(region, period)
    timed = with_timings(referrals)
    tables = [
        _volume(referrals, period),
        _count_table(
            "origin",
            _("Referrals by where the patient was"),
            _("Referrals submitted in the period, by where the patient was at the time of the referral."),
            _("Patient was"),
            dict(referrals.order_by().values_list("origin").annotate(n=Count("id"))),
            list(Origin.choices),
        ),
        _by_product(referrals),
        _count_table(
            "outcome",
            _("Referrals by outcome"),
            _(
                "Referrals submitted in the period, by what has become of them so far: a bed booked (also when "
                "the patient has been admitted or discharged since), redirected to other care, cancelled, or "
                "still waiting."
            ),
            _("Outcome"),
            dict(
                referrals.order_by()
                .annotate(outcome=outcome_expression())
                .values_list("outcome")
                .annotate(n=Count("id"))
            ),
            Outcome.choices(),
            chart_desc=_("Bar chart of the number of referrals per outcome."),
        ),
        *_timing(timed),
        _count_table(
            "declines",
            _("Declined offers by reason"),
            _(
                "Offers of the region's referrals that a provider declined in the period (answered in the "
                "period), by the reason the provider gave."
            ),
            _("Reason"),
            dict(
                Offer.objects.filter(
                    referral__region=region,
                    state=OfferState.DECLINED,
                    answered_at__gte=period.start_at,
                    answered_at__lt=period.end_at,
                )
                .order_by()
                .values_list("decline_reason")
                .annotate(n=Count("id"))
            ),
            list(DeclineReason.choices),
            chart_desc=_("Bar chart of the number of declined offers per reason."),
        ),
        _unmet(referrals),
        *_stays(region, period),
        _product_changes(region, period),
        _cross_region(region, period),
        _providers(region, period),
    ]
    return KpiReport(period=period, tables=tables)


def _volume(referrals, period: Period) -> Table:
    tz = timezone.get_current_timezone()
    per_day = dict(
        referrals.order_by().annotate(day=TruncDate("created_at", tzinfo=tz)).values_list("day").annotate(n=Count("id"))
    )
    rows = [{"day": day, "count": per_day.get(day, 0)} for day in period.days]
    title = _("Referrals per day")
    table = Table(
        "volume",
        title,
        _("Referrals submitted on each day of the period (Dutch time)."),
        [Column("day", _("Day"), Kind.DATE), Column("count", _("Referrals"), Kind.INT)],
        rows,
    )
    table.chart = charts.line_chart(
        chart_id="chart-volume",
        title=title,
        description=_("Line chart of the number of referrals submitted per day, %(start)s to %(end)s.")
        % {"start": date_format(period.start), "end": date_format(period.end)},
        x_labels=[date_format(day, "j M") for day in period.days],
        series=[(_("Referrals"), [row["count"] for row in rows])],
    )
    return table


def _by_product(referrals) -> Table:
    rows_db = list(
        referrals.order_by("product__sort_order", "product__code")
        .values("product__name", "product__sort_order", "product__code")
        .annotate(n=Count("id"))
    )
    counts = {row["product__code"]: row["n"] for row in rows_db}
    labels = [(row["product__code"], row["product__name"]) for row in rows_db]
    return _count_table(
        "product",
        _("Referrals by product"),
        _("Referrals submitted in the period, by the product the referrer asked for."),
        _("Product"),
        counts,
        labels,
    )


def _timing(timed) -> list[Table]:
    acute = ~Q(urgency=Urgency.PLANNED)
    counts = timed.order_by().aggregate(
        n=Count("id"),
        offered=Count("id", filter=Q(first_offer_at__isnull=False)),
        accepted=Count("id", filter=Q(accepted_at__isnull=False)),
        acute=Count("id", filter=acute),
        acute_4h=Count("id", filter=acute & Q(to_accept_s__lte=4 * HOUR)),
        acute_24h=Count("id", filter=acute & Q(to_accept_s__lte=24 * HOUR)),
    )
    found = percentiles(timed, {"to_offer": F("to_offer_s"), "to_accept": F("to_accept_s")}).get((), {})
    columns = [
        Column("label", _("Time from submission")),
        Column("count", _("Referrals"), Kind.INT),
        Column("median", _("Median"), Kind.HOURS),
        Column("p90", _("90th percentile"), Kind.HOURS),
    ]
    rows = []
    for key, label, count in (
        ("to_offer", _("… to the first offer"), counts["offered"]),
        ("to_accept", _("… to acceptance (bed booked)"), counts["accepted"]),
    ):
        values = found.get(key, {})
        rows.append(
            {
                "label": label,
                "count": count,
                "median": _scaled(values.get(0.5), HOUR),
                "p90": _scaled(values.get(0.9), HOUR),
            }
        )
    timing = Table(
        "timing",
        _("Time to offer and to acceptance"),
        _(
            "For the referrals submitted in the period that got an offer (or a booked bed): hours from submission "
            "to the first offer sent to a provider, and to the provider's acceptance. Median: half of the "
            "referrals took at most this long. 90th percentile: nine in ten took at most this long. Computed "
            "with linear interpolation (as PostgreSQL's percentile_cont)."
        ),
        columns,
        rows,
    )
    within = Table(
        "placed_within",
        _("Placed within 4 and 24 hours"),
        _(
            "Of the referrals submitted in the period that asked for a bed today or within 24 hours (planned "
            "admissions are left out), the share whose bed was booked (offer accepted) within 4 hours and within "
            "24 hours of submission. Referrals that were never placed count as not placed in time."
        ),
        [
            Column("label", _("Within")),
            Column("count", _("Placed in time"), Kind.INT),
            Column("total", _("Acute referrals"), Kind.INT),
            Column("share", _("Share"), Kind.SHARE),
        ],
        [
            {
                "label": _("4 hours"),
                "count": counts["acute_4h"],
                "total": counts["acute"],
                "share": _share(counts["acute_4h"], counts["acute"]),
            },
            {
                "label": _("24 hours"),
                "count": counts["acute_24h"],
                "total": counts["acute"],
                "share": _share(counts["acute_24h"], counts["acute"]),
            },
        ],
    )
    return [timing, within]


def _unmet(referrals) -> Table:
    booked = Offer.objects.filter(referral=OuterRef("pk"), state__in=BOOKED_OFFER_STATES)
    rows_db = list(
        referrals.filter(state__in=[State.REDIRECTED, State.CANCELLED])
        .exclude(Exists(booked))
        .order_by("state", "redirect_target", "product__sort_order")
        .values("state", "redirect_target", "product__name")
        .annotate(n=Count("id"))
    )
    targets = dict(RedirectTarget.choices)
    rows = []
    for row in rows_db:
        if row["state"] == State.REDIRECTED:
            reason = _("Redirected to %(target)s") % {"target": targets.get(row["redirect_target"], _("other care"))}
        else:
            reason = _("Cancelled before a bed was booked")
        rows.append({"label": reason, "product": row["product__name"], "count": row["n"]})
    table = Table(
        "unmet",
        _("Unmet demand: redirected and never placed"),
        _(
            "Referrals submitted in the period that ended without a booked bed: redirected by the desk to other "
            "care (the reason is where the patient went instead) or cancelled before any provider accepted, per "
            "requested product. The desk's free-text reasons are in the referral list export for coordinators."
        ),
        [Column("label", _("Reason")), Column("product", _("Product")), Column("count", _("Referrals"), Kind.INT)],
        rows,
    )
    table.chart = charts.bar_chart(
        chart_id="chart-unmet",
        title=table.title,
        description=_("Bar chart of the number of referrals without a booked bed, per reason and product."),
        items=[(f"{r['label']} · {r['product']}", r["count"], str(r["count"])) for r in rows],
    )
    return table


def _stays(region, period) -> list[Table]:
    stays = stays_ended_in(region, period)
    summary = stays.order_by().aggregate(n=Count("id"), mean=Avg("los_s"))
    found = percentiles(stays, {"los": F("los_s")}).get((), {}).get("los", {})
    los = Table(
        "length_of_stay",
        _("Length of stay"),
        _(
            "Stays that ended (discharge recorded) in the period: days from admission to discharge. Mean, median "
            "and 90th percentile."
        ),
        [
            Column("count", _("Stays ended"), Kind.INT),
            Column("mean", _("Mean"), Kind.DAYS),
            Column("median", _("Median"), Kind.DAYS),
            Column("p90", _("90th percentile"), Kind.DAYS),
        ],
        [
            {
                "count": summary["n"],
                "mean": _scaled(summary["mean"], DAY),
                "median": _scaled(found.get(0.5), DAY),
                "p90": _scaled(found.get(0.9), DAY),
            }
        ],
    )
    counts = dict(stays.order_by().values_list("discharge_destination").annotate(n=Count("id")))
    destinations = _count_table(
        "destinations",
        _("Discharge destinations"),
        _(
            "Stays that ended in the period, by where the patient went. Share home: discharged home (with or "
            "without district nursing) as a share of all discharges except deaths."
        ),
        _("Destination"),
        counts,
        list(DischargeDestination.choices),
        chart_desc=_("Bar chart of the number of discharges per destination."),
    )
    home = sum(counts.get(d, 0) for d in HOME_DESTINATIONS)
    alive = sum(counts.values()) - counts.get(DischargeDestination.DECEASED, 0)
    destinations.rows.append(
        {"label": _("Share home (excluding deaths)"), "count": home, "share": _share(home, alive), "is_total": True}
    )
    return [los, destinations]


def _product_changes(region, period) -> Table:
    changes = StayProductChange.objects.filter(
        stay__referral__region=region, changed_at__gte=period.start_at, changed_at__lt=period.end_at
    )
    return _count_table(
        "product_changes",
        _("Product changes during stays (op- and afschaling)"),
        _(
            "Changes of an admitted patient's product at the same location, recorded in the period: opschaling "
            "from ELV laag to ELV hoog, afschaling from ELV hoog to ELV laag, a change to ELV palliatief (from "
            "either), and any other change between the products a location offers."
        ),
        _("Change"),
        dict(changes.order_by().annotate(shift=shift_expression()).values_list("shift").annotate(n=Count("id"))),
        Shift.choices(),
        chart_desc=_("Bar chart of the number of product changes per kind."),
    )


def _cross_region(region, period) -> Table:
    """Placements across the region's border (referrals/cross_region.py), both ways, in one query:
    a count of each direction as its own subquery, so each reads the offers of the region's
    referrals or of its locations through their indexes instead of every offer of the country."""
    booked = Offer.objects.filter(
        state__in=BOOKED_OFFER_STATES, answered_at__gte=period.start_at, answered_at__lt=period.end_at
    ).order_by()
    ours, here = Q(referral__region=region), Q(location__organisation__region=region)

    def count(offers):
        return Subquery(offers.annotate(n=Func(F("id"), function="COUNT")).values("n"))

    counts = (
        Region.objects.filter(pk=region.pk)
        .annotate(out=count(booked.filter(ours).exclude(here)), into=count(booked.filter(here).exclude(ours)))
        .values("out", "into")
        .get()
    )
    return _count_table(
        "cross_region",
        _("Placements across the region's border"),
        _(
            "Beds booked in the period (accepted by the provider) across the region's border: the region's own "
            "patients placed at a location of a neighbouring region because no bed of the region fitted, and "
            "patients of neighbouring regions placed at the region's locations."
        ),
        _("Direction"),
        counts,
        [
            ("out", _("Our patients placed in a neighbouring region")),
            ("into", _("Patients of neighbouring regions placed here")),
        ],
    )


def _providers(region, period) -> Table:
    offers = offers_in(region, period)
    offer_rows = {
        row["location__organisation_id"]: row
        for row in offers.order_by()
        .values("location__organisation_id", "location__organisation__name")
        .annotate(
            judged=Count("id", filter=Q(state__in=JUDGED_OFFER_STATES)),
            accepted=Count("id", filter=Q(state__in=BOOKED_OFFER_STATES)),
        )
    }
    answer_times = percentiles(
        offers.filter(state__in=ANSWERED_OFFER_STATES),
        {"answer": SecondsBetween(F("answered_at"), F("created_at"))},
        group_by=("location__organisation_id",),
        fractions=(0.5,),
    )
    stays = stays_ended_in(region, period)
    stay_rows = {
        row["location__organisation_id"]: row
        for row in stays.order_by()
        .values("location__organisation_id", "location__organisation__name")
        .annotate(
            n=Count("id"),
            home=Count("id", filter=Q(discharge_destination__in=HOME_DESTINATIONS)),
            deceased=Count("id", filter=Q(discharge_destination=DischargeDestination.DECEASED)),
        )
    }
    stay_times = percentiles(stays, {"los": F("los_s")}, group_by=("location__organisation_id",), fractions=(0.5,))
    rows = []
    for org_id in offer_rows.keys() | stay_rows.keys():
        o, s = offer_rows.get(org_id, {}), stay_rows.get(org_id, {})
        answer = answer_times.get((org_id,), {}).get("answer", {}).get(0.5)
        los = stay_times.get((org_id,), {}).get("los", {}).get(0.5)
        rows.append(
            {
                "label": o.get("location__organisation__name") or s.get("location__organisation__name"),
                "judged": o.get("judged", 0),
                "accepted": o.get("accepted", 0),
                "acceptance": _share(o.get("accepted", 0), o.get("judged", 0)),
                "answer": _scaled(answer, 60.0),
                "stays": s.get("n", 0),
                "los": _scaled(los, DAY),
                "home": _share(s.get("home", 0), s.get("n", 0) - s.get("deceased", 0)),
            }
        )
    rows.sort(key=lambda row: str(row["label"]))
    return Table(
        "providers",
        _("Providers compared"),
        _(
            "Per provider organisation. Offers: offers sent in the period that the provider accepted, declined or "
            "let expire; acceptance rate = accepted ÷ those offers. Answer time: median minutes from sending to "
            "the provider's answer (accepted or declined offers). Stays: stays at the provider's locations that "
            "ended in the period, with their median length in days and the share discharged home (with or "
            "without district nursing) of those not deceased."
        ),
        [
            Column("label", _("Provider")),
            Column("judged", _("Offers"), Kind.INT),
            Column("accepted", _("Accepted"), Kind.INT),
            Column("acceptance", _("Acceptance rate"), Kind.SHARE),
            Column("answer", _("Median answer time"), Kind.MINUTES),
            Column("stays", _("Stays ended"), Kind.INT),
            Column("los", _("Median length of stay"), Kind.DAYS),
            Column("home", _("Share home"), Kind.SHARE),
        ],
        rows,
    )
