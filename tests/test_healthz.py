"""/healthz for load balancers: 503 only when the database is unusable; the broker is reported."""

import socket
from unittest import mock

import pytest
from django.db import OperationalError, connections

URL = "/healthz"


def unused_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


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
def test_broker_down_is_reported_but_still_200(client, settings):
    settings.REDIS_URL = f"redis://127.0.0.1:{unused_port()}/0"
    response = client.get(URL)
    assert response.status_code == 200
    assert response.json() == {"database": "ok", "broker": "down"}


@pytest.mark.django_db
def test_without_redis_tasks_run_in_process(client, settings):
    settings.REDIS_URL = ""
    response = client.get(URL)
    assert response.status_code == 200
    assert response.json()["broker"] == "in-process"


@pytest.mark.redis
@pytest.mark.django_db
def test_broker_ok_when_redis_answers(client, settings, redis_url):
    settings.REDIS_URL = redis_url
    response = client.get(URL)
    assert response.status_code == 200
    assert response.json() == {"database": "ok", "broker": "ok"}


def test_only_get(client):
    assert client.post(URL).status_code == 405
