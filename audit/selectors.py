"""Reads of the access log for the privacy questions of patients ("who looked at my file?")."""

from django.db.models import QuerySet

from audit.models import AccessLog
from referrals.models import Patient, Referral


def patient_by_bsn(*, bsn: str) -> Patient | None:
    return Patient.objects.filter(bsn=bsn).first()


def patient_in_region(*, patient_id: int, region_id: int) -> bool:
    """Whether the patient was ever referred in the region (whose desk then answers for them)."""
    return Referral.objects.filter(patient_id=patient_id, region_id=region_id).exists()


def accesses_of_patient(*, patient_id: int) -> QuerySet[AccessLog]:
    """Everyone who read, changed or tried to reach this patient's data, newest first: every
    region, organisation and channel, superusers' admin reads and refused attempts included. A
    patient asking who looked at their file is owed the whole answer, not one region's part."""
    return AccessLog.objects.filter(patient_id=patient_id).order_by("-at", "-id")
