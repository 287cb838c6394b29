"""Nobody unreachable on the cockpit (issue 16): the board flags a suggested or offered location
without a planner ("No planner — phone") and lists what cannot be reached with the 24/7 phone; the
capacity page flags each such location. The board's cached columns follow a planner added or
leaving at once (the locations without a planner are part of the cache key)."""

from datetime import timedelta

import pytest
import time_machine
from django.urls import reverse

from accounts.models import Role
from elvdesk import page_cache
from providers.contact_problems import contact_problem_raise
from providers.models import ContactProblem, ContactProblemKind
from referrals.models import State
from tests.clients import client_for
from tests.cockpit.conftest import NOW, make_offer, make_referral
from tests.factories import user_with_role

BOARD = reverse("cockpit:board")
CAPACITY = reverse("cockpit:capacity")
FLAG = "No planner — phone"


@pytest.fixture
def frozen():
    with time_machine.travel(NOW, tick=False):
        yield


def card(page: str, referral) -> str:
    return page.split(f'id="card-{referral.pk}"', 1)[1].split("</li>", 1)[0]


def panel(page: str) -> str:
    return page.split('id="unreachable"', 1)[1].split("</section>", 1)[0]


@pytest.fixture
def searching(world, frozen):
    """Searching; its best match is location A (next door, a planner), B has no planner."""
    return make_referral(world, created_at=NOW - timedelta(hours=1), state=State.SEARCHING, name="Anna Bos")


def test_an_offer_to_a_location_without_a_planner_is_flagged_on_its_card(world, frozen):
    offered = make_referral(world, created_at=NOW - timedelta(hours=1), state=State.OFFERED, name="Anna Bos")
    make_offer(world, offered, world.cap["b", "elv_hoog"], sent_after=50)

    page = client_for(world.coordinator).get(BOARD).content.decode()

    assert FLAG in card(page, offered)


def test_a_suggestion_without_a_planner_is_flagged_and_asks_for_the_confirmation(world, searching, each_cache):
    client = client_for(world.coordinator)
    page = client.get(BOARD).content.decode()
    assert FLAG not in card(page, searching) and "confirm_unreachable" not in card(page, searching)

    world.planner.is_active = False  # provider A loses its only planner
    world.planner.save()
    page_cache.region_changed(world.region.pk)  # as Beheer's user services do (audit.changes)

    page = client.get(BOARD).content.decode()
    flagged = card(page, searching)
    assert FLAG in flagged and "Nobody at Locatie Aardenburg receives offers in the portal: phone" in flagged
    assert 'name="confirm_unreachable"' in flagged and "I will phone them" in flagged

    world.planner.is_active = True
    world.planner.save()
    page_cache.region_changed(world.region.pk)
    assert FLAG not in card(client.get(BOARD).content.decode(), searching)


def test_the_panel_lists_the_locations_without_a_planner_with_their_phone(world, frozen):
    page = client_for(world.coordinator).get(BOARD).content.decode()

    listed = panel(page)
    assert "Cannot be reached" in listed
    assert "Locatie Beekdal" in listed and "Beekdal Zorg" in listed
    assert 'href="tel:+31455551234"' in listed
    assert "Locatie Aardenburg" not in listed


def test_the_panel_is_in_the_polled_part_of_the_board(world, frozen):
    page = client_for(world.coordinator, htmx=True).get(BOARD).content.decode()

    assert page.lstrip().startswith('<section id="board"')
    assert "Locatie Beekdal" in panel(page)


def test_an_open_problem_is_on_the_panel_until_the_desk_marks_it_handled(world, frozen):
    location = world.cap["b", "elv_hoog"].location
    problem, _ = contact_problem_raise(
        region_id=world.region.pk, location_id=location.pk, kind=ContactProblemKind.REMINDER_UNHEARD
    )
    client = client_for(world.coordinator)
    listed = panel(client.get(BOARD).content.decode())
    assert f'id="contact-problem-{problem.pk}"' in listed
    assert "Stale-count reminder reached no planner" in listed

    response = client.post(
        reverse("beheer:contact_problem_resolve", args=[problem.pk]), {"next": f"{BOARD}?state=searching"}
    )

    assert response.status_code == 302 and response["Location"] == f"{BOARD}?state=searching"
    problem.refresh_from_db()
    assert problem.resolved_by == world.coordinator and problem.resolved_at is not None
    assert f'id="contact-problem-{problem.pk}"' not in client.get(BOARD).content.decode()


def test_a_problem_disappears_from_the_panel_once_the_location_has_a_planner(world, frozen):
    location = world.cap["b", "elv_hoog"].location
    problem, _ = contact_problem_raise(
        region_id=world.region.pk, location_id=location.pk, kind=ContactProblemKind.REMINDER_UNHEARD
    )
    client = client_for(world.coordinator)
    assert f'id="contact-problem-{problem.pk}"' in client.get(BOARD).content.decode()

    user_with_role(Role.PROVIDER_STAFF, world.provider_b)
    page_cache.region_changed(world.region.pk)  # as Beheer's invitation does (audit.changes)

    page = client.get(BOARD).content.decode()
    assert f'id="contact-problem-{problem.pk}"' not in page and 'id="unreachable"' not in page
    assert ContactProblem.objects.get().resolved_at is None  # hidden; the reminder job closes it


# --- The capacity page ----------------------------------------------------------------------------


def test_the_capacity_page_flags_each_location_without_a_planner(world):
    page = client_for(world.analyst).get(CAPACITY).content.decode()

    beekdal = world.cap["b", "elv_hoog"].location
    aardenburg = world.cap["a", "elv_hoog"].location
    assert f'id="no-planner-{beekdal.pk}"' in page
    assert f'id="no-planner-{aardenburg.pk}"' not in page
    assert "1 location without a planner" in page


def test_the_capacity_flag_follows_the_planner(world):
    world.planner.is_active = False
    world.planner.save()

    page = client_for(world.coordinator).get(CAPACITY).content.decode()

    assert "2 locations without a planner" in page
