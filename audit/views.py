"""A patient's question "who looked at my file?" (NEN 7513, AVG art. 15), answered by the desk.

Who answers: the coordinator of a region in which the patient was referred. There is no
privacy-officer role; the coordinator already may see the region's patients, has the second
factor, and the desk is where patients and referrers turn. The functional administrator
(role admin) sees no patient data anywhere else and gets none here either.

How: the request starts from the patient's BSN, posted (never in a URL, query string or the
log's path). The answer is rendered in the POST response and the CSV export is a POST with the
same BSN, so there is no patient id in any URL to walk. Every look, the refused ones included
(a BSN of a patient outside the region), is logged with the patient.
"""

import csv

from django.contrib.auth.decorators import login_required
from django.http import HttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST

from accounts.decorators import role_required
from accounts.models import Role
from audit.forms import PatientSearchForm
from audit.models import Channel
from audit.selectors import accesses_of_patient, patient_by_bsn, patient_in_region
from audit.trail import audited
from referrals.models import Patient

PRIVACY_ROLES = (Role.COORDINATOR,)
PAGE_SIZE = 200
TEMPLATE = "audit/privacy.html"


def _get_patient_for_request(request, form: PatientSearchForm) -> tuple[Patient | None, int]:
    """(the patient of the posted BSN, 200) when the user's region answers for them; otherwise
    (None, 400 for a bad BSN or 404) with the error on the form. A patient of another region is
    logged all the same: the attempt belongs in their history. Both "no such BSN" and "not in
    your region" read the same, so the answer does not tell whether the BSN exists."""
    if not form.is_valid():
        return None, 400
    patient = patient_by_bsn(bsn=form.cleaned_data["bsn"])
    if patient is not None:
        request.audit.add_patient(patient)
        if not patient_in_region(patient_id=patient.pk, region_id=request.user.organisation.region_id):
            patient = None
    if patient is None:
        form.add_error("bsn", _("No patient with this BSN in your region."))
        return None, 404
    return patient, 200


@login_required
@audited("search", methods=("POST",), referral_kwarg=None)
@role_required(*PRIVACY_ROLES)
@require_http_methods(["GET", "POST"])
def privacy_search(request):
    """GET: the empty search form. POST: the patient's accesses, in this response."""
    form = PatientSearchForm(request.POST or None)
    patient, status, accesses = None, 200, None
    if request.method == "POST":
        patient, status = _get_patient_for_request(request, form)
    if patient is not None:
        accesses = list(accesses_of_patient(patient_id=patient.pk)[:PAGE_SIZE])
    context = {"form": form, "patient": patient, "accesses": accesses, "page_size": PAGE_SIZE}
    return render(request, TEMPLATE, context, status=status)


@login_required
@audited("export", referral_kwarg=None, channel=Channel.EXPORT)
@role_required(*PRIVACY_ROLES)
@require_POST
def patient_accesses_export(request):
    """CSV of every access to one patient's data (the export itself is logged too)."""
    form = PatientSearchForm(request.POST)
    patient, status = _get_patient_for_request(request, form)
    if patient is None:
        return render(request, TEMPLATE, {"form": form, "patient": None, "accesses": None}, status=status)
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    stamp = timezone.localtime().strftime("%Y%m%d-%H%M")
    response["Content-Disposition"] = f'attachment; filename="toegang-{stamp}.csv"'
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
    for access in accesses_of_patient(patient_id=patient.pk).iterator():
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
