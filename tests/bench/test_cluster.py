"""Two app servers on one database and one Redis (issue 19, point 4; bench/cluster.py).

Two gunicorn instances of the app (bench.server.Server) serve the test's PostgreSQL database with
production settings: the cache in the test's Redis (REDIS_URL), so both instances share it, as in
production. The test suite's own settings keep a cache in this process's memory; the servers must
not (a settings module written for them below adds only a key prefix, so this test's keys can be
deleted afterwards, and keeps Celery in-process, so nothing is published to the shared Redis).

- A bed count changed through one instance is shown by the other on its very next request: the
  GP's bed overview (the count) and the coordinator's board (which offers the bed exactly while it
  is free), after the other instance had served and cached both pages with the old count.
- Booking the last beds through both instances at once ends with no overbooking.

Skipped (with the reason) without PostgreSQL or Redis; in CI they are required and it fails.
"""

import os
import socket
import time
import uuid
from datetime import UTC, datetime

import pytest
import redis
import time_machine
from django.conf import settings as django_settings
from django.db import connection
from django_otp.plugins.otp_totp.models import TOTPDevice

from accounts.models import Role
from bench import cluster
from bench.server import Server
from providers.models import SelfServiceOffers
from tests.conftest import REPO_ROOT, _required_in_ci
from tests.factories import CapacityFactory, LocationFactory, RegionFactory, product, user_with_role

pytestmark = [pytest.mark.postgres, pytest.mark.redis, pytest.mark.django_db(transaction=True)]

SERVER_SETTINGS = """\
from elvdesk.settings import *  # noqa: F403

# Production's cache backend on REDIS_URL, under this test's key prefix.
CACHES = {{"default": {{**REDIS_CACHE, "LOCATION": REDIS_URL, "KEY_PREFIX": {prefix!r}}}}}  # noqa: F405
CELERY_BROKER_URL = "memory://"
CELERY_TASK_ALWAYS_EAGER = True
EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
"""


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _database_url() -> str:
    db = connection.settings_dict
    password = f":{db['PASSWORD']}" if db.get("PASSWORD") else ""
    return f"postgres://{db['USER']}{password}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"


@pytest.fixture(scope="module")
def cluster_env(django_db_setup, django_db_blocker, tmp_path_factory):
    """The two servers' environment: the test database, the test's Redis, one SECRET_KEY."""
    if connection.vendor != "postgresql":
        _required_in_ci("two app servers share the test database: needs PostgreSQL (DATABASE_URL=postgres://…)")
    redis_url = django_settings.TEST_REDIS_URL
    if not redis_url:
        _required_in_ci("two app servers share the cache: needs a real Redis (REDIS_URL=redis://…)")
    try:
        redis.Redis.from_url(redis_url, socket_connect_timeout=2, socket_timeout=2).ping()
    except redis.RedisError as error:
        _required_in_ci(f"Redis at {redis_url} does not answer ({error})")
    directory = tmp_path_factory.mktemp("cluster")
    prefix = f"elvdesk-cluster-{uuid.uuid4().hex[:12]}"
    (directory / "cluster_settings.py").write_text(SERVER_SETTINGS.format(prefix=prefix))
    env = {key: value for key, value in os.environ.items() if not key.startswith(("DJANGO_", "ELVDESK_"))}
    env.update(
        DJANGO_SETTINGS_MODULE="cluster_settings",
        PYTHONPATH=os.pathsep.join([str(directory), str(REPO_ROOT)]),
        ELVDESK_TESTING="1",  # plain static files (no collectstatic) and no TLS-only cookies; nothing else
        DATABASE_URL=_database_url(),
        REDIS_URL=redis_url,
        DEBUG="0",
        SECRET_KEY=django_settings.SECRET_KEY,  # the sessions made here are signed with it
        ALLOWED_HOSTS="127.0.0.1",
        LOG_LEVEL="WARNING",
    )
    yield {"env": env, "directory": directory, "redis_url": redis_url, "prefix": prefix}
    client = redis.Redis.from_url(redis_url)
    for key in client.scan_iter(match=f"{prefix}:*", count=500):
        client.delete(key)
    client.close()


@pytest.fixture(scope="module")
def servers(cluster_env):
    """Instances A and B: two gunicorn masters of two sync workers each."""
    started = []
    try:
        for name in ("a", "b"):
            server = Server(
                env=cluster_env["env"],
                port=_free_port(),
                workers=2,
                log_path=cluster_env["directory"] / f"gunicorn-{name}.log",
            )
            server.start(timeout=60)
            started.append(server)
        yield started
    finally:
        for server in started:
            server.stop()


@pytest.fixture
def shared_cache(settings, cluster_env):
    """This process on the servers' cache too: the sessions made here are found by the servers
    whatever the session engine, and what the set-up changes invalidates their cached pages."""
    settings.CACHES = {
        "default": {**settings.REDIS_CACHE, "LOCATION": cluster_env["redis_url"], "KEY_PREFIX": cluster_env["prefix"]}
    }


@pytest.fixture(autouse=True)
def _real_clock(_fixed_clock):
    """The servers' clock is the real one; so is this test's (sessions, offers and counts are
    compared across the processes)."""
    real_now = datetime.fromtimestamp(time_machine.escape_hatch.time.time(), tz=UTC)
    with time_machine.travel(real_now, tick=True):
        yield


def _verified(*users) -> None:
    """Authenticator devices, so the prepared sessions pass the second factor."""
    for user in users:
        TOTPDevice.objects.create(user=user, name="bench", confirmed=True)


def _failure_details(servers, rows) -> str:
    logs = "\n".join(server.log_path.read_text(errors="replace")[-1500:] for server in servers)
    return "\n".join(map(str, rows)) + "\n" + logs


def test_a_count_changed_through_one_server_shows_at_once_through_the_other(servers, cluster_env, shared_cache):
    from bench import fixtures  # sets up nothing new: Django is set up already

    region = RegionFactory(self_service_offers=SelfServiceOffers.NEVER)
    planner = user_with_role(Role.PROVIDER_STAFF, region=region)
    other_planner = user_with_role(Role.PROVIDER_STAFF, region=region)
    gp = user_with_role(Role.GP, region=region)
    coordinator = user_with_role(Role.COORDINATOR, region=region)
    _verified(planner, other_planner, gp, coordinator)
    hoog = product("elv_hoog")
    CapacityFactory(location=LocationFactory(organisation=planner.organisation), product=hoog, total=5, available=2)
    # Another location with a free bed: while X has none, the card suggests that one instead.
    CapacityFactory(location=LocationFactory(organisation=other_planner.organisation, pc4="6212"), product=hoog)

    target = fixtures.coherence_setup(region)
    a, b = (server.url for server in servers)

    # Shared, not merely invalidated alike: what A rendered and stored, B serves from Redis.
    store = redis.Redis.from_url(cluster_env["redis_url"])
    for _attempt in range(3):
        minute = int(time.time() // 60)
        before = len(list(store.scan_iter(match=f"{cluster_env['prefix']}:*")))
        assert cluster.request("GET", a + target["overview_url"], session=target["gp"])[0] == 200
        after_a = len(list(store.scan_iter(match=f"{cluster_env['prefix']}:*")))
        assert cluster.request("GET", b + target["overview_url"], session=target["gp"])[0] == 200
        after_b = len(list(store.scan_iter(match=f"{cluster_env['prefix']}:*")))
        if int(time.time() // 60) == minute:  # the parts' keys hold the minute
            break
    store.close()
    assert after_a > before, "instance A stored nothing in the shared Redis cache"
    assert after_b == after_a, "instance B rendered the page again instead of using A's copy"

    result = cluster.coherence([a, b], target, rounds=20, free=fixtures.capacity_free)

    rows = result["details"]
    assert result["coherent"] == result["rounds"] == 20, _failure_details(servers, rows)
    assert {(row["writer"], row["delta"]) for row in rows} == {("A", "+1"), ("A", "-1"), ("B", "+1"), ("B", "-1")}
    assert {row["free_after"] for row in rows} == {0, 1}
    # The board's check is not idle: it offers the bed after +1 and does not after −1.
    assert {row["board_suggests"] for row in rows} == {True, False}


def test_booking_the_last_beds_through_both_servers_at_once_overbooks_nothing(servers, shared_cache):
    from bench import fixtures

    region = RegionFactory(self_service_offers=SelfServiceOffers.NEVER)
    gp = user_with_role(Role.GP, region=region)
    coordinators = [user_with_role(Role.COORDINATOR, region=region) for _ in range(2)]
    planners = [user_with_role(Role.PROVIDER_STAFF, region=region) for _ in range(3)]
    _verified(gp, *coordinators, *planners)
    hoog = product("elv_hoog")
    capacities = [
        CapacityFactory(location=LocationFactory(organisation=planner.organisation), product=hoog)
        for planner in planners
    ]

    setup = fixtures.booking_setup(region, referrals=40, tag="cluster", capacities=capacities)
    assert all(target["available"] - target["held"] == 1 for target in setup["booking_targets"])
    outcome = cluster.book_concurrently([server.url for server in servers], setup, users=6, seconds=20)
    check = fixtures.booking_check(setup)

    assert outcome["error_count"] == 0, outcome["errors"]
    assert check["overbookings"] == 0, check["capacities"]
    assert check["counts_inconsistent"] == 0, check["capacities"]
    assert check["all_counts_within_bounds"] and check["held_equals_open_offers"], check["consistency"]
    # There was a race: beds ran out, were freed and taken again.
    assert outcome["outcomes"].get("no_free_bed", 0) >= 1, outcome
    assert check["accepted"] == outcome["outcomes"].get("accepted", 0) >= 10, (check, outcome)
