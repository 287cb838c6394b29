from accounts.models import BED_FINDER_ROLES, Role
from accounts.twofactor import two_factor_required

REFERRER_ROLES = (Role.GP, Role.TRANSFER_NURSE)
REFERRAL_ROLES = (*REFERRER_ROLES, Role.PROVIDER_STAFF, Role.COORDINATOR)


def navigation(request):
    """Which main menu items the signed-in user's role may use, and unread notifications."""
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {}
    if two_factor_required(user) and not user.is_verified():
        return {}  # halfway through login: no menu until the second factor is done
    role = user.role
    return {
        "nav_my_beds": role == Role.PROVIDER_STAFF,
        "nav_overview": role in BED_FINDER_ROLES,
        "nav_referrals": role in REFERRAL_ROLES,
        "nav_new_referral": role in REFERRER_ROLES,
        "nav_board": role == Role.COORDINATOR,
        "nav_cockpit": role in (Role.COORDINATOR, Role.ANALYST),
        "nav_privacy": role in (Role.COORDINATOR, Role.ADMIN),
        "nav_overviews": bool(user.organisation_id and role),
        "unread_notifications": lambda: user.notifications.filter(read_at__isnull=True).count(),
    }
