from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.db import connection
from django.http import JsonResponse
from django.shortcuts import redirect
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from accounts.models import Role


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


def _broker_status() -> str:
    if not settings.REDIS_URL:
        return "in-process"
    import redis

    try:
        redis.Redis.from_url(settings.REDIS_URL, socket_connect_timeout=1, socket_timeout=1).ping()
        return "ok"
    except redis.RedisError:
        return "down"


@never_cache
@require_GET
def healthz(request):
    """For load balancers: 503 when the database is unusable. A broker outage degrades the
    desk (notifications wait in the outbox) but does not take it out of rotation."""
    status = {"database": _database_status(), "broker": _broker_status()}
    return JsonResponse(status, status=200 if status["database"] == "ok" else 503)
