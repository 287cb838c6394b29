"""CSV and XLSX files of figure tables and of the referral list.

Text cells that a spreadsheet would run as a formula (=, +, -, @ …) get a leading apostrophe,
so a free-text reason can never become a formula (CSV injection).

The referral list has two forms (the rule, docs/architecture.md §6.4):

- Coordinators (second factor, they may see their region's patients anyway): one row per
  referral with referral number, patient name, exact moments and the booked location; every
  referral in the file is access-logged.
- Analysts (no second factor, entitled to aggregates only): no patient identifier, no referral
  number, no free text, and no exact moments: the submission day only; admission and discharge
  moments are left out (the length of stay stays). The quasi-identifiers left, what someone who
  knows the patient could observe, are the submission day and the booked location (its provider
  follows from it). Every combination of them in the file is shared by at least K_ANONYMITY (5)
  referrals: a (day, location) cell with fewer has its location and provider generalised to the
  region (GENERALISED), and those rows are counted together per day; a day whose generalised
  rows are still fewer than 5 leaves them out. So with 5 referrals booked at one location on a
  day they show with the location; 4 show only together with at least one other
  generalised referral of that day, or not at all.
"""

import csv
import io
from collections import Counter
from datetime import date, datetime

from django.db.models import F, OuterRef, Subquery
from django.http import HttpResponse
from django.utils import timezone
from django.utils.translation import gettext as _
from openpyxl import Workbook

from cockpit.kpis import Outcome, cohort, outcome_expression, with_timings
from cockpit.periods import Period
from cockpit.stats import SecondsBetween
from cockpit.tables import Column, Kind, Table
from providers.models import Region
from referrals.models import BOOKED_OFFER_STATES, Offer, Origin, RedirectTarget, State, Urgency

CSV_TYPE = "text/csv; charset=utf-8"
K_ANONYMITY = 5  # least number of referrals per (submission day, booked location) in an analyst's file
XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def _safe(value):
    if isinstance(value, str) and value.startswith(FORMULA_START):
        return "'" + value
    if isinstance(value, datetime):
        return timezone.localtime(value).replace(tzinfo=None)
    return value


def _csv_value(value):
    value = _safe(value)
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M")
    if isinstance(value, date):
        return value.isoformat()
    return "" if value is None else value


def _attachment(response: HttpResponse, filename: str) -> HttpResponse:
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    response["Cache-Control"] = "no-store"
    return response


def table_rows(table: Table):
    yield [column.export_label for column in table.columns]
    for row in table.rows:
        yield [table.export_value(row, column) for column in table.columns]


def csv_response(rows, filename: str) -> HttpResponse:
    buffer = io.StringIO()
    buffer.write("\ufeff")  # BOM: spreadsheet programs then read the file as UTF-8
    writer = csv.writer(buffer)
    for row in rows:
        writer.writerow([_csv_value(value) for value in row])
    return _attachment(HttpResponse(buffer.getvalue(), content_type=CSV_TYPE), filename)


def xlsx_response(sheets: list[tuple[str, object]], filename: str) -> HttpResponse:
    """`sheets` is [(sheet title, rows)]; the first row of each is its header."""
    workbook = Workbook(write_only=True)
    used = set()
    for title, rows in sheets:
        name = _sheet_name(title, used)
        sheet = workbook.create_sheet(name)
        for row in rows:
            sheet.append([_safe(value) for value in row])
    buffer = io.BytesIO()
    workbook.save(buffer)
    return _attachment(HttpResponse(buffer.getvalue(), content_type=XLSX_TYPE), filename)


def _sheet_name(title: str, used: set) -> str:
    name = "".join(ch for ch in str(title) if ch not in "[]:*?/\\")[:28] or "Sheet"
    candidate, n = name, 2
    while candidate in used:
        candidate, n = f"{name[:25]} {n}", n + 1
    used.add(candidate)
    return candidate


# --- The referral list ------------------------------------------------------------------------


def referral_export_columns(*, with_patient: bool) -> list[Column]:
    """Both forms of the list share the figures; only coordinators get identifiers and moments."""
    course = [
        Column("product", _("Product")),
        Column("urgency", _("Urgency")),
        Column("origin", _("Patient was")),
        Column("state", _("State")),
        Column("outcome", _("Outcome")),
        Column("redirect_target", _("Redirected to")),
        Column("to_offer", _("Time to first offer"), Kind.HOURS),
        Column("to_accept", _("Time to acceptance"), Kind.HOURS),
        Column("provider", _("Provider (booked)")),
        Column("location", _("Location (booked)")),
    ]
    stay = [
        Column("length_of_stay", _("Length of stay"), Kind.DAYS),
        Column("destination", _("Discharge destination")),
    ]
    if not with_patient:
        return [Column("submitted_on", _("Submitted on"), Kind.DATE), *course, *stay]
    return [
        Column("referral", _("Referral number"), Kind.INT),
        Column("patient", _("Patient name")),
        Column("submitted_at", _("Submitted at"), Kind.DATETIME),
        *course,
        Column("admitted_at", _("Admitted at"), Kind.DATETIME),
        Column("discharged_at", _("Discharged at"), Kind.DATETIME),
        *stay,
        Column("close_reason", _("Reason (cancelled or redirected)")),
    ]


def generalised_label() -> str:
    return _("Not shown (fewer than %(k)s referrals)") % {"k": K_ANONYMITY}


def k_anonymous(rows: list[dict]) -> list[dict]:
    """The analyst's rows with every (submitted_on, provider, location) cell at least
    K_ANONYMITY strong (the rule in the module docstring); the order of the rows is kept."""

    def cell(row):
        return row["submitted_on"], row["provider"], row["location"]

    cells = Counter(cell(row) for row in rows)
    marker = generalised_label()
    small = [row for row in rows if cells[cell(row)] < K_ANONYMITY]
    for row in small:
        row.update(location=marker, provider=marker)
    per_day = Counter(row["submitted_on"] for row in small)
    suppressed = {id(row) for row in small if per_day[row["submitted_on"]] < K_ANONYMITY}
    return [row for row in rows if id(row) not in suppressed]


def referral_export(*, region: Region, period: Period, with_patient: bool):
    """(table, referrals shown): one row per referral submitted in the period. Without
    `with_patient` (analysts) the rows carry no patient identifier at all (not even the referral
    number) and are k-anonymous (module docstring)."""
    booked = Offer.objects.filter(referral=OuterRef("pk"), state__in=BOOKED_OFFER_STATES).order_by("answered_at", "id")
    referrals = (
        with_timings(cohort(region, period))
        .annotate(
            outcome=outcome_expression(),
            booked_location=Subquery(booked.values("location__name")[:1]),
            booked_provider=Subquery(booked.values("location__organisation__name")[:1]),
            los_s=SecondsBetween(F("stay__discharged_at"), F("stay__admitted_at")),
        )
        .select_related("product", "stay", *(["patient"] if with_patient else []))
        .order_by("created_at", "id")
    )
    labels = {
        "urgency": dict(Urgency.choices),
        "origin": dict(Origin.choices),
        "state": dict(State.choices),
        "outcome": dict(Outcome.choices()),
        "redirect_target": dict(RedirectTarget.choices),
    }
    columns = referral_export_columns(with_patient=with_patient)
    table = Table("referrals", _("Referrals"), "", columns)
    shown = []
    for referral in referrals.iterator(chunk_size=2000):
        stay = getattr(referral, "stay", None)
        row = {
            "submitted_at": referral.created_at,
            "product": referral.product.name,
            "urgency": labels["urgency"].get(referral.urgency, ""),
            "origin": labels["origin"].get(referral.origin, ""),
            "state": labels["state"].get(referral.state, ""),
            "outcome": labels["outcome"].get(referral.outcome, ""),
            "redirect_target": labels["redirect_target"].get(referral.redirect_target, ""),
            "to_offer": None if referral.to_offer_s is None else referral.to_offer_s / 3600,
            "to_accept": None if referral.to_accept_s is None else referral.to_accept_s / 3600,
            "provider": referral.booked_provider or "",
            "location": referral.booked_location or "",
            "admitted_at": stay.admitted_at if stay else None,
            "discharged_at": stay.discharged_at if stay else None,
            "length_of_stay": None if referral.los_s is None else referral.los_s / 86400,
            "destination": stay.get_discharge_destination_display() if stay and stay.discharge_destination else "",
        }
        if with_patient:
            row.update(referral=referral.pk, patient=referral.patient.name, close_reason=referral.close_reason)
            shown.append(referral)
        else:
            row = {column.key: row.get(column.key) for column in columns}
            row["submitted_on"] = timezone.localdate(referral.created_at)
        table.rows.append(row)
    if not with_patient:
        table.rows = k_anonymous(table.rows)
    return table, shown
