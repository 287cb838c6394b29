"""A hand-built region whose KPIs are known (worked out in the comments), and helpers to make
referrals, offers and stays at exact moments."""

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.utils import translation

from accounts.models import Role
from cockpit.periods import Period
from providers.models import Product
from referrals.models import Offer, OfferState, Patient, Referral, State, Stay
from tests.factories import CapacityFactory, LocationFactory, ProviderFactory, RegionFactory, user_with_role

AMS = ZoneInfo("Europe/Amsterdam")
PERIOD = Period(start=date(2026, 3, 1), end=date(2026, 3, 20))
NOW = datetime(2026, 3, 25, 12, 0, tzinfo=AMS)


def at(day: int, hour: int = 8, minute: int = 0, month: int = 3) -> datetime:
    return datetime(2026, month, day, hour, minute, tzinfo=AMS)


def make_referral(
    world,
    *,
    created_at,
    state=State.SUBMITTED,
    product="elv_hoog",
    origin="home",
    urgency="today",
    planned_date=None,
    region=None,
    name="Maria Jansen",
    **extra,
) -> Referral:
    region = region or world.region
    return Referral.objects.create(
        patient=Patient.objects.create(name=name, sex="F", postcode="6411 AB"),
        region=region,
        organisation=world.gp.organisation,
        referred_by=world.gp,
        origin=origin,
        product=Product.objects.get(code=product),
        urgency=urgency,
        planned_date=planned_date or (created_at.date() + timedelta(days=2) if urgency == "planned" else None),
        medical_reason="Test",
        consent=True,
        created_at=created_at,
        state_changed_at=created_at,
        state=state,
        **extra,
    )


def make_offer(
    world,
    referral,
    capacity,
    *,
    sent_after: int,
    answered_after: int | None = None,
    state=OfferState.OPEN,
    reason: str = "",
) -> Offer:
    """An offer sent `sent_after` minutes after submission, answered `answered_after` minutes after it."""
    sent = referral.created_at + timedelta(minutes=sent_after)
    return Offer.objects.create(
        referral=referral,
        capacity=capacity,
        location=capacity.location,
        product=capacity.product,
        created_by=world.coordinator,
        created_at=sent,
        expires_at=sent + timedelta(minutes=30),
        state=state,
        answered_at=None if answered_after is None else referral.created_at + timedelta(minutes=answered_after),
        decline_reason=reason,
    )


def make_stay(referral, capacity, *, admitted_at, days: float | None = None, destination: str = "") -> Stay:
    return Stay.objects.create(
        referral=referral,
        location=capacity.location,
        capacity=capacity,
        admitted_at=admitted_at,
        discharged_at=None if days is None else admitted_at + timedelta(days=days),
        discharge_destination=destination,
    )


@pytest.fixture(autouse=True)
def _english():
    """Assert on the English msgids (Dutch is the default language)."""
    with translation.override("en"):
        yield


@dataclass
class World:
    region: object
    gp: object
    coordinator: object
    analyst: object
    planner: object
    provider_a: object
    provider_b: object
    cap: dict = field(default_factory=dict)  # ("a"|"b", product code) -> Capacity
    referrals: dict = field(default_factory=dict)


@pytest.fixture
def world(db) -> World:
    """A region with a GP, the desk, an insurer analyst and two providers:
    A (location with ELV hoog and laag) and B (ELV hoog, laag and palliatief)."""
    region = RegionFactory()
    provider_a = ProviderFactory(region=region, name="Aardenburg Zorg")
    provider_b = ProviderFactory(region=region, name="Beekdal Zorg")
    location_a = LocationFactory(organisation=provider_a, name="Locatie Aardenburg")
    location_b = LocationFactory(organisation=provider_b, name="Locatie Beekdal", pc4="6212")
    w = World(
        region=region,
        gp=user_with_role(Role.GP, region=region),
        coordinator=user_with_role(Role.COORDINATOR, region=region),
        analyst=user_with_role(Role.ANALYST, region=region),
        planner=user_with_role(Role.PROVIDER_STAFF, provider_a),
        provider_a=provider_a,
        provider_b=provider_b,
    )
    for key, location, codes in (
        ("a", location_a, ["elv_hoog", "elv_laag"]),
        ("b", location_b, ["elv_hoog", "elv_laag", "elv_palliatief"]),
    ):
        for code in codes:
            w.cap[(key, code)] = CapacityFactory(
                location=location, product=Product.objects.get(code=code), total=10, available=3
            )
    return w


@pytest.fixture
def kpi_world(world) -> World:
    """Ten referrals submitted on 2 … 11 March 2026 at 08:00, one a day (minutes after submission):

    | #   | origin    | product | urgency  | first offer | accepted  | end state                    |
    | R1  | home      | hoog    | today    | 10 (A)      | 30 (A)    | discharged: 5 d, home (A)    |
    | R2  | home      | hoog    | today    | 20 (A)      | 60 (A)    | discharged: 10 d, home+DN (A)|
    | R3  | home      | hoog    | 24h      | 30 (B)      | 90 (B)    | discharged: 2 d, deceased (B)|
    | R4  | home      | hoog    | today    | 40 (A)      | 200 (A)   | admitted                     |
    | R5  | emergency | hoog    | today    | 50 (B: declined insurer at 60), 100 (A) | 300 (A) | bed booked |
    | R6  | emergency | laag    | planned  | 60 (B)      | 1500 (B)  | discharged: 8 d, Wlz (B)     |
    | R7  | emergency | laag    | today    | 120 (A: declined no bed at 135), 150 (B: expired) | — | redirected |
    | R8  | ward      | pall.   | today    | 240 (B: declined too complex at 270) | — | searching |
    | R9  | ward      | pall.   | today    | —           | —         | cancelled                    |
    | R10 | ward      | pall.   | today    | —           | —         | submitted                    |

    Known answers for 1–20 March (see test_kpis.py): first offer (n=8) median 45 min, P90 156 min;
    acceptance (n=6) median 145 min, P90 900 min; acute referrals 9 (R6 planned), placed within
    4 h 4 (44.4 %), within 24 h 5 (55.6 %); length of stay [2, 5, 8, 10] d: mean 6.25, median 6.5,
    P90 9.4; share home 2 of 3 not deceased. Provider A: 5 judged offers, 4 accepted, answers
    [15, 20, 40, 160, 200] min → median 40; stays 5 and 10 d → median 7.5, home 100 %. Provider B:
    5 judged (one expired), 2 accepted, answers [10, 30, 60, 1440] → median 45; stays 2 and 8 d →
    median 5, home 0 of 1.
    """
    w, c = world, world.cap
    spec = [
        # (origin, product, urgency, state)
        ("home", "elv_hoog", "today", State.DISCHARGED),
        ("home", "elv_hoog", "today", State.DISCHARGED),
        ("home", "elv_hoog", "within_24h", State.DISCHARGED),
        ("home", "elv_hoog", "today", State.ADMITTED),
        ("emergency", "elv_hoog", "today", State.ACCEPTED),
        ("emergency", "elv_laag", "planned", State.DISCHARGED),
        ("emergency", "elv_laag", "today", State.REDIRECTED),
        ("ward", "elv_palliatief", "today", State.SEARCHING),
        ("ward", "elv_palliatief", "today", State.CANCELLED),
        ("ward", "elv_palliatief", "today", State.SUBMITTED),
    ]
    r = {}
    for n, (origin, product, urgency, state) in enumerate(spec, start=1):
        extra = {"redirect_target": "hospital", "close_reason": "Ziekenhuisopname nodig"} if n == 7 else {}
        if n == 9:
            extra = {"close_reason": "Patiënt blijft thuis"}
        r[n] = make_referral(
            w,
            created_at=at(1 + n),
            state=state,
            origin=origin,
            product=product,
            urgency=urgency,
            name=f"Patiënt {n}",
            **extra,
        )
    accepted = OfferState.ACCEPTED
    make_offer(w, r[1], c["a", "elv_hoog"], sent_after=10, answered_after=30, state=accepted)
    make_offer(w, r[2], c["a", "elv_hoog"], sent_after=20, answered_after=60, state=accepted)
    make_offer(w, r[3], c["b", "elv_hoog"], sent_after=30, answered_after=90, state=accepted)
    make_offer(w, r[4], c["a", "elv_hoog"], sent_after=40, answered_after=200, state=accepted)
    make_offer(
        w, r[5], c["b", "elv_hoog"], sent_after=50, answered_after=60, state=OfferState.DECLINED, reason="insurer"
    )
    make_offer(w, r[5], c["a", "elv_hoog"], sent_after=100, answered_after=300, state=accepted)
    make_offer(w, r[6], c["b", "elv_laag"], sent_after=60, answered_after=1500, state=accepted)
    make_offer(
        w, r[7], c["a", "elv_laag"], sent_after=120, answered_after=135, state=OfferState.DECLINED, reason="no_bed"
    )
    make_offer(w, r[7], c["b", "elv_laag"], sent_after=150, answered_after=180, state=OfferState.EXPIRED)
    make_offer(
        w,
        r[8],
        c["b", "elv_palliatief"],
        sent_after=240,
        answered_after=270,
        state=OfferState.DECLINED,
        reason="too_complex",
    )
    make_stay(r[1], c["a", "elv_hoog"], admitted_at=at(2, 10), days=5, destination="home")
    make_stay(r[2], c["a", "elv_hoog"], admitted_at=at(3, 10), days=10, destination="home_district_nursing")
    make_stay(r[3], c["b", "elv_hoog"], admitted_at=at(4, 12), days=2, destination="deceased")
    make_stay(r[4], c["a", "elv_hoog"], admitted_at=at(5, 14))
    make_stay(r[6], c["b", "elv_laag"], admitted_at=at(8, 10), days=8, destination="wlz_institution")

    # Noise that no figure may count: before the period, another region, a draft.
    old = make_referral(w, created_at=at(10, month=2), state=State.DISCHARGED, name="Oud Geval")
    make_offer(w, old, c["a", "elv_hoog"], sent_after=5, answered_after=6, state=accepted)
    make_stay(old, c["a", "elv_hoog"], admitted_at=at(11, month=2), days=3, destination="hospital")
    elsewhere = make_referral(w, created_at=at(5), region=RegionFactory(), state=State.ACCEPTED, name="Elders Geval")
    make_offer(w, elsewhere, c["a", "elv_hoog"], sent_after=1, answered_after=2, state=accepted)
    make_referral(w, created_at=at(6), state=State.DRAFT, name="Concept Geval")
    w.referrals = r
    return w
