"""The daily bed overview per region (docs/architecture.md §5.2): snapshots, subscriptions and the e-mail.

A region lists its overview times ("07:30,16:00", Europe/Amsterdam). A periodic job asks
`due_overview_slots()` which slot of today has passed without a snapshot and creates it with
`overview_snapshot_create()`; the unique (region, slot) constraint makes a second or concurrent
run a no-op. Creating the snapshot also writes one OverviewDelivery per subscriber (the e-mail
outbox) and queues the e-mails after the commit; a sweep sends what could not be queued.
"""

import csv
import io
import logging
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Q, QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.models import Role, User
from beds.models import BedOverviewSnapshot, Capacity, OverviewDelivery, OverviewSubscription
from elvdesk.outbox import outbox_wake_after_commit
from providers.models import Region

logger = logging.getLogger(__name__)

# Everyone who works with beds in a region may read and subscribe to its overview. It holds
# counts per location only, never patient data.
OVERVIEW_ROLES = (
    Role.GP,
    Role.TRANSFER_NURSE,
    Role.PROVIDER_STAFF,
    Role.COORDINATOR,
    Role.ADMIN,
    Role.ANALYST,
)
# An overview that could not be mailed within a day is not worth sending any more.
DELIVERY_WINDOW = timedelta(hours=24)


def region_timezone() -> ZoneInfo:
    return ZoneInfo(settings.TIME_ZONE)


def overview_times(region: Region) -> list[time]:
    """The region's configured times; an entry that is not HH:MM is skipped (and logged)."""
    times = []
    for part in (region.overview_times or "").split(","):
        part = part.strip()
        if not part:
            continue
        try:
            times.append(datetime.strptime(part, "%H:%M").time())
        except ValueError:
            logger.warning("region %s: overview time %r is not HH:MM; skipped", region.code, part)
    return sorted(set(times))


def due_slot(region: Region, *, now: datetime | None = None) -> datetime | None:
    """The latest of today's overview times (Europe/Amsterdam) that has passed, or None.

    Only the latest: after an outage from 07:00 to 17:00 the 16:00 overview is made, not also
    a 07:30 one with the same, afternoon counts."""
    now = now or timezone.now()
    zone = region_timezone()
    today = now.astimezone(zone).date()
    passed = [slot for t in overview_times(region) if (slot := datetime.combine(today, t, tzinfo=zone)) <= now]
    return max(passed) if passed else None


def due_overview_slots(*, now: datetime | None = None) -> list[tuple[int, datetime]]:
    """(region id, slot) for every region whose latest passed slot has no snapshot yet."""
    now = now or timezone.now()
    due = []
    regions = list(Region.objects.only("pk", "code", "overview_times"))
    slots = {region.pk: due_slot(region, now=now) for region in regions}
    wanted = Q(pk__in=[])
    for region_id, slot in slots.items():
        if slot is not None:
            wanted |= Q(region_id=region_id, slot=slot)
    existing = set(BedOverviewSnapshot.objects.filter(wanted).values_list("region_id", "slot"))
    for region_id, slot in slots.items():
        if slot is not None and (region_id, slot) not in existing:
            due.append((region_id, slot))
    return due


# --- Building a snapshot -------------------------------------------------------------------------


def overview_rows(*, region: Region, now: datetime | None = None) -> tuple[list[dict], list[dict]]:
    """Rows (location × product) and totals (per product) of the region's active locations."""
    now = now or timezone.now()
    capacities = (
        Capacity.objects.filter(location__organisation__region=region, location__is_active=True)
        .select_related("location", "location__organisation", "product")
        .order_by("location__name", "location_id", "product__sort_order", "product__code")
    )
    rows = []
    totals: dict[str, dict] = {}
    for capacity in capacities:
        stale = capacity.is_stale(stale_after_hours=region.stale_after_hours, now=now)
        location = capacity.location
        product = capacity.product
        rows.append(
            {
                "location_id": location.pk,
                "location": location.name,
                "organisation": location.organisation.name,
                "city": location.city,
                "phone": location.phone_24_7,
                "product": product.code,
                "product_name": product.name,
                "product_order": product.sort_order,
                "free": capacity.free,
                "held": capacity.held,
                "available": capacity.available,
                "total": capacity.total,
                "expected_24h": capacity.expected_24h,
                "expected_72h": capacity.expected_72h,
                "stale": stale,
                "confirmed_at": capacity.confirmed_at.isoformat() if capacity.confirmed_at else None,
            }
        )
        total = totals.setdefault(
            product.code,
            {
                "product": product.code,
                "product_name": product.name,
                "product_order": product.sort_order,
                "free": 0,
                "held": 0,
                "total": 0,
                "expected_24h": 0,
                "expected_72h": 0,
                "locations": 0,
                "stale": 0,
            },
        )
        for name in ("free", "held", "total", "expected_24h", "expected_72h"):
            total[name] += getattr(capacity, name)
        total["locations"] += 1
        total["stale"] += int(stale)
    ordered_totals = sorted(totals.values(), key=lambda t: (t["product_order"], t["product"]))
    return rows, ordered_totals


def subscribers(region: Region) -> QuerySet[User]:
    """Active users of the region who subscribed and still may read its overview."""
    return User.objects.filter(
        overview_subscriptions__region=region,
        is_active=True,
        organisation__region=region,
        role__in=OVERVIEW_ROLES,
    ).exclude(email="")


def overview_snapshot_create(
    *, region_id: int, slot: datetime, now: datetime | None = None
) -> tuple[BedOverviewSnapshot, bool]:
    """Store the overview of one region for one slot and queue its e-mails.

    Returns (snapshot, created). Safe to run twice and concurrently: the unique (region, slot)
    constraint lets exactly one run create the snapshot and its deliveries; the others get the
    existing snapshot and send nothing."""
    existing = BedOverviewSnapshot.objects.filter(region_id=region_id, slot=slot).first()
    if existing is not None:
        return existing, False
    region = Region.objects.get(pk=region_id)
    rows, totals = overview_rows(region=region, now=now)
    try:
        with transaction.atomic():
            snapshot = BedOverviewSnapshot.objects.create(
                region=region, slot=slot, rows=rows, totals=totals, created_at=now or timezone.now()
            )
            OverviewDelivery.objects.bulk_create(
                [OverviewDelivery(snapshot=snapshot, user=user) for user in subscribers(region)]
            )
            from beds.tasks import send_overview_email  # the task module imports this one

            # A broker outage must not undo the snapshot: the rows wait for the sweep.
            outbox_wake_after_commit(
                task=send_overview_email,
                pks=OverviewDelivery.objects.filter(snapshot=snapshot).values_list("pk", flat=True),
            )
    except IntegrityError:
        return BedOverviewSnapshot.objects.get(region_id=region_id, slot=slot), False
    logger.info("bed overview %s created for region %s", snapshot.pk, region.code)
    return snapshot, True


# --- Reading a snapshot --------------------------------------------------------------------------


@dataclass
class OverviewTable:
    """A snapshot as a table: one line per location, one cell per product column."""

    products: list[dict]
    lines: list[dict]


def overview_table(snapshot: BedOverviewSnapshot) -> OverviewTable:
    products: dict[str, dict] = {}
    lines: dict[int, dict] = {}
    for row in snapshot.rows:
        products.setdefault(
            row["product"], {"code": row["product"], "name": row["product_name"], "order": row.get("product_order", 0)}
        )
        line = lines.setdefault(
            row["location_id"],
            {
                "location": row["location"],
                "organisation": row["organisation"],
                "city": row["city"],
                "phone": row["phone"],
                "cells": {},
                "any_stale": False,
            },
        )
        line["cells"][row["product"]] = row
        line["any_stale"] = line["any_stale"] or row["stale"]
    ordered = sorted(products.values(), key=lambda p: (p["order"], p["code"]))
    for line in lines.values():
        line["cells"] = [line["cells"].get(product["code"]) for product in ordered]
    return OverviewTable(products=ordered, lines=list(lines.values()))


def snapshots_for_user(user: User) -> QuerySet[BedOverviewSnapshot]:
    """The snapshots of the user's region (only the cheap columns; rows are loaded per page)."""
    if user.organisation_id is None or user.role not in OVERVIEW_ROLES:
        return BedOverviewSnapshot.objects.none()
    return BedOverviewSnapshot.objects.filter(region_id=user.organisation.region_id).defer("rows")


def overview_csv(snapshot: BedOverviewSnapshot) -> str:
    """The snapshot as CSV (comma-separated, UTF-8), headers in the active language."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(
        [
            _("Region"),
            _("Overview of"),
            _("Location"),
            _("Organisation"),
            _("City"),
            _("Phone (24/7)"),
            _("Product"),
            _("Free"),
            _("Held by offers"),
            _("Contracted"),
            _("Expected free within 24 h"),
            _("Expected free within 72 h"),
            _("Stale"),
            _("Confirmed at"),
        ]
    )
    slot = timezone.localtime(snapshot.slot, region_timezone()).strftime("%Y-%m-%d %H:%M")
    zone = region_timezone()
    for row in snapshot.rows:
        confirmed = row.get("confirmed_at")
        confirmed_local = (
            datetime.fromisoformat(confirmed).astimezone(zone).strftime("%Y-%m-%d %H:%M") if confirmed else ""
        )
        writer.writerow(
            [
                snapshot.region.name,
                slot,
                row["location"],
                row["organisation"],
                row["city"],
                row["phone"],
                row["product_name"],
                row["free"],
                row["held"],
                row["total"],
                row["expected_24h"],
                row["expected_72h"],
                _("yes") if row["stale"] else _("no"),
                confirmed_local,
            ]
        )
    return buffer.getvalue()


def overview_csv_filename(snapshot: BedOverviewSnapshot) -> str:
    slot = timezone.localtime(snapshot.slot, region_timezone())
    return f"bed-overview-{snapshot.region.code}-{slot:%Y%m%d-%H%M}.csv"


# --- Subscriptions -------------------------------------------------------------------------------


def overview_subscription_set(*, user: User, region: Region, subscribed: bool) -> bool:
    """Turn the daily overview e-mail of `region` on or off for `user`. Idempotent."""
    if subscribed:
        OverviewSubscription.objects.get_or_create(user=user, region=region)
    else:
        OverviewSubscription.objects.filter(user=user, region=region).delete()
    return subscribed


def is_subscribed(*, user: User, region: Region) -> bool:
    return OverviewSubscription.objects.filter(user=user, region=region).exists()
