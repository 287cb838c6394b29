"""API authentication."""

from django.utils.translation import gettext_lazy as _
from rest_framework.authentication import TokenAuthentication
from rest_framework.authtoken.models import Token
from rest_framework.exceptions import AuthenticationFailed


class OrganisationTokenAuthentication(TokenAuthentication):
    """DRF's token authentication, loading the user's organisation and region in the same query:
    nearly every API request needs them (who may see what, the access log), which otherwise costs
    one or two more queries."""

    def authenticate_credentials(self, key):
        try:
            token = Token.objects.select_related("user__organisation__region").get(key=key)
        except Token.DoesNotExist:
            raise AuthenticationFailed(_("Invalid token.")) from None
        if not token.user.is_active:
            raise AuthenticationFailed(_("User inactive or deleted."))
        if token.user.organisation_id is not None and not token.user.organisation.is_active:
            raise AuthenticationFailed(_("The organisation of this account is inactive."))
        return token.user, token
