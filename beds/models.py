from datetime import timedelta

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import F, Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

COUNT_FIELDS = ("total", "available", "held", "expected_24h", "expected_72h")


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
