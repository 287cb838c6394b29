import csv

from django.contrib.auth.decorators import login_required
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods

from accounts.decorators import role_required
from accounts.models import Role
from audit.forms import PatientSearchForm
from audit.models import Channel
from audit.selectors import accesses_of_patient, patient_by_bsn
from audit.trail import audited
from referrals.models import Patient

PRIVACY_ROLES = (Role.COORDINATOR, Role.ADMIN)
PAGE_SIZE = 200


def _region_scope(user) -> int | None:
    """Administrators answer for the whole installation; coordinators for their region."""
    return None if user.role == Role.ADMIN else user.organisation.region_id


def _get_patient_for_user(user, pk: int) -> Patient:
    patients = Patient.objects.all()
    if user.role != Role.ADMIN:
        patients = patients.filter(referrals__region_id=user.organisation.region_id).distinct()
    return get_object_or_404(patients, pk=pk)


@login_required
@audited("search", methods=("POST",), referral_kwarg=None)
@role_required(*PRIVACY_ROLES)
@require_http_methods(["GET", "POST"])
def privacy_search(request):
    """ "Who looked at this patient?" — find the patient by BSN (posted, never in the URL)."""
    form = PatientSearchForm(request.POST or None)
    patient = accesses = None
    if request.method == "POST" and form.is_valid():
        patient = patient_by_bsn(bsn=form.cleaned_data["bsn"])
        if patient is not None and _region_scope(request.user) is not None:
            if not patient.referrals.filter(region_id=request.user.organisation.region_id).exists():
                patient = None
        if patient is None:
            form.add_error("bsn", _("No patient with this BSN in your region."))
        else:
            request.audit.add_patient(patient)
            accesses = list(
                accesses_of_patient(patient_id=patient.pk, region_id=_region_scope(request.user))[:PAGE_SIZE]
            )
    return render(request, "audit/privacy.html", {"form": form, "patient": patient, "accesses": accesses})


@login_required
@audited("read", referral_kwarg=None)
@role_required(*PRIVACY_ROLES)
@require_GET
def patient_accesses(request, pk: int):
    patient = _get_patient_for_user(request.user, pk)
    request.audit.add_patient(patient)
    accesses = list(accesses_of_patient(patient_id=patient.pk, region_id=_region_scope(request.user))[:PAGE_SIZE])
    return render(
        request, "audit/privacy.html", {"form": PatientSearchForm(), "patient": patient, "accesses": accesses}
    )


@login_required
@audited("export", referral_kwarg=None, channel=Channel.EXPORT)
@role_required(*PRIVACY_ROLES)
@require_GET
def patient_accesses_export(request, pk: int):
    """CSV of every access to one patient's data (the export itself is logged too)."""
    patient = _get_patient_for_user(request.user, pk)
    request.audit.add_patient(patient)
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    stamp = timezone.localtime().strftime("%Y%m%d-%H%M")
    response["Content-Disposition"] = f'attachment; filename="toegang-patient-{patient.pk}-{stamp}.csv"'
    writer = csv.writer(response)
    writer.writerow(
        [
            "at",
            "user",
            "role",
            "organisation",
            "on_behalf_of",
            "action",
            "channel",
            "referral",
            "outcome",
            "source_address",
        ]
    )
    for access in accesses_of_patient(patient_id=patient.pk, region_id=_region_scope(request.user)).iterator():
        writer.writerow(
            [
                timezone.localtime(access.at).isoformat(),
                access.user_name,
                access.role,
                access.organisation_name,
                access.on_behalf_of,
                access.action,
                access.channel,
                access.referral_id or "",
                access.outcome,
                access.source_address or "",
            ]
        )
    return response
