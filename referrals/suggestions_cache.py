"""The suggested locations on a referral's page, rendered once per ranking and cached.

The list is the same for everyone who may send the referral an offer and is shown on every view
of the page; rendering its twenty offer forms (and unpickling the ranked locations) cost more
than the rest of the page. It is cached under the ranking's own key (the referral, the language,
the minute and the fingerprint of the region's bed counts: `referrals.matching.ranking_key`), so
it is never older than the ranking it shows. The offer forms' CSRF token is personal: see
elvdesk.fragments.
"""

from django.utils.safestring import SafeString

from elvdesk.fragments import shared_fragment
from referrals.matching import MATCH_CACHE_SECONDS, match_locations, ranking_key
from referrals.models import Referral

SUGGESTIONS_TEMPLATE = "referrals/detail.html#suggestions"


def suggestions_html(request, *, referral: Referral) -> SafeString:
    """The suggested locations with their offer forms, or "" when no location fits."""

    def context():
        suggestions = match_locations(referral=referral)
        return ({"referral": referral, "suggestions": suggestions} if suggestions else None), {}

    return shared_fragment(
        request,
        key=f"{ranking_key(referral=referral)}:html",
        timeout=MATCH_CACHE_SECONDS,
        template=SUGGESTIONS_TEMPLATE,
        context=context,
    ).html
