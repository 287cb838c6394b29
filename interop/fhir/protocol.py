"""The FHIR R4 REST protocol on top of DRF: application/fhir+json in and out, `_format`,
OperationOutcome for every error, search parameters, and paged searchset Bundles."""

import logging
import re
import uuid
from datetime import datetime, time, timedelta
from urllib.parse import urlencode

from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404
from django.utils import timezone
from django.utils.dateparse import parse_date, parse_datetime
from django.utils.translation import gettext as _
from rest_framework import exceptions, status
from rest_framework.authentication import SessionAuthentication
from rest_framework.negotiation import BaseContentNegotiation
from rest_framework.permissions import BasePermission
from rest_framework.renderers import JSONRenderer
from rest_framework.response import Response
from rest_framework.utils.mediatypes import media_type_matches
from rest_framework.views import APIView

from accounts.authentication import OrganisationTokenAuthentication
from elvdesk.errors import DomainError
from elvdesk.input_limits import POSITIVE_INT
from elvdesk.json_parsing import JSONParser  # nesting limit, no NUL characters
from interop.authentication import ApiKeyAuthentication, ChallengeAllSchemes

logger = logging.getLogger(__name__)

FHIR_JSON = "application/fhir+json"
JSON_FORMATS = {"json", "application/json", FHIR_JSON, "application/json+fhir"}
ACCEPTABLE = JSON_FORMATS | {"*/*", "application/*"}
DEFAULT_COUNT = 50
MAX_COUNT = 200
# Parameters every search understands; the others are declared per resource.
COMMON_PARAMS = ("_count", "_offset", "_format")


# --- Content types ----------------------------------------------------------------------------


class FhirJsonRenderer(JSONRenderer):
    media_type = FHIR_JSON
    format = "json"
    charset = "utf-8"


class FhirJsonParser(JSONParser):
    media_type = FHIR_JSON


class FhirContentNegotiation(BaseContentNegotiation):
    """Always answers application/fhir+json; refuses (406) a client that accepts only something else."""

    def select_parser(self, request, parsers):
        for parser in parsers:
            if media_type_matches(parser.media_type, request.content_type):
                return parser
        return None

    def select_renderer(self, request, renderers, format_suffix=None):
        requested = request.query_params.get("_format")
        if requested is not None:
            if requested.split(";")[0].strip().lower() not in JSON_FORMATS:
                raise exceptions.NotAcceptable(_("This server speaks FHIR JSON only (_format=json)."))
        else:
            accept = request.META.get("HTTP_ACCEPT", "").strip()
            if accept and not any(item.split(";")[0].strip().lower() in ACCEPTABLE for item in accept.split(",")):
                raise exceptions.NotAcceptable(_("This server speaks FHIR JSON only (Accept: application/fhir+json)."))
        return renderers[0], renderers[0].media_type


# --- OperationOutcome -------------------------------------------------------------------------


def issue(code: str, message: str, *, severity: str = "error", expression=None, diagnostics: str = "") -> dict:
    result = {"severity": severity, "code": code, "details": {"text": str(message)}}
    if diagnostics:
        result["diagnostics"] = diagnostics
    if expression:
        result["expression"] = list(expression) if isinstance(expression, (list, tuple)) else [expression]
    return result


def operation_outcome(*issues: dict) -> dict:
    return {"resourceType": "OperationOutcome", "issue": list(issues)}


class FhirError(exceptions.APIException):
    """An error with its OperationOutcome issues ready."""

    def __init__(self, http_status: int, *issues: dict):
        super().__init__(issues[0]["details"]["text"] if issues else "")
        self.status_code = http_status
        self.issues = list(issues)


def invalid(message: str, *, expression=None, code: str = "invalid") -> FhirError:
    return FhirError(400, issue(code, message, expression=expression))


def not_found(message: str | None = None) -> FhirError:
    return FhirError(404, issue("not-found", message or _("Not found, or not visible to your organisation.")))


ISSUE_BY_STATUS = {
    400: "invalid",
    401: "login",
    403: "forbidden",
    404: "not-found",
    405: "not-supported",
    406: "not-supported",
    409: "conflict",
    412: "conflict",
    415: "not-supported",
    422: "processing",
    428: "required",
    429: "throttled",
}


def _messages(detail) -> list[str]:
    if isinstance(detail, dict):
        return [message for value in detail.values() for message in _messages(value)]
    if isinstance(detail, list):
        return [message for value in detail for message in _messages(value)]
    return [str(detail)]


def fhir_exception_handler(exc, context):
    """Every error as an OperationOutcome with the right HTTP status."""
    headers = {}
    if isinstance(exc, FhirError):
        status_code, issues = exc.status_code, exc.issues
    elif isinstance(exc, DomainError):
        status_code = exc.http_status
        issues = [issue(ISSUE_BY_STATUS.get(status_code, "business-rule"), exc.message, diagnostics=exc.code)]
    elif isinstance(exc, DjangoValidationError):
        status_code = 400
        fields = exc.message_dict if hasattr(exc, "error_dict") else {"": exc.messages}
        issues = [issue("invalid", m, expression=name or None) for name, ms in fields.items() for m in ms]
    elif isinstance(exc, exceptions.ValidationError):
        status_code = 400
        issues = [issue("invalid", message) for message in _messages(exc.detail)]
    elif isinstance(exc, Http404):
        status_code, issues = 404, [issue("not-found", _("Not found, or not visible to your organisation."))]
    elif isinstance(exc, exceptions.ParseError):
        status_code, issues = 400, [issue("structure", exc.detail)]
    elif isinstance(exc, exceptions.APIException):
        status_code = exc.status_code
        issues = [issue(ISSUE_BY_STATUS.get(status_code, "processing"), exc.detail)]
        if getattr(exc, "auth_header", None):
            headers["WWW-Authenticate"] = exc.auth_header
        if getattr(exc, "wait", None):
            headers["Retry-After"] = str(int(exc.wait))
    else:
        logger.exception("FHIR request failed", exc_info=exc)
        status_code, issues = 500, [issue("exception", _("Something went wrong on the server."))]
    return Response(operation_outcome(*issues), status=status_code, headers=headers)


# --- Views ------------------------------------------------------------------------------------


class SameRegionReader(BasePermission):
    """Capacity resources carry no patient data: every role of a region reads its region."""

    def has_permission(self, request, view):
        user = request.user
        return bool(user and user.is_authenticated and getattr(user, "organisation_id", None))


class FhirView(ChallengeAllSchemes, APIView):
    """Base of every FHIR endpoint. Not in the OpenAPI schema of /api/: the CapabilityStatement
    at /fhir/r4/metadata describes the FHIR server."""

    schema = None
    renderer_classes = [FhirJsonRenderer]
    parser_classes = [FhirJsonParser, JSONParser]
    content_negotiation_class = FhirContentNegotiation
    authentication_classes = [OrganisationTokenAuthentication, ApiKeyAuthentication, SessionAuthentication]
    permission_classes = [SameRegionReader]

    def get_exception_handler(self):
        return fhir_exception_handler

    def base_url(self) -> str:
        """The absolute base of this FHIR server as the client reached it."""
        return self.request.build_absolute_uri("/fhir/r4").rstrip("/")


# --- Search -----------------------------------------------------------------------------------


def parse_int(name: str, value: str, *, minimum: int = 0, maximum: int | None = POSITIVE_INT) -> int:
    """A whole number within [minimum, maximum]; the default maximum keeps it inside the
    database's integer range (an OFFSET beyond bigint is a database error)."""
    try:
        number = int(value)
    except (TypeError, ValueError):
        raise invalid(_("%(name)s must be a whole number.") % {"name": name}) from None
    if number < minimum:
        raise invalid(_("%(name)s must be at least %(minimum)s.") % {"name": name, "minimum": minimum})
    if maximum is not None and number > maximum:
        raise invalid(_("%(name)s must be at most %(maximum)s.") % {"name": name, "maximum": maximum})
    return number


REFERENCE = re.compile(r"^(?:.*/)?(?P<type>[A-Z][A-Za-z]+)/(?P<id>[A-Za-z0-9\-.]{1,64})$")


# The largest id a database row can have (a signed 64-bit key). A larger number is no id at all:
# SQLite cannot even be asked about it ("Python int too large to convert to SQLite INTEGER").
LARGEST_ID = 2**63 - 1


def id_number(value: str) -> int | None:
    """A bare id `12` → 12; anything else, or a number no row can have, → None."""
    value = value.strip()
    if value.isdigit() and int(value) <= LARGEST_ID:
        return int(value)
    return None


def reference_id(value: str, resource_type: str) -> int | None:
    """`Organization/12`, a full URL ending in it, or a bare `12` → 12; anything else → None."""
    value = value.strip()
    if value.isdigit():
        return id_number(value)
    match = REFERENCE.match(value)
    if match and match["type"] == resource_type:
        return id_number(match["id"])
    return None


def parse_token(value: str) -> tuple[str | None, str]:
    """`system|code` → (system, code); `code` → (None, code); `|code` → ("", code)."""
    if "|" in value:
        system, code = value.split("|", 1)
        return system, code
    return None, value


DATE_PREFIXES = ("eq", "gt", "ge", "lt", "le")


def _aware(moment: datetime) -> datetime:
    return moment if timezone.is_aware(moment) else timezone.make_aware(moment)


def date_range(name: str, value: str) -> tuple[str, datetime, datetime]:
    """A FHIR date search value → (prefix, start, end): the moments [start, end) it covers."""
    prefix = value[:2] if value[:2] in DATE_PREFIXES else "eq"
    if value[:2].isalpha() and value[:2] not in DATE_PREFIXES:
        raise invalid(_("%(name)s: the prefix %(prefix)s is not supported.") % {"name": name, "prefix": value[:2]})
    raw = value[2:] if value[:2] in DATE_PREFIXES else value
    if "T" in raw:
        try:
            moment = parse_datetime(raw.replace(" ", "+"))
        except ValueError:
            moment = None
        if moment is None:
            raise invalid(_("%(name)s: %(value)s is not a FHIR date or dateTime.") % {"name": name, "value": raw})
        moment = _aware(moment)
        return prefix, moment, moment + timedelta(seconds=1)
    parts = raw.split("-")
    try:
        if len(parts) == 1 and len(raw) == 4:
            start, end = datetime(int(raw), 1, 1), datetime(int(raw) + 1, 1, 1)
        elif len(parts) == 2:
            year, month = int(parts[0]), int(parts[1])
            start = datetime(year, month, 1)
            end = datetime(year + (month == 12), month % 12 + 1, 1)
        else:
            day = parse_date(raw)
            if day is None:
                raise ValueError
            start = datetime.combine(day, time.min)
            end = start + timedelta(days=1)
    except ValueError:
        raise invalid(_("%(name)s: %(value)s is not a FHIR date or dateTime.") % {"name": name, "value": raw}) from None
    return prefix, _aware(start), _aware(end)


def filter_date(queryset, field: str, name: str, value: str):
    prefix, start, end = date_range(name, value)
    lookups = {
        "eq": {f"{field}__gte": start, f"{field}__lt": end},
        "gt": {f"{field}__gte": end},
        "ge": {f"{field}__gte": start},
        "lt": {f"{field}__lt": start},
        "le": {f"{field}__lt": end},
    }
    return queryset.filter(**lookups[prefix])


class Search:
    """The parameters of one search: applies those the view declares, ignores others (or
    refuses them with `Prefer: handling=strict`), and pages the result into a Bundle."""

    def __init__(self, view: FhirView, declared: dict[str, tuple[str, str]]):
        self.view = view
        self.request = view.request
        self.declared = declared
        self.applied: list[tuple[str, str]] = []
        params = self.request.query_params
        strict = "handling=strict" in self.request.headers.get("Prefer", "").replace(" ", "")
        unknown = [name for name in params if name not in declared and name not in COMMON_PARAMS]
        if strict and unknown:
            raise invalid(_("Unknown search parameter: %(names)s.") % {"names": ", ".join(sorted(unknown))})
        # More than MAX_COUNT is answered with MAX_COUNT, as FHIR allows; never reaches the database.
        self.count = min(parse_int("_count", params.get("_count", DEFAULT_COUNT), maximum=None), MAX_COUNT)
        self.offset = parse_int("_offset", params.get("_offset", 0))

    def values(self, name: str) -> list[str]:
        """The values of a declared parameter; each counts as applied (for the self link)."""
        values = [value for value in self.request.query_params.getlist(name) if value != ""]
        self.applied.extend((name, value) for value in values)
        return values

    def bundle(self, queryset, to_resource, *, entry_extras=None) -> dict:
        total = queryset.count()
        page = list(queryset[self.offset : self.offset + self.count]) if self.count else []
        base = self.view.base_url()
        entries = []
        for obj in page:
            resource = to_resource(obj)
            entry = {
                "fullUrl": f"{base}/{resource['resourceType']}/{resource['id']}",
                "resource": resource,
                "search": {"mode": "match"},
            }
            if entry_extras is not None:
                entry["search"].update(entry_extras(obj))
            entries.append(entry)
        return searchset(self.links(total), entries, total=total)

    def links(self, total: int) -> list[dict]:
        path = self.request.build_absolute_uri(self.request.path)

        def url(offset: int) -> str:
            return f"{path}?{urlencode([*self.applied, ('_count', self.count), ('_offset', offset)])}"

        links = [{"relation": "self", "url": url(self.offset)}]
        if self.count:
            last = max(0, (total - 1) // self.count * self.count)
            links.append({"relation": "first", "url": url(0)})
            if self.offset > 0:
                links.append({"relation": "previous", "url": url(max(0, self.offset - self.count))})
            if self.offset + self.count < total:
                links.append({"relation": "next", "url": url(self.offset + self.count)})
            links.append({"relation": "last", "url": url(last)})
        return links


def searchset(links: list[dict], entries: list[dict], *, total: int) -> dict:
    bundle = {
        "resourceType": "Bundle",
        "id": str(uuid.uuid4()),
        "meta": {"lastUpdated": instant(timezone.now())},
        "type": "searchset",
        "total": total,
        "link": links,
    }
    if entries:  # FHIR JSON has no empty arrays
        bundle["entry"] = entries
    return bundle


def instant(moment: datetime) -> str:
    """A FHIR instant/dateTime in the desk's time zone, to the second."""
    return timezone.localtime(moment).replace(microsecond=0).isoformat()


def fhir_response(resource: dict, *, status_code: int = status.HTTP_200_OK, headers=None) -> Response:
    return Response(resource, status=status_code, headers=headers)
