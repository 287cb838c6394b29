"""API keys for provider systems and the bulk bed-count update they call."""

import hashlib
import re
import secrets
from dataclasses import dataclass, field
from datetime import timedelta

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.models import User
from beds.models import Capacity, CapacityChange, ChangeSource
from beds.services import capacity_update
from elvdesk.errors import DomainError
from interop.models import ApiKey, ApiKeyWrite, hash_secret
from providers.models import Location, Organisation

SECRET_BYTES = 32


# --- API keys ---------------------------------------------------------------------------------


def api_key_create(*, organisation: Organisation, name: str, by: User | None = None) -> tuple[ApiKey, str]:
    """Create a key and return it with the full `<prefix>.<secret>` string, which is not stored
    anywhere: show it once."""
    secret = secrets.token_urlsafe(SECRET_BYTES)
    while True:
        prefix = secrets.token_hex(6)
        if not ApiKey.objects.filter(prefix=prefix).exists():
            break
    api_key = ApiKey.objects.create(
        organisation=organisation, name=name, prefix=prefix, secret_hash=hash_secret(secret), created_by=by
    )
    return api_key, f"{prefix}.{secret}"


def api_key_revoke(*, api_key: ApiKey) -> ApiKey:
    """Stop the key from working at once; revoking twice keeps the first moment."""
    ApiKey.objects.filter(pk=api_key.pk, revoked_at__isnull=True).update(revoked_at=timezone.now())
    api_key.refresh_from_db(fields=["revoked_at"])
    return api_key


# --- Bulk bed counts --------------------------------------------------------------------------


class PreconditionRequired(DomainError):
    http_status = 428
    code = "precondition_required"

    def __init__(self):
        super().__init__(
            _(
                "Send If-Match with the ETag of your last GET (or If-Match: * to overwrite whatever is there now), "
                "so you never overwrite somebody else's change without knowing."
            )
        )


class PreconditionFailed(DomainError):
    http_status = 412
    code = "precondition_failed"

    def __init__(self, message: str, *, etag: str):
        super().__init__(message)
        self.etag = etag


class LocationNotFound(DomainError):
    http_status = 404
    code = "not_found"

    def __init__(self, location_ids):
        ids = ", ".join(str(pk) for pk in sorted(location_ids))
        super().__init__(_("Location %(ids)s does not exist or is not one of your organisation's.") % {"ids": ids})


class CountNotFound(DomainError):
    """The location has no bed count for that product: the bed count addressed does not exist
    (the desk adds products to a location)."""

    http_status = 404
    code = "not_found"

    def __init__(self, targets):
        items = "; ".join(
            _("%(item)s: location %(location)s has no count for %(product)s")
            % {"item": target.field, "location": target.location_id, "product": target.product}
            for target in targets
        )
        super().__init__(_("No such bed count (%(items)s). The desk adds products to a location.") % {"items": items})


def capacities_etag(capacities) -> str:
    """A strong ETag for a set of bed counts: changes whenever one of them is written."""
    fingerprint = ";".join(f"{c.pk}:{c.version}" for c in sorted(capacities, key=lambda c: c.pk))
    return '"' + hashlib.sha256(fingerprint.encode()).hexdigest()[:32] + '"'


IF_MATCH_PATTERN = r'^\s*(\*|(W/)?"[^"]*"(\s*,\s*(W/)?"[^"]*")*)\s*$'


def parse_if_match(header: str | None) -> list[str] | None:
    """The entity tags of an If-Match header ("*" included); None when there is none."""
    if header is None or not header.strip():
        return None
    if not re.match(IF_MATCH_PATTERN, header):
        raise ValidationError(
            {"If-Match": [_('Send the ETag exactly as received, in double quotes (If-Match: "…"), or *.')]}
        )
    return [item.strip() for item in header.split(",") if item.strip()]


@dataclass(frozen=True)
class CapacityTarget:
    """The counts one item of the request sets. `field` names the item in error messages."""

    location_id: int
    product: str
    counts: dict[str, int]
    version: int | None = None
    field: str = ""


@dataclass
class BulkResult:
    changed: list[int] = field(default_factory=list)
    confirmed: list[int] = field(default_factory=list)
    unchanged: list[int] = field(default_factory=list)


def _differs(target: CapacityTarget, capacity: Capacity) -> bool:
    return any(getattr(capacity, name) != value for name, value in target.counts.items())


def _confirmation_due(capacity: Capacity, *, now) -> bool:
    """An unchanged count is confirmed again once half the region's freshness limit has passed,
    so a system that keeps sending the same figures never shows them as stale, while a retried
    request (seconds later) writes nothing."""
    if capacity.confirmed_at is None:
        return True
    half_limit = timedelta(hours=capacity.location.organisation.region.stale_after_hours) / 2
    return capacity.confirmed_at < now - half_limit


def capacity_bulk_update(
    *,
    organisation: Organisation,
    by: User | None,
    targets: list[CapacityTarget],
    if_match: list[str] | None,
    api_key: ApiKey | None = None,
) -> BulkResult:
    """Set the counts of many products at many locations of `organisation` in one transaction:
    all items are written, or none.

    Optimistic concurrency: `if_match` must hold the ETag of a GET covering these locations (or
    all of the organisation's), or "*"; per item, a `version` works the same way. A stale write
    is refused with PreconditionFailed (412), unless every item already has the requested
    values (a retry of a request that succeeded), which answers without writing anything.
    """
    if if_match is None:
        raise PreconditionRequired()
    location_ids = {target.location_id for target in targets}
    now = timezone.now()
    result = BulkResult()
    with transaction.atomic():
        own = set(Location.objects.filter(pk__in=location_ids, organisation=organisation).values_list("pk", flat=True))
        if location_ids - own:
            raise LocationNotFound(location_ids - own)
        capacities = list(
            Capacity.objects.select_for_update(of=("self",))
            .select_related("product", "location__organisation__region")
            .filter(location__organisation=organisation)
            .order_by("pk")
        )
        in_scope = [capacity for capacity in capacities if capacity.location_id in location_ids]
        by_key = {(capacity.location_id, capacity.product.code): capacity for capacity in in_scope}
        missing = [target for target in targets if (target.location_id, target.product) not in by_key]
        if missing:
            raise CountNotFound(missing)
        pairs = [(target, by_key[(target.location_id, target.product)]) for target in targets]
        errors: dict[str, list[str]] = {}
        seen = set()
        for target in targets:
            if (target.location_id, target.product) in seen:
                errors[f"{target.field}.product"] = [_("This product is listed twice for the location.")]
            seen.add((target.location_id, target.product))
        if errors:
            raise ValidationError(errors)

        pending = [(target, capacity) for target, capacity in pairs if _differs(target, capacity)]
        scope_etag = capacities_etag(in_scope)
        if "*" not in if_match and not {scope_etag, capacities_etag(capacities)} & set(if_match) and pending:
            raise PreconditionFailed(
                _("These counts were changed in the meantime (the ETag no longer matches). GET them again and retry."),
                etag=scope_etag,
            )
        for target, capacity in pending:
            if target.version is not None and target.version != capacity.version:
                raise PreconditionFailed(
                    _("%(item)s was changed in the meantime (version %(version)s is now current).")
                    % {"item": target.field, "version": capacity.version},
                    etag=scope_etag,
                )

        for target, capacity in pairs:
            differs = _differs(target, capacity)
            if not differs and not _confirmation_due(capacity, now=now):
                result.unchanged.append(capacity.pk)
                continue
            try:
                capacity_update(capacity_id=capacity.pk, by=by, counts=target.counts, source=ChangeSource.API)
            except ValidationError as error:
                for name, messages in error.message_dict.items():
                    errors.setdefault(f"{target.field}.{name}", []).extend(messages)
                continue
            (result.changed if differs else result.confirmed).append(capacity.pk)
            if api_key is not None:
                change = CapacityChange.objects.filter(capacity_id=capacity.pk).order_by("-id").first()
                ApiKeyWrite.objects.create(change=change, api_key=api_key)
        if errors:
            raise ValidationError(errors)
    return result
