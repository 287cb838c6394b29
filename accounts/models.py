from django.contrib.auth.models import AbstractUser
from django.db import models
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
