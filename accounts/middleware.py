import time

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import logout
from django.contrib.auth.views import redirect_to_login
from django.http import JsonResponse
from django.shortcuts import redirect
from django.urls import reverse
from django.utils.http import urlencode
from django.utils.translation import gettext as _

from accounts.twofactor import has_confirmed_totp, two_factor_required

OPEN_PREFIXES = ("/accounts/", "/static/", "/i18n/", "/healthz", "/favicon")


class TwoFactorRequiredMiddleware:
    """A signed-in user of a role that sees patient data reaches nothing else until the
    second factor is verified in this session (enrolment on first login). API calls with a
    token authenticate per request and are not affected; a session-based API call is refused."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        user = request.user
        if (
            user.is_authenticated
            and two_factor_required(user)
            and not user.is_verified()
            and not request.path.startswith(OPEN_PREFIXES)
        ):
            message = _("Verify your second factor first.")
            if request.path.startswith("/fhir/"):
                outcome = {
                    "resourceType": "OperationOutcome",
                    "issue": [{"severity": "error", "code": "security", "diagnostics": message}],
                }
                return JsonResponse(outcome, status=403, content_type="application/fhir+json")
            if request.path.startswith("/api/"):
                return JsonResponse(
                    {"error": {"status": 403, "code": "second_factor_required", "message": message}}, status=403
                )
            target = "two_factor_verify" if has_confirmed_totp(user) else "two_factor_setup"
            return redirect(f"{reverse(target)}?{urlencode({'next': request.get_full_path()})}")
        return self.get_response(request)


class IdleTimeoutMiddleware:
    """Ends a session after settings.SESSION_IDLE_TIMEOUT seconds without a request.

    The last-activity stamp is rewritten at most once a minute, so an ordinary page costs no
    session write (SESSION_SAVE_EVERY_REQUEST would cost one on every request)."""

    RESOLUTION_SECONDS = 60
    SESSION_KEY = "last_activity"

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if request.user.is_authenticated:
            now = int(time.time())
            last = request.session.get(self.SESSION_KEY, now)
            if now - last > settings.SESSION_IDLE_TIMEOUT:
                logout(request)
                messages.info(request, _("You were logged out after a period of inactivity."))
                return redirect_to_login(request.get_full_path())
            if now - last >= self.RESOLUTION_SECONDS or self.SESSION_KEY not in request.session:
                request.session[self.SESSION_KEY] = now
        return self.get_response(request)
