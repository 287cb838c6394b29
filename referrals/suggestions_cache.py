"""The suggested locations on a referral's page, rendered once per ranking and cached.

The list is the same for everyone who may send the referral an offer and is shown on every view
of the page; rendering its twenty offer forms (and unpickling the ranked locations) cost more
than the rest of the page. It is cached under the ranking's own key (the referral, the language,
the minute and the fingerprint of the region's bed counts: `referrals.matching.ranking_key`), so
it is never older than the ranking it shows.

The CSRF token of the offer forms is personal, so the cached HTML carries a random placeholder
that each request replaces with its own token.
"""

import secrets

from django.core.cache import cache
from django.middleware.csrf import get_token
from django.template.loader import render_to_string
from django.utils.safestring import SafeString, mark_safe

from referrals.matching import MATCH_CACHE_SECONDS, match_locations, ranking_key
from referrals.models import Referral

SUGGESTIONS_TEMPLATE = "referrals/detail.html#suggestions"


def suggestions_html(request, *, referral: Referral) -> SafeString:
    """The suggested locations with their offer forms, or "" when no location fits."""
    key = f"{ranking_key(referral=referral)}:html"
    entry = cache.get(key)
    if entry is None:
        suggestions = match_locations(referral=referral)
        placeholder = secrets.token_hex(16)
        context = {"referral": referral, "suggestions": suggestions, "csrf_token": placeholder}
        entry = {
            "html": render_to_string(SUGGESTIONS_TEMPLATE, context) if suggestions else "",
            "placeholder": placeholder,
        }
        cache.set(key, entry, MATCH_CACHE_SECONDS)
    html = entry["html"].replace(entry["placeholder"], get_token(request)) if entry["html"] else ""
    return mark_safe(html)  # nosec B308 B703: our own template's output, escaped when it was rendered
