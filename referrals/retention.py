"""Retention (docs/architecture.md §2.9): forget who a patient was once the region's term has passed.

A patient is pseudonymised when every referral of theirs is closed (discharged, cancelled or
redirected) for longer than its region's `retention_days`; a patient with a live or recently
closed referral is left alone. Identifiers go (BSN cleared, name replaced by a random
pseudonym, date of birth reduced to 1 January of the year, postcode reduced to its four digits
(PC4)) and so does the free text of their referrals (medical reason, carer contact, notes,
close reason, typed reasons in the timeline, offer decline explanations, reasons for a product
change during the stay). What statistics need stays: product, dates, states, PC4, insurer, sex,
stays, their destinations and product changes.

The NEN 7513 access log is never touched (append-only, guarded by a trigger on PostgreSQL) and
is kept at least 5 years; the job adds one log row per patient it pseudonymised.
Referral drafts (what a referrer typed but never submitted) are deleted after the same term.
"""

import logging
import secrets
from datetime import date, datetime, timedelta

from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from audit.models import AccessLog, Action, Channel, Outcome
from providers.models import Region
from referrals.models import Offer, Patient, Referral, ReferralDraft, ReferralEvent, State, StayProductChange

logger = logging.getLogger(__name__)

CLOSED_STATES = (State.DISCHARGED, State.CANCELLED, State.REDIRECTED)
BATCH = 500
JOB_NAME = "system: retention"


def _cutoffs(now: datetime) -> dict[int, datetime]:
    return {
        region_id: now - timedelta(days=days) for region_id, days in Region.objects.values_list("pk", "retention_days")
    }


def _expired_closed(cutoffs: dict[int, datetime]) -> Q:
    """Referrals closed before their own region's cut-off."""
    condition = Q(pk__in=[])
    for region_id, cutoff in cutoffs.items():
        condition |= Q(region_id=region_id, state_changed_at__lt=cutoff)
    return Q(state__in=CLOSED_STATES) & condition


def patients_due(*, now: datetime | None = None) -> list[int]:
    """Ids of patients not yet pseudonymised whose referrals are all closed past their term."""
    now = now or timezone.now()
    cutoffs = _cutoffs(now)
    expired = _expired_closed(cutoffs)
    candidates = (
        Patient.objects.filter(pseudonymised_at__isnull=True)
        .filter(referrals__in=Referral.objects.filter(expired))
        .exclude(referrals__in=Referral.objects.exclude(expired))
        .distinct()
        .order_by("pk")
        .values_list("pk", flat=True)
    )
    return list(candidates[:BATCH])


def pseudonym() -> str:
    """A random stand-in for the name: it links to nobody, also not to the patient id."""
    return f"P-{secrets.token_hex(4).upper()}"


@transaction.atomic
def patient_pseudonymise(*, patient_id: int, now: datetime | None = None) -> bool:
    """Pseudonymise one patient if (still) due. Locks the patient row, so a referral submitted
    for the same BSN at this moment waits (and then finds no patient with that BSN) or wins
    (and then this run sees the live referral and skips). Safe to run twice."""
    now = now or timezone.now()
    patient = Patient.objects.select_for_update().filter(pk=patient_id, pseudonymised_at__isnull=True).first()
    if patient is None:
        return False
    cutoffs = _cutoffs(now)
    referrals = list(
        Referral.objects.filter(patient=patient).values_list("pk", "state", "region_id", "state_changed_at")
    )
    if not referrals or any(
        state not in CLOSED_STATES or changed_at >= cutoffs.get(region_id, now)
        for _, state, region_id, changed_at in referrals
    ):
        return False
    patient.bsn = None
    patient.name = pseudonym()
    if patient.date_of_birth is not None:
        patient.date_of_birth = date(patient.date_of_birth.year, 1, 1)
    patient.postcode = (patient.postcode or "").replace(" ", "")[:4]
    patient.pseudonymised_at = now
    patient.save(update_fields=["bsn", "name", "date_of_birth", "postcode", "pseudonymised_at"])
    referral_ids = [pk for pk, *_ in referrals]
    Referral.objects.filter(pk__in=referral_ids).update(
        medical_reason="", carer_contact="", notes="", close_reason="", idempotency_key=None
    )
    # Reasons a person typed (cancel, redirect, decline); the system's own texts stay.
    ReferralEvent.objects.filter(referral_id__in=referral_ids, actor__isnull=False).exclude(reason="").update(reason="")
    Offer.objects.filter(referral_id__in=referral_ids).exclude(decline_text="").update(decline_text="")
    StayProductChange.objects.filter(stay__referral_id__in=referral_ids).exclude(reason="").update(reason="")
    AccessLog.objects.create(
        at=now,
        user=None,
        user_name=JOB_NAME,
        role="",
        action=Action.UPDATE,
        channel=Channel.JOB,
        patient_id=patient.pk,
        outcome=Outcome.OK,
        path="retention:pseudonymise",
    )
    logger.info("patient %s pseudonymised (retention)", patient.pk)
    return True


def drafts_delete(*, now: datetime | None = None) -> int:
    """Delete referral drafts nobody touched within their user's region's term."""
    now = now or timezone.now()
    deleted = 0
    for region_id, cutoff in _cutoffs(now).items():
        count, _ = ReferralDraft.objects.filter(user__organisation__region_id=region_id, updated_at__lt=cutoff).delete()
        deleted += count
    return deleted


def retention_run(*, now: datetime | None = None) -> dict[str, int]:
    now = now or timezone.now()
    pseudonymised = sum(patient_pseudonymise(patient_id=pk, now=now) for pk in patients_due(now=now))
    return {"pseudonymised": pseudonymised, "drafts_deleted": drafts_delete(now=now)}
