"""A test client as a person uses the portal: signed in, in a language, optionally as htmx."""

from django.test import Client


def client_for(user=None, language: str = "en", *, htmx: bool = False, csrf: bool = False) -> Client:
    """Signed in as `user` (anonymous for None); English unless told, so assertions read the
    source strings. `csrf` makes the client check CSRF tokens as a browser's requests are."""
    headers = {"Accept-Language": language}
    if htmx:
        headers["HX-Request"] = "true"
    client = Client(enforce_csrf_checks=csrf, headers=headers)
    if user is not None:
        client.force_login(user)
    return client
