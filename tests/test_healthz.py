"""/healthz for load balancers: 503 only when the database is unusable; the broker and the cache
are reported, each on its own (their addresses may differ)."""

import time
from unittest import mock

import pytest
from django.db import OperationalError, connections

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


def test_only_get(client):
    assert client.post(URL).status_code == 405
