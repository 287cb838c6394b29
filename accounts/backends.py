"""Authentication backends."""

from django.contrib.auth import get_user_model
from django.contrib.auth.backends import ModelBackend


class ModelBackendWithOrganisation(ModelBackend):
    """Django's username/password backend, loading the signed-in user together with their
    organisation and region: nearly every page needs both (who may see what, the access log),
    which otherwise costs two more queries on every request."""

    def get_user(self, user_id):
        users = get_user_model()._default_manager.select_related("organisation__region")
        user = users.filter(pk=user_id).first()
        return user if user is not None and self.user_can_authenticate(user) else None
