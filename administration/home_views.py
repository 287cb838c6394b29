"""Beheer's overview: the region's organisations by kind and who cannot be reached (locations
without a planner, messages that reached nobody), with a "Handled" button for the desk."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.db.models import Count, Q
from django.http import Http404
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from accounts.decorators import role_required
from accounts.models import Role
from administration.access import beheer_view, can_change, region_id_of
from elvdesk.next_url import local_next_url
from providers.contact_problems import contact_problem_resolve
from providers.models import Organisation, OrganisationKind
from providers.reachability import contact_problem_for_user, open_contact_problems, unreachable_locations


def _organisation_counts(*, region_id: int) -> list[dict]:
    """Active and inactive organisations per kind, every kind listed (one query)."""
    counted = {
        row["kind"]: row
        for row in Organisation.objects.filter(region_id=region_id)
        .values("kind")
        .annotate(active=Count("pk", filter=Q(is_active=True)), inactive=Count("pk", filter=Q(is_active=False)))
        .order_by()
    }
    return [
        {
            "kind": kind,
            "label": label,
            "active": counted.get(kind, {}).get("active", 0),
            "inactive": counted.get(kind, {}).get("inactive", 0),
        }
        for kind, label in OrganisationKind.choices
    ]


@beheer_view()
def index(request):
    region_id = region_id_of(request)
    context = {
        "beheer_section": "index",
        "organisation_counts": _organisation_counts(region_id=region_id),
        "unreachable_locations": unreachable_locations(region_id=region_id),
        "contact_problems": open_contact_problems(region_id=region_id),
        "may_invite": can_change(request.user),
        "referral_links": request.user.role == Role.COORDINATOR,
    }
    return render(request, "administration/index.html", context)


# Not beheer_view: that gives POST to administrators only, and the desk (coordinators) is who
# phones the provider and marks the problem handled.
@login_required
@role_required(Role.ADMIN, Role.COORDINATOR)
@require_POST
def contact_problem_resolve_view(request, pk: int):
    problem = contact_problem_for_user(region_id=region_id_of(request), pk=pk)
    if problem is None:
        raise Http404
    if contact_problem_resolve(problem=problem, by=request.user):
        messages.success(request, _("Marked as handled."))
    else:
        messages.info(request, _("This was already handled."))
    return redirect(local_next_url(request) or "beheer:index")
