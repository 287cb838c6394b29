"""Fixtures for the referral desk: one region with a desk, a GP practice, a hospital and a
provider whose location has exactly one free ELV hoog bed."""

from dataclasses import dataclass
from datetime import date

import pytest

from accounts.models import Role
from providers.models import Insurer, Product, SelfServiceOffers
from referrals import services
from tests.factories import (
    CapacityFactory,
    LocationFactory,
    RegionFactory,
    user_with_role,
)

VALID_BSN = "111222333"
OTHER_BSN = "123456782"


@dataclass
class Desk:
    region: object
    gp: object
    nurse: object
    coordinator: object
    planner: object
    other_planner: object
    location: object
    capacity: object
    other_capacity: object


@pytest.fixture
def desk(db) -> Desk:
    """Self-service is off so the desk's steps are explicit; tests that need it switch it on."""
    region = RegionFactory(self_service_offers=SelfServiceOffers.NEVER)
    planner = user_with_role(Role.PROVIDER_STAFF, region=region)
    other_planner = user_with_role(Role.PROVIDER_STAFF, region=region)
    location = LocationFactory(organisation=planner.organisation, pc4="6411", insurers=["9015"])
    other_location = LocationFactory(organisation=other_planner.organisation, pc4="6212", insurers=["9015"])
    hoog = Product.objects.get(code="elv_hoog")
    return Desk(
        region=region,
        gp=user_with_role(Role.GP, region=region),
        nurse=user_with_role(Role.TRANSFER_NURSE, region=region),
        coordinator=user_with_role(Role.COORDINATOR, region=region),
        planner=planner,
        other_planner=other_planner,
        location=location,
        capacity=CapacityFactory(location=location, product=hoog, total=5, available=1),
        other_capacity=CapacityFactory(location=other_location, product=hoog, total=5, available=2),
    )


def referral_input(**overrides) -> dict:
    """Cleaned referral input as the form or API hands it to `referral_submit`."""
    data = {
        "bsn": VALID_BSN,
        "name": "Maria Jansen",
        "date_of_birth": date(1938, 4, 2),
        "sex": "F",
        "postcode": "6411 AB",
        "insurer": Insurer.objects.get(uzovi="9015"),
        "origin": "home",
        "product": Product.objects.get(code="elv_hoog"),
        "urgency": "today",
        "planned_date": None,
        "wakeful_eye": True,
        "unplannable_nursing": False,
        "adl_taken_over": True,
        "care_needs": [],
        "wlz_indication": False,
        "life_expectancy_short": False,
        "needs_hospital_care": False,
        "carer_relief_only": False,
        "trainable_after_hospital": False,
        "needs_elderly_care_specialist": True,
        "medical_reason": "Gevallen, niet meer mobiel; mantelzorger overbelast.",
        "consent": True,
        "carer_contact": "Jan Jansen, 06 1234 5678",
        "notes": "",
    }
    data.update(overrides)
    return data


def form_post(**overrides) -> dict:
    """The referral form as a browser posts it (strings, checkboxes as "on")."""
    data = {
        "bsn": VALID_BSN,
        "name": "Maria Jansen",
        "date_of_birth": "1938-04-02",
        "sex": "F",
        "postcode": "6411 AB",
        "insurer": "9015",
        "origin": "home",
        "product": "elv_hoog",
        "urgency": "today",
        "wakeful_eye": "on",
        "needs_elderly_care_specialist": "on",
        "medical_reason": "Gevallen, niet meer mobiel.",
        "consent": "on",
        "submit_token": "token-1",
        "action": "submit",
    }
    data.update(overrides)
    return {key: value for key, value in data.items() if value is not None}


@pytest.fixture
def submitted(desk):
    referral, _ = services.referral_submit(by=desk.gp, data=referral_input())
    return referral


@pytest.fixture
def searching(desk, submitted):
    services.referral_step(referral=submitted, target="searching", by=desk.coordinator)
    submitted.refresh_from_db()
    return submitted


@pytest.fixture
def offer(desk, searching):
    return services.offer_create(referral=searching, capacity=desk.capacity, by=desk.coordinator)


@pytest.fixture
def accepted(desk, offer):
    services.offer_accept(offer=offer, by=desk.planner)
    offer.referral.refresh_from_db()
    return offer.referral
