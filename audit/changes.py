"""The change history of the functional administration (docs/architecture.md §2.11).

Every Beheer service that changes an organisation, location, bed contract, user or region
setting calls `change_record_of` (or `change_record`) inside its own transaction, with the fields before and after.
Changes to people's accounts and roles also go into the NEN 7513 access log
(`account_change_log`), which is where an auditor looks for "who was given access when".
"""

from datetime import date, datetime, time
from decimal import Decimal

from django.db import models
from django.utils import timezone

from audit.models import AccessLog, Action, ChangeRecord, Channel, Outcome
from elvdesk.page_cache import region_changed


def _plain(value):
    """A JSON-safe, readable form of a field value."""
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, datetime):
        local = timezone.localtime(value) if timezone.is_aware(value) else value
        return local.isoformat(timespec="minutes")
    if isinstance(value, date | time):
        return value.isoformat(timespec="minutes") if isinstance(value, time) else value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, models.Model):
        return str(value)
    if isinstance(value, list | tuple | set | frozenset):
        return sorted(str(_plain(item)) for item in value)
    return str(value)


def snapshot(instance: models.Model, fields: list[str]) -> dict:
    """The named fields of `instance` as plain values; many-to-many fields as sorted names
    (read from the database, so call it after the relation was saved)."""
    values = {}
    for name in fields:
        field = instance._meta.get_field(name)
        if field.many_to_many:
            values[name] = _plain(list(getattr(instance, name).all())) if instance.pk else []
        else:
            values[name] = _plain(getattr(instance, name))
    return values


def changed_only(before: dict, after: dict) -> tuple[dict, dict]:
    """The entries of `before` and `after` that differ (a key in only one of them counts)."""
    keys = [key for key in {**before, **after} if before.get(key) != after.get(key)]
    old = {key: before[key] for key in keys if key in before}
    new = {key: after[key] for key in keys if key in after}
    return old, new


def change_record(
    *,
    by,
    region_id: int | None,
    object_type: str,
    object_id: int,
    object_name: str,
    action: str,
    before: dict | None = None,
    after: dict | None = None,
) -> ChangeRecord | None:
    """Append one history row. For an "update" that changed nothing, nothing is written."""
    before, after = changed_only(before or {}, after or {}) if action == "update" else (before or {}, after or {})
    if action == "update" and not before and not after:
        return None
    # Every administrative change (organisations, locations, users, contracts, the region's
    # settings) is recorded here with its region: the one place that knows it happened, so the
    # region's cached page parts are not served again (elvdesk/page_cache.py).
    region_changed(region_id)
    return ChangeRecord.objects.create(
        by=by if by is not None and by.pk else None,
        by_name=by.get_username() if by is not None else "system",
        region_id=region_id,
        object_type=object_type,
        object_id=object_id,
        object_name=str(object_name)[:200],
        action=action,
        before=before,
        after=after,
    )


def change_record_of(
    subject: models.Model,
    *,
    by,
    region_id: int | None,
    action: str,
    before: dict | None = None,
    after: dict | None = None,
) -> ChangeRecord | None:
    """`change_record` for a model instance: its kind (the model's name: organisation, location,
    region, user), id and name (its `name` field, else how it prints) come from the instance."""
    return change_record(
        by=by,
        region_id=region_id,
        object_type=subject._meta.model_name,
        object_id=subject.pk,
        object_name=getattr(subject, "name", None) or str(subject),
        action=action,
        before=before,
        after=after,
    )


def account_change_log(*, by, subject, action: str = Action.UPDATE, source_address=None, path: str = "") -> None:
    """A NEN 7513 access-log row for a change to `subject`'s account or authorisation (invited,
    role or organisation changed, deactivated, second factor reset, lock-out lifted)."""
    organisation = getattr(by, "organisation", None)
    AccessLog.objects.append(
        [
            {
                "at": timezone.now(),
                "user_id": by.pk,
                "user_name": by.get_username(),
                "role": by.role or "",
                "organisation_id": organisation.pk if organisation else None,
                "organisation_name": organisation.name if organisation else "",
                "on_behalf_of": "",
                "action": action,
                "channel": Channel.PAGE,
                "patient_id": None,
                "referral_id": None,
                "subject_user_id": subject.pk,
                "outcome": Outcome.OK,
                "source_address": source_address,
                "path": path[:300],
            }
        ]
    )
