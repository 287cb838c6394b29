"""Authentication backends."""

from django.contrib.auth import get_user_model
from django.contrib.auth.backends import ModelBackend


class ModelBackendWithOrganisation(ModelBackend):
    """Django's username/password backend, loading the signed-in user together with their
    organisation and region: nearly every page needs both (who may see what, the access log),
    which otherwise costs two more queries on every request."""

    def authenticate(self, request, username=None, password=None, **kwargs):
        # Invited people sign in with their e-mail address, stored in lower case
        # (accounts/services.py user_invite); "Petra@Example.org" is the same person.
        if username and "@" in username:
            username = username.strip().lower()
        return super().authenticate(request, username=username, password=password, **kwargs)

    def get_user(self, user_id):
        users = get_user_model()._default_manager.select_related("organisation__region")
        user = users.filter(pk=user_id).first()
        return user if user is not None and self.user_can_authenticate(user) else None

    def user_can_authenticate(self, user):
        """Also refuses the users of an organisation deactivated in Beheer: at login, and on the
        next request of a session already open (get_user)."""
        if not super().user_can_authenticate(user):
            return False
        return user.organisation_id is None or user.organisation.is_active
