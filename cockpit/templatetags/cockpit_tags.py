from datetime import date, datetime

from django import template
from django.utils import timezone
from django.utils.formats import date_format

from cockpit.tables import Kind
from elvdesk.numbers import format_number, format_percentage

register = template.Library()


@register.filter
def cell(row: dict, column) -> str:
    """A table cell as people read it: "45 %", "1,5", "12 mrt 2026"; "—" when there is no value."""
    value = row.get(column.key)
    if value is None or value == "":
        return "—"
    if isinstance(value, str) and column.kind != Kind.TEXT:
        return value  # a suppressed figure ("<5", cockpit/monitoring.py)
    if column.kind == Kind.SHARE:
        return format_percentage(value)
    if column.kind in (Kind.HOURS, Kind.DAYS):
        return format_number(value, 1)
    if column.kind == Kind.MINUTES:
        return format_number(value, 0)
    if column.kind == Kind.DATE and isinstance(value, date):
        return date_format(value, "D j M")
    if column.kind == Kind.DATETIME and isinstance(value, datetime):
        return date_format(timezone.localtime(value), "j M Y H:i")
    return str(value)


@register.filter
def is_numeric(column) -> bool:
    return column.kind not in (Kind.TEXT, Kind.DATE, Kind.DATETIME)


@register.filter
def unit(column) -> str:
    return {Kind.HOURS: "h", Kind.DAYS: "d", Kind.MINUTES: "min"}.get(column.kind, "")


@register.filter
def percent(share, places=1) -> str:
    """A share 0..1 as a rounded percentage in the active language ("3,65 %")."""
    return format_percentage(share, int(places))


@register.filter
def decimal(value, places=1) -> str:
    return format_number(value, int(places))
