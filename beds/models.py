from datetime import timedelta

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import F, Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

COUNT_FIELDS = ("total", "available", "held", "expected_24h", "expected_72h", "reserved")


class Capacity(models.Model):
    """Bed counts of one product at one location.

    `available` counts free beds including those `held` by open offers, so a bed can be
    offered when `available - held > 0`. The database keeps 0 <= held <= available <= total.
    """

    location = models.ForeignKey(
        "providers.Location", verbose_name=_("location"), on_delete=models.CASCADE, related_name="capacities"
    )
    product = models.ForeignKey(
        "providers.Product", verbose_name=_("product"), on_delete=models.PROTECT, related_name="capacities"
    )
    total = models.PositiveIntegerField(_("contracted beds"), default=0)
    available = models.PositiveIntegerField(_("free beds"), default=0)
    held = models.PositiveIntegerField(_("held by offers"), default=0)
    expected_24h = models.PositiveIntegerField(_("expected free within 24 h"), default=0)
    expected_72h = models.PositiveIntegerField(_("expected free within 72 h"), default=0)
    # Planned admissions booked for a later day (referrals/reservations.py): not taken off
    # `available` until their day, so "free now" stays true; set only by the reservation services.
    reserved = models.PositiveIntegerField(_("reserved for planned admissions"), default=0)
    confirmed_at = models.DateTimeField(_("confirmed at"), null=True, blank=True)
    confirmed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("confirmed by"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    # Bumped on every write; a form or API client that read an older version gets a conflict
    # instead of silently overwriting somebody else's count.
    version = models.PositiveIntegerField(_("version"), default=1)

    class Meta:
        ordering = ["location__name", "product__sort_order"]
        verbose_name = _("bed count")
        verbose_name_plural = _("bed counts")
        constraints = [
            models.UniqueConstraint(fields=["location", "product"], name="capacity_unique_location_product"),
            models.CheckConstraint(condition=Q(held__gte=0), name="capacity_held_not_negative"),
            models.CheckConstraint(condition=Q(held__lte=F("available")), name="capacity_held_lte_available"),
            models.CheckConstraint(condition=Q(available__lte=F("total")), name="capacity_available_lte_total"),
            models.CheckConstraint(
                condition=Q(expected_24h__gte=0) & Q(expected_72h__gte=0), name="capacity_expected_not_negative"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.location} · {self.product}"

    @property
    def free(self) -> int:
        """Beds that can still be offered."""
        return self.available - self.held

    def expected_by(self, day, *, today) -> int:
        """Beds the provider expects free by `day`: the 24-hour forecast for tomorrow, the 72-hour
        one (the furthest it gives) for later days."""
        return self.expected_24h if (day - today).days <= 1 else self.expected_72h

    def reservable(self, day, *, today) -> int:
        """Beds that can still be reserved for an admission on `day`: free now plus expected by
        then, minus every reservation not yet taken (conservatively, whatever its day)."""
        return self.free + self.expected_by(day, today=today) - self.reserved

    def is_stale(self, *, stale_after_hours: int, now=None) -> bool:
        if self.confirmed_at is None:
            return True
        now = now or timezone.now()
        return self.confirmed_at < now - timedelta(hours=stale_after_hours)

    def clean(self) -> None:
        errors = {}
        for name in COUNT_FIELDS:
            value = getattr(self, name)
            if value is not None and value < 0:
                errors[name] = _("A count cannot be negative.")
        if not errors:
            if self.available > self.total:
                errors["available"] = _("Free beds (%(available)s) cannot exceed contracted beds (%(total)s).") % {
                    "available": self.available,
                    "total": self.total,
                }
            elif self.held > self.available:
                errors["available"] = _(
                    "%(held)s beds are held by open offers; free beds cannot be lower than that."
                ) % {"held": self.held}
        if errors:
            raise ValidationError(errors)

    def snapshot(self) -> dict:
        return {name: getattr(self, name) for name in COUNT_FIELDS}


class ChangeSource(models.TextChoices):
    WEB = "web", _("Web page")
    API = "api", _("API")
    OFFER = "offer", _("Offer")
    BOOKING = "booking", _("Booking")
    DISCHARGE = "discharge", _("Discharge")
    RESERVATION = "reservation", _("Reservation for a planned admission")
    # Op- of afschaling: an admitted patient's bed moved to another product's count (referrals.services).
    PRODUCT_CHANGE = "product_change", _("Product change during a stay")
    CONFIRM = "confirm", _("Confirmed unchanged")
    ADMIN = "admin", _("Administration")


class CapacityChange(models.Model):
    """Append-only history of every change to a bed count."""

    capacity = models.ForeignKey(Capacity, on_delete=models.CASCADE, related_name="changes")
    changed_at = models.DateTimeField(_("changed at"), default=timezone.now, db_index=True)
    changed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    source = models.CharField(_("source"), max_length=20, choices=ChangeSource.choices)
    before = models.JSONField(_("before"))
    after = models.JSONField(_("after"))

    class Meta:
        ordering = ["-changed_at", "-id"]
        verbose_name = _("bed count change")
        verbose_name_plural = _("bed count changes")
        indexes = [models.Index(fields=["capacity", "-changed_at"])]

    def __str__(self) -> str:
        return f"{self.capacity} @ {self.changed_at:%Y-%m-%d %H:%M}"


# --- Background jobs (docs/architecture.md §5): daily overview snapshots and stale-count reminders


class BedOverviewSnapshot(models.Model):
    """The daily bed overview of one region at one scheduled moment ("dagelijks beddenoverzicht").

    `rows` holds one entry per location × product (free, held, total, expected, stale); `totals`
    one per product. No patient data. One snapshot per (region, slot): a second or concurrent run
    of the job for the same slot creates nothing and therefore sends nothing.
    """

    region = models.ForeignKey(
        "providers.Region", verbose_name=_("region"), on_delete=models.CASCADE, related_name="bed_overviews"
    )
    slot = models.DateTimeField(_("scheduled for"))
    created_at = models.DateTimeField(_("created at"), default=timezone.now)
    rows = models.JSONField(_("rows"), default=list)
    totals = models.JSONField(_("totals per product"), default=list)

    class Meta:
        ordering = ["-slot"]
        verbose_name = _("daily bed overview")
        verbose_name_plural = _("daily bed overviews")
        constraints = [models.UniqueConstraint(fields=["region", "slot"], name="bed_overview_unique_region_slot")]

    def __str__(self) -> str:
        return f"{self.region} · {timezone.localtime(self.slot):%Y-%m-%d %H:%M}"


class OverviewSubscription(models.Model):
    """A user who wants the daily bed overview of a region by e-mail. No row: no e-mail."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="overview_subscriptions")
    region = models.ForeignKey("providers.Region", on_delete=models.CASCADE, related_name="overview_subscriptions")
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = _("daily overview subscription")
        verbose_name_plural = _("daily overview subscriptions")
        constraints = [
            models.UniqueConstraint(fields=["user", "region"], name="overview_subscription_unique_user_region")
        ]

    def __str__(self) -> str:
        return f"{self.user} · {self.region}"


class OverviewDelivery(models.Model):
    """E-mail outbox of the daily overview: one row per (snapshot, recipient), so a duplicate
    run never mails anybody twice. `claimed_at` is a lease taken by the sending task; `sent_at`
    is set once the mail went out."""

    snapshot = models.ForeignKey(BedOverviewSnapshot, on_delete=models.CASCADE, related_name="deliveries")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)
    claimed_at = models.DateTimeField(null=True, blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("daily overview e-mail")
        verbose_name_plural = _("daily overview e-mails")
        constraints = [
            models.UniqueConstraint(fields=["snapshot", "user"], name="overview_delivery_unique_snapshot_user")
        ]
        indexes = [models.Index(fields=["sent_at", "created_at"])]

    def __str__(self) -> str:
        return f"{self.snapshot} → {self.user}"


class StaleCountReminder(models.Model):
    """A "still correct?" reminder to one planner for one location whose counts are stale.

    The e-mail carries a signed link with this row's id and `nonce`; the link expires at
    `expires_at` and works once (`used_at`). While a reminder is open (`is_open`: not used, not
    yet found expired) the location is not reminded again; the partial unique constraint makes
    that hold for concurrent runs too. The row is also its own e-mail outbox (`claimed_at`,
    `sent_at`)."""

    location = models.ForeignKey(
        "providers.Location", verbose_name=_("location"), on_delete=models.CASCADE, related_name="stale_reminders"
    )
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    nonce = models.CharField(max_length=64, unique=True, editable=False)
    created_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField(_("expires at"))
    is_open = models.BooleanField(default=True)
    used_at = models.DateTimeField(_("used at"), null=True, blank=True)
    claimed_at = models.DateTimeField(null=True, blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        verbose_name = _("stale count reminder")
        verbose_name_plural = _("stale count reminders")
        constraints = [
            models.UniqueConstraint(
                fields=["location", "user"], condition=Q(is_open=True), name="stale_reminder_one_open_per_user"
            )
        ]
        indexes = [models.Index(fields=["is_open", "expires_at"]), models.Index(fields=["sent_at", "created_at"])]

    def __str__(self) -> str:
        return f"{self.location} → {self.user}"

    def is_expired(self, now=None) -> bool:
        return (now or timezone.now()) >= self.expires_at
