"""Invitation links: how a new user gets in (docs/architecture.md §2.11).

The functional administrator invites a person by e-mail; the link carries a signature (own salt,
so no other signed value of the portal fits), the invitation's id and a random nonce. It expires
after INVITATION_VALID_FOR, works once, and only while it is the user's newest invitation: sending
it again makes a new invitation, so the older links stop working. Opening it (GET) only shows the
password form (mail scanners fetch links); the POST of that form sets the password. The signed
token is the authorisation: no login.
"""

import secrets
from datetime import datetime, timedelta

from django.core import signing
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.models import Invitation, User
from elvdesk.errors import DomainError

INVITATION_SALT = "accounts.invitation.set-password"
INVITATION_VALID_FOR = timedelta(days=7)


class InvitationLinkInvalid(DomainError):
    http_status = 400
    code = "invitation_link_invalid"

    def __init__(self):
        super().__init__(_("This invitation link is not valid. Ask the functional administrator for a new invitation."))


class InvitationLinkExpired(DomainError):
    http_status = 410
    code = "invitation_link_expired"

    def __init__(self):
        super().__init__(_("This invitation has expired. Ask the functional administrator to send it again."))


class InvitationLinkUsed(DomainError):
    http_status = 410
    code = "invitation_link_used"

    def __init__(self):
        super().__init__(_("This invitation has already been used. Log in with your e-mail address and password."))


class InvitationLinkReplaced(DomainError):
    http_status = 410
    code = "invitation_link_replaced"

    def __init__(self):
        super().__init__(_("A newer invitation was sent to you. Use the link in the most recent e-mail."))


def invitation_new(*, user: User, by: User | None, now: datetime | None = None) -> Invitation:
    """A fresh invitation (new nonce) for `user`; any older one stops working."""
    now = now or timezone.now()
    return Invitation.objects.create(
        user=user,
        nonce=secrets.token_urlsafe(24),
        created_at=now,
        created_by=by,
        expires_at=now + INVITATION_VALID_FOR,
    )


def invitation_token(invitation: Invitation) -> str:
    return signing.dumps({"i": invitation.pk, "n": invitation.nonce}, salt=INVITATION_SALT)


def has_accepted(user: User) -> bool:
    return Invitation.objects.filter(user=user, used_at__isnull=False).exists()


def is_newest(invitation: Invitation) -> bool:
    return not Invitation.objects.filter(user_id=invitation.user_id, pk__gt=invitation.pk).exists()


def invitation_for_token(token: str, *, now: datetime | None = None) -> Invitation:
    """The invitation a link stands for, or InvitationLinkInvalid / Expired / Used / Replaced."""
    try:
        data = signing.loads(token, salt=INVITATION_SALT, max_age=INVITATION_VALID_FOR)
    except signing.SignatureExpired:
        raise InvitationLinkExpired() from None
    except signing.BadSignature:
        raise InvitationLinkInvalid() from None
    if not isinstance(data, dict) or not isinstance(data.get("i"), int) or not isinstance(data.get("n"), str):
        raise InvitationLinkInvalid()
    invitation = (
        Invitation.objects.select_related("user", "user__organisation").filter(pk=data["i"], nonce=data["n"]).first()
    )
    if invitation is None or not invitation.user.is_active:
        # Deactivated since: the link no longer lets anybody in.
        raise InvitationLinkInvalid()
    if invitation.used_at is not None or has_accepted(invitation.user):
        raise InvitationLinkUsed()
    if not is_newest(invitation):
        raise InvitationLinkReplaced()
    if invitation.is_expired(now):
        raise InvitationLinkExpired()
    return invitation
