"""Who cannot be reached through the portal (issue 16 "Nobody unreachable"): reads only.

A provider location is *unreachable* when its organisation has no active planner (a user with
role provider_staff): planners belong to the organisation, not to a location, and hear of every
offer and cancelled booking of all its locations (referrals.notifications). For the e-mailed
stale-count reminders only a planner with an e-mail address counts (beds.reminders).

The writes (raising and closing `ContactProblem`s) are in providers.contact_problems.
"""

from django.db.models import Exists, OuterRef, Q, QuerySet

from accounts.models import Role, User
from providers.models import ContactProblem, ContactProblemKind, Location, OrganisationKind


def planners(*, with_email: bool = False) -> QuerySet:
    """Active planners; `with_email`: only those an e-mail can reach."""
    users = User.objects.filter(is_active=True, role=Role.PROVIDER_STAFF)
    return users.exclude(email="") if with_email else users


def has_planner(organisation_ref: str = "organisation_id", *, with_email: bool = False) -> Exists:
    """EXISTS: the organisation named by the outer query's `organisation_ref` has an active planner."""
    return Exists(planners(with_email=with_email).filter(organisation_id=OuterRef(organisation_ref)))


def with_planner_flag(queryset: QuerySet, *, organisation_ref: str | None = None) -> QuerySet:
    """`queryset` with `has_planner` on every row, in the same query (no query per row).
    Works on locations (the default), bed counts (`location__organisation_id`) and anything else
    that names an organisation through `organisation_ref`."""
    if organisation_ref is None:
        organisation_ref = "location__organisation_id" if queryset.model is not Location else "organisation_id"
    return queryset.annotate(has_planner=has_planner(organisation_ref))


def _unreachable(*, region_id: int) -> QuerySet:
    return (
        Location.objects.filter(
            organisation__region_id=region_id,
            organisation__kind=OrganisationKind.PROVIDER,
            organisation__is_active=True,
            is_active=True,
        )
        .exclude(has_planner())
        .order_by("organisation__name", "name", "pk")
    )


def unreachable_location_ids(*, region_id: int) -> set[int]:
    """The region's active provider locations that no planner hears: one query."""
    return set(_unreachable(region_id=region_id).values_list("pk", flat=True))


def unreachable_locations(*, region_id: int) -> list[Location]:
    """The same locations with their organisation (for names, phones and links): one query."""
    return list(_unreachable(region_id=region_id).select_related("organisation"))


def location_has_planner(location: Location) -> bool:
    return planners().filter(organisation_id=location.organisation_id).exists()


def open_contact_problems(*, region_id: int, limit: int = 50) -> list[ContactProblem]:
    """The region's open problems, newest first, with location and organisation: one query.

    A problem is no longer shown once its location can be reached again (a planner was added;
    for reminders one with an e-mail address): that planner now sees the offer in the portal or
    gets the next reminder. The reminder job also closes such problems for good
    (providers.contact_problems.contact_problems_resolve_reachable), so a later loss is raised anew.
    """
    heard = Q(kind=ContactProblemKind.REMINDER_UNHEARD, heard_by_email=True) | (
        ~Q(kind=ContactProblemKind.REMINDER_UNHEARD) & Q(heard=True)
    )
    return list(
        ContactProblem.objects.filter(region_id=region_id, resolved_at__isnull=True)
        .annotate(
            heard=has_planner("location__organisation_id"),
            heard_by_email=has_planner("location__organisation_id", with_email=True),
        )
        .exclude(heard)
        .select_related("location", "location__organisation")
        .order_by("-created_at", "-pk")[:limit]
    )


def contact_problem_for_user(*, region_id: int, pk: int) -> ContactProblem | None:
    return ContactProblem.objects.filter(region_id=region_id, pk=pk).first()
