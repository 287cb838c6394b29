"""Monitoring per insurer: a region's figures per month, for one insurer's insured beside the
region as a whole (selector; the page and the exports are cockpit.views.monitoring*).

Who sees which column (`monitoring_scope`):
- an analyst of an organisation of kind insurer that names its insurer (`Organisation.insurer`)
  sees that insurer's insured and the region, and can never choose another insurer;
- coordinators and the desk's analysts see the region and may choose one insurer to compare;
- an analyst of an insurer organisation without an insurer configured sees the region only.

Definitions (also shown on the page next to each table). Months are calendar months, Dutch time.
- Referrals: submitted in the month (drafts never count), by submission month.
- Bed booked: of those, the ones whose bed was booked (accepted, admitted or discharged since).
  Admitted: of those, the ones admitted (admitted or discharged since).
- Unmet demand: of those, the ones without a bed: redirected to other care or cancelled
  (withdrawn by the referrer or closed by the desk) before any provider accepted, or still
  searching (submitted, in triage, searching or offered) at the time of the report.
- Time to a bed: hours from submission to the provider's acceptance of the offer (as the KPIs,
  cockpit.kpis.with_timings), median and 90th percentile, by submission month.
- Declined offers: offers a provider declined, answered in the range, by reason.
- Stays: stays that ended (discharge recorded) in the range, per provider organisation, with their
  length in days (mean, median); discharge destinations of the same stays.
- Escalations: raised in the month / in the range, by kind.

Pseudonymised: only counts and figures, no referral number, name or BSN. Every count below
K_MIN (5) is shown as "<5" (`suppress`), and so is every figure computed from fewer than 5 cases
(a mean, median or percentile). Known limit: a region figure minus the insurer's figure is the
rest of the region's, which may be below 5; both are aggregates over other insurers' insured.
"""

from dataclasses import dataclass, field
from datetime import date, timedelta

from django.db.models import Avg, Count, Exists, F, OuterRef, Q, QuerySet
from django.db.models.functions import TruncMonth
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.models import Role, User
from cockpit.kpis import DAY, HOUR, PLACED_STATES, WAITING_STATES, with_timings
from cockpit.periods import Period
from cockpit.stats import SecondsBetween, percentiles
from cockpit.tables import Column, Kind, Table
from providers.models import Insurer, OrganisationKind, Region
from referrals.models import (
    BOOKED_OFFER_STATES,
    DeclineReason,
    DischargeDestination,
    Escalation,
    EscalationKind,
    Offer,
    OfferState,
    Referral,
    State,
    Stay,
)

K_MIN = 5
SUPPRESSED = "<5"
DEFAULT_MONTHS = 12
MAX_MONTHS = 36
ADMITTED_STATES = (State.ADMITTED, State.DISCHARGED)


def suppress(value: float | int | None, *, cases: int | None = None) -> float | int | str | None:
    """The one rule of small numbers: a count below K_MIN (or a figure computed from fewer than
    K_MIN cases, `cases`) becomes "<5"; otherwise the value as it is."""
    basis = value if cases is None else cases
    if basis is None or basis < K_MIN:
        return SUPPRESSED
    return value


class MonitoringTable(Table):
    """A figure table whose cells may be suppressed ("<5" in the page and the files)."""

    def export_value(self, row: dict, column: Column):
        if row.get(column.key) == SUPPRESSED:
            return SUPPRESSED
        return super().export_value(row, column)


@dataclass(frozen=True)
class MonthRange:
    """Whole calendar months, `first` to `last` inclusive (each the first day of its month)."""

    first: date
    last: date

    @classmethod
    def last_months(cls, months: int = DEFAULT_MONTHS, *, today: date | None = None) -> "MonthRange":
        today = today or timezone.localdate()
        last = today.replace(day=1)
        index = last.year * 12 + last.month - 1 - (months - 1)
        return cls(first=date(index // 12, index % 12 + 1, 1), last=last)

    @property
    def months(self) -> list[date]:
        found, month = [], self.first
        while month <= self.last:
            found.append(month)
            month = date(month.year + month.month // 12, month.month % 12 + 1, 1)
        return found

    @property
    def period(self) -> Period:
        after = date(self.last.year + self.last.month // 12, self.last.month % 12 + 1, 1)
        return Period(start=self.first, end=after - timedelta(days=1))

    def query(self) -> str:
        return f"from={self.first:%Y-%m}&to={self.last:%Y-%m}"


@dataclass(frozen=True)
class Scope:
    """What one viewer sees: the region, and one insurer's insured (or none)."""

    region: Region
    insurer: Insurer | None
    may_choose_insurer: bool


def monitoring_scope(*, user: User) -> Scope:
    """The region is always the user's own; the insurer is the user's own organisation's for an
    insurer analyst (fixed), else none until a coordinator or desk analyst chooses one."""
    organisation = user.organisation
    if user.role == Role.ANALYST and organisation.kind == OrganisationKind.INSURER:
        return Scope(region=organisation.region, insurer=organisation.insurer, may_choose_insurer=False)
    return Scope(region=organisation.region, insurer=None, may_choose_insurer=True)


@dataclass
class MonitoringReport:
    months: MonthRange
    region: Region
    insurer: Insurer | None
    tables: list[MonitoringTable] = field(default_factory=list)

    def table(self, key: str) -> MonitoringTable | None:
        return next((t for t in self.tables if t.key == key), None)


def _month_key(value) -> str:
    """ "YYYY-MM" of a truncated month, whether the database gave a date, a datetime or text."""
    return str(value)[:7]


def _month(expression: str) -> TruncMonth:
    return TruncMonth(expression, tzinfo=timezone.get_current_timezone())


def _columns(scopes: list[tuple[str, str]], measures: list[tuple[str, str, str]]) -> list[Column]:
    """One column per (scope, measure), the scopes side by side per measure."""
    return [
        Column(f"{m}_{s}", f"{label} · {scope_label}", kind) for m, label, kind in measures for s, scope_label in scopes
    ]


def monitoring_report(*, region: Region, months: MonthRange, insurer: Insurer | None = None) -> MonitoringReport:
    """All monitoring tables for `region` (and `insurer`'s insured, when given), in a fixed
    number of queries: 9 for the region alone, 12 with an insurer."""
    period = months.period
    start, end = period.start_at, period.end_at
    insured = Q(patient__insurer=insurer) if insurer else None
    scopes = [("region", _("Region"))]
    if insurer is not None:
        scopes.insert(0, ("insurer", insurer.name))
    report = MonitoringReport(months=months, region=region, insurer=insurer)
    referrals = Referral.objects.filter(region=region, created_at__gte=start, created_at__lt=end).exclude(
        state=State.DRAFT
    )
    report.tables += _monthly(referrals, months, scopes, insured, region=region)
    offers = Offer.objects.filter(
        referral__region=region, state=OfferState.DECLINED, answered_at__gte=start, answered_at__lt=end
    )
    report.tables.append(
        _breakdown(
            offers,
            "decline_reason",
            list(DeclineReason.choices),
            _prefixed(insured, "referral__"),
            scopes,
            key="declines",
            title=_("Declined offers by reason"),
            definition=_(
                "Offers to the region's providers that the provider declined, answered in the chosen months, by "
                "the reason the provider gave."
            ),
            label=_("Reason"),
        )
    )
    report.tables.append(_unmet(referrals, insured, scopes))
    stays = Stay.objects.filter(referral__region=region, discharged_at__gte=start, discharged_at__lt=end).annotate(
        los_s=SecondsBetween(F("discharged_at"), F("admitted_at"))
    )
    report.tables.append(_stays(stays, _prefixed(insured, "referral__"), insurer, scopes))
    report.tables.append(
        _breakdown(
            stays,
            "discharge_destination",
            list(DischargeDestination.choices),
            _prefixed(insured, "referral__"),
            scopes,
            key="destinations",
            title=_("Discharge destinations"),
            definition=_("Stays that ended (discharge recorded) in the chosen months, by where the patient went."),
            label=_("Destination"),
        )
    )
    escalations = Escalation.objects.filter(referral__region=region, created_at__gte=start, created_at__lt=end)
    report.tables.append(
        _breakdown(
            escalations,
            "kind",
            list(EscalationKind.choices),
            _prefixed(insured, "referral__"),
            scopes,
            key="escalations",
            title=_("Escalations by kind"),
            definition=_(
                "Escalations raised in the chosen months for the region's referrals, by kind (the desk's escalation "
                "ladder: not triaged in time, searching longer than the region's limit, and so on)."
            ),
            label=_("Kind"),
        )
    )
    return report


def _prefixed(condition: Q | None, prefix: str) -> Q | None:
    if condition is None:
        return None
    return Q(**{prefix + key: value for key, value in condition.children})


def _scoped_counts(name: str, condition: Q, insured: Q | None) -> dict:
    """`name_region` (and `name_insurer`) conditional counts for one aggregate query."""
    counts = {f"{name}_region": Count("id", filter=condition)}
    if insured is not None:
        counts[f"{name}_insurer"] = Count("id", filter=condition & insured)
    return counts


def _monthly(
    referrals: QuerySet, months: MonthRange, scopes, insured: Q | None, *, region: Region
) -> list[MonitoringTable]:
    booked_ever = Offer.objects.filter(referral=OuterRef("pk"), state__in=BOOKED_OFFER_STATES)
    timed = with_timings(referrals).annotate(month=_month("created_at"), booked_ever=Exists(booked_ever))
    unmet = Q(state__in=WAITING_STATES) | Q(state__in=(State.REDIRECTED, State.CANCELLED), booked_ever=False)
    everything = Q(pk__isnull=False)
    aggregates = {
        **_scoped_counts("referrals", everything, insured),
        **_scoped_counts("booked", Q(state__in=PLACED_STATES), insured),
        **_scoped_counts("admitted", Q(state__in=ADMITTED_STATES), insured),
        **_scoped_counts("unmet", unmet, insured),
        **_scoped_counts("timed", Q(accepted_at__isnull=False), insured),
    }
    counts = {_month_key(row["month"]): row for row in timed.order_by().values("month").annotate(**aggregates)}
    escalations = Escalation.objects.filter(
        referral__region=region, created_at__gte=months.period.start_at, created_at__lt=months.period.end_at
    ).annotate(month=_month("created_at"))
    escalation_counts = {
        _month_key(row["month"]): row
        for row in escalations.order_by()
        .values("month")
        .annotate(**_scoped_counts("escalations", Q(pk__isnull=False), _prefixed(insured, "referral__")))
    }
    found = {"region": percentiles(timed, {"bed": F("to_accept_s")}, group_by=("month",))}
    if insured is not None:
        found["insurer"] = percentiles(timed.filter(insured), {"bed": F("to_accept_s")}, group_by=("month",))
    times = {
        scope: {_month_key(key[0]): values.get("bed", {}) for key, values in result.items()}
        for scope, result in found.items()
    }
    volume_rows, time_rows = [], []
    for month in months.months:
        key = f"{month:%Y-%m}"
        row, escalation_row = counts.get(key, {}), escalation_counts.get(key, {})
        volume, timing = {"month": key}, {"month": key}
        for scope, _label in scopes:
            for measure in ("referrals", "booked", "admitted", "unmet"):
                volume[f"{measure}_{scope}"] = suppress(row.get(f"{measure}_{scope}", 0))
            volume[f"escalations_{scope}"] = suppress(escalation_row.get(f"escalations_{scope}", 0))
            n = row.get(f"timed_{scope}", 0)
            values = times[scope].get(key, {})
            timing[f"n_{scope}"] = suppress(n)
            timing[f"median_{scope}"] = suppress(_scaled(values.get(0.5), HOUR), cases=n)
            timing[f"p90_{scope}"] = suppress(_scaled(values.get(0.9), HOUR), cases=n)
        volume_rows.append(volume)
        time_rows.append(timing)
    month_column = Column("month", _("Month"))
    volume_table = MonitoringTable(
        "volume",
        _("Referrals, placements and unmet demand per month"),
        _(
            "Per month of submission (Dutch time): referrals submitted (drafts never count); of those, the ones "
            "whose bed was booked (accepted, admitted or discharged since) and the ones admitted; unmet demand: "
            "of those, the ones without a bed — redirected to other care or cancelled (withdrawn or closed) "
            "before any provider accepted, or still searching now. Escalations: raised in the month for the "
            "region's referrals. Counts below 5 are shown as <5."
        ),
        [
            month_column,
            *_columns(
                scopes,
                [
                    ("referrals", _("Referrals"), Kind.INT),
                    ("booked", _("Bed booked"), Kind.INT),
                    ("admitted", _("Admitted"), Kind.INT),
                    ("unmet", _("Unmet demand"), Kind.INT),
                    ("escalations", _("Escalations"), Kind.INT),
                ],
            ),
        ],
        volume_rows,
    )
    time_table = MonitoringTable(
        "time_to_bed",
        _("Time to a bed per month"),
        _(
            "For the referrals submitted in the month whose bed was booked: hours from submission to the "
            "provider's acceptance of the offer. Median: half took at most this long; 90th percentile: nine in "
            "ten took at most this long (linear interpolation, as in the KPIs). Figures from fewer than 5 "
            "referrals are shown as <5."
        ),
        [
            month_column,
            *_columns(
                scopes,
                [
                    ("n", _("Referrals placed"), Kind.INT),
                    ("median", _("Median"), Kind.HOURS),
                    ("p90", _("90th percentile"), Kind.HOURS),
                ],
            ),
        ],
        time_rows,
    )
    return [volume_table, time_table]


def _scaled(value, unit: float) -> float | None:
    return None if value is None else value / unit


def _breakdown(
    rows: QuerySet, field_name: str, labels, insured: Q | None, scopes, *, key, title, definition, label
) -> MonitoringTable:
    aggregates = _scoped_counts("n", Q(pk__isnull=False), insured)
    found = {row[field_name]: row for row in rows.order_by().values(field_name).annotate(**aggregates)}
    table_rows = []
    for value, text in labels:
        row = {"label": text}
        for scope, _label in scopes:
            row[f"n_{scope}"] = suppress(found.get(value, {}).get(f"n_{scope}", 0))
        table_rows.append(row)
    return MonitoringTable(
        key,
        title,
        definition + " " + _("Counts below 5 are shown as <5."),
        [Column("label", label), *_columns(scopes, [("n", _("Number"), Kind.INT)])],
        table_rows,
    )


def _unmet(referrals: QuerySet, insured: Q | None, scopes) -> MonitoringTable:
    booked_ever = Offer.objects.filter(referral=OuterRef("pk"), state__in=BOOKED_OFFER_STATES)
    rows = referrals.annotate(booked_ever=Exists(booked_ever))
    kinds = [
        (
            "redirected",
            _("Redirected to other care before a bed was booked"),
            Q(state=State.REDIRECTED, booked_ever=False),
        ),
        (
            "cancelled",
            _("Cancelled (withdrawn or closed) before a bed was booked"),
            Q(state=State.CANCELLED, booked_ever=False),
        ),
        ("searching", _("Still searching a bed now"), Q(state__in=WAITING_STATES)),
    ]
    aggregates = {}
    for name, _text, condition in kinds:
        aggregates.update(_scoped_counts(name, condition, insured))
    found = rows.order_by().aggregate(**aggregates)
    table_rows = []
    for name, text, _condition in kinds:
        row = {"label": text}
        for scope, _label in scopes:
            row[f"n_{scope}"] = suppress(found.get(f"{name}_{scope}") or 0)
        table_rows.append(row)
    return MonitoringTable(
        "unmet",
        _("Unmet demand by kind"),
        _(
            "Referrals submitted in the chosen months without a bed: redirected by the desk to other care or "
            "cancelled (withdrawn by the referrer or closed by the desk) before any provider accepted, or still "
            "searching (submitted, in triage, searching or offered) at the time of this report. Counts below 5 "
            "are shown as <5."
        ),
        [Column("label", _("Unmet demand")), *_columns(scopes, [("n", _("Referrals"), Kind.INT)])],
        table_rows,
    )


def _stays(stays: QuerySet, insured: Q | None, insurer: Insurer | None, scopes) -> MonitoringTable:
    group = ("location__organisation_id",)
    aggregates = {"n_region": Count("id"), "mean_region": Avg("los_s")}
    if insured is not None:
        aggregates.update(n_insurer=Count("id", filter=insured), mean_insurer=Avg("los_s", filter=insured))
    found = {
        row["location__organisation_id"]: row
        for row in stays.order_by()
        .values("location__organisation_id", "location__organisation__name")
        .annotate(**aggregates)
    }
    medians = {"region": percentiles(stays, {"los": F("los_s")}, group_by=group, fractions=(0.5,))}
    if insured is not None:
        medians["insurer"] = percentiles(stays.filter(insured), {"los": F("los_s")}, group_by=group, fractions=(0.5,))
    table_rows = []
    for org_id, found_row in sorted(found.items(), key=lambda item: str(item[1]["location__organisation__name"])):
        row = {"label": found_row["location__organisation__name"]}
        for scope, _label in scopes:
            n = found_row.get(f"n_{scope}") or 0
            median = medians[scope].get((org_id,), {}).get("los", {}).get(0.5)
            row[f"n_{scope}"] = suppress(n)
            row[f"mean_{scope}"] = suppress(_scaled(found_row.get(f"mean_{scope}"), DAY), cases=n)
            row[f"median_{scope}"] = suppress(_scaled(median, DAY), cases=n)
        table_rows.append(row)
    return MonitoringTable(
        "stays",
        _("Stays per provider and their length"),
        _(
            "Stays at the region's providers that ended (discharge recorded) in the chosen months, per provider "
            "organisation: the number, and their length in days from admission to discharge (mean and median). "
            "Counts below 5, and lengths computed from fewer than 5 stays, are shown as <5."
        ),
        [
            Column("label", _("Provider")),
            *_columns(
                scopes,
                [
                    ("n", _("Stays ended"), Kind.INT),
                    ("mean", _("Mean length"), Kind.DAYS),
                    ("median", _("Median length"), Kind.DAYS),
                ],
            ),
        ],
        table_rows,
    )
