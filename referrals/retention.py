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
import time
from datetime import date, datetime, timedelta

from django.db import connection, transaction
from django.db.models import Q
from django.utils import timezone

from audit.models import AccessLog, Action, Channel, Outcome
from providers.models import Region
from referrals.models import Offer, Patient, Referral, ReferralDraft, ReferralEvent, State, StayProductChange

logger = logging.getLogger(__name__)

CLOSED_STATES = (State.DISCHARGED, State.CANCELLED, State.REDIRECTED)
BATCH = 500
# One run stops starting new batches after this long, well within the task's soft time limit (540 s).
RUN_SECONDS = 300
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


def patients_due(*, now: datetime | None = None, after: int = 0) -> list[int]:
    """Ids (above `after`, ascending) of patients not yet pseudonymised whose referrals are all
    closed past their term; at most BATCH."""
    now = now or timezone.now()
    cutoffs = _cutoffs(now)
    expired = _expired_closed(cutoffs)
    candidates = (
        Patient.objects.filter(pseudonymised_at__isnull=True, pk__gt=after)
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


def patient_pseudonymise(*, patient_id: int, now: datetime | None = None) -> bool:
    """Pseudonymise one patient if (still) due. Safe to run twice."""
    return patients_pseudonymise(patient_ids=[patient_id], now=now) == 1


@transaction.atomic
def patients_pseudonymise(*, patient_ids: list[int], now: datetime | None = None) -> int:
    """Pseudonymise those of `patient_ids` that are (still) due, in one transaction and a fixed
    number of statements however many (a batch of BATCH: the retention job). Locks the patient
    rows (in id order, so two runs cannot deadlock), so a referral submitted for the same BSN at
    this moment waits (and then finds no patient with that BSN) or wins (and then this run sees
    the live referral and skips that patient). Safe to run twice. Returns how many it did."""
    now = now or timezone.now()
    patients = list(
        Patient.objects.select_for_update()
        .filter(pk__in=patient_ids, pseudonymised_at__isnull=True)
        .order_by("pk")
        .only("pk", "date_of_birth", "postcode")
    )
    if not patients:
        return 0
    cutoffs = _cutoffs(now)
    referrals: dict[int, list[tuple]] = {patient.pk: [] for patient in patients}
    for row in Referral.objects.filter(patient_id__in=referrals).values_list(
        "patient_id", "pk", "state", "region_id", "state_changed_at"
    ):
        referrals[row[0]].append(row[1:])
    due = [
        patient
        for patient in patients
        if referrals[patient.pk]
        and all(
            state in CLOSED_STATES and changed_at < cutoffs.get(region_id, now)
            for _, state, region_id, changed_at in referrals[patient.pk]
        )
    ]
    if not due:
        return 0
    _patients_update(due, now=now)
    referral_ids = [pk for patient in due for pk, *_ in referrals[patient.pk]]
    Referral.objects.filter(pk__in=referral_ids).update(
        medical_reason="", carer_contact="", notes="", close_reason="", idempotency_key=None
    )
    # Reasons a person typed (cancel, redirect, decline); the system's own texts stay.
    ReferralEvent.objects.filter(referral_id__in=referral_ids, actor__isnull=False).exclude(reason="").update(reason="")
    Offer.objects.filter(referral_id__in=referral_ids).exclude(decline_text="").update(decline_text="")
    StayProductChange.objects.filter(stay__referral_id__in=referral_ids).exclude(reason="").update(reason="")
    AccessLog.objects.append(
        [
            {
                "at": now,
                "user_id": None,
                "user_name": JOB_NAME,
                "role": "",
                "organisation_id": None,
                "organisation_name": "",
                "on_behalf_of": "",
                "action": Action.UPDATE,
                "channel": Channel.JOB,
                "patient_id": patient.pk,
                "referral_id": None,
                "subject_user_id": None,
                "outcome": Outcome.OK,
                "source_address": None,
                "path": "retention:pseudonymise",
            }
            for patient in due
        ]
    )
    logger.info("%s patients pseudonymised (retention), ids %s to %s", len(due), due[0].pk, due[-1].pk)
    return len(due)


def _patients_update(patients: list[Patient], *, now: datetime) -> None:
    """The identifiers of `patients` replaced: one UPDATE per patient, sent together
    (executemany). Each gets its own random pseudonym, which one set-based UPDATE cannot give,
    and Django's bulk_update spends longer building its CASE expressions than the database
    spends running them."""
    meta, quote = Patient._meta, connection.ops.quote_name
    fields = [meta.get_field(name) for name in ("name", "date_of_birth", "postcode", "pseudonymised_at")]
    assignments = ", ".join(f"{quote(field.column)} = %s" for field in fields)
    bsn, table, pk = quote(meta.get_field("bsn").column), quote(meta.db_table), quote(meta.pk.column)
    sql = f"UPDATE {table} SET {bsn} = NULL, {assignments} WHERE {pk} = %s"  # nosec B608: names from the model
    rows = []
    for patient in patients:
        born = patient.date_of_birth
        values = (
            pseudonym(),
            date(born.year, 1, 1) if born is not None else None,
            (patient.postcode or "").replace(" ", "")[:4],
            now,
        )
        rows.append([field.get_db_prep_save(value, connection) for field, value in zip(fields, values, strict=True)])
        rows[-1].append(patient.pk)
    with connection.cursor() as cursor:
        cursor.executemany(sql, rows)


def drafts_delete(*, now: datetime | None = None) -> int:
    """Delete referral drafts nobody touched within their user's region's term."""
    now = now or timezone.now()
    deleted = 0
    for region_id, cutoff in _cutoffs(now).items():
        count, _ = ReferralDraft.objects.filter(user__organisation__region_id=region_id, updated_at__lt=cutoff).delete()
        deleted += count
    return deleted


def retention_run(*, now: datetime | None = None) -> dict[str, int]:
    """Every patient due, in batches of BATCH (one transaction each), until none is left or
    RUN_SECONDS have passed (the rest waits for the next run): a backlog, such as the history
    of a region that starts using the desk, is gone in one night instead of BATCH a night."""
    now = now or timezone.now()
    deadline = time.monotonic() + RUN_SECONDS
    pseudonymised, after = 0, 0
    while time.monotonic() < deadline:
        due = patients_due(now=now, after=after)
        if not due:
            break
        pseudonymised += patients_pseudonymise(patient_ids=due, now=now)
        after = due[-1]
    return {"pseudonymised": pseudonymised, "drafts_deleted": drafts_delete(now=now)}
