""" "Refer to this location" on the bed overview (issue 17, fewer steps): for GPs and transfer
nurses, per product with a free bed, a plain link to the referral form with what the overview
knew. The desk's roles do not refer, so they never get it, not even from the shared cache."""

import html as html_lib
import re
from datetime import UTC, datetime
from urllib.parse import parse_qs, urlsplit

import pytest
import time_machine
from django.urls import reverse

from accounts.models import Role
from tests.factories import CapacityFactory, LocationFactory, product, user_with_role

pytestmark = pytest.mark.django_db

OVERVIEW = reverse("beds:overview")
NEW = reverse("referrals:new")
NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
QUESTION = {"product": "elv_hoog", "postcode": "6411 AB", "features": ["oxygen", "single_room"]}


def refer_links(page: str) -> list[dict]:
    """The query of every "Refer to this location" link on the page."""
    hrefs = re.findall(r'<a class="refer-link" href="([^"]+)"', page)
    assert all(urlsplit(html_lib.unescape(href)).path == NEW for href in hrefs)
    return [parse_qs(urlsplit(html_lib.unescape(href)).query) for href in hrefs]


@pytest.fixture
def schacht(provider):
    location = LocationFactory(organisation=provider, name="De Schacht", pc4="6413", features=["oxygen", "single_room"])
    CapacityFactory(location=location, product=product("elv_hoog"), total=8, available=2, held=0)
    CapacityFactory(location=location, product=product("elv_laag"), total=8, available=1, held=0)
    CapacityFactory(location=location, product=product("elv_palliatief"), total=2, available=1, held=1)
    return location


def test_a_gp_gets_a_link_per_product_with_a_free_bed(make_client, gp, schacht):
    page = make_client(gp).get(OVERVIEW).content.decode()

    links = refer_links(page)
    assert sorted(link["product"][0] for link in links) == ["elv_hoog", "elv_laag"]  # palliatief: its bed is held
    assert all(link["location"] == [str(schacht.pk)] for link in links)
    assert "postcode" not in links[0] and "features" not in links[0]
    assert "Refer to this location" in page


def test_the_link_carries_the_overviews_product_postcode_and_features(make_client, gp, schacht):
    page = make_client(gp).get(OVERVIEW, QUESTION).content.decode()

    assert refer_links(page) == [
        {
            "location": [str(schacht.pk)],
            "product": ["elv_hoog"],
            "postcode": ["6411 AB"],
            "features": ["oxygen", "single_room"],
        }
    ]


def test_the_htmx_results_carry_the_link_too(make_client, gp, schacht):
    results = make_client(gp, htmx=True).get(OVERVIEW, QUESTION).content.decode()

    assert len(refer_links(results)) == 1


def test_a_transfer_nurse_gets_the_link(make_client, region, schacht):
    nurse = user_with_role(Role.TRANSFER_NURSE, region=region)

    assert len(refer_links(make_client(nurse).get(OVERVIEW).content.decode())) == 2


@pytest.mark.parametrize("role", [Role.COORDINATOR, Role.ADMIN])
def test_the_desk_does_not_get_the_link_even_right_after_a_gp_asked_the_same(make_client, gp, region, schacht, role):
    desk_user = user_with_role(role, region=region)
    with time_machine.travel(NOW, tick=False):
        for_gp = make_client(gp).get(OVERVIEW, QUESTION).content.decode()
        for_desk = make_client(desk_user).get(OVERVIEW, QUESTION).content.decode()
        gp_again = make_client(gp).get(OVERVIEW, QUESTION).content.decode()

    assert refer_links(for_gp) and refer_links(gp_again)
    assert refer_links(for_desk) == [] and "Refer to this location" not in for_desk
    assert "De Schacht" in for_desk


def test_provider_staff_may_not_use_the_overview_at_all(make_client, planner, schacht):
    assert make_client(planner).get(OVERVIEW).status_code == 403
