"""Django's admin is the developers' tool, for active superusers only.

The region's own people work in Beheer (/beheer/, administration/), with the checks, history and
audit of each change. Staff status alone no longer opens the admin, nor does the role
"functional administrator": both get the admin's login page, which says they are not allowed.
"""

from django.contrib import admin
from django.utils.translation import gettext_lazy as _


def is_developer(request) -> bool:
    user = request.user
    return bool(user.is_active and user.is_superuser)


def developers_only(site: admin.AdminSite) -> admin.AdminSite:
    """`site` (Django's default admin site, where every app registers its models) for active
    superusers only, with Dutch titles. Called where its URLs are included (elvdesk/urls.py)."""
    site.has_permission = is_developer
    site.site_header = _("ELV bed desk: technical administration")
    site.site_title = _("ELV bed desk technical administration")
    site.index_title = _("Technical administration (developers only)")
    return site
