"""The suggested locations on a referral's page, rendered once and cached.

The list is the same for everyone who may send the referral an offer and is shown on every view
of the page; ranking the region's locations and rendering their twenty offer forms cost more than
the rest of the page. It is one cached part (elvdesk/page_cache.py): a bed count, a workflow step
or an offer anywhere in the region changes the region's generation, and the referral's own facts
that the ranking reads are part of the question, so it is never older than what it shows.

A location without a planner carries a warning and an "I will phone them" box
(referrals.offer_reachability); a planner added or removed in Beheer raises the region's
generation (audit.changes), so it shows on the next view.
"""

from django.utils.safestring import SafeString

from elvdesk.page_cache import cached_part
from providers.reachability import unreachable_location_ids
from referrals.matching import match_locations
from referrals.models import Referral

SUGGESTIONS_TEMPLATE = "referrals/detail.html#suggestions"


def _ranking_question(referral: Referral) -> list:
    """What the ranking of `referral` reads of the referral itself."""
    patient = referral.patient
    return [
        referral.pk,
        referral.state,
        referral.state_changed_at.isoformat(),
        referral.product_id,
        referral.urgency,
        referral.planned_date,
        referral.preferred_location_id,
        patient.postcode,
        patient.insurer_id,
        sorted(feature.pk for feature in referral.care_needs.all()),
    ]


def suggestions_html(request, *, referral: Referral) -> SafeString:
    """The suggested locations with their offer forms, or "" when no location fits."""

    def context():
        suggestions = match_locations(referral=referral)
        unreachable = unreachable_location_ids(region_id=referral.region_id)
        values = {"referral": referral, "suggestions": suggestions, "unreachable_ids": unreachable}
        return (values if suggestions else None), {}

    return cached_part(
        request,
        name="suggestions",
        region_id=referral.region_id,
        question=_ranking_question(referral),
        template=SUGGESTIONS_TEMPLATE,
        context=context,
    ).html
