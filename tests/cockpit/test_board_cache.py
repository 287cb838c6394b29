"""The board's columns are rendered once per region and question and cached: every change the
desk makes shows on the very next request, each coordinator's forms carry their own CSRF token,
and the clock moves the SLA texts on after one poll interval."""

import re
from datetime import timedelta

import pytest
import time_machine
from django.urls import reverse

from accounts.models import Role
from audit.models import AccessLog
from beds.services import capacity_adjust
from elvdesk import page_cache
from referrals import escalations, services
from referrals.models import Referral, State
from tests.clients import client_for
from tests.cockpit.conftest import NOW, make_referral
from tests.factories import user_with_role

BOARD = reverse("cockpit:board")


@pytest.fixture
def frozen():
    with time_machine.travel(NOW, tick=False) as traveller:
        yield traveller


def column(page: str, state: str) -> str:
    return page.split(f'id="column-{state}-list"', 1)[1].split("</section>", 1)[0]


def test_a_workflow_step_shows_on_the_next_request(world, frozen, each_cache):
    referral = make_referral(world, created_at=NOW - timedelta(minutes=5), name="Anna Bos")
    client = client_for(world.coordinator)
    assert f"card-{referral.pk}" in column(client.get(BOARD).content.decode(), State.SUBMITTED)

    services.referral_step(referral=referral, target=State.TRIAGE, by=world.coordinator)

    page = client.get(BOARD).content.decode()
    assert f"card-{referral.pk}" not in column(page, State.SUBMITTED)
    assert f"card-{referral.pk}" in column(page, State.TRIAGE)


def test_a_new_referral_and_a_new_escalation_show_on_the_next_request(world, frozen):
    first = make_referral(world, created_at=NOW - timedelta(hours=3), state=State.SEARCHING, name="Anna Bos")
    client = client_for(world.coordinator)
    assert "Open escalations" not in client.get(BOARD).content.decode()

    assert escalations._raise(first, "urgent_unplaced", now=NOW)
    second = make_referral(world, created_at=NOW - timedelta(minutes=1), name="Bert Bos")
    page_cache.region_changed(world.region.pk)  # what referral_submit does; the factory bypasses it

    page = client.get(BOARD).content.decode()
    assert "Open escalations" in page
    assert f"card-{second.pk}" in page


def test_a_bed_count_change_moves_the_suggested_location_at_once(world, frozen):
    referral = make_referral(world, created_at=NOW - timedelta(hours=1), state=State.SEARCHING, name="Anna Bos")
    client = client_for(world.coordinator)
    suggested = re.search(r'name="capacity" value="(\d+)"', client.get(BOARD).content.decode()).group(1)
    capacity = next(c for c in world.cap.values() if str(c.pk) == suggested)

    capacity_adjust(capacity_id=capacity.pk, by=None, field="available", delta=-capacity.available)

    page = client.get(BOARD).content.decode()
    assert f'name="capacity" value="{suggested}"' not in page
    assert f"offer-{referral.pk}" in page  # the other location is suggested now


def test_each_coordinator_gets_the_shared_columns_with_a_csrf_token_of_their_own(world, frozen, each_cache):
    referral = make_referral(world, created_at=NOW - timedelta(minutes=5), name="Anna Bos")
    colleague = user_with_role(Role.COORDINATOR, world.coordinator.organisation)
    client_for(world.coordinator).get(BOARD)  # fills the cache

    client = client_for(colleague, csrf=True)
    page = client.get(BOARD).content.decode()
    form = page.split(f'id="triage-{referral.pk}"', 1)[0].rsplit("<form", 1)[1]
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', form).group(1)

    response = client.post(
        reverse("referrals:step", args=[referral.pk]),
        {"csrfmiddlewaretoken": token, "target": "triage", "next": BOARD},
    )
    assert response.status_code == 302
    referral.refresh_from_db()
    assert referral.state == State.TRIAGE


def test_every_request_is_access_logged_also_from_the_cache(world, frozen):
    referral = make_referral(world, created_at=NOW - timedelta(minutes=5), name="Anna Bos")
    client = client_for(world.coordinator)
    client.get(BOARD)
    client.get(BOARD)
    logged = AccessLog.objects.filter(user=world.coordinator, referral_id=referral.pk, patient_id=referral.patient_id)
    assert logged.count() == 2


def test_languages_are_cached_apart(world, frozen):
    make_referral(world, created_at=NOW - timedelta(minutes=5), name="Anna Bos")
    assert "Start triage" in client_for(world.coordinator, language="en").get(BOARD).content.decode()
    dutch = client_for(world.coordinator, language="nl").get(BOARD).content.decode()
    assert "Start triage" not in dutch and "Start triage".lower() not in dutch.lower()


def test_the_waiting_time_moves_on_after_one_poll_interval(world, frozen, settings):
    settings.BOARD_POLL_SECONDS = 15
    make_referral(world, created_at=NOW - timedelta(minutes=5), name="Anna Bos")
    client = client_for(world.coordinator)
    assert "Waiting</dt><dd>5 min" in client.get(BOARD).content.decode()
    frozen.shift(timedelta(minutes=2))
    assert "Waiting</dt><dd>7 min" in client.get(BOARD).content.decode()


def test_other_regions_never_share_a_cached_board(world, frozen):
    referral = make_referral(world, created_at=NOW - timedelta(minutes=5), name="Anna Bos")
    client_for(world.coordinator).get(BOARD)
    elsewhere = user_with_role(Role.COORDINATOR)
    assert f"card-{referral.pk}" not in client_for(elsewhere).get(BOARD).content.decode()
    assert Referral.objects.filter(pk=referral.pk).exists()
