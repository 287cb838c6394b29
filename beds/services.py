"""Changes to bed counts. Every write locks the row, validates, bumps the version and appends
a CapacityChange, so concurrent planners, API clients and bookings never lose an update."""

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from accounts.models import User
from audit.changes import change_record_of
from beds.models import COUNT_FIELDS, Capacity, CapacityChange, ChangeSource
from elvdesk.errors import Conflict
from elvdesk.page_cache import capacity_changed
from providers.models import Location, Product, Region


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
    capacity_changed([capacity.pk])


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


def _set_counts(
    capacity: Capacity, *, by: User | None, counts: dict[str, int], source: str, confirm: bool = True
) -> None:
    """`confirm=False`: the counts change without the planner vouching for them (an
    administrator's contract change), so a stale count stays stale."""
    before = capacity.snapshot()
    for name, value in counts.items():
        if name not in COUNT_FIELDS or name in ("held", "reserved"):
            raise ValueError(f"{name} cannot be set directly")
        setattr(capacity, name, value)
    capacity.clean()
    fields = list(counts)
    if confirm:
        capacity.confirmed_at = timezone.now()
        capacity.confirmed_by = by
        fields += ["confirmed_at", "confirmed_by"]
    _save(capacity, before=before, by=by, source=source, fields=fields)


@transaction.atomic
def capacity_contract_set(
    *, location: Location, product: Product, by: User, total: int, expected_version: int | None = None
) -> Capacity:
    """The administrator sets the contracted total of one product at a location (Beheer).

    It goes through the same machinery as every bed count: row lock, version, a CapacityChange
    (source admin), and also a Beheer history row (location, action "contract"). Rule: a
    contract change keeps the occupied beds (total − available) as they are, so
    new available = new total − occupied. A total that would leave fewer free beds than the
    open offers hold (or fewer than none) is refused on "total": nobody booked or held loses
    their bed. The counts are not confirmed by it; that stays the planner's word.

    A product not yet at the location gets its row: the total, no free beds, unconfirmed, so
    the planner has to publish the free beds. `expected_version` is the version the
    administrator saw (0: the product was not there yet); a different one raises StaleCapacity.
    Only the products the region offers can be contracted.
    """
    if total < 0:
        raise ValidationError({"total": [_("A count cannot be negative.")]})
    region_id = location.organisation.region_id
    if not Region.products.through.objects.filter(region_id=region_id, product_id=product.pk).exists():
        raise ValidationError({"product": [_("The region does not offer this product.")]})
    capacity, created = _contract_row(location=location, product=product, by=by, total=total)
    old_total = None if created else capacity.total
    if not created:
        if expected_version is not None and capacity.version != expected_version:
            raise StaleCapacity(current=capacity)
        if total == old_total:
            return capacity
        occupied = capacity.total - capacity.available
        if total < occupied + capacity.held:
            raise ValidationError({"total": [_contract_too_low(occupied=occupied, held=capacity.held)]})
        _set_counts(
            capacity,
            by=by,
            counts={"total": total, "available": total - occupied},
            source=ChangeSource.ADMIN,
            confirm=False,
        )
    change_record_of(
        location,
        by=by,
        region_id=region_id,
        action="contract",
        before={product.name: old_total},
        after={product.name: total},
    )
    return capacity


def _contract_row(*, location: Location, product: Product, by: User, total: int) -> tuple[Capacity, bool]:
    """(the locked row, False) for a product the location has; (the new row, True) for one it
    had not, created with its first history row."""
    existing = Capacity.objects.filter(location=location, product=product).values_list("pk", flat=True).first()
    if existing is None:
        try:
            with transaction.atomic():  # a savepoint: another administrator may add it at the same moment
                capacity = Capacity.objects.create(location=location, product=product, total=total, available=0)
        except IntegrityError:
            existing = Capacity.objects.filter(location=location, product=product).values_list("pk", flat=True).get()
        else:
            CapacityChange.objects.create(
                capacity=capacity,
                changed_at=timezone.now(),
                changed_by=by,
                source=ChangeSource.ADMIN,
                before={name: 0 for name in COUNT_FIELDS},
                after=capacity.snapshot(),
            )
            capacity_changed([capacity.pk])
            return capacity, True
    return _locked(existing), False


def _contract_too_low(*, occupied: int, held: int) -> str:
    minimum = occupied + held
    occupied_text = ngettext("%(count)s bed is occupied", "%(count)s beds are occupied", occupied) % {"count": occupied}
    if not held:
        return _("%(occupied)s: the contracted total cannot be lower than %(minimum)s.") % {
            "occupied": occupied_text,
            "minimum": minimum,
        }
    held_text = ngettext("%(count)s is held by an offer", "%(count)s are held by offers", held) % {"count": held}
    return _("%(occupied)s and %(held)s: the contracted total cannot be lower than %(minimum)s.") % {
        "occupied": occupied_text,
        "held": held_text,
        "minimum": minimum,
    }


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


def capacities_lock(capacity_ids) -> None:
    """Lock several bed counts at once, in primary-key order: an accept that releases the holds of
    its sibling offers and another referral's accept over the same locations never wait for each
    other crosswise. Inside the caller's transaction."""
    list(Capacity.objects.select_for_update().filter(pk__in=set(capacity_ids)).order_by("pk").values_list("pk"))


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


def capacity_move_occupied_bed(
    *, from_capacity_id: int, to_capacity_id: int, by: User | None
) -> tuple[Capacity, Capacity]:
    """Op- of afschaling: an admitted patient's bed moves from one product's count to another's
    at the same location, so one bed less is free on the new count and one more on the old (never
    beyond its total). Both rows are locked in primary-key order, as `capacities_lock` does, inside
    the caller's transaction. Raises NoFreeBed, having written nothing, when the new count has no
    free bed (available − held < 1). Returns (old count, new count)."""
    if from_capacity_id == to_capacity_id:
        raise ValueError("a bed moves between two different counts")
    with transaction.atomic(savepoint=False):
        rows = Capacity.objects.select_for_update().filter(pk__in=(from_capacity_id, to_capacity_id)).order_by("pk")
        locked = {capacity.pk: capacity for capacity in rows}
        old, new = locked[from_capacity_id], locked[to_capacity_id]
        one_location = old.location_id == new.location_id
        can_move = one_location and new.free >= 1
        if can_move:
            before = new.snapshot()
            new.available -= 1
            _save(new, before=before, by=by, source=ChangeSource.PRODUCT_CHANGE, fields=["available"])
            before = old.snapshot()
            old.available = min(old.available + 1, old.total)
            _save(old, before=before, by=by, source=ChangeSource.PRODUCT_CHANGE, fields=["available"])
    if not one_location:
        raise ValueError("a bed moves between the counts of one location")
    if not can_move:
        raise NoFreeBed()
    return old, new


@transaction.atomic
def capacity_free_bed(*, capacity_id: int, by: User | None, source: str = ChangeSource.DISCHARGE) -> Capacity:
    """A discharge, or a booking ended before admission (source booking), frees a bed (never
    beyond the contracted total)."""
    capacity = _locked(capacity_id)
    before = capacity.snapshot()
    capacity.available = min(capacity.available + 1, capacity.total)
    _save(capacity, before=before, by=by, source=source, fields=["available"])
    return capacity


# Reservations for planned admissions (referrals/reservations.py): inside the caller's transaction.


def capacity_reserve(*, capacity_id: int, by: User | None) -> Capacity:
    """An accepted offer for a later day: counted as reserved, nothing taken off `available` yet."""
    with transaction.atomic(savepoint=False):
        capacity = _locked(capacity_id)
        before = capacity.snapshot()
        capacity.reserved += 1
        _save(capacity, before=before, by=by, source=ChangeSource.RESERVATION, fields=["reserved"])
    return capacity


def capacity_unreserve(*, capacity_id: int, by: User | None) -> Capacity:
    """A reservation ended before its day (cancelled, no-show)."""
    with transaction.atomic(savepoint=False):
        capacity = _locked(capacity_id)
        if capacity.reserved >= 1:
            before = capacity.snapshot()
            capacity.reserved -= 1
            _save(capacity, before=before, by=by, source=ChangeSource.RESERVATION, fields=["reserved"])
    return capacity


def capacity_take_reserved(*, capacity_id: int, by: User | None, force: bool = False) -> Capacity:
    """The reservation's day: the reserved bed becomes an occupied one (one bed less free). Raises
    NoFreeBed when no bed is free. `force`: the patient is there (admission recorded), so the
    reservation ends even if the count shows no free bed; the planner's next count corrects it."""
    with transaction.atomic(savepoint=False):
        capacity = _locked(capacity_id)
        can_take = capacity.free >= 1
        if can_take or force:
            before = capacity.snapshot()
            capacity.reserved = max(capacity.reserved - 1, 0)
            fields = ["reserved"]
            if can_take:
                capacity.available -= 1
                fields.append("available")
            _save(capacity, before=before, by=by, source=ChangeSource.RESERVATION, fields=fields)
    if not (can_take or force):
        raise NoFreeBed()
    return capacity
