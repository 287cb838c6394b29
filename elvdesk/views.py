import threading

import redis
from django.contrib.auth.decorators import login_required
from django.core.cache import cache
from django.db import connection
from django.http import JsonResponse
from django.shortcuts import redirect
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET
from redis.backoff import NoBackoff
from redis.retry import Retry

from accounts.models import Role
from elvdesk.celery import app


@login_required
def home(request):
    """Send each role to the page it starts its work on."""
    if request.user.role == Role.PROVIDER_STAFF:
        return redirect("beds:my_beds")
    if request.user.role == Role.ANALYST:
        return redirect("cockpit:kpis")
    return redirect("beds:overview")


def _database_status() -> str:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
        return "ok"
    except Exception:  # any failure means "not usable" to a load balancer
        return "down"


# One Redis client per process for the broker check, kept between checks: a new connection
# per check cost a TCP handshake and a HELLO on every /healthz, which is most of its time (and
# made the benchmark's baseline, which every other scenario is compared with, look slow). Made
# lazily for the broker URL and timeouts in use; a different URL (a test's broker) gets a new one.
_broker_client: tuple[tuple, redis.Redis] | None = None
_broker_client_lock = threading.Lock()


def _broker_client_for(url: str, timeouts: dict) -> redis.Redis:
    global _broker_client
    key = (url, tuple(sorted(timeouts.items())))
    with _broker_client_lock:
        if _broker_client is not None and _broker_client[0] == key:
            return _broker_client[1]
        if _broker_client is not None:
            _broker_client[1].close()  # the old URL's pool: its connections are closed
        # One retry, at once and only after a connection error: a kept connection that Redis
        # closed (a restart) is made again instead of reported as "down". A timeout is not
        # retried, so a frozen Redis costs one timeout per check.
        client = redis.Redis.from_url(
            url, retry=Retry(NoBackoff(), 1, supported_errors=(redis.ConnectionError,)), **timeouts
        )
        _broker_client = (key, client)
        return client


def _broker_status() -> str:
    url = app.conf.broker_url or ""  # what publishing uses (the settings, or a test's override)
    if url.startswith("memory://"):
        return "in-process"
    options = app.conf.broker_transport_options or {}
    timeouts = {name: options.get(name, 1) for name in ("socket_connect_timeout", "socket_timeout")}
    try:
        _broker_client_for(url, timeouts).ping()
        return "ok"
    except redis.RedisError:
        return "down"


def _cache_status() -> str:
    ping = getattr(cache, "ping", None)  # elvdesk.redis_cache.ResilientRedisCache
    if ping is None:
        return "in-process"
    return "ok" if ping() else "down"


@never_cache
@require_GET
def healthz(request):
    """For load balancers: 503 when the database is unusable. The broker and the cache are
    reported, not required: without the broker e-mails wait in the outbox, without the cache
    pages are computed afresh."""
    status = {"database": _database_status(), "broker": _broker_status(), "cache": _cache_status()}
    return JsonResponse(status, status=200 if status["database"] == "ok" else 503)
