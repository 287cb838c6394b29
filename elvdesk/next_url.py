"""The page a form asks to return to after it is posted, when that is safe to follow."""

from django.utils.http import url_has_allowed_host_and_scheme


def local_next_url(request) -> str | None:
    """`next` from the form (or the query string) when it is a path on this site, else None.

    Only a path: redirect() takes any other word for a URL name and fails on it (a 500 for
    `next=0`), and a full address could send the user to another site."""
    url = request.POST.get("next") or request.GET.get("next") or ""
    safe = url_has_allowed_host_and_scheme(url, allowed_hosts={request.get_host()}, require_https=request.is_secure())
    return url if url.startswith("/") and safe else None
