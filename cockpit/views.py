"""Coordinator cockpit pages: the regional board, the capacity picture, KPIs and exports.

The board shows patient data (initials) and is for coordinators only, access-logged. Capacity
and KPIs are aggregates: coordinators and analysts (insurers) of the region; exports of the
referral list are access-logged with action "export".
"""

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import HttpResponseBadRequest
from django.shortcuts import render
from django.utils import timezone
from django.utils.cache import patch_vary_headers
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET

from accounts.decorators import role_required
from accounts.models import Role
from audit.models import Channel
from audit.trail import audited
from cockpit import exports
from cockpit.board_cache import board_columns
from cockpit.capacity import capacity_picture
from cockpit.forms import BoardFilterForm, PeriodForm, PlannerForm
from cockpit.kpis import kpi_report
from cockpit.periods import Period
from cockpit.planner import Plan, capacity_plan
from cockpit.planner_chart import curve_chart
from elvdesk.htmx import wants_fragment
from elvdesk.numbers import half_up, percentage
from elvdesk.page_cache import cached_part
from providers.reachability import open_contact_problems, unreachable_locations

COCKPIT_ROLES = (Role.COORDINATOR, Role.ANALYST)
BOARD_TEMPLATE = "cockpit/board.html"
FORMATS = ("csv", "xlsx")


def _poll_seconds() -> int:
    return max(1, int(getattr(settings, "BOARD_POLL_SECONDS", 15)))


@login_required
@audited("read", referral_kwarg=None)
@role_required(Role.COORDINATOR)
@require_GET
def board(request):
    region = request.user.organisation.region
    form = BoardFilterForm(request.GET, region=region)
    board_url = request.get_full_path()
    context = {
        "form": form,
        "region": region,
        "poll_seconds": _poll_seconds(),
        "board_url": board_url,
        "unreachable_panel": _unreachable_panel(request, region=region, board_url=board_url),
    }
    status = 200
    if form.is_valid():
        filters = {name: form.cleaned_data[name] for name in ("product", "urgency", "origin", "state")}
        columns = board_columns(request, filters=filters, context={"board_url": board_url})
        request.audit.add_subjects(columns.subjects)
        context.update(columns=columns, updated_at=timezone.now())
    else:
        status = 400
    # The same address gives the whole page or (htmx poll, filter change) only the board; a
    # history restore needs the whole page again.
    partial = wants_fragment(request)
    response = render(request, f"{BOARD_TEMPLATE}#board" if partial else BOARD_TEMPLATE, context, status=status)
    patch_vary_headers(response, ["HX-Request"])
    return response


def _unreachable_panel(request, *, region, board_url: str):
    """ "Cannot be reached" (what reached nobody, the locations without a planner): a cached part
    of the region, raised with a contact problem or a change to a planner's account."""
    return cached_part(
        request,
        name="board-unreachable",
        region_id=region.pk,
        question=[board_url],
        template="cockpit/includes/unreachable.html",
        context=lambda: (
            {
                "contact_problems": open_contact_problems(region_id=region.pk),
                "unreachable_locations": unreachable_locations(region_id=region.pk),
                "next_url": board_url,
                "referral_links": True,
            },
            {},
        ),
    ).html


@login_required
@role_required(*COCKPIT_ROLES)
@require_GET
def capacity(request):
    region = request.user.organisation.region
    return render(request, "cockpit/capacity.html", {"region": region, "regions": capacity_picture(region=region)})


def _period_form(request) -> PeriodForm:
    return PeriodForm(request.GET, default=Period.last_days())


@login_required
@role_required(*COCKPIT_ROLES)
@require_GET
def kpis(request):
    region = request.user.organisation.region
    form = _period_form(request)
    context = {"region": region, "form": form, "may_export_patients": request.user.role == Role.COORDINATOR}
    if not form.is_valid():
        return render(request, "cockpit/kpis.html", context, status=400)
    context["report"] = kpi_report(region=region, period=form.period)
    return render(request, "cockpit/kpis.html", context)


def _bad_period(request, form: PeriodForm):
    region = request.user.organisation.region
    return render(request, "cockpit/kpis.html", {"region": region, "form": form}, status=400)


def _export_format(request) -> str | None:
    fmt = request.GET.get("format") or "xlsx"
    return fmt if fmt in FORMATS else None


def _bad_export(message: str) -> HttpResponseBadRequest:
    return HttpResponseBadRequest(message, content_type="text/plain; charset=utf-8")


@login_required
@role_required(*COCKPIT_ROLES)
@require_GET
def kpi_export(request):
    """`?table=KEY&format=csv|xlsx&from=…&to=…`: one KPI table, or `table=all` (the default) as
    one workbook with a sheet per table."""
    fmt, key = _export_format(request), request.GET.get("table") or "all"
    if fmt is None:
        return _bad_export(_("Choose the format csv or xlsx."))
    if key == "all" and fmt != "xlsx":
        return _bad_export(_("All tables together come as one XLSX workbook; choose format=xlsx or one table."))
    form = _period_form(request)
    if not form.is_valid():
        return _bad_period(request, form)
    period = form.period
    report = kpi_report(region=request.user.organisation.region, period=period)
    stamp = f"{period.start:%Y%m%d}-{period.end:%Y%m%d}"
    if key == "all":
        sheets = [(table.title, exports.table_rows(table)) for table in report.tables]
        return exports.xlsx_response(sheets, f"elv-kpis-{stamp}.xlsx")
    table = report.table(key)
    if table is None:
        return _bad_export(
            _("There is no table %(key)s. Tables: %(keys)s.")
            % {"key": key, "keys": ", ".join(t.key for t in report.tables)}
        )
    filename = f"elv-{key}-{stamp}.{fmt}"
    if fmt == "csv":
        return exports.csv_response(exports.table_rows(table), filename)
    return exports.xlsx_response([(table.title, exports.table_rows(table))], filename)


@login_required
@audited("export", referral_kwarg=None, channel=Channel.EXPORT)
@role_required(*COCKPIT_ROLES)
@require_GET
def referral_export(request):
    """`?format=csv|xlsx&from=…&to=…`: the referrals submitted in the period, one row each.
    Coordinators (who may see the region's patients) get the referral number and patient name;
    analysts no patient identifier at all, days instead of moments, and k-anonymous rows
    (cockpit/exports.py)."""
    fmt = _export_format(request)
    if fmt is None:
        return _bad_export(_("Choose the format csv or xlsx."))
    form = _period_form(request)
    if not form.is_valid():
        return _bad_period(request, form)
    period = form.period
    with_patient = request.user.role == Role.COORDINATOR
    table, shown = exports.referral_export(
        region=request.user.organisation.region, period=period, with_patient=with_patient
    )
    request.audit.add(*shown)
    kind = "referrals" if with_patient else "referrals-pseudonymised"
    filename = f"elv-{kind}-{period.start:%Y%m%d}-{period.end:%Y%m%d}-{timezone.localdate():%Y%m%d}.{fmt}"
    if fmt == "csv":
        return exports.csv_response(exports.table_rows(table), filename)
    return exports.xlsx_response([(_("Referrals"), exports.table_rows(table))], filename)


def planner_form(query) -> PlannerForm:
    """Always bound, so the page and the API clean alike; without any input the form is filled
    with the defaults (the last 90 days, target 5 %), so the page shows what it computed."""
    today = timezone.localdate()
    if not any(query.get(name) for name in PlannerForm.QUERY_NAMES):
        query = PlannerForm.defaults(today=today)
    return PlannerForm(query, today=today)


def plan_for(form: PlannerForm, region) -> Plan | None:
    """The plan of a valid form; None (and the error on the form) when a what-if names a location
    that is not the region's own."""
    try:
        return capacity_plan(
            region=region,
            period=form.period,
            target=form.target_share,
            growth_percent=form.growth_percent,
            changes=form.cleaned_data["beds"],
            pooled=form.cleaned_data["flex"],
        )
    except ValidationError as error:
        for name, messages in error.message_dict.items():
            for message in messages:
                form.add_error(name, message)
        return None


PLANNER_TEMPLATE = "cockpit/planner.html"


@login_required
@role_required(*COCKPIT_ROLES)
@require_GET
def planner(request):
    """The capacity planner (cockpit/planner.py): per product the chance of no free bed against the
    number of beds, for the user's own region; the what-ifs live in the query string."""
    region = request.user.organisation.region
    form = planner_form(request.GET)
    plan = plan_for(form, region) if form.is_valid() else None
    if plan is not None:
        for row in plan.rows:
            row.chart = curve_chart(
                chart_id=f"chart-planner-{row.key}",
                title=_("Chance of no free bed against the number of beds · %(product)s") % {"product": row.name},
                row=row,
                target=plan.target,
            )
    context = {"region": region, "form": form, "plan": plan, "query": request.GET.urlencode()}
    partial = wants_fragment(request)
    response = render(
        request,
        f"{PLANNER_TEMPLATE}#planner" if partial else PLANNER_TEMPLATE,
        context,
        status=200 if plan is not None else 400,
    )
    patch_vary_headers(response, ["HX-Request"])
    return response


def _planner_rows(plan: Plan):
    yield [
        _("Product"),
        _("Referrals in the period"),
        _("Arrivals per day"),
        _("Discharged stays"),
        _("Mean length of stay (d)"),
        _("Length of stay from"),
        _("Offered load (erlangs)"),
        _("Contracted beds today"),
        _("Beds added or removed"),
        _("Beds in the plan"),
        _("Chance of no free bed (%)"),
        _("Target (%)"),
        _("Beds needed"),
        _("Beds short (negative: to spare)"),
    ]
    for row in plan.rows:
        yield [
            row.name,
            row.arrivals,
            float(half_up(row.arrivals_per_day, 3)),
            row.discharged_stays,
            float(half_up(row.mean_los_days, 2)),
            row.los_source_label,
            float(half_up(row.load, 3)),
            row.beds_contracted,
            row.beds_changed,
            row.beds_today,
            float(percentage(row.probability, 2)),
            float(percentage(plan.target, 2)),
            row.needed,
            row.shortfall,
        ]


def _curve_rows(plan: Plan):
    yield [_("Product"), _("Beds"), _("Chance of no free bed (%)"), _("Beds in the plan"), _("Beds needed")]
    for row in plan.rows:
        for point in row.curve:
            yield [
                row.name,
                point.beds,
                float(percentage(point.probability, 2)),
                _("yes") if point.is_current else "",
                _("yes") if point.is_needed else "",
            ]


@login_required
@role_required(*COCKPIT_ROLES)
@require_GET
def planner_export(request):
    """`?format=csv|xlsx` and the planner's query: the summary per product and, per product and
    number of beds, the chance of no free bed. CSV: the summary, an empty line, the curves;
    XLSX: one sheet each."""
    fmt = _export_format(request)
    if fmt is None:
        return _bad_export(_("Choose the format csv or xlsx."))
    form = planner_form(request.GET)
    plan = plan_for(form, request.user.organisation.region) if form.is_valid() else None
    if plan is None:  # the page again, with the form and its errors, as the KPI exports do
        context = {"region": request.user.organisation.region, "form": form, "plan": None}
        return render(request, PLANNER_TEMPLATE, context, status=400)
    period = plan.period
    filename = f"elv-capacity-plan-{period.start:%Y%m%d}-{period.end:%Y%m%d}.{fmt}"
    if fmt == "csv":
        return exports.csv_response([*_planner_rows(plan), [], *_curve_rows(plan)], filename)
    return exports.xlsx_response(
        [(_("Capacity plan"), _planner_rows(plan)), (_("Chance per number of beds"), _curve_rows(plan))], filename
    )
