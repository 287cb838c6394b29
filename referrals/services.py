"""Referral workflows that span several models: submit, offer, answer, admit, discharge."""

from datetime import date, datetime, timedelta

from django.core.exceptions import ValidationError
from django.db import IntegrityError, connection, transaction
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.translation import gettext as _

from accounts.models import Role, User
from beds import services as beds
from beds.models import Capacity, ChangeSource
from elvdesk.errors import Conflict, PermissionDenied
from providers.models import Location, Product
from referrals import cross_region, notifications
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
    StayProductChange,
)
from referrals.reservations import reservation_day
from referrals.validation import referral_errors
from referrals.workflow import STEP_ACTIONS, Action, referral_note, referral_transition

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
    "preferred_location",
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
    except (IntegrityError, LiveReferralExists):
        # The same submit running at the same moment (a double click) committed first: its
        # referral is the live one this one ran into, and the answer to this request too.
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
    care_needs = data.get("care_needs") or []
    if care_needs:  # a new referral has none yet: add, without reading them first
        referral.care_needs.add(*care_needs)
    # The row was inserted by this transaction, so nobody else can see or lock it before the
    # commit: the steps need not read it again under a lock (locked=True).
    referral_transition(referral=referral, target=State.SUBMITTED, by=by, actions=(Action.SUBMIT,), locked=True)
    notifications.notify_submitted(referral)
    if referral.region.self_service_allowed(now):
        referral_transition(
            referral=referral,
            target=State.SEARCHING,
            by=None,
            reason=_("Self-service: the referrer may send offers directly."),
            actions=(Action.START_SEARCH,),
            locked=True,
        )
    return referral


def _lock_live_offers(referral_id: int) -> list[Offer]:
    """The referral's open and booked offers, locked in primary-key order: the first of all locks
    of every step that answers or ends an offer (accept, decline, expire, withdraw, cancel), so
    those steps on one referral's parallel offers queue instead of crossing."""
    return list(
        Offer.objects.select_for_update(of=("self",))
        .select_related("location", "product")
        .filter(referral_id=referral_id, state__in=(OfferState.OPEN, OfferState.ACCEPTED))
        .order_by("pk")
    )


def referral_step(*, referral: Referral, target: str, by: User, reason: str = "", redirect_target: str = "") -> None:
    """Triage, start the search, withdraw the offer, cancel or redirect. Cancel and redirect need
    a reason; leaving gives back the bed of an open offer (withdrawn) or a booking (cancelled)."""
    if target in (State.CANCELLED, State.REDIRECTED) and not reason.strip():
        raise ValidationError({"reason": [_("Give a reason.")]})
    if target == State.REDIRECTED and not redirect_target:
        raise ValidationError({"redirect_target": [_("Choose where the patient goes instead.")]})
    with transaction.atomic():
        # Lock order offers → bed count → referral, as every answer to an offer takes them: a
        # cancel that waited for a concurrent accept reads the offer as booked, and frees that bed.
        # A step that is not allowed (say, searching again from booked) rolls the release back.
        released = _lock_live_offers(referral.pk)
        beds.capacities_lock(offer.capacity_id for offer in released)
        for offer in released:
            if offer.state == OfferState.OPEN:
                _close_offer(offer, state=OfferState.WITHDRAWN, by=by)
            else:
                _close_booking(offer, state=OfferState.CANCELLED, by=by)
        locked = Referral.objects.select_for_update().get(pk=referral.pk)
        _refuse_offers_sent_meanwhile(locked)
        referral_transition(referral=locked, target=target, by=by, reason=reason, locked=True, actions=STEP_ACTIONS)
        if target in (State.CANCELLED, State.REDIRECTED):
            locked.close_reason, locked.redirect_target = reason, redirect_target
            locked.save(update_fields=["close_reason", "redirect_target"])
        for offer in released:
            offer.referral = locked
            if offer.state == OfferState.CANCELLED:
                notifications.notify_booking_cancelled(offer)
            else:
                notifications.notify_offer_withdrawn(offer)
    referral.state, referral.state_changed_at = locked.state, locked.state_changed_at


def _refuse_offers_sent_meanwhile(locked: Referral) -> None:
    """An offer sent between reading the offers and locking the referral (offer_create locks the
    referral first, so none can follow now) would keep its bed held: refuse, the user repeats."""
    if Offer.objects.filter(referral=locked, state__in=(OfferState.OPEN, OfferState.ACCEPTED)).exists():
        raise Conflict(_("The referral changed in the meantime. Look again and repeat."), code="referral_changed")


def _close_offer(offer: Offer, *, state: str, by: User | None) -> None:
    if offer.for_date is None:  # an offer for a later day holds no bed
        beds.capacity_release_hold(capacity_id=offer.capacity_id, by=by)
    offer.state = state
    offer.answered_at = timezone.now()
    offer.answered_by = by
    offer.save(update_fields=["state", "answered_at", "answered_by"])


def _close_booking(offer: Offer, *, state: str, by: User | None) -> None:
    """The booked patient will not come: the bed goes back to the count. `answered_*` keep who
    accepted; the referral's event says who ended the booking and why. A reservation whose day
    has not come ends as a reservation: its bed was never taken."""
    if offer.for_date is not None and offer.taken_at is None:
        beds.capacity_unreserve(capacity_id=offer.capacity_id, by=by)
    else:
        beds.capacity_free_bed(capacity_id=offer.capacity_id, by=by, source=ChangeSource.BOOKING)
    offer.state = state
    offer.save(update_fields=["state"])


def _location_takes_patients(location_id: int) -> bool:
    """Whether the location is active, read with a shared lock kept until the offer commits: a
    deactivation in Beheer (providers.services, FOR UPDATE on the location, then a look for open
    offers) either waits for this offer and sees it, or has committed and is seen here. Shared,
    so offers to one location never wait for each other (the bed count's lock orders those)."""
    table = connection.ops.quote_name(Location._meta.db_table)
    share = " FOR SHARE" if connection.vendor == "postgresql" else ""  # SQLite locks the whole file
    with connection.cursor() as cursor:
        # Raw SQL: the ORM has FOR UPDATE only, and that would make offers to one location queue.
        sql = f"SELECT 1 FROM {table} WHERE id = %s AND is_active = %s{share}"  # nosec B608: model table name
        cursor.execute(sql, [location_id, True])
        return cursor.fetchone() is not None


def _check_reservable(*, capacity_id: int, day: date, today: date) -> None:
    capacity = Capacity.objects.select_for_update().get(pk=capacity_id)
    if capacity.reservable(day, today=today) < 1:
        raise Conflict(
            _("No bed is free or expected at this location by %(day)s.") % {"day": date_format(day, "j F")},
            code="no_expected_bed",
        )


class TooManyOffers(Conflict):
    code = "too_many_offers"


@transaction.atomic
def offer_create(*, referral: Referral, capacity: Capacity, by: User) -> Offer:
    """Offer the referral to one location: holds one bed until answered or expired. Up to the
    region's `max_parallel_offers` locations at once, each holding a bed; the first to accept
    wins (offer_accept withdraws the others)."""
    referral = Referral.objects.select_for_update(of=("self",)).select_related("region").get(pk=referral.pk)
    if referral.state not in (State.SEARCHING, State.OFFERED):
        raise Conflict(_("An offer can only be sent while searching a bed."), code="illegal_transition")
    if by.role in ("gp", "transfer_nurse") and not referral.region.self_service_allowed(timezone.now()):
        raise Conflict(_("Outside self-service hours the desk sends the offers."), code="self_service_closed")
    if capacity.product_id != referral.product_id:
        raise ValidationError({"capacity": [_("This location does not offer the requested product in the region.")]})
    if capacity.location.organisation.region_id != referral.region_id:
        cross_region.check_neighbour_offer(referral=referral, capacity=capacity, by=by, now=timezone.now())
    # Under the referral's lock: no other offer of this referral can be sent meanwhile.
    open_at = set(Offer.objects.filter(referral=referral, state=OfferState.OPEN).values_list("location_id", flat=True))
    if capacity.location_id in open_at:
        raise Conflict(_("This location has an open offer for this referral already."), code="offer_open_here")
    if len(open_at) >= referral.region.max_parallel_offers:
        raise TooManyOffers(
            _("At most %(n)s locations may have an offer at once. Wait for an answer or withdraw the offers.")
            % {"n": referral.region.max_parallel_offers}
        )
    if not _location_takes_patients(capacity.location_id):
        raise Conflict(_("This location no longer takes patients."), code="location_inactive")
    now = timezone.now()
    for_date = reservation_day(referral, now=now)
    if for_date is None:
        beds.capacity_hold(capacity_id=capacity.pk, by=by)
    else:
        _check_reservable(capacity_id=capacity.pk, day=for_date, today=timezone.localdate(now))
    offer = Offer.objects.create(
        referral=referral,
        capacity=capacity,
        location=capacity.location,
        product=capacity.product,
        created_by=by,
        created_at=now,
        expires_at=now + timedelta(minutes=referral.region.offer_expiry_minutes),
        for_date=for_date,
    )
    referral_transition(
        referral=referral,
        target=State.OFFERED,
        by=by,
        reason=_("Also offered to %(location)s") % {"location": capacity.location.name} if open_at else "",
        locked=True,
        actions=(Action.SEND_OFFER,),
    )
    notifications.notify_offer_received(offer)
    return offer


def _lock_open_offer(offer: Offer) -> tuple[Offer, list[Offer]]:
    """The offer being answered and its open siblings (parallel offers of the same referral), all
    locked in the order every answer takes them (`_lock_live_offers`)."""
    live = _lock_live_offers(offer.referral_id)
    locked = next((row for row in live if row.pk == offer.pk), None)
    if locked is None or locked.state != OfferState.OPEN:
        state = Offer.objects.values_list("state", flat=True).get(pk=offer.pk) if locked is None else locked.state
        raise Conflict(
            _("This offer was already %(state)s.") % {"state": OfferState(state).label.lower()},
            code="offer_answered",
        )
    siblings = [row for row in live if row.state == OfferState.OPEN and row.pk != locked.pk]
    return locked, siblings


def _withdraw_siblings(offer: Offer, siblings: list[Offer]) -> list[Offer]:
    """The first accept wins: the referral's other open offers are withdrawn and their beds
    released, in the accept's transaction. Runs with the referral locked; an offer sent between
    reading the siblings and that lock (offer_create locks the referral first) is withdrawn too."""
    known = {offer.pk, *(sibling.pk for sibling in siblings)}
    late = list(
        Offer.objects.select_for_update(of=("self",))
        .select_related("location")
        .filter(referral_id=offer.referral_id, state=OfferState.OPEN)
        .exclude(pk__in=known)
        .order_by("pk")
    )
    withdrawn = siblings + late
    for sibling in withdrawn:
        _close_offer(sibling, state=OfferState.WITHDRAWN, by=None)
        sibling.referral = offer.referral
    return withdrawn


def _leave_offered(referral: Referral, *, by: User | None, reason: str, action: str) -> None:
    """After one offer is declined or expired: back to searching when it was the last open one;
    with other offers still open the referral stays offered and the timeline notes the answer."""
    if Offer.objects.filter(referral=referral, state=OfferState.OPEN).exists():
        referral_note(referral=referral, by=by, reason=reason, action=action)
    else:
        referral_transition(
            referral=referral, target=State.SEARCHING, by=by, reason=reason, locked=True, actions=(action,)
        )


def _lock_answered_referral(offer: Offer) -> Referral:
    """The referral of an offer being answered, locked last (every answer locks offer, bed count,
    referral in that order), with the referrer whom the answer notifies."""
    return Referral.objects.select_for_update(of=("self",)).select_related("referred_by").get(pk=offer.referral_id)


ADMISSION_GRACE = timedelta(hours=1)  # a time entered a little after the moment it names
ADMISSION_LATEST = timedelta(days=14)  # a booked bed is taken off the count from now on


def _check_admission_at(admission_at: datetime | None) -> None:
    if admission_at is None:
        return
    now = timezone.now()
    if admission_at < now - ADMISSION_GRACE:
        raise ValidationError({"admission_at": [_("The admission time cannot be in the past.")]})
    if admission_at > now + ADMISSION_LATEST:
        raise ValidationError({"admission_at": [_("The admission time cannot be more than two weeks ahead.")]})


@transaction.atomic
def offer_accept(*, offer: Offer, by: User, admission_at: datetime | None = None) -> Offer:
    """The provider takes the patient: the held bed becomes a booking, in one transaction."""
    _check_admission_at(admission_at)
    offer, siblings = _lock_open_offer(offer)
    if offer.is_expired():
        raise Conflict(_("This offer has expired; the bed is no longer held."), code="offer_expired")
    if siblings:
        beds.capacities_lock([offer.capacity_id, *(sibling.capacity_id for sibling in siblings)])
    if offer.for_date is None:
        beds.capacity_book_held(capacity_id=offer.capacity_id, by=by)
    else:
        beds.capacity_reserve(capacity_id=offer.capacity_id, by=by)
    offer.state = OfferState.ACCEPTED
    offer.answered_at = timezone.now()
    offer.answered_by = by
    offer.admission_at = admission_at
    offer.save(update_fields=["state", "answered_at", "answered_by", "admission_at"])
    offer.referral = _lock_answered_referral(offer)
    withdrawn = _withdraw_siblings(offer, siblings)
    referral_transition(
        referral=offer.referral,
        target=State.ACCEPTED,
        by=by,
        reason=_("The other offers are withdrawn.") if withdrawn else "",
        locked=True,
        actions=(Action.ACCEPT_OFFER,),
    )
    notifications.notify_offer_accepted(offer)
    for sibling in withdrawn:
        notifications.notify_offer_withdrawn(sibling)
    return offer


@transaction.atomic
def offer_decline(*, offer: Offer, by: User, reason: str, text: str = "") -> Offer:
    if reason not in DeclineReason.values:
        raise ValidationError({"reason": [_("Choose a reason.")]})
    if reason == DeclineReason.OTHER and not text.strip():
        raise ValidationError({"text": [_("Explain the reason.")]})
    offer, _siblings = _lock_open_offer(offer)
    _close_offer(offer, state=OfferState.DECLINED, by=by)
    Offer.objects.filter(pk=offer.pk).update(decline_reason=reason, decline_text=text)
    offer.referral = _lock_answered_referral(offer)
    _leave_offered(
        offer.referral,
        by=by,
        reason=DeclineReason(reason).label + (f": {text}" if text else ""),
        action=Action.DECLINE_OFFER,
    )
    notifications.notify_offer_closed(offer, kind=notifications.Kind.OFFER_DECLINED)
    return offer


@transaction.atomic
def offer_stop(*, offer: Offer, by: User, reason: str) -> Offer:
    """The desk of the region where a cross-region offer's bed is (cross_region.py) withdraws the
    open offer or cancels the booking at its location, before admission: the bed goes back to its
    count and the referral searches again (or stays offered while other offers are open). The
    referral's own desk decides everything else about it."""
    if not reason.strip():
        raise ValidationError({"reason": [_("Give a reason.")]})
    host_region_id = Location.objects.filter(pk=offer.location_id).values_list("organisation__region_id", flat=True)
    if by.role != Role.COORDINATOR or by.organisation.region_id != host_region_id.get():
        raise PermissionDenied(_("Only the desk of the region where the bed is may stop this offer."))
    if offer.referral.region_id == by.organisation.region_id:
        raise Conflict(
            _("This offer is in your own region: withdraw it or cancel the booking on the referral's steps."),
            code="not_cross_region",
        )
    # Locks as every answer takes them: the live offers, the bed count, the referral.
    locked = next((row for row in _lock_live_offers(offer.referral_id) if row.pk == offer.pk), None)
    if locked is None:
        raise Conflict(_("This offer is no longer open or booked."), code="offer_answered")
    beds.capacities_lock([locked.capacity_id])
    booking = locked.state == OfferState.ACCEPTED
    referral = Referral.objects.select_for_update(of=("self",)).select_related("referred_by").get(pk=locked.referral_id)
    if booking and referral.state != State.ACCEPTED:
        raise Conflict(_("The patient has been admitted: the booking can no longer be stopped."), code="admitted")
    if booking:
        _close_booking(locked, state=OfferState.CANCELLED, by=by)
    else:
        _close_offer(locked, state=OfferState.WITHDRAWN, by=by)
    note = _("Stopped by the desk of %(region)s: %(reason)s") % {
        "region": by.organisation.region.name,
        "reason": reason,
    }
    if booking:
        referral_transition(
            referral=referral, target=State.SEARCHING, by=by, reason=note, locked=True, actions=(Action.STOP_OFFER,)
        )
    else:
        _leave_offered(referral, by=by, reason=note, action=Action.STOP_OFFER)
    locked.referral = referral
    if booking:
        notifications.notify_booking_cancelled(locked)
    else:
        notifications.notify_offer_withdrawn(locked)
    notifications.notify_offer_closed(locked, kind=notifications.Kind.OFFER_STOPPED)
    return locked


@transaction.atomic
def offer_expire(*, offer_id: int) -> bool:
    """Release an offer whose time is up. Safe to call twice or concurrently: returns False
    when there was nothing (left) to do."""
    now = timezone.now()
    referral_id = (
        Offer.objects.filter(pk=offer_id, state=OfferState.OPEN, expires_at__lte=now)
        .values_list("referral_id", flat=True)
        .first()
    )
    if referral_id is None:
        return False
    offer = next((row for row in _lock_live_offers(referral_id) if row.pk == offer_id), None)
    if offer is None or not offer.is_expired(now):
        return False  # answered or expired by someone else meanwhile
    _close_offer(offer, state=OfferState.EXPIRED, by=None)
    offer.referral = Referral.objects.select_for_update(of=("self",)).get(pk=referral_id)
    _leave_offered(offer.referral, by=None, reason=_("The offer was not answered in time."), action=Action.EXPIRE_OFFER)
    notifications.notify_offer_closed(offer, kind=notifications.Kind.OFFER_EXPIRED)
    return True


@transaction.atomic
def offer_no_show(*, referral: Referral, by: User, reason: str) -> Offer:
    """The booked patient did not arrive (recorded by the booking's provider or the desk): the
    bed goes back to the count and the referral is closed; a new need is a new referral."""
    if not reason.strip():
        raise ValidationError({"reason": [_("Give a reason.")]})
    # Locks as in offer_accept and referral_step: the booking, its bed count, the referral.
    offer = (
        Offer.objects.select_for_update(of=("self",))
        .select_related("location")
        .filter(referral_id=referral.pk, state=OfferState.ACCEPTED)
        .first()
    )
    if offer is None:
        raise Conflict(_("This referral has no booked bed."), code="illegal_transition")
    _close_booking(offer, state=OfferState.NO_SHOW, by=by)
    offer.referral = _lock_answered_referral(offer)
    referral_transition(
        referral=offer.referral,
        target=State.CANCELLED,
        by=by,
        reason=f"{OfferState.NO_SHOW.label}: {reason}",
        locked=True,
        actions=(Action.NO_SHOW,),
    )
    offer.referral.close_reason = reason
    offer.referral.save(update_fields=["close_reason"])
    notifications.notify_no_show(offer)
    return offer


@transaction.atomic
def stay_admit(*, referral: Referral, by: User, admitted_at: datetime) -> Stay:
    # The booking first (the order every step takes: offers, counts, referral), so the job that
    # takes a reserved bed on its day and this admission do not both take it.
    offer = (
        Offer.objects.select_for_update(of=("self",))
        .select_related("capacity", "location")
        .filter(referral_id=referral.pk, state=OfferState.ACCEPTED)
        .first()
    )
    referral_transition(referral=referral, target=State.ADMITTED, by=by, actions=(Action.ADMIT,))
    if admitted_at > timezone.now() + timedelta(minutes=5):
        raise ValidationError({"admitted_at": [_("Admission cannot be recorded in the future.")]})
    if admitted_at < offer.created_at - timedelta(days=1):
        raise ValidationError({"admitted_at": [_("Admission cannot be before the offer.")]})
    if offer.for_date is not None and offer.taken_at is None:
        # Admitted before the job took the reserved bed (early on its day): the patient is there.
        beds.capacity_take_reserved(capacity_id=offer.capacity_id, by=by, force=True)
        offer.taken_at = timezone.now()
        offer.save(update_fields=["taken_at"])
    stay = Stay.objects.create(
        referral=referral, location=offer.location, capacity=offer.capacity, admitted_at=admitted_at
    )
    notifications.notify_admitted(stay)
    return stay


@transaction.atomic
def stay_discharge(*, referral: Referral, by: User, discharged_at: datetime, destination: str) -> Stay:
    """Record the discharge and free the bed."""
    referral_transition(referral=referral, target=State.DISCHARGED, by=by, actions=(Action.DISCHARGE,))
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
    stay.referral = referral
    notifications.notify_discharged(stay)
    return stay


def _may_change_product(by: User, referral: Referral, stay: Stay) -> bool:
    """The planners of the provider where the patient lies (their physician decides), and the
    region's desk, which may record it for them as it may record a no-show."""
    if by.role == Role.PROVIDER_STAFF:
        return by.organisation_id == stay.location.organisation_id
    if by.role == Role.COORDINATOR:
        return by.organisation_id is not None and by.organisation.region_id == referral.region_id
    return False


@transaction.atomic
def stay_product_change(*, referral: Referral, product: Product, by: User, reason: str = "") -> StayProductChange:
    """Op- of afschaling (docs/architecture.md §3): the admitted patient stays at the same
    location, the stay's product changes (hoog ↔ laag, to palliatief). The bed moves from the old
    product's count to the new one's in this transaction; the StayProductChange row is the record
    (the referral's state does not change, so there is no ReferralEvent). `Referral.product` stays
    what was asked for; `Stay.capacity` is the count the patient occupies now.

    Locks the referral first (a discharge of the same stay, which locks it first too, waits), then
    both bed counts in primary-key order. Refused: not admitted (409 not_admitted), not the stay's
    provider or the region's desk (403), the same product or one the location has no count for
    (ValidationError on "product"), no free bed on the new count (409 no_free_bed); nothing changes.
    """
    locked = Referral.objects.select_for_update(of=("self",)).get(pk=referral.pk)
    stay = (
        Stay.objects.select_related("location", "capacity").filter(referral=locked, discharged_at__isnull=True).first()
    )
    if locked.state != State.ADMITTED or stay is None:
        raise Conflict(_("The product can only change while the patient is admitted."), code="not_admitted")
    if not _may_change_product(by, locked, stay):
        raise PermissionDenied(_("Only the provider where the patient is admitted or the desk may change the product."))
    if product.pk == stay.capacity.product_id:
        raise ValidationError({"product": [_("The patient already has this product.")]})
    to_capacity_id = (
        Capacity.objects.filter(location_id=stay.location_id, product=product).values_list("pk", flat=True).first()
    )
    if to_capacity_id is None:
        raise ValidationError({"product": [_("This location does not offer this product.")]})
    from_capacity_id = stay.capacity_id
    _old, new = beds.capacity_move_occupied_bed(from_capacity_id=from_capacity_id, to_capacity_id=to_capacity_id, by=by)
    new.product = product
    stay.capacity = new
    stay.save(update_fields=["capacity"])
    stay.referral = locked
    return StayProductChange.objects.create(
        stay=stay,
        from_capacity_id=from_capacity_id,
        to_capacity_id=to_capacity_id,
        changed_at=timezone.now(),
        changed_by=by,
        reason=reason.strip(),
    )
