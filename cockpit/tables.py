"""A figure table as the KPI page, the charts and the CSV/XLSX exports all use it."""

from dataclasses import dataclass, field

from elvdesk.numbers import half_up, percentage


class Kind:
    TEXT = "text"
    INT = "int"
    SHARE = "share"  # a fraction 0..1, shown and exported as a percentage
    HOURS = "hours"
    DAYS = "days"
    MINUTES = "minutes"
    DATE = "date"
    DATETIME = "datetime"


@dataclass(frozen=True)
class Column:
    key: str
    label: str
    kind: str = Kind.TEXT

    @property
    def export_label(self) -> str:
        unit = {Kind.SHARE: "%", Kind.HOURS: "h", Kind.DAYS: "d", Kind.MINUTES: "min"}.get(self.kind)
        return f"{self.label} ({unit})" if unit else str(self.label)


@dataclass
class Table:
    key: str
    title: str
    definition: str
    columns: list[Column]
    rows: list[dict] = field(default_factory=list)
    chart: object | None = None

    def export_value(self, row: dict, column: Column):
        """Plain values for files: shares as percentages, durations rounded."""
        value = row.get(column.key)
        if value is None:
            return None
        if column.kind == Kind.SHARE:
            return float(percentage(value))
        if column.kind in (Kind.HOURS, Kind.DAYS, Kind.MINUTES):
            return float(half_up(value, 2))
        if column.kind == Kind.TEXT:
            return str(value)
        return value
