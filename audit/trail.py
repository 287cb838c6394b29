"""Writing the NEN 7513 access log from views.

A patient-data view is wrapped in `@audited(action)` (function views) or uses `AuditedApiMixin`
(DRF). The wrapper puts an `AuditTrail` on the request; the view adds the referrals or patients
it showed or changed; after the response the wrapper writes one row per subject with the outcome
taken from the response (also for refused and not-found attempts: when the URL names a referral
that exists, the row carries its patient, so the attempt is in that patient's history). The
coverage test walks every URL and fails for a patient-data route without this wrapper.

Being audited is also what marks a response as patient data: the wrappers set
`Cache-Control: no-store` on every response, so a new patient view cannot forget it.
"""

from functools import wraps

from django.core.exceptions import PermissionDenied
from django.http import Http404
from django.utils import timezone
from django.utils.cache import add_never_cache_headers

from accounts.client_ip import client_ip
from audit.models import AccessLog, Channel, Outcome
from referrals.models import Offer, Referral

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


def no_store(response):
    """Patient data must not stay in a browser's or proxy's cache (shared workstations): every
    response of an audited view says so, whatever its status."""
    add_never_cache_headers(response)
    return response


def _is_id(value) -> bool:
    return isinstance(value, int) and 0 <= value <= MAX_ID


def _attempted_subject(referral_id, offer_id=None) -> tuple[int | None, int | None]:
    """(referral, its patient) for a refused or failed call on a referral (or an offer of a
    referral) that exists, so the attempt shows in that patient's access history too."""
    if _is_id(offer_id):
        row = Offer.objects.filter(pk=offer_id).values_list("referral_id", "referral__patient_id").first()
        return row or (None, None)
    if not _is_id(referral_id):
        return None, None  # no referral has this id; the path still records what was asked
    return referral_id, Referral.objects.filter(pk=referral_id).values_list("patient_id", flat=True).first()


def write_trail(
    request, trail: AuditTrail, *, status_code: int, attempted_referral_id=None, attempted_offer_id=None, channel=None
) -> None:
    user = request.user if getattr(request, "user", None) is not None and request.user.is_authenticated else None
    organisation = getattr(user, "organisation", None) if user else None
    subjects = trail.subjects or [_attempted_subject(attempted_referral_id, attempted_offer_id)]
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
        "source_address": client_ip(request),
        "path": request.path[:300],
        "subject_user_id": None,
    }
    AccessLog.objects.append(
        [{"referral_id": referral_id, "patient_id": patient_id, **common} for referral_id, patient_id in subjects]
    )


def audited(
    action: str,
    *,
    methods: tuple[str, ...] | None = None,
    referral_kwarg: str | None = "pk",
    offer_kwarg: str | None = None,
    channel: str | None = None,
):
    """Log every call of a function view that shows or changes patient data (only for the
    given HTTP `methods` when a GET shows nothing of a patient, like an empty form).
    `referral_kwarg` / `offer_kwarg`: the URL argument naming the referral or offer the call is
    about, whose patient a refused attempt is logged with."""

    def decorator(view):
        @wraps(view)
        def wrapper(request, *args, **kwargs):
            trail = request.audit = AuditTrail(action)
            if methods is not None and request.method not in methods:
                return no_store(view(request, *args, **kwargs))
            attempted = {
                "attempted_referral_id": kwargs.get(referral_kwarg) if referral_kwarg else None,
                "attempted_offer_id": kwargs.get(offer_kwarg) if offer_kwarg else None,
                "channel": channel,
            }
            try:
                response = view(request, *args, **kwargs)
            except Http404:
                write_trail(request, trail, status_code=404, **attempted)
                raise
            except PermissionDenied:
                write_trail(request, trail, status_code=403, **attempted)
                raise
            write_trail(request, trail, status_code=response.status_code, **attempted)
            return no_store(response)

        setattr(wrapper, AUDITED_ATTRIBUTE, action)
        wrapper.audit_methods = methods  # None: every method
        return wrapper

    return decorator


class AuditedApiMixin:
    """For DRF views: `audit_actions = {"get": "read", "post": "update"}`; the view calls
    `self.request.audit.add(referral)`. Writes the trail in finalize_response, so refused and
    failed calls are logged too. `audit_referral_kwarg` names the URL argument that is a
    referral id (None when it is not), `audit_offer_kwarg` the one that is an offer id."""

    audit_actions: dict[str, str] = {}
    audit_referral_kwarg: str | None = "pk"
    audit_offer_kwarg: str | None = None

    def initial(self, request, *args, **kwargs):
        request.audit = AuditTrail(self.audit_actions.get(request.method.lower(), "read"))
        request._request.audit = request.audit
        super().initial(request, *args, **kwargs)

    def finalize_response(self, request, response, *args, **kwargs):
        response = super().finalize_response(request, response, *args, **kwargs)
        trail = getattr(request, "audit", None) or AuditTrail(self.audit_actions.get(request.method.lower(), "read"))
        write_trail(
            request,
            trail,
            status_code=response.status_code,
            attempted_referral_id=kwargs.get(self.audit_referral_kwarg) if self.audit_referral_kwarg else None,
            attempted_offer_id=kwargs.get(self.audit_offer_kwarg) if self.audit_offer_kwarg else None,
        )
        return no_store(response)
