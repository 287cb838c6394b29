"""The suggested locations on a referral's page, rendered once per ranking and cached.

The list is the same for everyone who may send the referral an offer and is shown on every view
of the page; rendering its twenty offer forms (and unpickling the ranked locations) cost more
than the rest of the page. It is cached under the ranking's own key (the referral, the language,
the minute and the fingerprint of the region's bed counts: `referrals.matching.ranking_key`), so
it is never older than the ranking it shows. The offer forms' CSRF token is personal: see
elvdesk.fragments.

A location without a planner carries a warning and an "I will phone them" box
(referrals.offer_reachability); which locations those are is read on every view (one query) and
is part of the key, so a planner added or removed shows on the next view.
"""

import hashlib

from django.utils.safestring import SafeString

from elvdesk.fragments import shared_fragment
from providers.reachability import unreachable_location_ids
from referrals.matching import MATCH_CACHE_SECONDS, match_locations, ranking_key
from referrals.models import Referral

SUGGESTIONS_TEMPLATE = "referrals/detail.html#suggestions"


def _fingerprint(location_ids: set[int]) -> str:
    return hashlib.sha256(",".join(map(str, sorted(location_ids))).encode()).hexdigest()[:16]


def suggestions_html(request, *, referral: Referral) -> SafeString:
    """The suggested locations with their offer forms, or "" when no location fits."""
    unreachable = unreachable_location_ids(region_id=referral.region_id)

    def context():
        suggestions = match_locations(referral=referral)
        values = {"referral": referral, "suggestions": suggestions, "unreachable_ids": unreachable}
        return (values if suggestions else None), {}

    return shared_fragment(
        request,
        key=f"{ranking_key(referral=referral)}:html:{_fingerprint(unreachable)}",
        timeout=MATCH_CACHE_SECONDS,
        template=SUGGESTIONS_TEMPLATE,
        context=context,
    ).html
