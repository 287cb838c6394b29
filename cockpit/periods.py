"""The reporting period: whole local days, `start` to `end` inclusive."""

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from django.utils import timezone

DEFAULT_DAYS = 30
MAX_DAYS = 1096  # three years (issue 19: measured by make bench); longer belongs in a data warehouse


@dataclass(frozen=True)
class Period:
    start: date
    end: date

    @classmethod
    def last_days(cls, days: int = DEFAULT_DAYS, *, today: date | None = None) -> "Period":
        today = today or timezone.localdate()
        return cls(start=today - timedelta(days=days - 1), end=today)

    @property
    def start_at(self) -> datetime:
        """Local midnight at the start of the first day (aware)."""
        return timezone.make_aware(datetime.combine(self.start, time.min))

    @property
    def end_at(self) -> datetime:
        """Local midnight after the last day (aware, exclusive)."""
        return timezone.make_aware(datetime.combine(self.end + timedelta(days=1), time.min))

    @property
    def days(self) -> list[date]:
        return [self.start + timedelta(days=n) for n in range((self.end - self.start).days + 1)]

    def query(self) -> str:
        return f"from={self.start.isoformat()}&to={self.end.isoformat()}"
