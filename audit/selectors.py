"""Reads of the access log for the privacy questions of patients ("who looked at my file?")."""

from django.db.models import QuerySet

from audit.models import AccessLog, ChangeRecord
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


def changes_of(*, object_type: str, object_id: int) -> QuerySet[ChangeRecord]:
    """The Beheer history of one object, newest first."""
    return ChangeRecord.objects.filter(object_type=object_type, object_id=object_id).order_by("-at", "-id")


def changes_in_region(*, region_id: int) -> QuerySet[ChangeRecord]:
    """Every Beheer change made in a region, newest first."""
    return ChangeRecord.objects.filter(region_id=region_id).order_by("-at", "-id")


def change_authors_in_region(*, region_id: int) -> list[str]:
    """Who made changes in a region (their user names, "system" for jobs), for the filter."""
    return list(
        ChangeRecord.objects.filter(region_id=region_id)
        .order_by("by_name")
        .values_list("by_name", flat=True)
        .distinct()
    )
