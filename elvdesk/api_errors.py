"""One error shape for the whole API:

{"error": {"status": 400, "code": "invalid", "message": "…", "fields": {"name": ["…"]}}}
"""

from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404, JsonResponse
from django.utils.translation import gettext as _
from django.views import defaults
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import exception_handler

from elvdesk.errors import DomainError


def _as_list(value) -> list[str]:
    return [str(item) for item in (value if isinstance(value, list) else [value])]


def _field_errors(detail) -> dict:
    if isinstance(detail, dict):
        return {key: _as_list(value) for key, value in detail.items()}
    return {"non_field_errors": _as_list(detail)}


def error_body(*, status_code: int, code: str, message: str, fields: dict | None = None) -> dict:
    body = {"status": status_code, "code": code, "message": message}
    if fields:
        body["fields"] = fields
    return {"error": body}


def api_exception_handler(exc, context):
    if isinstance(exc, DomainError):
        return Response(
            error_body(status_code=exc.http_status, code=exc.code, message=exc.message), status=exc.http_status
        )
    if isinstance(exc, DjangoValidationError):
        fields = exc.message_dict if hasattr(exc, "error_dict") else {"non_field_errors": exc.messages}
        return Response(
            error_body(status_code=400, code="invalid", message=_("The input is not valid."), fields=fields),
            status=status.HTTP_400_BAD_REQUEST,
        )
    if isinstance(exc, Http404):
        exc = exceptions.NotFound()
    response = exception_handler(exc, context)
    if response is None:
        return None
    if isinstance(exc, exceptions.ValidationError):
        response.data = error_body(
            status_code=response.status_code,
            code="invalid",
            message=_("The input is not valid."),
            fields=_field_errors(exc.detail),
        )
    else:
        detail = getattr(exc, "detail", "")
        response.data = error_body(
            status_code=response.status_code,
            code=getattr(detail, "code", None) or "error",
            message=str(detail),
        )
    return response


def page_not_found(request, exception):
    """handler404: a path under /api/ that matches no route (`/api/v1/referrals/abc/`) answers
    in the API's error shape, like a missing object does; every other path gets the 404 page."""
    if request.path.startswith("/api/"):
        detail = exceptions.NotFound.default_detail
        return JsonResponse(
            error_body(status_code=404, code=exceptions.NotFound.default_code, message=str(detail)), status=404
        )
    if request.path.startswith("/fhir/"):
        from interop.fhir.views import fhir_not_found  # the FHIR server answers with an OperationOutcome

        return fhir_not_found(request)
    return defaults.page_not_found(request, exception)


def server_error(request):
    """handler500: an API client gets the API's error shape, not an HTML page it cannot read
    (under /fhir/ the FHIR middleware turns it into an OperationOutcome); pages get the static
    500 page, which shows nothing of the request."""
    if request.path.startswith("/api/"):
        message = _("Something went wrong on our side. Try again later; if it keeps happening, contact the desk.")
        return JsonResponse(error_body(status_code=500, code="server_error", message=str(message)), status=500)
    return defaults.server_error(request)
