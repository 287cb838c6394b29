"""Monitoring per insurer (cockpit/monitoring.py): the page and its CSV/XLSX files.

Aggregates only, suppressed below 5, as the KPI page: coordinators and analysts of the region,
not access-logged (no patient is shown). Insurer analysts see their own insurer beside the region
and cannot choose another; the desk may choose one insurer to compare.
"""

from django.contrib.auth.decorators import login_required
from django.http import HttpResponseBadRequest
from django.shortcuts import render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET

from accounts.decorators import role_required
from accounts.models import Role
from cockpit import exports
from cockpit.monitoring import MonitoringReport, Scope, monitoring_report, monitoring_scope
from cockpit.monitoring_forms import MonitoringForm

MONITORING_ROLES = (Role.COORDINATOR, Role.ANALYST)
TEMPLATE = "cockpit/monitoring.html"
FORMATS = ("csv", "xlsx")


def _export_format(request) -> str | None:
    fmt = request.GET.get("format") or "xlsx"
    return fmt if fmt in FORMATS else None


def _bad_export(message: str) -> HttpResponseBadRequest:
    return HttpResponseBadRequest(message, content_type="text/plain; charset=utf-8")


def _form_and_scope(request) -> tuple[MonitoringForm, Scope]:
    scope = monitoring_scope(user=request.user)
    return MonitoringForm(request.GET, may_choose_insurer=scope.may_choose_insurer), scope


def _report(form: MonitoringForm, scope: Scope) -> MonitoringReport:
    insurer = scope.insurer if not scope.may_choose_insurer else form.insurer
    return monitoring_report(region=scope.region, months=form.months, insurer=insurer)


@login_required
@role_required(*MONITORING_ROLES)
@require_GET
def monitoring(request):
    form, scope = _form_and_scope(request)
    context = {"region": scope.region, "form": form, "scope": scope}
    if not form.is_valid():
        return render(request, TEMPLATE, context, status=400)
    report = _report(form, scope)
    context.update(report=report, export_query=_export_query(report, scope))
    return render(request, TEMPLATE, context)


def _export_query(report: MonitoringReport, scope: Scope) -> str:
    query = report.months.query()
    if scope.may_choose_insurer and report.insurer is not None:
        query += f"&insurer={report.insurer.uzovi}"
    return query


@login_required
@role_required(*MONITORING_ROLES)
@require_GET
def monitoring_export(request):
    """`?table=KEY&format=csv|xlsx&from=YYYY-MM&to=YYYY-MM[&insurer=UZOVI]`: one table, or
    `table=all` (the default) as one workbook with a sheet per table."""
    fmt, key = _export_format(request), request.GET.get("table") or "all"
    if fmt is None:
        return _bad_export(_("Choose the format csv or xlsx."))
    if key == "all" and fmt != "xlsx":
        return _bad_export(_("All tables together come as one XLSX workbook; choose format=xlsx or one table."))
    form, scope = _form_and_scope(request)
    if not form.is_valid():  # the page with the form's errors, as the KPI exports do
        return render(request, TEMPLATE, {"region": scope.region, "form": form, "scope": scope}, status=400)
    report = _report(form, scope)
    who = f"-{report.insurer.uzovi}" if report.insurer is not None else ""
    stamp = f"{report.months.first:%Y%m}-{report.months.last:%Y%m}{who}"
    if key == "all":
        sheets = [(table.title, exports.table_rows(table)) for table in report.tables]
        return exports.xlsx_response(sheets, f"elv-monitoring-{stamp}.xlsx")
    table = report.table(key)
    if table is None:
        return _bad_export(
            _("There is no table %(key)s. Tables: %(keys)s.")
            % {"key": key, "keys": ", ".join(t.key for t in report.tables)}
        )
    filename = f"elv-monitoring-{key}-{stamp}.{fmt}"
    if fmt == "csv":
        return exports.csv_response(exports.table_rows(table), filename)
    return exports.xlsx_response([(table.title, exports.table_rows(table))], filename)
