"""The regional desk's phone number on every page ("Regioloket: 045 …, 24/7"), as a link to dial,
for every signed-in user of a region that has one, at no extra query."""

import pytest
import time_machine
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from accounts.models import Role
from providers.models import Region
from tests.clients import client_for
from tests.factories import CapacityFactory, LocationFactory, RegionFactory, user_with_role

pytestmark = pytest.mark.django_db

BAR = '<p class="desk-phone-bar"><a href="tel:+31455776677">Regional desk: 045 577 6677, 24/7</a></p>'


@pytest.fixture
def region():
    return RegionFactory(desk_phone="045 577 6677")


@pytest.mark.parametrize(
    ("role", "page"),
    [
        (Role.GP, "referrals:new"),
        (Role.GP, "beds:overview"),
        (Role.TRANSFER_NURSE, "referrals:index"),
        (Role.PROVIDER_STAFF, "beds:my_beds"),
        (Role.COORDINATOR, "cockpit:board"),
        (Role.ADMIN, "beheer:index"),
    ],
)
def test_every_signed_in_user_sees_the_desks_number_to_dial(region, role, page):
    response = client_for(user_with_role(role, region=region)).get(reverse(page))

    assert response.status_code == 200
    assert BAR in response.content.decode()


def test_the_bar_is_on_top_not_in_the_footer(region):
    html = client_for(user_with_role(Role.GP, region=region)).get(reverse("referrals:new")).content.decode()

    assert html.index("desk-phone-bar") < html.index('<main id="main"')


def test_no_bar_without_a_number(region):
    region.desk_phone = ""
    region.save()

    html = client_for(user_with_role(Role.GP, region=region)).get(reverse("referrals:new")).content.decode()

    assert "desk-phone-bar" not in html


def test_no_bar_before_signing_in(region):
    assert "desk-phone-bar" not in Client().get(reverse("login")).content.decode()


def test_each_user_sees_the_number_of_their_own_region(region):
    elsewhere = RegionFactory(desk_phone="043 123 4567")

    html = client_for(user_with_role(Role.GP, region=elsewhere)).get(reverse("referrals:new")).content.decode()

    assert "043 123 4567" in html and "045 577 6677" not in html


def _queries(client, url) -> int:
    with CaptureQueriesContext(connection) as context:
        assert client.get(url).status_code == 200
    return len(context)


@pytest.mark.parametrize(
    ("role", "page"),
    [(Role.GP, "beds:overview"), (Role.PROVIDER_STAFF, "beds:my_beds"), (Role.COORDINATOR, "cockpit:board")],
)
def test_the_number_costs_no_query(region, role, page, django_assert_num_queries):
    user = user_with_role(role, region=region)
    provider = {"organisation": user.organisation} if role == Role.PROVIDER_STAFF else {}
    CapacityFactory(location=LocationFactory(**provider))
    client = client_for(user)
    url = reverse(page)
    # A still clock: the pages cache per minute, and both requests must find the same cache.
    with time_machine.travel(timezone.now(), tick=False):
        client.get(url)  # the session's first request also stores its last activity
        Region.objects.filter(pk=region.pk).update(desk_phone="")
        without = _queries(client, url)
        Region.objects.filter(pk=region.pk).update(desk_phone="045 577 6677")

        with django_assert_num_queries(without):
            response = client.get(url)
    assert BAR in response.content.decode()
