"""Reads for the Beheer pages about users: who is in the region and in which state.

States: invited (active, no password yet), active, deactivated; and, across those, locked out
(django-axes: too many failed logins within the cool-off time) and no second factor yet (a role
that needs one, password set, no confirmed authenticator).
"""

from axes.models import AccessAttempt
from django.conf import settings
from django.contrib.auth.hashers import UNUSABLE_PASSWORD_PREFIX
from django.db.models import BooleanField, Exists, ExpressionWrapper, OuterRef, Q, QuerySet, Subquery
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django_otp.plugins.otp_totp.models import TOTPDevice

from accounts.models import Invitation, User
from accounts.twofactor import TWO_FACTOR_ROLES
from providers.models import Organisation

STATUS_INVITED = "invited"
STATUS_ACTIVE = "active"
STATUS_DEACTIVATED = "deactivated"
STATUS_LOCKED_OUT = "locked_out"
STATUS_NO_SECOND_FACTOR = "no_second_factor"
STATUS_CHOICES = [
    (STATUS_INVITED, _("Invited")),
    (STATUS_ACTIVE, _("Active")),
    (STATUS_DEACTIVATED, _("Deactivated")),
    (STATUS_LOCKED_OUT, _("Locked out")),
    (STATUS_NO_SECOND_FACTOR, _("No second factor yet")),
]

_NO_PASSWORD = Q(password__startswith=UNUSABLE_PASSWORD_PREFIX)


def _boolean(condition: Q) -> ExpressionWrapper:
    return ExpressionWrapper(condition, output_field=BooleanField())


def _lockouts(now=None) -> QuerySet[AccessAttempt]:
    """Failed-login records that lock their username out now (any address)."""
    now = now or timezone.now()
    return AccessAttempt.objects.filter(
        failures_since_start__gte=settings.AXES_FAILURE_LIMIT,
        attempt_time__gte=now - settings.AXES_COOLOFF_TIME,
    )


def users_in_region(*, region_id: int) -> QuerySet[User]:
    """The people of the region that Beheer manages (technical accounts excluded)."""
    return User.objects.filter(organisation__region_id=region_id, is_staff=False, is_superuser=False)


def with_states(users: QuerySet[User]) -> QuerySet[User]:
    """Annotates is_invited, is_locked_out, has_second_factor, needs_second_factor and
    invitation_expires_at (of the newest invitation), each in the same query."""
    newest_invitation = Invitation.objects.filter(user=OuterRef("pk")).order_by("-created_at", "-id")
    return users.annotate(
        is_invited=_boolean(Q(is_active=True) & _NO_PASSWORD),
        is_locked_out=Exists(_lockouts().filter(username__iexact=OuterRef("username"))),
        has_second_factor=Exists(TOTPDevice.objects.filter(user=OuterRef("pk"), confirmed=True)),
        needs_second_factor=_boolean(Q(role__in=TWO_FACTOR_ROLES)),
        invitation_expires_at=Subquery(newest_invitation.values("expires_at")[:1]),
    )


def _search(users: QuerySet[User], text: str) -> QuerySet[User]:
    """Every word must be found in a name, the e-mail address or the log-in name."""
    for word in text.split():
        users = users.filter(
            Q(first_name__icontains=word)
            | Q(last_name__icontains=word)
            | Q(email__icontains=word)
            | Q(username__icontains=word)
        )
    return users


def _with_status(users: QuerySet[User], status: str) -> QuerySet[User]:
    if status == STATUS_INVITED:
        return users.filter(_NO_PASSWORD, is_active=True)
    if status == STATUS_ACTIVE:
        return users.filter(is_active=True).exclude(_NO_PASSWORD)
    if status == STATUS_DEACTIVATED:
        return users.filter(is_active=False)
    if status == STATUS_LOCKED_OUT:
        return users.filter(is_locked_out=True)
    if status == STATUS_NO_SECOND_FACTOR:
        return users.filter(is_active=True, role__in=TWO_FACTOR_ROLES, has_second_factor=False).exclude(_NO_PASSWORD)
    return users


def user_list(
    *,
    region_id: int,
    search: str = "",
    organisation: Organisation | None = None,
    role: str = "",
    status: str = "",
) -> QuerySet[User]:
    users = with_states(users_in_region(region_id=region_id).select_related("organisation"))
    if search:
        users = _search(users, search)
    if organisation is not None:
        users = users.filter(organisation=organisation)
    if role:
        users = users.filter(role=role)
    if status:
        users = _with_status(users, status)
    return users.order_by("last_name", "first_name", "pk")


def newest_invitation(user: User) -> Invitation | None:
    return Invitation.objects.filter(user=user).order_by("-created_at", "-id").first()


def organisations_in_region(
    *, region_id: int, active_only: bool = True, include_pk: int | None = None
) -> QuerySet[Organisation]:
    """The organisations of the region: with `active_only` the active ones and the one with
    `include_pk` (a user's current organisation stays selectable when it became inactive)."""
    organisations = Organisation.objects.filter(region_id=region_id)
    if active_only:
        organisations = organisations.filter(Q(is_active=True) | Q(pk=include_pk) if include_pk else Q(is_active=True))
    return organisations.order_by("kind", "name")
