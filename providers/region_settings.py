"""A region's settings, changed by its functional administrator in Beheer (docs/architecture.md §2.11).

Every setting is read from the database where it is used (the overview job, the escalation job,
the board, offers, the pseudonymisation job), so a change takes effect on the next request or
job run, without a restart. Pages that cache what they show (the board, the bed overview, the
suggested locations) follow within their cache's minute.
"""

from datetime import datetime

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils.translation import gettext as _

from audit.changes import change_record_of, snapshot
from providers.models import Region
from providers.phones import normalise_dutch_phone

MAX_OVERVIEW_TIMES = 6
# The desk keeps a referral's patient data for coordination only: the medical record itself
# (WGBO, 20 years) is kept by the GP, hospital and provider, and who looked at the data stays in
# the NEN 7513 access log whatever this says. A month after closing, the desk must still be able
# to answer a complaint, a patient's question or a provider's invoice, hence the minimum; past a
# year it has no coordination purpose left (AVG: no longer than needed), hence the maximum.
RETENTION_DAYS_MIN = 30
RETENTION_DAYS_MAX = 365

# (minimum, maximum) of the whole-number settings.
LIMITS = {
    "stale_after_hours": (1, 168),
    "offer_expiry_minutes": (5, 1440),
    # More locations at once than this would hold beds that others need, for one patient.
    "max_parallel_offers": (1, 5),
    "triage_sla_minutes": (5, 1440),
    "urgent_placement_hours": (1, 168),
    "search_limit_hours": (1, 168),
    "retention_days": (RETENTION_DAYS_MIN, RETENTION_DAYS_MAX),
}
SCALAR_FIELDS = [
    "overview_times",
    "stale_after_hours",
    "offer_expiry_minutes",
    "max_parallel_offers",
    "triage_sla_minutes",
    "urgent_placement_hours",
    "search_limit_hours",
    "self_service_offers",
    "office_hours_start",
    "office_hours_end",
    "retention_days",
    "share_capacity_with_neighbours",
    "desk_phone",
]
RELATION_FIELDS = ["products", "neighbours"]
HISTORY_FIELDS = [*SCALAR_FIELDS, *RELATION_FIELDS]


def normalise_overview_times(value: str) -> str:
    """ "16:00, 7:30" → "07:30,16:00": valid times of day, sorted, without duplicates; a clear
    ValidationError otherwise."""
    parts = [part.strip() for part in (value or "").split(",")]
    if not any(parts):
        raise ValidationError(_("Enter at least one time, for example 07:30."), code="required")
    times = []
    for part in parts:
        if not part:
            raise ValidationError(_("Separate the times with a single comma, for example 07:30,16:00."), code="invalid")
        try:
            times.append(datetime.strptime(part, "%H:%M").time())
        except ValueError:
            raise ValidationError(
                _("“%(value)s” is not a time of day; write it as HH:MM, for example 07:30.") % {"value": part},
                code="invalid",
            ) from None
    if len(set(times)) != len(times):
        raise ValidationError(_("Each time may appear only once."), code="duplicate")
    if len(times) > MAX_OVERVIEW_TIMES:
        raise ValidationError(_("At most %(count)s times a day.") % {"count": MAX_OVERVIEW_TIMES}, code="too_many")
    return ",".join(moment.strftime("%H:%M") for moment in sorted(times))


def _clean(region: Region, data: dict) -> dict:
    """`data` checked and normalised; every problem at once, per field."""
    errors: dict[str, list] = {}
    cleaned = dict(data)

    def refuse(field: str, error) -> None:
        messages = error.messages if isinstance(error, ValidationError) else [error]
        errors.setdefault(field, []).extend(messages)

    if "overview_times" in data:
        try:
            cleaned["overview_times"] = normalise_overview_times(data["overview_times"])
        except ValidationError as error:
            refuse("overview_times", error)
    for field, (low, high) in LIMITS.items():
        if field in data and not (data[field] is not None and low <= data[field] <= high):
            refuse(field, _("Enter a whole number from %(low)s to %(high)s.") % {"low": low, "high": high})
    if data.get("desk_phone"):
        try:
            cleaned["desk_phone"] = normalise_dutch_phone(data["desk_phone"])
        except ValidationError as error:
            refuse("desk_phone", error)
    start = data.get("office_hours_start", region.office_hours_start)
    end = data.get("office_hours_end", region.office_hours_end)
    if start is not None and end is not None and start >= end:
        refuse("office_hours_end", _("Office hours must end after they start."))
    if "products" in data and not data["products"]:
        refuse("products", _("Choose at least one product the region offers."))
    if "neighbours" in data and any(neighbour.pk == region.pk for neighbour in data["neighbours"]):
        refuse("neighbours", _("A region cannot be its own neighbour."))
    if errors:
        raise ValidationError(errors)
    return cleaned


def _neighbours_of(region_ids: set[int]) -> dict[int, list[str]]:
    return {
        other.pk: snapshot(other, ["neighbours"])["neighbours"] for other in Region.objects.filter(pk__in=region_ids)
    }


def region_settings_update(*, region: Region, by, data: dict) -> Region:
    """Change the settings in `data` (any of SCALAR_FIELDS and RELATION_FIELDS; products and
    neighbours as lists of Product and Region rows) and record the change in the region's history.

    Raises ValidationError (per field) and changes nothing when a value is not allowed."""
    unknown = set(data) - set(HISTORY_FIELDS)
    if unknown:
        raise ValueError(f"not a region setting: {', '.join(sorted(unknown))}")
    with transaction.atomic():
        region = Region.objects.select_for_update().get(pk=region.pk)
        cleaned = _clean(region, data)
        before = snapshot(region, HISTORY_FIELDS)
        # Neighbours are mutual: a region added or removed here gains or loses this one as its
        # neighbour too, so its own history says so (and who did it).
        others: set[int] = set()
        if "neighbours" in cleaned:
            current = set(region.neighbours.values_list("pk", flat=True))
            others = current ^ {neighbour.pk for neighbour in cleaned["neighbours"]}
        others_before = _neighbours_of(others)

        scalars = [name for name in SCALAR_FIELDS if name in cleaned]
        for name in scalars:
            setattr(region, name, cleaned[name])
        if scalars:
            region.save(update_fields=scalars)
        if "products" in cleaned:
            region.products.set(cleaned["products"])
        if "neighbours" in cleaned:
            region.neighbours.set(cleaned["neighbours"])

        change_record_of(
            region,
            by=by,
            region_id=region.pk,
            action="update",
            before=before,
            after=snapshot(region, HISTORY_FIELDS),
        )
        others_after = _neighbours_of(others)
        for other in Region.objects.filter(pk__in=others):
            change_record_of(
                other,
                by=by,
                region_id=other.pk,
                action="update",
                before={"neighbours": others_before[other.pk]},
                after={"neighbours": others_after[other.pk]},
            )
    return region
