"""Changes to bed counts. Every write locks the row, validates, bumps the version and appends
a CapacityChange, so concurrent planners, API clients and bookings never lose an update."""

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.models import User
from beds.models import COUNT_FIELDS, Capacity, CapacityChange, ChangeSource
from elvdesk.errors import Conflict


class StaleCapacity(Conflict):
    code = "stale_version"

    def __init__(self, *, current: Capacity):
        super().__init__(
            _("These counts were changed by someone else in the meantime. Check the current figures and save again.")
        )
        self.current = current


class NoFreeBed(Conflict):
    code = "no_free_bed"

    def __init__(self):
        super().__init__(_("There is no free bed left at this location for this product."))


def _save(capacity: Capacity, *, before: dict, by: User | None, source: str, fields: list[str]) -> None:
    """Store the changed fields, bump the version and append the history row."""
    now = timezone.now()
    # Callers hold the row lock, so the version read with it is still the stored one.
    capacity.version += 1
    capacity.save(update_fields=[*fields, "version"])
    CapacityChange.objects.create(
        capacity=capacity, changed_at=now, changed_by=by, source=source, before=before, after=capacity.snapshot()
    )


def _locked(capacity_id: int) -> Capacity:
    return Capacity.objects.select_for_update().get(pk=capacity_id)


@transaction.atomic
def capacity_update(
    *,
    capacity_id: int,
    by: User | None,
    counts: dict[str, int],
    source: str = ChangeSource.WEB,
    expected_version: int | None = None,
) -> Capacity:
    """Set counts to absolute values (a planner's entry, a provider system's PATCH).

    With `expected_version`, a write based on figures somebody else has since changed is
    refused with StaleCapacity instead of overwriting them. Setting counts also confirms them.
    """
    capacity = _locked(capacity_id)
    if expected_version is not None and capacity.version != expected_version:
        raise StaleCapacity(current=capacity)
    _set_counts(capacity, by=by, counts=counts, source=source)
    return capacity


def _set_counts(capacity: Capacity, *, by: User | None, counts: dict[str, int], source: str) -> None:
    before = capacity.snapshot()
    for name, value in counts.items():
        if name not in COUNT_FIELDS or name == "held":
            raise ValueError(f"{name} cannot be set directly")
        setattr(capacity, name, value)
    capacity.clean()
    capacity.confirmed_at = timezone.now()
    capacity.confirmed_by = by
    _save(capacity, before=before, by=by, source=source, fields=[*counts, "confirmed_at", "confirmed_by"])


@transaction.atomic
def capacity_adjust(*, capacity_id: int, by: User | None, field: str, delta: int) -> Capacity:
    """Add `delta` to one count (the − / + buttons). Relative, so two planners pressing + at
    the same moment both count."""
    if field not in ("total", "available", "expected_24h", "expected_72h"):
        raise ValueError(f"{field} cannot be adjusted")
    capacity = _locked(capacity_id)
    _set_counts(capacity, by=by, counts={field: getattr(capacity, field) + delta}, source=ChangeSource.WEB)
    return capacity


@transaction.atomic
def location_capacities_confirm(*, location_id: int, by: User) -> int:
    """ "Klopt nog": the planner confirms that every count of a location is still right."""
    now = timezone.now()
    capacities = list(Capacity.objects.select_for_update().filter(location_id=location_id))
    for capacity in capacities:
        before = capacity.snapshot()
        capacity.confirmed_at = now
        capacity.confirmed_by = by
        _save(capacity, before=before, by=by, source=ChangeSource.CONFIRM, fields=["confirmed_at", "confirmed_by"])
    return len(capacities)


# Holding, releasing and booking a held bed run inside the offer's transaction (referrals.services)
# without a savepoint of their own, which would cost two round trips while the bed is locked. A
# refusal is raised after the block, having written nothing, so the caller's transaction stays usable.


def capacity_hold(*, capacity_id: int, by: User | None, lock: bool = True) -> Capacity:
    """Hold one free bed for an offer. Raises NoFreeBed when none is left.

    `lock=False` exists only for the concurrency test's negative control.
    """
    with transaction.atomic(savepoint=False):
        capacity = _locked(capacity_id) if lock else Capacity.objects.get(pk=capacity_id)
        has_free_bed = capacity.free >= 1
        if has_free_bed:
            before = capacity.snapshot()
            capacity.held += 1
            _save(capacity, before=before, by=by, source=ChangeSource.OFFER, fields=["held"])
    if not has_free_bed:
        raise NoFreeBed()
    return capacity


def capacity_release_hold(*, capacity_id: int, by: User | None) -> Capacity:
    with transaction.atomic(savepoint=False):
        capacity = _locked(capacity_id)
        if capacity.held >= 1:
            before = capacity.snapshot()
            capacity.held -= 1
            _save(capacity, before=before, by=by, source=ChangeSource.OFFER, fields=["held"])
    return capacity


def capacity_book_held(*, capacity_id: int, by: User | None) -> Capacity:
    """Turn a hold into a booking: one bed less free, one hold less."""
    with transaction.atomic(savepoint=False):
        capacity = _locked(capacity_id)
        can_book = capacity.held >= 1 and capacity.available >= 1
        if can_book:
            before = capacity.snapshot()
            capacity.held -= 1
            capacity.available -= 1
            _save(capacity, before=before, by=by, source=ChangeSource.BOOKING, fields=["held", "available"])
    if not can_book:
        raise NoFreeBed()
    return capacity


@transaction.atomic
def capacity_free_bed(*, capacity_id: int, by: User | None, source: str = ChangeSource.DISCHARGE) -> Capacity:
    """A discharge, or a booking ended before admission (source booking), frees a bed (never
    beyond the contracted total)."""
    capacity = _locked(capacity_id)
    before = capacity.snapshot()
    capacity.available = min(capacity.available + 1, capacity.total)
    _save(capacity, before=before, by=by, source=source, fields=["available"])
    return capacity
