"""The people of a region, managed by its functional administrator (Beheer, docs/architecture.md §2.11).

Every change runs in one transaction with its history row (audit.changes.change_record_of) and its
NEN 7513 access-log row (account_change_log). What the administrator can do to an account:
invite, change, deactivate and reactivate, reset the second factor, lift a lock-out; never see or
set a password, TOTP secret or recovery code. Technical accounts (staff, superusers) are not
managed here.
"""

import logging

from axes.models import AccessAttempt
from axes.utils import reset as axes_reset
from django.conf import settings
from django.contrib.auth.password_validation import validate_password
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _
from django_otp.plugins.otp_static.models import StaticDevice
from django_otp.plugins.otp_totp.models import TOTPDevice
from rest_framework.authtoken.models import Token

from accounts import invitations
from accounts.models import Invitation, Role, User
from accounts.tasks import send_invitation_email
from audit.changes import account_change_log, change_record_of, snapshot
from audit.models import Action
from elvdesk.errors import DomainError, PermissionDenied
from elvdesk.outbox import outbox_wake_after_commit
from providers.models import Organisation, OrganisationKind

logger = logging.getLogger(__name__)

# The organisation kinds each role may work for.
ROLE_ORGANISATION_KINDS = {
    Role.PROVIDER_STAFF: (OrganisationKind.PROVIDER,),
    Role.GP: (OrganisationKind.GP_PRACTICE,),
    Role.TRANSFER_NURSE: (OrganisationKind.HOSPITAL,),
    Role.COORDINATOR: (OrganisationKind.DESK,),
    Role.ADMIN: (OrganisationKind.DESK,),
    Role.ANALYST: (OrganisationKind.DESK, OrganisationKind.INSURER),
}
# The history keeps these fields of an account before and after a change.
HISTORY_FIELDS = ["first_name", "last_name", "email", "username", "language", "role", "organisation", "is_active"]
USERNAME_MAX_LENGTH = User._meta.get_field("username").max_length


class UserChangeRefused(DomainError):
    """A change the rules do not allow; `field` names the form field it is about (or None)."""

    code = "user_change_refused"

    def __init__(self, message: str, *, field: str | None = None):
        super().__init__(message)
        self.field = field


def _audit(*, by: User, subject: User, action: str, source_address, path: str, **change) -> None:
    """The history row and the NEN 7513 row of one change to `subject`'s account."""
    record = change_record_of(
        subject,
        by=by,
        region_id=subject.organisation.region_id if subject.organisation_id else None,
        action=action,
        **change,
    )
    if record is not None:
        log_action = Action.CREATE if action == "invite" else Action.UPDATE
        account_change_log(by=by, subject=subject, action=log_action, source_address=source_address, path=path)


def _require_admin(by: User) -> None:
    if by.role != Role.ADMIN or by.organisation_id is None:
        raise PermissionDenied(_("Only the functional administrator can change users."))


def _locked_subject(*, user: User, by: User) -> User:
    """`user` re-read under a row lock, if `by` may manage them (own region, not technical)."""
    _require_admin(by)
    subject = User.objects.select_for_update(of=("self",)).select_related("organisation").filter(pk=user.pk).first()
    if (
        subject is None
        or subject.is_staff
        or subject.is_superuser
        or subject.organisation_id is None
        or subject.organisation.region_id != by.organisation.region_id
    ):
        raise PermissionDenied(_("This user is not one of your region."))
    return subject


def _normalised_email(email: str) -> str:
    email = (email or "").strip()
    local, _at, domain = email.rpartition("@")
    return f"{local}@{domain.lower()}" if local else email


def _check_email_free(email: str, *, exclude_pk: int | None = None) -> None:
    # The log-in name is the address lowercased, which can be longer ("İ" becomes "i̇").
    if len(email.lower()) > USERNAME_MAX_LENGTH:
        raise UserChangeRefused(
            _("This e-mail address is too long to log in with (at most %(max)d characters).")
            % {"max": USERNAME_MAX_LENGTH},
            field="email",
        )
    in_use = User.objects.filter(Q(email__iexact=email) | Q(username__iexact=email))
    if exclude_pk is not None:
        in_use = in_use.exclude(pk=exclude_pk)
    if in_use.exists():
        raise UserChangeRefused(
            _("This e-mail address is already in use by another user. Look the user up in the list instead."),
            field="email",
        )


def _check_role_fits(*, role: str, organisation: Organisation, by: User) -> None:
    if role not in Role.values:
        raise UserChangeRefused(_("Choose one of the roles."), field="role")
    if organisation.region_id != by.organisation.region_id:
        raise UserChangeRefused(_("Choose an organisation of your own region."), field="organisation")
    kinds = ROLE_ORGANISATION_KINDS[Role(role)]
    if organisation.kind not in kinds:
        raise UserChangeRefused(
            _("The role “%(role)s” does not fit this organisation (%(kind)s). This role belongs to: %(kinds)s.")
            % {
                "role": Role(role).label,
                "kind": organisation.get_kind_display(),
                "kinds": ", ".join(str(OrganisationKind(kind).label) for kind in kinds),
            },
            field="organisation",
        )


def _check_language(language: str) -> None:
    if language not in dict(settings.LANGUAGES):
        raise UserChangeRefused(_("Choose one of the languages."), field="language")


def _send_invitation(*, user: User, by: User) -> Invitation:
    """A new invitation (older links stop working), e-mailed once the transaction commits."""
    invitation = invitations.invitation_new(user=user, by=by)
    outbox_wake_after_commit(task=send_invitation_email, pks=[invitation.pk])
    return invitation


def user_invite(
    *,
    by: User,
    email: str,
    first_name: str,
    last_name: str,
    role: str,
    organisation: Organisation,
    language: str,
    source_address: str | None = None,
    path: str = "",
) -> User:
    """A new user of `organisation` with `role`, without a password; they get an e-mail with a
    one-use link to set one. The log-in name is the e-mail address (lowercased)."""
    _require_admin(by)
    email = _normalised_email(email)
    _check_role_fits(role=role, organisation=organisation, by=by)
    if not organisation.is_active:
        raise UserChangeRefused(_("This organisation is inactive. Activate it first."), field="organisation")
    _check_language(language)
    _check_email_free(email)
    with transaction.atomic():
        try:
            with transaction.atomic():
                user = User.objects.create_user(
                    username=email.lower(),
                    email=email,
                    password=None,  # unusable until the person sets one with the invitation
                    first_name=first_name.strip(),
                    last_name=last_name.strip(),
                    role=role,
                    organisation=organisation,
                    language=language,
                )
        except IntegrityError:  # the same address was invited a moment ago
            raise UserChangeRefused(
                _("This e-mail address is already in use by another user. Look the user up in the list instead."),
                field="email",
            ) from None
        _send_invitation(user=user, by=by)
        _audit(
            by=by,
            subject=user,
            action="invite",
            after=snapshot(user, HISTORY_FIELDS),
            source_address=source_address,
            path=path,
        )
    logger.info("user %s invited by %s", user.pk, by.pk)
    return user


def invitation_resend(*, user: User, by: User, source_address: str | None = None, path: str = "") -> Invitation:
    """A new invitation e-mail with a new link; the older links stop working."""
    with transaction.atomic():
        subject = _locked_subject(user=user, by=by)
        if not subject.is_active:
            raise UserChangeRefused(_("This user is deactivated. Reactivate the user first."))
        if subject.has_usable_password():
            raise UserChangeRefused(_("This user has already set a password; an invitation is not needed."))
        if not subject.email:
            raise UserChangeRefused(_("This user has no e-mail address. Add one first."))
        invitation = _send_invitation(user=subject, by=by)
        _audit(
            by=by,
            subject=subject,
            action="invite_resend",
            after={"email": subject.email},
            source_address=source_address,
            path=path,
        )
    return invitation


def invitation_accept(*, token: str, password: str, source_address: str | None = None, path: str = "") -> User:
    """The invited person sets their password with the link (Django's password validators
    apply; django ValidationError otherwise). Works once."""
    with transaction.atomic():
        invitation = invitations.invitation_for_token(token)
        user = User.objects.select_for_update(of=("self",)).select_related("organisation").get(pk=invitation.user_id)
        if user.has_usable_password():  # accepted a moment ago, in another tab
            raise invitations.InvitationLinkUsed()
        validate_password(password, user)
        claimed = Invitation.objects.filter(pk=invitation.pk, used_at__isnull=True).update(used_at=timezone.now())
        if not claimed:
            raise invitations.InvitationLinkUsed()
        user.set_password(password)
        user.save(update_fields=["password"])
        _audit(by=user, subject=user, action="invite_accept", source_address=source_address, path=path)
    logger.info("invitation %s accepted by user %s", invitation.pk, user.pk)
    return user


def user_update(
    *,
    user: User,
    by: User,
    first_name: str,
    last_name: str,
    email: str,
    language: str,
    role: str,
    organisation: Organisation,
    source_address: str | None = None,
    path: str = "",
) -> User:
    """Name, e-mail address, language, role and organisation of a user of the region. A log-in
    name that was the e-mail address follows it. When the address of someone who has not yet
    accepted their invitation changes, the old link stops working and a new one goes out."""
    with transaction.atomic():
        subject = _locked_subject(user=user, by=by)
        before = snapshot(subject, HISTORY_FIELDS)
        if subject.pk == by.pk and role != Role.ADMIN:
            raise UserChangeRefused(
                _("You cannot take away your own administrator role. Ask another administrator."), field="role"
            )
        email = _normalised_email(email)
        email_changed = email.lower() != subject.email.lower()
        if email_changed:
            _check_email_free(email, exclude_pk=subject.pk)
        if organisation.pk != subject.organisation_id and not organisation.is_active:
            raise UserChangeRefused(_("This organisation is inactive. Activate it first."), field="organisation")
        _check_role_fits(role=role, organisation=organisation, by=by)
        _check_language(language)
        if email_changed and subject.username.lower() == subject.email.lower():
            subject.username = email.lower()
        subject.first_name = first_name.strip()
        subject.last_name = last_name.strip()
        subject.email = email
        subject.language = language
        subject.role = role
        subject.organisation = organisation
        try:
            with transaction.atomic():
                subject.save(
                    update_fields=["first_name", "last_name", "email", "username", "language", "role", "organisation"]
                )
        except IntegrityError:  # the log-in name was taken a moment ago
            raise UserChangeRefused(
                _("This e-mail address is already in use by another user. Look the user up in the list instead."),
                field="email",
            ) from None
        after = snapshot(subject, HISTORY_FIELDS)
        _audit(
            by=by,
            subject=subject,
            action="update",
            before=before,
            after=after,
            source_address=source_address,
            path=path,
        )
        if email_changed and subject.is_active and not subject.has_usable_password() and subject.email:
            # The old address may have been a typo: its link must not let anybody in.
            _send_invitation(user=subject, by=by)
            _audit(
                by=by,
                subject=subject,
                action="invite_resend",
                after={"email": subject.email},
                source_address=source_address,
                path=path,
            )
    return subject


def user_deactivate(*, user: User, by: User, source_address: str | None = None, path: str = "") -> User:
    """The user can no longer log in; their sessions end at their next request (the session
    backend refuses inactive users) and their API tokens are deleted now."""
    with transaction.atomic():
        subject = _locked_subject(user=user, by=by)
        if subject.pk == by.pk:
            raise UserChangeRefused(_("You cannot deactivate yourself. Ask another administrator."))
        if not subject.is_active:
            return subject
        subject.is_active = False
        subject.save(update_fields=["is_active"])
        tokens, _deleted = Token.objects.filter(user=subject).delete()
        _audit(
            by=by,
            subject=subject,
            action="deactivate",
            before={"is_active": True},
            after={"is_active": False},
            source_address=source_address,
            path=path,
        )
    logger.info("user %s deactivated by %s (%s API tokens deleted)", subject.pk, by.pk, tokens)
    return subject


def user_reactivate(*, user: User, by: User, source_address: str | None = None, path: str = "") -> User:
    with transaction.atomic():
        subject = _locked_subject(user=user, by=by)
        if subject.is_active:
            return subject
        subject.is_active = True
        subject.save(update_fields=["is_active"])
        _audit(
            by=by,
            subject=subject,
            action="activate",
            before={"is_active": False},
            after={"is_active": True},
            source_address=source_address,
            path=path,
        )
    return subject


def user_second_factor_reset(*, user: User, by: User, source_address: str | None = None, path: str = "") -> User:
    """Remove the user's authenticator and recovery codes: they enrol again at their next login,
    and a session of theirs is no longer verified (the middleware sends it to enrolment)."""
    with transaction.atomic():
        subject = _locked_subject(user=user, by=by)
        totp_devices = TOTPDevice.objects.filter(user=subject)
        recovery_devices = StaticDevice.objects.filter(user=subject)
        if not totp_devices.exists() and not recovery_devices.exists():
            raise UserChangeRefused(_("This user has not set up a second factor yet; there is nothing to reset."))
        totp_devices.delete()
        recovery_devices.delete()
        _audit(
            by=by,
            subject=subject,
            action="reset_second_factor",
            source_address=source_address,
            path=path,
        )
    return subject


def user_lockout_lift(*, user: User, by: User, source_address: str | None = None, path: str = "") -> int:
    """Forget the user's failed logins (django-axes), from every address. Returns how many
    lock-out records were removed."""
    with transaction.atomic():
        subject = _locked_subject(user=user, by=by)
        # The login form takes the name as typed: "Jan@Example.nl" is counted apart from "jan@example.nl".
        usernames = set(
            AccessAttempt.objects.filter(username__iexact=subject.username).values_list("username", flat=True)
        )
        if not usernames:
            raise UserChangeRefused(_("This user is not locked out."))
        removed = sum(axes_reset(username=username) for username in usernames)
        _audit(by=by, subject=subject, action="unlock", source_address=source_address, path=path)
    return removed
