"""Writing the NEN 7513 access log from views.

A patient-data view is wrapped in `@audited(action)` (function views) or uses `AuditedApiMixin`
(DRF). The wrapper puts an `AuditTrail` on the request; the view adds the referrals or patients
it showed or changed; after the response the wrapper writes one row per subject with the outcome
taken from the response (also for refused and not-found attempts). The coverage test walks every
URL and fails for a patient-data route without this wrapper.
"""

from functools import wraps

from django.core.exceptions import PermissionDenied
from django.http import Http404
from django.utils import timezone

from audit.models import AccessLog, Channel, Outcome

AUDITED_ATTRIBUTE = "audit_action"
# Referral ids are BIGINT: a larger number in a URL cannot name one, and would not fit the log row.
MAX_ID = 2**63 - 1


class AuditTrail:
    def __init__(self, action: str):
        self.action = action
        self.subjects: list[tuple[int | None, int | None]] = []  # (referral_id, patient_id)

    def add(self, *referrals) -> None:
        self.subjects.extend((referral.pk, referral.patient_id) for referral in referrals)

    def add_subjects(self, subjects) -> None:
        """(referral_id, patient_id) pairs, for views that keep ids rather than referrals."""
        self.subjects.extend(subjects)

    def add_patient(self, patient) -> None:
        self.subjects.append((None, patient.pk))


def _channel(request) -> str:
    path = request.path
    if path.startswith("/api/"):
        return Channel.API
    if path.startswith("/fhir/"):
        return Channel.FHIR
    if path.startswith("/admin/"):
        return Channel.ADMIN
    if getattr(request, "htmx", False):
        return Channel.HTMX
    return Channel.PAGE


def _outcome(status_code: int) -> str:
    if status_code < 400:
        return Outcome.OK
    if status_code in (401, 403):
        return Outcome.DENIED
    if status_code == 404:
        return Outcome.NOT_FOUND
    return Outcome.ERROR


def write_trail(request, trail: AuditTrail, *, status_code: int, attempted_referral_id=None, channel=None) -> None:
    user = request.user if getattr(request, "user", None) is not None and request.user.is_authenticated else None
    organisation = getattr(user, "organisation", None) if user else None
    if isinstance(attempted_referral_id, int) and not 0 <= attempted_referral_id <= MAX_ID:
        attempted_referral_id = None  # no referral has this id; the path still records what was asked
    subjects = trail.subjects or [(attempted_referral_id, None)]
    # Ids rather than objects and one timestamp for all rows: a board view writes a row per card.
    common = {
        "at": timezone.now(),
        "user_id": user.pk if user else None,
        "user_name": user.get_username() if user else "anonymous",
        "role": getattr(user, "role", "") or "",
        "organisation_id": organisation.pk if organisation else None,
        "organisation_name": organisation.name if organisation else "",
        "on_behalf_of": getattr(request, "audit_on_behalf_of", ""),
        "action": trail.action,
        "channel": channel or _channel(request),
        "outcome": _outcome(status_code),
        "source_address": request.META.get("REMOTE_ADDR") or None,
        "path": request.path[:300],
    }
    AccessLog.objects.append(
        [{"referral_id": referral_id, "patient_id": patient_id, **common} for referral_id, patient_id in subjects]
    )


def audited(
    action: str,
    *,
    methods: tuple[str, ...] | None = None,
    referral_kwarg: str | None = "pk",
    channel: str | None = None,
):
    """Log every call of a function view that shows or changes patient data (only for the
    given HTTP `methods` when a GET shows nothing of a patient, like an empty form)."""

    def decorator(view):
        @wraps(view)
        def wrapper(request, *args, **kwargs):
            trail = request.audit = AuditTrail(action)
            if methods is not None and request.method not in methods:
                return view(request, *args, **kwargs)
            attempted = kwargs.get(referral_kwarg) if referral_kwarg else None
            try:
                response = view(request, *args, **kwargs)
            except Http404:
                write_trail(request, trail, status_code=404, attempted_referral_id=attempted, channel=channel)
                raise
            except PermissionDenied:
                write_trail(request, trail, status_code=403, attempted_referral_id=attempted, channel=channel)
                raise
            write_trail(
                request, trail, status_code=response.status_code, attempted_referral_id=attempted, channel=channel
            )
            return response

        setattr(wrapper, AUDITED_ATTRIBUTE, action)
        wrapper.audit_methods = methods  # None: every method
        return wrapper

    return decorator


class AuditedApiMixin:
    """For DRF views: `audit_actions = {"get": "read", "post": "update"}`; the view calls
    `self.request.audit.add(referral)`. Writes the trail in finalize_response, so refused and
    failed calls are logged too. `audit_referral_kwarg` names the URL argument that is a
    referral id (None when it is not)."""

    audit_actions: dict[str, str] = {}
    audit_referral_kwarg: str | None = "pk"

    def initial(self, request, *args, **kwargs):
        request.audit = AuditTrail(self.audit_actions.get(request.method.lower(), "read"))
        request._request.audit = request.audit
        super().initial(request, *args, **kwargs)

    def finalize_response(self, request, response, *args, **kwargs):
        response = super().finalize_response(request, response, *args, **kwargs)
        trail = getattr(request, "audit", None) or AuditTrail(self.audit_actions.get(request.method.lower(), "read"))
        attempted = kwargs.get(self.audit_referral_kwarg) if self.audit_referral_kwarg else None
        write_trail(request, trail, status_code=response.status_code, attempted_referral_id=attempted)
        return response
