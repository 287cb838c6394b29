"""An offer to a location that nobody hears (no active planner, providers.reachability) is sent only
when the sender says they will phone: the page's "I will phone them" box, the API's
`confirm_unreachable`. Checked at the entry points (page, board, API), before the service holds
a bed, so a refused offer holds nothing; `services.offer_create` itself does not ask.
"""

from django.db.models import QuerySet
from django.utils.translation import gettext as _

from beds.models import Capacity
from elvdesk.errors import Conflict
from providers.reachability import location_has_planner, with_planner_flag


class ProviderUnreachable(Conflict):
    code = "provider_unreachable"


def offer_capacities(queryset: QuerySet | None = None) -> QuerySet:
    """Bed counts with `has_planner` (in the same query) for the check below."""
    queryset = queryset if queryset is not None else Capacity.objects.all()
    return with_planner_flag(queryset.select_related("location", "product"))


def unreachable_message(location) -> str:
    return _(
        "Nobody at %(location)s receives offers in the portal: phone them on %(phone)s. "
        "Confirm that you will phone them to send the offer anyway."
    ) % {"location": location.name, "phone": location.phone_24_7}


def offer_reachability_check(*, capacity: Capacity, confirmed: bool) -> None:
    """Refuse (409 provider_unreachable) an offer nobody at the location would hear of, unless the
    sender confirmed that they will phone."""
    if confirmed:
        return
    has_planner = getattr(capacity, "has_planner", None)
    if has_planner is None:
        has_planner = location_has_planner(capacity.location)
    if not has_planner:
        raise ProviderUnreachable(unreachable_message(capacity.location))
