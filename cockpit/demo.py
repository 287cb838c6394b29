"""Thirty days of invented activity for the demo region, so the cockpit has something to show:
bed count history, closed referrals with offers and stays, and open referrals on the board.

Run after `seed_demo` (`manage.py seed_cockpit_demo`); running it twice adds nothing.
Names are invented; no BSNs.
"""

import random
import zlib
from datetime import timedelta

from django.db import transaction
from django.db.models import F
from django.utils import timezone

from accounts.models import Role, User
from beds.models import Capacity, CapacityChange, ChangeSource
from providers.models import Insurer, Region
from referrals.models import (
    DeclineReason,
    DischargeDestination,
    Offer,
    OfferState,
    Origin,
    Patient,
    RedirectTarget,
    Referral,
    ReferralEvent,
    Sex,
    State,
    Stay,
    Urgency,
)

MARKER = "cockpit-demo"
FIRST = ["Maria", "Jan", "Anna", "Piet", "Johanna", "Harrie", "Lies", "Sjef", "Truus", "Wiel", "Mia", "Jo"]
LAST = [
    "Janssen",
    "Smeets",
    "de Vries",
    "Hermans",
    "Lemmens",
    "Bemelmans",
    "Peters",
    "Frijns",
    "Vaessen",
    "Dautzenberg",
]
DESTINATIONS = [
    (DischargeDestination.HOME, 40),
    (DischargeDestination.HOME_DISTRICT_NURSING, 15),
    (DischargeDestination.WLZ_INSTITUTION, 15),
    (DischargeDestination.DECEASED, 15),
    (DischargeDestination.HOSPITAL, 8),
    (DischargeDestination.GRZ, 4),
    (DischargeDestination.OTHER, 3),
]


def _history(capacity: Capacity, rng: random.Random, now, days: int) -> list[CapacityChange]:
    """Walk back from the current counts: each step is a change whose `after` is the later state."""
    changes = []
    state = capacity.snapshot()
    moment = now - timedelta(minutes=rng.randint(20, 300))
    start = now - timedelta(days=days + 2)
    while moment > start:
        before = dict(state)
        before["held"] = 0
        before["available"] = max(0, min(capacity.total, state["available"] + rng.choice([-2, -1, 1, 2])))
        changes.append(
            CapacityChange(
                capacity=capacity, changed_at=moment, source=ChangeSource.WEB, before=before, after=dict(state)
            )
        )
        state = before
        moment -= timedelta(hours=rng.randint(8, 40))
    return changes


# Patients' insurers, picked from the name's checksum (not from `rng`, so the demo figures stay
# as they were): mostly the demo insurer organisation's (providers.demo.DEMO_INSURER_UZOVI).
DEMO_PATIENT_INSURERS = ("9015", "9015", "9015", "7095", "7095", "3311", "3332")


def _patient(rng: random.Random) -> Patient:
    name = f"{rng.choice(FIRST)} {rng.choice(LAST)}"
    uzovi = DEMO_PATIENT_INSURERS[zlib.crc32(name.encode()) % len(DEMO_PATIENT_INSURERS)]
    return Patient.objects.create(
        name=name,
        sex=rng.choice([Sex.FEMALE, Sex.MALE]),
        postcode="6411 AB",
        insurer=Insurer.objects.filter(uzovi=uzovi).first(),
    )


@transaction.atomic
def seed_cockpit_demo(*, region: Region | None = None, days: int = 30, seed: int = 2026) -> dict:
    region = region or Region.objects.get(code="zuid-limburg")
    if Referral.objects.filter(region=region, notes=MARKER).exists():
        return {"created": 0}
    rng = random.Random(seed)  # nosec B311: reproducible demo figures
    now = timezone.now()
    regions = [region, *region.neighbours.all()]
    capacities = list(
        Capacity.objects.filter(location__organisation__region__in=regions).select_related("location", "product")
    )
    CapacityChange.objects.bulk_create([c for capacity in capacities for c in _history(capacity, rng, now, days)])

    coordinator = User.objects.filter(role=Role.COORDINATOR, organisation__region=region).first()
    referrer = User.objects.filter(role=Role.GP, organisation__region=region).first()
    own = [c for c in capacities if c.location.organisation.region_id == region.pk]
    created = 0
    for _ in range(days * 2):
        capacity = rng.choice(own)
        submitted = now - timedelta(days=rng.uniform(1, days), minutes=rng.randint(0, 600))
        referral = Referral.objects.create(
            patient=_patient(rng),
            region=region,
            organisation=referrer.organisation,
            referred_by=referrer,
            origin=rng.choice(Origin.values),
            product=capacity.product,
            urgency=rng.choice([Urgency.TODAY, Urgency.TODAY, Urgency.WITHIN_24H]),
            medical_reason="Demo",
            consent=True,
            notes=MARKER,
            created_at=submitted,
            state=State.SUBMITTED,
        )
        created += 1
        roll = rng.random()
        moment = submitted + timedelta(minutes=rng.randint(5, 240))
        if roll < 0.1:
            _close(referral, State.REDIRECTED, moment, rng.choice(RedirectTarget.values), "Geen passend bed")
            continue
        if roll < 0.2:
            _close(referral, State.CANCELLED, moment, "", "Patiënt blijft thuis met extra zorg")
            continue
        if rng.random() < 0.35:
            offer = _offer(referral, rng.choice(own), coordinator, moment)
            answered = moment + timedelta(minutes=rng.randint(5, 90))
            Offer.objects.filter(pk=offer.pk).update(
                state=OfferState.DECLINED, answered_at=answered, decline_reason=rng.choice(DeclineReason.values)
            )
            moment = answered + timedelta(minutes=rng.randint(5, 120))
        capacity = rng.choice([c for c in own if c.product_id == referral.product_id] or own)
        offer = _offer(referral, capacity, coordinator, moment)
        accepted = moment + timedelta(minutes=rng.randint(5, 600))
        Offer.objects.filter(pk=offer.pk).update(state=OfferState.ACCEPTED, answered_at=accepted)
        admitted = accepted + timedelta(hours=rng.randint(1, 8))
        discharged = admitted + timedelta(days=rng.uniform(3, 40))
        if admitted > now:
            _state(referral, State.ACCEPTED, accepted)
            continue
        destination = ""
        if discharged < now:
            destination = rng.choices([d for d, _w in DESTINATIONS], [w for _d, w in DESTINATIONS])[0]
        Stay.objects.create(
            referral=referral,
            location=capacity.location,
            capacity=capacity,
            admitted_at=admitted,
            discharged_at=discharged if discharged < now else None,
            discharge_destination=destination,
        )
        _state(
            referral,
            State.DISCHARGED if discharged < now else State.ADMITTED,
            discharged if discharged < now else admitted,
        )

    # Open referrals for the board, from a few minutes to a day old.
    for minutes, state, urgency in [
        (6, State.SUBMITTED, Urgency.TODAY),
        (25, State.SUBMITTED, Urgency.TODAY),
        (50, State.TRIAGE, Urgency.WITHIN_24H),
        (95, State.SEARCHING, Urgency.TODAY),
        (260, State.SEARCHING, Urgency.TODAY),
        (600, State.SEARCHING, Urgency.WITHIN_24H),
        (40, State.OFFERED, Urgency.TODAY),
        (180, State.ACCEPTED, Urgency.TODAY),
    ]:
        capacity = rng.choice(own)
        referral = Referral.objects.create(
            patient=_patient(rng),
            region=region,
            organisation=referrer.organisation,
            referred_by=referrer,
            origin=rng.choice(Origin.values),
            product=capacity.product,
            urgency=urgency,
            medical_reason="Demo",
            consent=True,
            notes=MARKER,
            created_at=now - timedelta(minutes=minutes),
            state=State.SUBMITTED,
        )
        created += 1
        if state == State.OFFERED:
            capacity = next((c for c in own if c.free > 0), capacity)
            Capacity.objects.filter(pk=capacity.pk).update(held=F("held") + 1)
            _offer(referral, capacity, coordinator, now - timedelta(minutes=10), expires=now + timedelta(minutes=20))
        if state == State.ACCEPTED:
            offer = _offer(referral, capacity, coordinator, now - timedelta(minutes=120))
            Offer.objects.filter(pk=offer.pk).update(state=OfferState.ACCEPTED, answered_at=now - timedelta(minutes=90))
        if state != State.SUBMITTED:
            _state(referral, state, now - timedelta(minutes=minutes // 2))
    created += _planned_discharges(region, own, rng, now, coordinator)
    return {"created": created}


def _planned_discharges(region: Region, own: list[Capacity], rng: random.Random, now, coordinator) -> int:
    """Planned discharges from the hospital for the Klikmoment: one tomorrow still without a bed,
    one the day after with a bed reserved (referrals/reservations.py)."""
    nurse = User.objects.filter(role=Role.TRANSFER_NURSE, organisation__region=region).first()
    if nurse is None:
        return 0
    today = timezone.localdate(now)
    for days_ahead, reserved in ((1, False), (2, True)):
        capacity = rng.choice(own)
        referral = Referral.objects.create(
            patient=_patient(rng),
            region=region,
            organisation=nurse.organisation,
            referred_by=nurse,
            origin=Origin.WARD,
            product=capacity.product,
            urgency=Urgency.PLANNED,
            planned_date=today + timedelta(days=days_ahead),
            medical_reason="Demo",
            consent=True,
            notes=MARKER,
            created_at=now - timedelta(hours=20),
            state=State.SUBMITTED,
        )
        _state(referral, State.SEARCHING, now - timedelta(hours=19))
        if reserved:
            offer = _offer(referral, capacity, coordinator, now - timedelta(hours=18))
            Offer.objects.filter(pk=offer.pk).update(
                state=OfferState.ACCEPTED, answered_at=now - timedelta(hours=17), for_date=referral.planned_date
            )
            Capacity.objects.filter(pk=capacity.pk).update(reserved=F("reserved") + 1)
            _state(referral, State.ACCEPTED, now - timedelta(hours=17))
    return 2


def _offer(referral, capacity, by, moment, *, expires=None) -> Offer:
    return Offer.objects.create(
        referral=referral,
        capacity=capacity,
        location=capacity.location,
        product=capacity.product,
        created_by=by,
        created_at=moment,
        expires_at=expires or moment + timedelta(minutes=30),
        state=OfferState.OPEN,
    )


def _state(referral: Referral, state: str, moment) -> None:
    ReferralEvent.objects.create(referral=referral, from_state=referral.state, to_state=state, at=moment)
    Referral.objects.filter(pk=referral.pk).update(state=state, state_changed_at=moment)
    referral.state = state


def _close(referral: Referral, state: str, moment, target: str, reason: str) -> None:
    _state(referral, state, moment)
    Referral.objects.filter(pk=referral.pk).update(redirect_target=target, close_reason=reason)
