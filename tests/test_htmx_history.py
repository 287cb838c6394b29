"""htmx restores a page from its history (the Back button after the history cache missed) by
asking the page's address again with HX-History-Restore-Request and swapping the whole body:
every page that answers htmx with a fragment must then answer with the whole page."""

import pytest
from django.urls import reverse

from accounts.models import Role
from tests.factories import RegionFactory, user_with_role

pytestmark = pytest.mark.django_db

PAGES = [
    ("beds:overview", Role.GP),
    ("referrals:index", Role.GP),
    ("cockpit:board", Role.COORDINATOR),
]
HTMX = {"HX-Request": "true"}
RESTORE = {"HX-Request": "true", "HX-History-Restore-Request": "true"}


@pytest.mark.parametrize(("page", "role"), PAGES)
def test_a_history_restore_gets_the_whole_page(client, page, role):
    client.force_login(user_with_role(role, region=RegionFactory()))

    response = client.get(reverse(page), headers=RESTORE)

    assert response.status_code == 200
    assert b"<html" in response.content and b"</body>" in response.content


@pytest.mark.parametrize(("page", "role"), PAGES)
def test_an_htmx_request_still_gets_the_fragment_and_a_vary_header(client, page, role):
    client.force_login(user_with_role(role, region=RegionFactory()))

    response = client.get(reverse(page), headers=HTMX)

    assert response.status_code == 200
    assert b"<html" not in response.content
    # Browsers and proxies must not answer a plain visit with the cached fragment (or the reverse).
    assert "HX-Request" in response.headers.get("Vary", "")
