"""Rendered page fragments that many users share, cached, with each user's own CSRF token.

A fragment with forms (the board's cards, a referral's suggested locations) is the same for every
user who may see it except for the CSRF token, which is personal. So it is rendered once with a
random placeholder where the token goes, cached, and every request puts its own token in (the
token a normal render would put there: one masked token per response). The cache key must hold
everything the fragment shows; that is the caller's part.
"""

import secrets
from collections.abc import Callable
from dataclasses import dataclass, field

from django.core.cache import cache
from django.middleware.csrf import get_token
from django.template.loader import render_to_string
from django.utils.safestring import SafeString, mark_safe


@dataclass(frozen=True)
class Fragment:
    html: SafeString
    facts: dict = field(default_factory=dict)  # what the caller kept beside the HTML


def shared_fragment(
    request, *, key: str, timeout: int, template: str, context: Callable[[], tuple[dict, dict]]
) -> Fragment:
    """The fragment cached under `key`, or `template` rendered with `context()`, which returns
    the template's context and the facts to keep beside the HTML (for example who is shown, for
    the access log). An empty rendering stays empty."""
    entry = cache.get(key)
    if entry is None:
        values, facts = context()
        placeholder = secrets.token_hex(16)
        html = render_to_string(template, {**values, "csrf_token": placeholder}) if values is not None else ""
        entry = {"html": html, "placeholder": placeholder, "facts": facts}
        cache.set(key, entry, timeout)
    html = entry["html"].replace(entry["placeholder"], get_token(request)) if entry["html"] else ""
    return Fragment(
        html=mark_safe(html),  # nosec B308 B703: our own template's output, escaped when it was rendered
        facts=entry["facts"],
    )
