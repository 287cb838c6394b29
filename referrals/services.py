"""Referral workflows that span several models: submit, offer, answer, admit, discharge."""

from datetime import datetime, timedelta

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.models import User
from beds import services as beds
from beds.models import Capacity
from elvdesk.errors import Conflict
from referrals import notifications
from referrals.models import (
    LIVE_STATES,
    DeclineReason,
    DischargeDestination,
    Offer,
    OfferState,
    Patient,
    Referral,
    ReferralDraft,
    State,
    Stay,
)
from referrals.validation import referral_errors
from referrals.workflow import referral_transition

PATIENT_FIELDS = ("name", "date_of_birth", "sex", "postcode", "insurer")
REFERRAL_FIELDS = (
    "origin",
    "product",
    "urgency",
    "planned_date",
    "wakeful_eye",
    "unplannable_nursing",
    "adl_taken_over",
    "wlz_indication",
    "life_expectancy_short",
    "needs_hospital_care",
    "carer_relief_only",
    "trainable_after_hospital",
    "needs_elderly_care_specialist",
    "medical_reason",
    "consent",
    "carer_contact",
    "notes",
)


class LiveReferralExists(Conflict):
    code = "live_referral_exists"

    def __init__(self):
        super().__init__(_("There is already a live referral for this patient. Contact the desk to change it."))


def _existing_for_key(by: User, idempotency_key: str | None) -> Referral | None:
    if not idempotency_key:
        return None
    return Referral.objects.filter(referred_by=by, idempotency_key=idempotency_key).first()


def referral_submit(
    *, by: User, data: dict, idempotency_key: str | None = None, draft_id: int | None = None
) -> tuple[Referral, bool]:
    """Create a submitted referral from validated input. Returns (referral, created).

    The same `idempotency_key` from the same user returns the first referral instead of a
    second one (double click, retried request).
    """
    existing = _existing_for_key(by, idempotency_key)
    if existing is not None:
        return existing, False
    errors = referral_errors(data, role=by.role, region=by.region)
    if errors:
        raise ValidationError(errors)
    try:
        with transaction.atomic():
            referral = _create_referral(by=by, data=data, idempotency_key=idempotency_key)
    except IntegrityError:
        existing = _existing_for_key(by, idempotency_key)
        if existing is not None:
            return existing, False
        raise LiveReferralExists() from None
    if draft_id is not None:
        ReferralDraft.objects.filter(pk=draft_id, user=by).delete()
    return referral, True


def _create_referral(*, by: User, data: dict, idempotency_key: str | None) -> Referral:
    patient = Patient.objects.select_for_update().filter(bsn=data["bsn"]).first()
    if patient is None:
        patient = Patient.objects.create(bsn=data["bsn"], **{name: data.get(name) for name in PATIENT_FIELDS})
    elif Referral.objects.filter(patient=patient, state__in=LIVE_STATES).exists():
        raise LiveReferralExists()
    else:
        for name in PATIENT_FIELDS:
            setattr(patient, name, data.get(name))
        patient.save()
    now = timezone.now()
    referral = Referral.objects.create(
        patient=patient,
        region=by.region,
        organisation=by.organisation,
        referred_by=by,
        idempotency_key=idempotency_key or None,
        state=State.DRAFT,
        created_at=now,
        **{name: data.get(name) for name in REFERRAL_FIELDS if data.get(name) is not None},
    )
    referral.care_needs.set(data.get("care_needs") or [])
    referral_transition(referral=referral, target=State.SUBMITTED, by=by)
    notifications.notify_submitted(referral)
    if referral.region.self_service_allowed(now):
        referral_transition(
            referral=referral,
            target=State.SEARCHING,
            by=None,
            reason=_("Self-service: the referrer may send offers directly."),
        )
    return referral


def referral_step(*, referral: Referral, target: str, by: User, reason: str = "", redirect_target: str = "") -> None:
    """Triage, start the search, cancel or redirect. Cancel and redirect need a reason and
    release the hold of an open offer."""
    if target in (State.CANCELLED, State.REDIRECTED) and not reason.strip():
        raise ValidationError({"reason": [_("Give a reason.")]})
    if target == State.REDIRECTED and not redirect_target:
        raise ValidationError({"redirect_target": [_("Choose where the patient goes instead.")]})
    with transaction.atomic():
        for offer in Offer.objects.select_for_update().filter(referral=referral, state=OfferState.OPEN):
            _close_offer(offer, state=OfferState.WITHDRAWN, by=by)
        referral_transition(referral=referral, target=target, by=by, reason=reason)
        if target in (State.CANCELLED, State.REDIRECTED):
            Referral.objects.filter(pk=referral.pk).update(close_reason=reason, redirect_target=redirect_target)


def _close_offer(offer: Offer, *, state: str, by: User | None) -> None:
    beds.capacity_release_hold(capacity_id=offer.capacity_id, by=by)
    offer.state = state
    offer.answered_at = timezone.now()
    offer.answered_by = by
    offer.save(update_fields=["state", "answered_at", "answered_by"])


@transaction.atomic
def offer_create(*, referral: Referral, capacity: Capacity, by: User) -> Offer:
    """Offer the referral to one location: holds one bed until answered or expired."""
    referral = Referral.objects.select_for_update(of=("self",)).select_related("region").get(pk=referral.pk)
    if referral.state != State.SEARCHING:
        raise Conflict(_("An offer can only be sent while searching a bed."), code="illegal_transition")
    if by.role in ("gp", "transfer_nurse") and not referral.region.self_service_allowed(timezone.now()):
        raise Conflict(_("Outside self-service hours the desk sends the offers."), code="self_service_closed")
    if capacity.product_id != referral.product_id or capacity.location.organisation.region_id != referral.region_id:
        raise ValidationError({"capacity": [_("This location does not offer the requested product in the region.")]})
    beds.capacity_hold(capacity_id=capacity.pk, by=by)
    now = timezone.now()
    offer = Offer.objects.create(
        referral=referral,
        capacity=capacity,
        location=capacity.location,
        product=capacity.product,
        created_by=by,
        created_at=now,
        expires_at=now + timedelta(minutes=referral.region.offer_expiry_minutes),
    )
    referral_transition(referral=referral, target=State.OFFERED, by=by, locked=True)
    notifications.notify_offer_received(offer)
    return offer


def _lock_open_offer(offer: Offer) -> Offer:
    locked = Offer.objects.select_for_update(of=("self",)).select_related("location", "product").get(pk=offer.pk)
    if locked.state != OfferState.OPEN:
        raise Conflict(
            _("This offer was already %(state)s.") % {"state": OfferState(locked.state).label.lower()},
            code="offer_answered",
        )
    return locked


def _lock_answered_referral(offer: Offer) -> Referral:
    """The referral of an offer being answered, locked last (every answer locks offer, bed count,
    referral in that order), with the referrer whom the answer notifies."""
    return Referral.objects.select_for_update(of=("self",)).select_related("referred_by").get(pk=offer.referral_id)


@transaction.atomic
def offer_accept(*, offer: Offer, by: User, admission_at: datetime | None = None) -> Offer:
    """The provider takes the patient: the held bed becomes a booking, in one transaction."""
    offer = _lock_open_offer(offer)
    if offer.is_expired():
        raise Conflict(_("This offer has expired; the bed is no longer held."), code="offer_expired")
    beds.capacity_book_held(capacity_id=offer.capacity_id, by=by)
    offer.state = OfferState.ACCEPTED
    offer.answered_at = timezone.now()
    offer.answered_by = by
    offer.admission_at = admission_at
    offer.save(update_fields=["state", "answered_at", "answered_by", "admission_at"])
    offer.referral = _lock_answered_referral(offer)
    referral_transition(referral=offer.referral, target=State.ACCEPTED, by=by, locked=True)
    notifications.notify_offer_accepted(offer)
    return offer


@transaction.atomic
def offer_decline(*, offer: Offer, by: User, reason: str, text: str = "") -> Offer:
    if reason not in DeclineReason.values:
        raise ValidationError({"reason": [_("Choose a reason.")]})
    if reason == DeclineReason.OTHER and not text.strip():
        raise ValidationError({"text": [_("Explain the reason.")]})
    offer = _lock_open_offer(offer)
    _close_offer(offer, state=OfferState.DECLINED, by=by)
    Offer.objects.filter(pk=offer.pk).update(decline_reason=reason, decline_text=text)
    offer.referral = _lock_answered_referral(offer)
    referral_transition(
        referral=offer.referral,
        target=State.SEARCHING,
        by=by,
        reason=DeclineReason(reason).label + (f": {text}" if text else ""),
        locked=True,
    )
    notifications.notify_offer_closed(offer, kind=notifications.Kind.OFFER_DECLINED)
    return offer


@transaction.atomic
def offer_expire(*, offer_id: int) -> bool:
    """Release an offer whose time is up. Safe to call twice or concurrently: returns False
    when there was nothing (left) to do."""
    offer = (
        Offer.objects.select_for_update(skip_locked=True, of=("self",))
        .select_related("referral")
        .filter(pk=offer_id, state=OfferState.OPEN, expires_at__lte=timezone.now())
        .first()
    )
    if offer is None:
        return False
    _close_offer(offer, state=OfferState.EXPIRED, by=None)
    referral_transition(
        referral=offer.referral, target=State.SEARCHING, by=None, reason=_("The offer was not answered in time.")
    )
    notifications.notify_offer_closed(offer, kind=notifications.Kind.OFFER_EXPIRED)
    return True


@transaction.atomic
def stay_admit(*, referral: Referral, by: User, admitted_at: datetime) -> Stay:
    referral_transition(referral=referral, target=State.ADMITTED, by=by)
    offer = referral.offers.select_related("capacity").get(state=OfferState.ACCEPTED)
    if admitted_at > timezone.now() + timedelta(minutes=5):
        raise ValidationError({"admitted_at": [_("Admission cannot be recorded in the future.")]})
    if admitted_at < offer.created_at - timedelta(days=1):
        raise ValidationError({"admitted_at": [_("Admission cannot be before the offer.")]})
    return Stay.objects.create(
        referral=referral, location=offer.location, capacity=offer.capacity, admitted_at=admitted_at
    )


@transaction.atomic
def stay_discharge(*, referral: Referral, by: User, discharged_at: datetime, destination: str) -> Stay:
    """Record the discharge and free the bed."""
    referral_transition(referral=referral, target=State.DISCHARGED, by=by)
    stay = Stay.objects.select_for_update().get(referral=referral)
    if destination not in DischargeDestination.values:
        raise ValidationError({"destination": [_("Choose where the patient went.")]})
    if discharged_at < stay.admitted_at:
        raise ValidationError({"discharged_at": [_("Discharge cannot be before admission.")]})
    if discharged_at > timezone.now() + timedelta(minutes=5):
        raise ValidationError({"discharged_at": [_("Discharge cannot be recorded in the future.")]})
    stay.discharged_at = discharged_at
    stay.discharge_destination = destination
    stay.save(update_fields=["discharged_at", "discharge_destination"])
    beds.capacity_free_bed(capacity_id=stay.capacity_id, by=by)
    return stay
