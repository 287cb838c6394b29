from rest_framework.permissions import BasePermission


def role_permission(*roles: str) -> type[BasePermission]:
    """A DRF permission class admitting users with an organisation and one of `roles`."""

    class HasRole(BasePermission):
        def has_permission(self, request, view):
            user = request.user
            return bool(user and user.is_authenticated and user.organisation_id and user.role in roles)

    HasRole.__name__ = f"HasRole_{'_'.join(roles)}"
    return HasRole
