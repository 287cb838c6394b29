"""Refuses hostile request shapes before a view or the database sees them (README, "Bad input").

- A body larger than settings.DATA_UPLOAD_MAX_MEMORY_SIZE (by its Content-Length): 413.
- A NUL character (PostgreSQL text cannot hold it) in the query string, a cookie, a header or
  form data: 400. JSON bodies are checked by their parser (elvdesk/json_parsing.py).
- An Idempotency-Key header longer than the column that stores it, or not printable ASCII: 400.

Each refusal has the shape of its channel: the API's error object under /api/, an
OperationOutcome under /fhir/, a short page otherwise. A page whose form shows a NUL as a field
error itself, keeping what the user typed, opts out of the form-data check with
@form_reports_nul (the referral form, elvdesk/forms.RefusesNulCharacters).
"""

import json
import re

from django.conf import settings
from django.core.exceptions import SuspiciousOperation
from django.http import HttpResponse, JsonResponse, QueryDict
from django.template.loader import render_to_string
from django.utils.translation import gettext as _

from elvdesk.input_limits import IDEMPOTENCY_KEY

NUL = "\x00"
# Printable ASCII without spaces, as long as the column that stores it (also in the API schema).
IDEMPOTENCY_KEY_PATTERN = rf"^[!-~]{{1,{IDEMPOTENCY_KEY}}}$"
IDEMPOTENCY_KEY_FORMAT = re.compile(IDEMPOTENCY_KEY_PATTERN)
FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")


def form_reports_nul(view):
    """The view's form refuses NUL characters with a field error (and keeps what was typed)."""
    view.form_reports_nul = True
    return view


def nul_in(data: QueryDict) -> str | None:
    """The name of the first field whose name or a value holds a NUL character."""
    for key, values in data.lists():
        if NUL in key or any(NUL in value for value in values if isinstance(value, str)):
            return key.replace(NUL, "")
    return None


def _channel(request) -> str:
    if request.path.startswith("/api/"):
        return "api"
    if request.path.startswith("/fhir/"):
        return "fhir"
    return "page"


def refusal(request, status: int, message: str, *, field: str | None = None) -> HttpResponse:
    """The refusal in the shape of the request's channel."""
    channel = _channel(request)
    if channel == "api":
        from elvdesk.api_errors import error_body

        code = "request_too_large" if status == 413 else "invalid"
        fields = {field: [message]} if field else None
        return JsonResponse(error_body(status_code=status, code=code, message=message, fields=fields), status=status)
    if channel == "fhir":
        from interop.fhir.protocol import FHIR_JSON, issue, operation_outcome

        code = "too-long" if status == 413 else "invalid"
        outcome = operation_outcome(issue(code, message))  # the message names the parameter: not a FHIRPath
        return HttpResponse(json.dumps(outcome), status=status, content_type=f"{FHIR_JSON}; charset=utf-8")
    # Rendered without the request: no context processor may read the session or the user,
    # which could be what carries the bad input (a cookie).
    html = render_to_string("input_refused.html", {"status": status, "message": message})
    return HttpResponse(html, status=status)


def _too_large(request) -> HttpResponse:
    size = settings.DATA_UPLOAD_MAX_MEMORY_SIZE // 1024
    return refusal(request, 413, _("The request is larger than %(size)s kB.") % {"size": size})


def _nul_refusal(request, where: str) -> HttpResponse:
    if _channel(request) == "page":  # a person reads it: field names of the form mean nothing to them
        message = _("What you sent contains an invisible control character (NUL); remove it and send again.")
        return refusal(request, 400, message)
    return refusal(
        request,
        400,
        _("%(field)s contains a NUL character (an invisible control character); remove it and send again.")
        % {"field": where},
        field=where,
    )


class InputGuardMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        return self._refuse(request) or self.get_response(request)

    def _refuse(self, request) -> HttpResponse | None:
        limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
        try:
            length = int(request.META.get("CONTENT_LENGTH") or 0)
        except ValueError:
            length = 0  # Django reads no body then either
        if limit is not None and length > limit:
            return _too_large(request)
        name = nul_in(request.GET)
        if name is not None:
            return _nul_refusal(request, name)
        for name, value in [*request.COOKIES.items(), *request.headers.items()]:
            if NUL in name or NUL in value:
                return _nul_refusal(request, name.replace(NUL, ""))
        if _channel(request) == "page":
            return None  # form data: in process_view, which knows whether the form reports it itself
        key = request.headers.get("Idempotency-Key")
        if key and not IDEMPOTENCY_KEY_FORMAT.match(key):
            return refusal(
                request,
                400,
                _("Idempotency-Key is 1 to %(length)s printable characters without spaces.")
                % {"length": IDEMPOTENCY_KEY},
                field="Idempotency-Key",
            )
        return self._refuse_form_data(request)

    def process_view(self, request, view_func, view_args, view_kwargs):
        if _channel(request) == "page" and not getattr(view_func, "form_reports_nul", False):
            return self._refuse_form_data(request)
        return None

    def _refuse_form_data(self, request) -> HttpResponse | None:
        if request.method in ("GET", "HEAD", "OPTIONS") or not request.content_type.startswith(FORM_TYPES):
            return None
        try:
            if request.method == "POST":
                data = request.POST
            elif request.content_type == FORM_TYPES[0]:
                # Django parses form bodies of POST only; DRF parses those of PUT and PATCH.
                data = QueryDict(request.body, encoding=request.encoding)
            else:
                return None
        except SuspiciousOperation:  # too many fields, or a field too large
            return refusal(request, 400, _("The form data could not be read."))
        name = nul_in(data)
        return _nul_refusal(request, name) if name is not None else None
