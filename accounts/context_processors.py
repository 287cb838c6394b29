from dataclasses import dataclass
from functools import cache

from django.urls import get_script_prefix, reverse
from django.utils.translation import gettext as _

from accounts.models import BED_FINDER_ROLES, Role
from accounts.twofactor import two_factor_required
from administration.access import READERS as BEHEER_READERS
from providers.views import SOCIAL_MAP_ROLES

REFERRER_ROLES = (Role.GP, Role.TRANSFER_NURSE)
REFERRAL_ROLES = (*REFERRER_ROLES, Role.PROVIDER_STAFF, Role.COORDINATOR)


@dataclass(frozen=True)
class NavItem:
    url: str
    label: str
    current: bool = False
    badge: object = None  # a callable count (evaluated only when shown), or None


@cache
def _url(view_name: str, script_prefix: str) -> str:
    return reverse(view_name)


def _referrals_label(role: str) -> str:
    if role == Role.PROVIDER_STAFF:
        return _("Referrals for us")
    if role == Role.COORDINATOR:
        return _("All open referrals")
    return _("My referrals")


def navigation(request):
    """The main menu of the signed-in user's role, built here rather than in the template: it
    is on every page, and a dozen template conditions cost more than the rest of the header."""
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {}
    if two_factor_required(user) and not user.is_verified():
        return {}  # halfway through login: no menu until the second factor is done
    role = user.role
    match = getattr(request, "resolver_match", None)
    here = match.view_name if match else ""
    prefix = get_script_prefix()
    entries = [
        # (shown, view name, label, also current on)
        (role == Role.PROVIDER_STAFF, "beds:my_beds", _("My beds"), ()),
        (role in BED_FINDER_ROLES, "beds:overview", _("Available beds"), ()),
        (role in REFERRAL_ROLES, "referrals:index", _referrals_label(role), ()),
        (role == Role.COORDINATOR, "referrals:escalations", _("Escalations"), ()),
        (role in (Role.COORDINATOR, Role.TRANSFER_NURSE), "referrals:klikmoment", _("Klikmoment"), ()),
        (role in REFERRER_ROLES, "referrals:new", _("Refer a patient"), ()),
        (role == Role.COORDINATOR, "cockpit:board", _("Regional board"), ()),
        (role in (Role.COORDINATOR, Role.ANALYST), "cockpit:capacity", _("Capacity"), ()),
        (role in (Role.COORDINATOR, Role.ANALYST), "cockpit:kpis", _("KPIs"), ()),
        (role in (Role.COORDINATOR, Role.ANALYST), "cockpit:monitoring", _("Monitoring"), ()),
        (role in (Role.COORDINATOR, Role.ANALYST), "cockpit:planner", _("Capacity planner"), ()),
        (role == Role.COORDINATOR, "audit:privacy", _("Privacy"), ("audit:",)),  # audit/views.py: who answers
        (role in SOCIAL_MAP_ROLES, "providers:social_map", _("Social map"), ()),
        (role in BEHEER_READERS, "beheer:index", _("Administration"), ("beheer:",)),
        (
            bool(user.organisation_id and role),
            "beds:overview_snapshots",
            _("Daily overviews"),
            ("beds:overview_snapshot",),
        ),
    ]
    items = [
        NavItem(url=_url(name, prefix), label=label, current=here == name or any(here.startswith(p) for p in also))
        for shown, name, label, also in entries
        if shown
    ]
    if role in REFERRAL_ROLES:
        unread = user.notifications.filter(read_at__isnull=True).count
        items.append(NavItem(url=_url("referrals:notifications", prefix), label=_("Notifications"), badge=unread))
    return {"nav_items": items}
