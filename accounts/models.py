from django.contrib.auth.models import AbstractUser
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class Role(models.TextChoices):
    GP = "gp", _("GP")
    TRANSFER_NURSE = "transfer_nurse", _("Transfer nurse")
    PROVIDER_STAFF = "provider_staff", _("Provider planner")
    COORDINATOR = "coordinator", _("Coordinator")
    ADMIN = "admin", _("Administrator")
    ANALYST = "analyst", _("Analyst")


REFERRER_ROLES = frozenset({Role.GP, Role.TRANSFER_NURSE})
BED_FINDER_ROLES = frozenset({Role.GP, Role.TRANSFER_NURSE, Role.COORDINATOR, Role.ADMIN})


class User(AbstractUser):
    """A person using the portal: one organisation, one role."""

    organisation = models.ForeignKey(
        "providers.Organisation",
        verbose_name=_("organisation"),
        on_delete=models.PROTECT,
        related_name="users",
        null=True,
        blank=True,
        help_text=_("Empty only for technical superusers."),
    )
    role = models.CharField(_("role"), max_length=20, choices=Role.choices, blank=True)
    language = models.CharField(
        _("language"), max_length=5, choices=[("nl", "Nederlands"), ("en", "English")], default="nl"
    )

    class Meta:
        verbose_name = _("user")
        verbose_name_plural = _("users")

    def __str__(self) -> str:
        return self.get_full_name() or self.username

    @property
    def region(self):
        return self.organisation.region if self.organisation_id else None

    def has_role(self, *roles: str) -> bool:
        return self.is_authenticated and self.role in roles


class Invitation(models.Model):
    """An e-mailed one-use link with which a new user sets their password (accounts/invitations.py).

    The link carries a signature, this row's id and its random `nonce`; it works once (`used_at`),
    until `expires_at`, and only while it is the user's newest invitation: sending the invitation
    again makes a new row, so the older links stop working. The row is also its own e-mail outbox
    (`claimed_at`, `sent_at`; elvdesk/outbox.py)."""

    user = models.ForeignKey(User, verbose_name=_("user"), on_delete=models.CASCADE, related_name="invitations")
    nonce = models.CharField(max_length=64, unique=True, editable=False)
    created_at = models.DateTimeField(_("created at"), default=timezone.now)
    created_by = models.ForeignKey(
        User, verbose_name=_("invited by"), on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    expires_at = models.DateTimeField(_("expires at"))
    used_at = models.DateTimeField(_("used at"), null=True, blank=True)
    claimed_at = models.DateTimeField(null=True, blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("invitation")
        verbose_name_plural = _("invitations")
        indexes = [models.Index(fields=["sent_at", "created_at"])]

    def __str__(self) -> str:
        return f"{self.user} ({self.created_at:%Y-%m-%d %H:%M})"

    def is_expired(self, now=None) -> bool:
        return (now or timezone.now()) >= self.expires_at
