"""The region's change history in Beheer: every change made in its functional administration,
filtered and paged, and as a CSV file. Administrators and coordinators of the region read it.
No patient data is in it, so reading or exporting it is not access-logged."""

import csv
import json
from datetime import date, datetime, time, timedelta

from django.core.paginator import Paginator
from django.db.models import QuerySet
from django.http import Http404, HttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.utils.cache import add_never_cache_headers

from administration.access import beheer_view, region_id_of
from administration.history_forms import HistoryFilterForm
from administration.history_labels import object_type_label
from audit.models import ChangeRecord
from audit.selectors import change_authors_in_region, changes_in_region
from cockpit.exports import FORMULA_START

PAGE_SIZE = 100
CSV_COLUMNS = ["at", "by", "object_type", "object_id", "object", "action", "before", "after"]


def _start_of(day) -> datetime:
    return timezone.make_aware(datetime.combine(day, time.min))


def _filtered(region_id: int, data: dict) -> QuerySet[ChangeRecord]:
    changes = changes_in_region(region_id=region_id)
    if data.get("object_type"):
        changes = changes.filter(object_type=data["object_type"])
    if data.get("object_id"):
        changes = changes.filter(object_id=data["object_id"])
    if data.get("by"):
        changes = changes.filter(by_name=data["by"])
    if data.get("date_from"):
        changes = changes.filter(at__gte=_start_of(data["date_from"]))
    # The last day of the calendar (9999-12-31) has no next day: then nothing is cut off.
    if data.get("date_until") and data["date_until"] < date.max:
        changes = changes.filter(at__lt=_start_of(data["date_until"] + timedelta(days=1)))
    return changes


def _filter_form(request) -> HistoryFilterForm:
    names = change_authors_in_region(region_id=region_id_of(request))
    return HistoryFilterForm(request.GET or None, names=names)


@beheer_view()
def history(request):
    form = _filter_form(request)
    valid = not form.is_bound or form.is_valid()
    data = form.cleaned_data if form.is_bound and valid else {}
    changes = _filtered(region_id_of(request), data) if valid else ChangeRecord.objects.none()
    page = Paginator(changes, PAGE_SIZE).get_page(request.GET.get("page"))
    query = request.GET.copy()
    query.pop("page", None)
    context = {
        "beheer_section": "history",
        "form": form,
        "page": page,
        "changes": page.object_list,
        "query": query.urlencode(),
        # Reached from an object's own history: say that only its changes are listed.
        "one_object": (object_type_label(data["object_type"]), data["object_id"]) if data.get("object_id") else None,
    }
    return render(request, "administration/history.html", context, status=200 if valid else 400)


def _cell(value) -> str:
    """A text cell a spreadsheet will not run as a formula (CSV injection)."""
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(FORMULA_START) else text


@beheer_view()
def history_export(request):
    """The history as shown on the history page (same filters), also of one object
    (?object_type=&object_id=), as CSV; before and after as JSON text."""
    form = _filter_form(request)
    if form.is_bound and not form.is_valid():
        return HttpResponse(
            "\n".join(f"{field}: {' '.join(errors)}" for field, errors in form.errors.items()),
            status=400,
            content_type="text/plain; charset=utf-8",
        )
    data = form.cleaned_data if form.is_bound else {}
    changes = _filtered(region_id_of(request), data)
    # One object's history that has nothing in this region: another region's object (or none).
    if data.get("object_id") and not changes.exists():
        raise Http404
    stamp = timezone.localtime().strftime("%Y%m%d-%H%M")
    what = f"{data['object_type']}-{data['object_id']}-" if data.get("object_id") else ""
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="beheer-history-{what}{stamp}.csv"'
    add_never_cache_headers(response)
    response.write("\ufeff")  # BOM: spreadsheet programs then read the file as UTF-8
    writer = csv.writer(response)
    writer.writerow(CSV_COLUMNS)
    for change in changes.iterator(chunk_size=500):
        writer.writerow(
            [
                timezone.localtime(change.at).isoformat(timespec="seconds"),
                _cell(change.by_name),
                change.object_type,
                change.object_id,
                _cell(change.object_name),
                change.action,
                json.dumps(change.before, ensure_ascii=False, sort_keys=True),
                json.dumps(change.after, ensure_ascii=False, sort_keys=True),
            ]
        )
    return response
