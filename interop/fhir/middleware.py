"""Every error answer under /fhir/ is an OperationOutcome (FHIR R4 §3.1.0.4), whoever made it.

The FHIR views and handler404 (elvdesk/api_errors.py) answer OperationOutcomes themselves; this
catches the rest: Django's own pages (the technical 404 page with DEBUG on, a refused Host header,
the CSRF page, the 500 page of an error outside a view). Outermost in MIDDLEWARE, so it sees
every answer.
"""

import json

from django.http import HttpResponse
from django.utils.translation import gettext as _

from interop.fhir.protocol import FHIR_JSON, ISSUE_BY_STATUS, issue, operation_outcome
from interop.fhir.views import fhir_not_found

MESSAGES = {
    400: lambda: _("The request is not valid."),
    403: lambda: _("You have no access to this."),
    405: lambda: _("This method is not supported here."),
    413: lambda: _("The request is too large."),
}


def outcome_response(status: int) -> HttpResponse:
    if status >= 500:
        code, message = "exception", _("Something went wrong on the server.")
    else:
        code = "too-long" if status == 413 else ISSUE_BY_STATUS.get(status, "processing")
        message = MESSAGES[status]() if status in MESSAGES else _("The request could not be handled.")
    body = json.dumps(operation_outcome(issue(code, message)))
    return HttpResponse(body, status=status, content_type=f"{FHIR_JSON}; charset=utf-8")


class OperationOutcomeMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        if (
            request.path.startswith("/fhir/")
            and response.status_code >= 400
            and not response.get("Content-Type", "").startswith(FHIR_JSON)
        ):
            if response.status_code == 404:
                replacement = fhir_not_found(request)
            else:
                replacement = outcome_response(response.status_code)
            for header in ("Allow", "WWW-Authenticate", "Retry-After", "Vary"):
                if header in response:
                    replacement[header] = response[header]
            return replacement
        return response
