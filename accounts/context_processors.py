from accounts.models import BED_FINDER_ROLES, Role


def navigation(request):
    """Which main menu items the signed-in user's role may use."""
    user = getattr(request, "user", None)
    role = getattr(user, "role", None) if user is not None and user.is_authenticated else None
    return {
        "nav_my_beds": role == Role.PROVIDER_STAFF,
        "nav_overview": role in BED_FINDER_ROLES,
    }
