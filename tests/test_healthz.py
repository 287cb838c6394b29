"""/healthz for load balancers: 503 only when the database is unusable; the broker and the cache
are reported, each on its own (their addresses may differ)."""

import time
from unittest import mock

import pytest
import redis
from django.db import OperationalError, connections

from elvdesk import views
from tests.celery_broker import CLOSED_PORT_BROKER, celery_configured
from tests.private_redis import app_on_redis, private_redis  # noqa: F401 (fixture)

URL = "/healthz"


@pytest.mark.django_db
def test_healthy_without_login(client):
    response = client.get(URL)
    assert response.status_code == 200
    assert response["Content-Type"] == "application/json"
    body = response.json()
    assert body["database"] == "ok"
    assert "broker" in body
    assert "no-cache" in response["Cache-Control"]  # a balancer must never see a cached answer


@pytest.mark.django_db
def test_database_down_is_503(client):
    with mock.patch.object(connections["default"], "cursor", side_effect=OperationalError("connection refused")):
        response = client.get(URL)
    assert response.status_code == 503
    assert response.json()["database"] == "down"


@pytest.mark.django_db
def test_broker_down_is_reported_but_still_200(client):
    with celery_configured(task_always_eager=False, broker_url=CLOSED_PORT_BROKER):
        response = client.get(URL)
    assert response.status_code == 200
    assert response.json() == {"database": "ok", "broker": "down", "cache": "in-process"}


@pytest.mark.django_db
def test_without_redis_tasks_and_cache_are_in_process(client):
    response = client.get(URL)
    assert response.status_code == 200
    assert response.json() == {"database": "ok", "broker": "in-process", "cache": "in-process"}


@pytest.mark.django_db
def test_broker_and_cache_ok_when_redis_answers(client, settings, private_redis):  # noqa: F811
    with app_on_redis(settings, private_redis):
        response = client.get(URL)
    assert response.status_code == 200
    assert response.json() == {"database": "ok", "broker": "ok", "cache": "ok"}


@pytest.mark.django_db
def test_a_stopped_redis_is_reported_for_broker_and_cache_but_still_200(client, settings, private_redis):  # noqa: F811
    with app_on_redis(settings, private_redis):
        private_redis.stop()
        response = client.get(URL)
    assert response.status_code == 200
    assert response.json() == {"database": "ok", "broker": "down", "cache": "down"}


@pytest.mark.django_db
def test_a_frozen_redis_is_reported_without_hanging(client, settings, private_redis):  # noqa: F811
    # Hang or not, not a benchmark: frozen Redis never answers and is thawed only after 30 s;
    # the answer must come long before (its budget is two timeouts of at most 0.5 s).
    with app_on_redis(settings, private_redis):
        with private_redis.frozen(at_most=30):
            started = time.monotonic()
            response = client.get(URL)
            took = time.monotonic() - started
    assert took < 5, f"/healthz waited {took:.1f} s for a frozen Redis"
    assert response.status_code == 200
    assert response.json() == {"database": "ok", "broker": "down", "cache": "down"}


def _connections_received(server) -> int:
    with redis.Redis.from_url(server.url) as client:
        return int(client.info("stats")["total_connections_received"])


@pytest.mark.django_db
def test_the_broker_check_keeps_its_connection(client, monkeypatch, private_redis):  # noqa: F811
    # A new connection per check made /healthz (the benchmark's baseline) several times slower.
    monkeypatch.setattr(views, "_broker_client", None)
    with celery_configured(task_always_eager=False, broker_url=private_redis.url):
        before = _connections_received(private_redis)  # this count includes its own connection
        for _ in range(3):
            assert client.get(URL).json()["broker"] == "ok"
        after = _connections_received(private_redis)
    assert after - before - 1 == 1, f"{after - before - 1} connections for three checks"


@pytest.mark.django_db
def test_the_broker_check_makes_its_client_once_per_process(client, monkeypatch):
    # No Redis needed: the client (and its connection pool) is made on the first check only.
    monkeypatch.setattr(views, "_broker_client", None)
    made = []
    original = redis.ConnectionPool.__init__

    def spy(self, *args, **kwargs):
        made.append(kwargs.get("port"))
        original(self, *args, **kwargs)

    monkeypatch.setattr(redis.ConnectionPool, "__init__", spy)
    with celery_configured(task_always_eager=False, broker_url=CLOSED_PORT_BROKER):
        for _ in range(2):
            assert client.get(URL).json()["broker"] == "down"
    assert len(made) == 1


@pytest.mark.django_db
def test_a_restarted_redis_is_ok_again_on_the_kept_connection(client, monkeypatch, private_redis):  # noqa: F811
    # The kept connection dies with the server; the next check after the restart connects anew.
    monkeypatch.setattr(views, "_broker_client", None)
    with celery_configured(task_always_eager=False, broker_url=private_redis.url):
        assert client.get(URL).json()["broker"] == "ok"
        private_redis.stop()
        assert client.get(URL).json()["broker"] == "down"
        private_redis.start()
        assert client.get(URL).json()["broker"] == "ok"


def test_only_get(client):
    assert client.post(URL).status_code == 405
