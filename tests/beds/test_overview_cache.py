"""The bed overview is one cached part per region and question (elvdesk/page_cache.py); a cached
answer is never older than the region's last change through the services, nor than the minute."""

import re
from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from accounts.models import Role
from beds import services
from beds.models import Capacity
from providers.services import location_update
from tests.factories import CapacityFactory, LocationFactory, product, user_with_role

pytestmark = pytest.mark.django_db

OVERVIEW = reverse("beds:overview")
NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
QUESTION = {"product": "elv_hoog", "postcode": "6411 AB", "max_km": "50"}


def free_count(html: str, name: str) -> str:
    row = html[html.index(f'<span class="loc-name">{name}</span>') :].split("</tr>")[0]
    return re.search(r'<strong class="free">(\d+) free</strong>', row).group(1)


@pytest.fixture
def capacity(provider):
    location = LocationFactory(organisation=provider, name="De Schacht", pc4="6413")
    return CapacityFactory(location=location, product=product("elv_hoog"), total=10, available=3, held=0)


def test_a_repeated_question_is_answered_from_the_cache_with_few_queries(make_client, gp, capacity, each_cache):
    client = make_client(gp)
    with time_machine.travel(NOW, tick=False):
        with CaptureQueriesContext(connection) as first:
            html = client.get(OVERVIEW, QUESTION).content.decode()
        with CaptureQueriesContext(connection) as again:
            repeated = client.get(OVERVIEW, QUESTION).content.decode()

    assert free_count(html, "De Schacht") == free_count(repeated, "De Schacht") == "3"
    # Session, user (with organisation, region and so the region's generation), device, the
    # header's notification count: no filters, no locations, no form choices.
    assert len(again.captured_queries) == 4 < len(first.captured_queries)


def test_another_user_of_the_region_gets_the_same_answer_but_their_own_header(make_client, gp, capacity, region):
    other = user_with_role(Role.TRANSFER_NURSE, region=region, username="transfer", first_name="Bram")
    with time_machine.travel(NOW, tick=False):
        make_client(gp).get(OVERVIEW, QUESTION)
        html = make_client(other).get(OVERVIEW, QUESTION).content.decode()

    assert free_count(html, "De Schacht") == "3"
    assert "Bram" in html


def test_a_changed_count_shows_at_once(make_client, gp, capacity, planner, each_cache):
    client = make_client(gp)
    with time_machine.travel(NOW, tick=False):
        client.get(OVERVIEW, QUESTION)
        services.capacity_adjust(capacity_id=capacity.pk, by=planner, field="available", delta=1)
        html = client.get(OVERVIEW, QUESTION).content.decode()

    assert free_count(html, "De Schacht") == "4"


def test_an_edit_outside_the_services_shows_within_the_minute(make_client, gp, capacity, each_cache):
    """Django's admin or a manual SQL fix does not raise the region's generation: the minute in the
    key bounds how long the old answer is served (elvdesk/page_cache.py)."""
    client = make_client(gp)
    with time_machine.travel(NOW, tick=False):
        client.get(OVERVIEW, QUESTION)
        Capacity.objects.filter(pk=capacity.pk).update(available=7)
        same_minute = client.get(OVERVIEW, QUESTION).content.decode()
    with time_machine.travel(NOW + timedelta(minutes=1), tick=False):
        next_minute = client.get(OVERVIEW, QUESTION).content.decode()

    assert free_count(same_minute, "De Schacht") == "3"
    assert free_count(next_minute, "De Schacht") == "7"


def test_a_location_edited_in_beheer_shows_at_once(make_client, gp, capacity, region, each_cache):
    administrator = user_with_role(Role.COORDINATOR, region=region, username="beheerder")
    client = make_client(gp)
    with time_machine.travel(NOW, tick=False):
        client.get(OVERVIEW, QUESTION)
        location_update(location=capacity.location, by=administrator, data={"name": "De Schacht Noord"})
        html = client.get(OVERVIEW, QUESTION).content.decode()

    assert "De Schacht Noord" in html


def test_the_htmx_results_are_cached_apart_from_the_page(make_client, gp, capacity):
    with time_machine.travel(NOW, tick=False):
        page = make_client(gp).get(OVERVIEW, QUESTION).content.decode()
        results = make_client(gp, htmx=True).get(OVERVIEW, QUESTION).content.decode()

    assert "<html" in page and "<form" in page
    assert results.lstrip().startswith('<section id="results"') and "<form" not in results


def test_confirmation_ages_and_stale_marks_follow_the_clock(make_client, gp, capacity):
    Capacity.objects.filter(pk=capacity.pk).update(confirmed_at=NOW - timedelta(hours=11, minutes=59))
    client = make_client(gp)
    with time_machine.travel(NOW, tick=False):
        fresh = client.get(OVERVIEW, QUESTION).content.decode()
    with time_machine.travel(NOW + timedelta(minutes=2), tick=False):
        later = client.get(OVERVIEW, QUESTION).content.decode()

    assert 'class="badge badge-stale"' not in fresh
    assert 'class="badge badge-stale"' in later  # the region's limit is 12 hours


def test_the_answer_is_per_language(make_client, gp, capacity):
    dutch = Client(headers={"Accept-Language": "nl"})
    dutch.force_login(gp)
    with time_machine.travel(NOW, tick=False):
        in_english = make_client(gp).get(OVERVIEW, QUESTION).content.decode()
        in_dutch = dutch.get(OVERVIEW, QUESTION).content.decode()

    assert "<h1>Available beds" in in_english
    assert "<h1>Beschikbare bedden" in in_dutch
