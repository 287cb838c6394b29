"""API keys for provider systems (ECDs) and the link from a bed-count change to the key that made it."""

import hashlib
import hmac

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


def hash_secret(secret: str) -> str:
    """SHA-256 of the secret. A plain fast hash is enough here: the secret is 32 random bytes,
    so there is nothing to brute-force, and every API call can check it cheaply."""
    return hashlib.sha256(secret.encode()).hexdigest()


class ApiKey(models.Model):
    """A key a provider's system uses instead of a person's token: `Api-Key <prefix>.<secret>`.

    Only the SHA-256 of the secret is stored; the full key is shown once, when it is created.
    A revoked key stays (so history keeps pointing at it) but no longer authenticates."""

    organisation = models.ForeignKey(
        "providers.Organisation", verbose_name=_("organisation"), on_delete=models.CASCADE, related_name="api_keys"
    )
    name = models.CharField(_("name"), max_length=100, help_text=_("Which system uses it, e.g. 'ECD production'."))
    prefix = models.CharField(_("key prefix"), max_length=16, unique=True, editable=False)
    secret_hash = models.CharField(_("secret (SHA-256)"), max_length=64, editable=False)
    created_at = models.DateTimeField(_("created at"), default=timezone.now, editable=False)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("created by"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    last_used_at = models.DateTimeField(_("last used at"), null=True, blank=True, editable=False)
    revoked_at = models.DateTimeField(_("revoked at"), null=True, blank=True)

    class Meta:
        ordering = ["organisation__name", "name"]
        verbose_name = _("API key")
        verbose_name_plural = _("API keys")

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None

    def matches(self, secret: str) -> bool:
        return hmac.compare_digest(self.secret_hash, hash_secret(secret))


class ApiKeyWrite(models.Model):
    """Which API key made a bed-count change (CapacityChange.changed_by names people only)."""

    change = models.OneToOneField("beds.CapacityChange", on_delete=models.CASCADE, related_name="api_key_write")
    api_key = models.ForeignKey(ApiKey, verbose_name=_("API key"), on_delete=models.PROTECT, related_name="writes")

    class Meta:
        verbose_name = _("bed-count change by API key")
        verbose_name_plural = _("bed-count changes by API key")

    def __str__(self) -> str:
        return f"{self.api_key} → {self.change_id}"
