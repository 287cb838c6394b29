"""Patients depending on a location, made through the referral services as the desk makes
them: an open offer, a booked bed, an admitted patient, a discharged one (Beheer refuses to
deactivate a location while one of the first three exists)."""

import itertools

from django.utils import timezone
from stdnum.nl import bsn as nl_bsn

from accounts.models import Role
from beds.models import Capacity
from providers.models import Location, Product
from referrals import services
from referrals.models import Offer, State
from tests.factories import CapacityFactory, user_with_role
from tests.referrals.conftest import referral_input

_candidates = itertools.count(200000000)


def _next_bsn() -> str:
    while True:
        number = f"{next(_candidates):09d}"
        if nl_bsn.is_valid(number):
            return number


def _capacity(location: Location) -> Capacity:
    hoog = Product.objects.get(code="elv_hoog")
    capacity = Capacity.objects.filter(location=location, product=hoog).first()
    return capacity or CapacityFactory(location=location, product=hoog, total=10, available=5)


def open_offer_at(location: Location) -> Offer:
    region = location.organisation.region
    gp = user_with_role(Role.GP, region=region)
    coordinator = user_with_role(Role.COORDINATOR, region=region)
    referral, _created = services.referral_submit(by=gp, data=referral_input(bsn=_next_bsn()))
    if referral.state == State.SUBMITTED:
        services.referral_step(referral=referral, target=State.SEARCHING, by=coordinator)
        referral.refresh_from_db()
    return services.offer_create(referral=referral, capacity=_capacity(location), by=coordinator)


def booked_at(location: Location) -> Offer:
    offer = open_offer_at(location)
    planner = user_with_role(Role.PROVIDER_STAFF, location.organisation)
    return services.offer_accept(offer=offer, by=planner)


def admitted_at(location: Location) -> Offer:
    offer = booked_at(location)
    offer.referral.refresh_from_db()
    services.stay_admit(referral=offer.referral, by=offer.answered_by, admitted_at=timezone.now())
    return offer


def discharged_at(location: Location) -> Offer:
    offer = admitted_at(location)
    offer.referral.refresh_from_db()
    services.stay_discharge(
        referral=offer.referral, by=offer.answered_by, discharged_at=timezone.now(), destination="home"
    )
    return offer
