"""The suggested locations on the referral page are one cached part (elvdesk/page_cache.py),
shared by everyone who may offer; the offer forms still carry each user's own CSRF token, and the
list is never older than the region's bed counts, nor shared between languages."""

import re
from datetime import timedelta

import pytest
import time_machine
from django.urls import reverse
from django.utils import timezone

from accounts.models import Role
from beds import services as beds
from elvdesk import page_cache
from referrals.models import Offer
from tests.clients import client_for
from tests.factories import user_with_role

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _clock_stands_still():
    """The cached list is keyed by the minute: two views must not straddle a minute boundary."""
    with time_machine.travel(timezone.now(), tick=False):
        yield


def page(client, referral) -> str:
    response = client.get(reverse("referrals:detail", args=[referral.pk]))
    assert response.status_code == 200
    return response.content.decode()


def offer_tokens(html: str) -> set[str]:
    matches = html.split('id="matches"')[1].split("</section>")[0]
    return set(re.findall(r'name="csrfmiddlewaretoken" value="([^"]+)"', matches))


@pytest.fixture
def renders(monkeypatch):
    """How often the suggestions were rendered rather than read from the cache."""
    calls = []
    original = page_cache.render_to_string

    def counting(*args, **kwargs):
        calls.append(args[0])
        return original(*args, **kwargs)

    monkeypatch.setattr(page_cache, "render_to_string", counting)
    return calls


def test_the_second_view_reads_the_suggestions_from_the_cache(desk, searching, renders, each_cache):
    client = client_for(desk.coordinator)
    first = page(client, searching)
    again = page(client, searching)

    assert len(renders) == 1
    assert (
        f'name="capacity" value="{desk.capacity.pk}"' in first
        and f'name="capacity" value="{desk.capacity.pk}"' in again
    )


def test_every_user_posts_an_offer_with_their_own_csrf_token(desk, searching, renders):
    other_coordinator = user_with_role(Role.COORDINATOR, desk.coordinator.organisation)
    page(client_for(desk.coordinator), searching)  # fills the cache
    client = client_for(other_coordinator)
    html = page(client, searching)
    [token] = offer_tokens(html)

    response = client.post(
        reverse("referrals:offer_send", args=[searching.pk]),
        {"capacity": desk.capacity.pk, "csrfmiddlewaretoken": token},
    )

    assert len(renders) == 1, "the second user's list came from the cache"
    assert response.status_code == 302
    assert Offer.objects.get().created_by == other_coordinator


def test_a_bed_that_is_taken_leaves_the_page_at_once(desk, searching, each_cache):
    client = client_for(desk.coordinator)
    assert f'name="capacity" value="{desk.capacity.pk}"' in page(client, searching)

    beds.capacity_update(capacity_id=desk.capacity.pk, by=desk.planner, counts={"available": 0})

    assert f'name="capacity" value="{desk.capacity.pk}"' not in page(client, searching)


def test_the_last_free_bed_taken_shows_that_nothing_fits(desk, searching):
    client = client_for(desk.coordinator)
    page(client, searching)
    for capacity, planner in ((desk.capacity, desk.planner), (desk.other_capacity, desk.other_planner)):
        beds.capacity_update(capacity_id=capacity.pk, by=planner, counts={"available": 0})

    html = page(client, searching)

    assert 'id="matches"' not in html and "No location has a free bed that fits" in html


def test_each_language_has_its_own_list(desk, searching, renders):
    english = page(client_for(desk.coordinator, language="en"), searching)
    dutch = page(client_for(desk.coordinator, language="nl"), searching)

    assert len(renders) == 2
    assert "Send offer to" in english and "Aanbod sturen naar" in dutch


def test_views_on_each_side_of_a_minute_boundary_rank_apart(desk, searching, renders):
    """The part's key holds the minute (its reasons say "confirmed N minutes ago"): the last
    instant of a minute and the first of the next are two renderings, two views in one minute one."""
    client = client_for(desk.coordinator)
    end_of_minute = timezone.now().replace(second=59, microsecond=900_000)
    with time_machine.travel(end_of_minute, tick=False):
        page(client, searching)
    with time_machine.travel(end_of_minute.replace(second=0, microsecond=0), tick=False):
        page(client, searching)  # earlier in the same minute: from the cache
    assert len(renders) == 1
    with time_machine.travel(end_of_minute + timedelta(milliseconds=200), tick=False):
        page(client, searching)
    assert len(renders) == 2
