"""Reads of the access log for the privacy officer's questions."""

from django.db.models import QuerySet

from audit.models import AccessLog
from referrals.models import Patient


def patient_by_bsn(*, bsn: str) -> Patient | None:
    return Patient.objects.filter(bsn=bsn).first()


def accesses_of_patient(*, patient_id: int, region_id: int | None) -> QuerySet[AccessLog]:
    """Everyone who read or changed this patient's data, newest first. A coordinator sees the
    accesses in the region's organisations; `region_id=None` (administrator) sees all."""
    accesses = AccessLog.objects.filter(patient_id=patient_id)
    if region_id is not None:
        accesses = accesses.filter(organisation__region_id=region_id)
    return accesses.order_by("-at", "-id")
