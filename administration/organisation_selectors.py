"""Reads of the organisation pages of Beheer: always within the administrator's region."""

from django.db.models import Count, Exists, OuterRef, Q, QuerySet

from accounts.models import User
from administration.user_selectors import with_states
from providers.models import Location, Organisation


def organisations_in_region(*, region_id: int, kind: str = "", status: str = "", query: str = "") -> QuerySet:
    """The region's organisations by name, each with `active_locations` (its number of active
    locations). `query` finds a name, an AGB code or a city (the organisation's or a location's)."""
    organisations = Organisation.objects.filter(region_id=region_id)
    if kind:
        organisations = organisations.filter(kind=kind)
    if status:
        organisations = organisations.filter(is_active=status == "active")
    query = query.strip()
    if query:
        location_in_city = Location.objects.filter(organisation=OuterRef("pk"), city__icontains=query)
        organisations = organisations.filter(
            Q(name__icontains=query)
            | Q(agb_code__startswith="".join(query.split()))
            | Q(city__icontains=query)
            | Exists(location_in_city)
        )
    return organisations.annotate(active_locations=Count("locations", filter=Q(locations__is_active=True))).order_by(
        "name", "pk"
    )


def organisation_in_region(*, region_id: int, pk: int) -> Organisation | None:
    return Organisation.objects.filter(region_id=region_id, pk=pk).first()


def organisation_locations(*, organisation: Organisation) -> list[Location]:
    """Active locations first, then by name."""
    return list(Location.objects.filter(organisation=organisation).order_by("-is_active", "name", "pk"))


def organisation_users(*, organisation: Organisation) -> list[User]:
    """Its people with their states (invited, locked out …: administration.user_selectors)."""
    users = User.objects.filter(organisation=organisation, is_staff=False, is_superuser=False)
    return list(with_states(users).order_by("-is_active", "last_name", "first_name", "pk"))
