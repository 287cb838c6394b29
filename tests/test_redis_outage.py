"""Redis is no single point of failure (issue 15, point 5): with the Redis of the cache and the
broker stopped or frozen, the GP's bed search, the regional board, a referral's page and
submitting a referral answer as usual, and soon; the submit's e-mail waits in the outbox.

Each test starts its own redis-server (tests/private_redis.py) and points the application's
cache and Celery broker at it as production configures them (settings.REDIS_CACHE,
CELERY_BROKER_TRANSPORT_OPTIONS), so these tests fail when those settings lose their timeouts.

"Soon" is a hang-or-not check, not a benchmark (the project times nothing in tests): a frozen
Redis never answers, so without timeouts a request waits until the test thaws Redis after
FROZEN_FOR seconds. The bound is ten times the budget (one timeout of at most 0.5 s) and far
below FROZEN_FOR, so a slow machine does not fail it and a hang always does.
"""

import time
from dataclasses import dataclass

import pytest
from django.core import mail
from django.test import Client
from django.urls import reverse

from accounts.models import Role
from providers.models import SelfServiceOffers
from referrals import services
from referrals.models import Notification, Referral
from tests.factories import CapacityFactory, LocationFactory, RegionFactory, product, user_with_role
from tests.private_redis import app_on_redis, private_redis  # noqa: F401 (fixture)
from tests.referrals.conftest import OTHER_BSN, form_post, referral_input

pytestmark = pytest.mark.django_db(transaction=True)

FROZEN_FOR = 30
NO_HANG_SECONDS = 5


@dataclass
class World:
    gp: object
    coordinator: object
    location: object
    referral: Referral


@pytest.fixture
def world(db) -> World:
    region = RegionFactory(self_service_offers=SelfServiceOffers.NEVER)
    location = LocationFactory(organisation=user_with_role(Role.PROVIDER_STAFF, region=region).organisation)
    CapacityFactory(location=location, product=product("elv_hoog"), total=5, available=2)
    gp = user_with_role(Role.GP, region=region)
    coordinator = user_with_role(Role.COORDINATOR, region=region)
    referral, _ = services.referral_submit(by=gp, data=referral_input())
    services.referral_step(referral=referral, target="searching", by=coordinator)
    mail.outbox.clear()  # the desk's e-mail about this referral (sent in-process)
    return World(gp=gp, coordinator=coordinator, location=location, referral=referral)


def gp_search(world: World, client: Client):
    client.force_login(world.gp)
    return client.get(reverse("beds:overview"))


def board(world: World, client: Client):
    client.force_login(world.coordinator)
    return client.get(reverse("cockpit:board"))


def referral_page(world: World, client: Client):
    client.force_login(world.coordinator)
    return client.get(reverse("referrals:detail", args=[world.referral.pk]))


def submit(world: World, client: Client):
    client.force_login(world.gp)
    return client.post(reverse("referrals:new"), form_post(bsn=OTHER_BSN, submit_token="outage"))


def assert_answered_as_usual(action, response, world: World) -> None:
    if action is submit:
        assert response.status_code == 302, response.content.decode()[:500]
        referral = Referral.objects.exclude(pk=world.referral.pk).get()
        # The e-mail waits in the outbox for the sweep (tests/referrals/test_broker_outage.py).
        assert Notification.objects.get(referral=referral, user=world.coordinator).sent_at is None
        assert mail.outbox == []
        return
    assert response.status_code == 200
    if action is not board:  # the cached part is there, computed afresh
        assert world.location.name in response.content.decode()


ACTIONS = [gp_search, board, referral_page, submit]


@pytest.mark.parametrize("action", ACTIONS, ids=lambda action: action.__name__)
def test_pages_and_the_submit_work_while_redis_is_stopped(action, world, private_redis, settings):  # noqa: F811
    client = Client(headers={"Accept-Language": "en"})
    with app_on_redis(settings, private_redis):
        if action is not submit:
            assert action(world, client).status_code == 200  # cached and connected before the outage
        private_redis.stop()
        response = action(world, client)
    assert_answered_as_usual(action, response, world)


@pytest.mark.parametrize("action", ACTIONS, ids=lambda action: action.__name__)
def test_pages_and_the_submit_do_not_hang_while_redis_is_frozen(action, world, private_redis, settings):  # noqa: F811
    client = Client(headers={"Accept-Language": "en"})
    with app_on_redis(settings, private_redis):
        if action is not submit:
            assert action(world, client).status_code == 200
        with private_redis.frozen(at_most=FROZEN_FOR):
            started = time.monotonic()
            response = action(world, client)
            took = time.monotonic() - started
    assert took < NO_HANG_SECONDS, f"{action.__name__} waited {took:.1f} s for a frozen Redis"
    assert_answered_as_usual(action, response, world)
