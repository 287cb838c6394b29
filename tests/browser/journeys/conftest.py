"""Shared set-up of the four role journeys (issue 9): the demo region, phone-sized pages, and
referrals in a chosen state made through the service layer (the steps a journey does not show
itself)."""

from dataclasses import dataclass
from datetime import date, timedelta

import pytest
from django.utils import timezone
from stdnum.nl import bsn as nl_bsn

from accounts.models import User
from beds.models import Capacity
from providers.demo import seed_demo_region
from providers.models import Insurer, Product, Region, SelfServiceOffers
from referrals import services
from referrals.models import Referral
from tests.browser.journeys.a11y import watch_console

# A phone as the planner holds it: iPhone 12-15 sized, touch, mobile viewport rules.
PHONE = {"viewport": {"width": 390, "height": 844}, "is_mobile": True, "has_touch": True, "device_scale_factor": 2}


@dataclass
class Demo:
    region: Region
    gp: User
    nurse: User
    planner: User
    coordinator: User


@pytest.fixture
def demo() -> Demo:
    """The demo region; only the desk sends offers (whatever the hour) unless a test says so."""
    seed_demo_region()
    region = Region.objects.get(code="zuid-limburg")
    region.self_service_offers = SelfServiceOffers.NEVER
    region.save(update_fields=["self_service_offers"])
    return Demo(
        region=region,
        gp=User.objects.get(username="huisarts"),
        nurse=User.objects.get(username="transfer"),
        planner=User.objects.get(username="planner"),
        coordinator=User.objects.get(username="coordinator"),
    )


@pytest.fixture
def journey_page(new_page):
    """`new_page` that also records console errors, so `check_page` can refuse CSP violations."""

    def _journey_page(**options):
        page = new_page(**options)
        watch_console(page)
        return page

    return _journey_page


def valid_bsn(n: int) -> str:
    """A BSN that passes the eleven test, different for every n (0 <= n < 10,000)."""
    for last in range(10):
        for tail in range(10):
            candidate = f"2{n:04d}{tail}00{last}"[:9]
            if nl_bsn.is_valid(candidate):
                return candidate
    raise AssertionError(f"no valid BSN for {n}")


def bookable(location_name: str, product_code: str) -> Capacity:
    """The capacity of a demo location, made sure to have a free bed that can be offered, a
    fresh count and admission around the clock (so a test does not depend on the hour)."""
    capacity = Capacity.objects.select_related("location", "product").get(
        location__name=location_name, product__code=product_code
    )
    capacity.total = max(capacity.total, capacity.held + 2)
    capacity.available = max(capacity.available, capacity.held + 2)
    capacity.confirmed_at = timezone.now()
    capacity.save(update_fields=["total", "available", "confirmed_at"])
    location = capacity.location
    location.admission_24_7 = True
    location.save(update_fields=["admission_24_7"])
    return capacity


def submit_referral(by: User, n: int, *, name: str, product: str = "elv_hoog", **overrides) -> Referral:
    """A submitted referral made through the same service as the form."""
    origin = "home" if by.role == "gp" else "ward"
    data = {
        "bsn": valid_bsn(n),
        "name": name,
        "date_of_birth": date(1935 + n % 20, 1 + n % 12, 1 + n % 28),
        "sex": "F" if n % 2 else "M",
        "postcode": "6411 AB",
        "insurer": Insurer.objects.order_by("uzovi").first(),
        "origin": origin,
        "product": Product.objects.get(code=product),
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
        "needs_elderly_care_specialist": product == "elv_hoog",
        "medical_reason": "Valt thuis herhaaldelijk; 's nachts toezicht nodig.",
        "consent": True,
        "carer_contact": "",
        "notes": "",
    }
    data.update(overrides)
    referral, _ = services.referral_submit(by=by, data=data)
    return referral


def tomorrow() -> date:
    return timezone.localdate() + timedelta(days=1)
