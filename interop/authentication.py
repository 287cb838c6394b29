"""`Authorization: Api-Key <prefix>.<secret>`: a provider system acting for its organisation.

The caller becomes an `ApiKeyPrincipal`, not a person: it has the organisation of the key and,
for a provider organisation, the provider_staff role for bed-count writes. It is accepted only
by the views that list `ApiKeyAuthentication` (FHIR capacity reads, bulk capacity update) and
never by views that show patient data, which need a person for the NEN 7513 log.
"""

from django.utils import timezone
from django.utils.translation import gettext as _
from rest_framework.authentication import BaseAuthentication, get_authorization_header
from rest_framework.exceptions import AuthenticationFailed

from accounts.models import Role
from interop.models import ApiKey
from providers.models import OrganisationKind

KEYWORD = "Api-Key"
# last_used_at is rewritten at most once a minute, so a busy system costs no write per call.
LAST_USED_RESOLUTION_SECONDS = 60


class ApiKeyPrincipal:
    """The `request.user` of a call made with an API key."""

    is_authenticated = True
    is_anonymous = False
    is_active = True
    is_staff = False
    is_superuser = False
    pk = id = None

    def __init__(self, api_key: ApiKey):
        self.api_key = api_key
        self.organisation = api_key.organisation
        self.organisation_id = api_key.organisation_id
        self.role = Role.PROVIDER_STAFF if self.organisation.kind == OrganisationKind.PROVIDER else ""
        self.username = f"api-key:{api_key.prefix}"

    def __str__(self) -> str:
        return f"{self.api_key.name} ({self.organisation.name})"

    @property
    def region(self):
        return self.organisation.region

    def get_username(self) -> str:
        return self.username

    def has_role(self, *roles: str) -> bool:
        return self.role in roles

    def is_verified(self) -> bool:
        return False


def _touch(api_key: ApiKey) -> None:
    now = timezone.now()
    if api_key.last_used_at is None or (now - api_key.last_used_at).total_seconds() >= LAST_USED_RESOLUTION_SECONDS:
        ApiKey.objects.filter(pk=api_key.pk).update(last_used_at=now)
        api_key.last_used_at = now


class ApiKeyAuthentication(BaseAuthentication):
    def authenticate(self, request):
        parts = get_authorization_header(request).split()
        if not parts or parts[0].lower() != KEYWORD.lower().encode():
            return None
        if len(parts) != 2:
            raise AuthenticationFailed(_("Send the key as 'Authorization: Api-Key <prefix>.<secret>'."))
        try:
            prefix, _dot, secret = parts[1].decode().partition(".")
        except UnicodeError:
            raise AuthenticationFailed(_("Invalid API key.")) from None
        api_key = (
            ApiKey.objects.select_related("organisation", "organisation__region").filter(prefix=prefix).first()
            if prefix and secret
            else None
        )
        if api_key is None or not api_key.matches(secret):
            raise AuthenticationFailed(_("Invalid API key."))
        if not api_key.is_active:
            raise AuthenticationFailed(_("This API key has been revoked."))
        if not api_key.organisation.is_active:
            raise AuthenticationFailed(_("The organisation of this API key is inactive."))
        _touch(api_key)
        return ApiKeyPrincipal(api_key), api_key

    def authenticate_header(self, request) -> str:
        return KEYWORD


class ChallengeAllSchemes:
    """A view mixin: a 401 names every scheme the view accepts (`WWW-Authenticate: Token, Api-Key`),
    not only the first, so a provider system learns that its key is welcome here."""

    def get_authenticate_header(self, request):
        schemes = [authenticator.authenticate_header(request) for authenticator in self.get_authenticators()]
        return ", ".join(dict.fromkeys(scheme for scheme in schemes if scheme)) or None
