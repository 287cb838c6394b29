"""A seeded demo region with referrals in every state the API acts on, and an API token per role.

The fuzz tests call the WSGI application in the test's own thread, so the requests run on the
same database connection and inside the same rolled-back transaction as these fixtures."""

from dataclasses import dataclass, field
from datetime import date, timedelta

import pytest
from django.core import signals
from django.db import close_old_connections
from django.utils import timezone
from rest_framework.authtoken.models import Token

from accounts.models import Role, User
from beds.models import Capacity
from providers.demo import seed_demo_region
from providers.models import Feature, Insurer, Product
from referrals import services
from referrals.models import Offer, Referral, State

# The roles that use the API (the admin works in the admin site).
API_ROLES = (Role.GP, Role.TRANSFER_NURSE, Role.PROVIDER_STAFF, Role.COORDINATOR, Role.ANALYST)
DEMO_USER_FOR_ROLE = {
    Role.GP: "huisarts",
    Role.TRANSFER_NURSE: "transfer",
    Role.PROVIDER_STAFF: "planner",
    Role.COORDINATOR: "coordinator",
    Role.ANALYST: "analist",
}
BSNS = ("111222333", "123456782", "999999011", "999999023")


@dataclass
class FuzzRegion:
    tokens: dict[str, str]
    # Existing primary keys per kind of object, for path parameters that hit real rows.
    ids: dict[str, list[int]] = field(default_factory=dict)


def _referral_data(*, bsn: str, product: Product, **overrides) -> dict:
    data = {
        "bsn": bsn,
        "name": "Maria Jansen",
        "date_of_birth": date(1938, 4, 2),
        "sex": "F",
        "postcode": "6411 AB",
        "insurer": Insurer.objects.get(uzovi="9015"),
        "origin": "home",
        "product": product,
        "urgency": "today",
        "planned_date": None,
        "wakeful_eye": True,
        "unplannable_nursing": False,
        "adl_taken_over": True,
        "care_needs": list(Feature.objects.all()[:1]),
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


@pytest.fixture(autouse=True)
def _wsgi_requests_share_the_test_transaction():
    """Django's WSGI handler closes "old" connections when a request starts and ends; inside the
    test's transaction that would close the connection under it (PostgreSQL: "the connection is
    closed"). Django's own test client switches this off in the same way while it runs a request."""
    signals.request_started.disconnect(close_old_connections)
    signals.request_finished.disconnect(close_old_connections)
    yield
    signals.request_started.connect(close_old_connections)
    signals.request_finished.connect(close_old_connections)


@pytest.fixture
def fuzz_region(db) -> FuzzRegion:
    """The demo region plus four referrals: submitted, searching with an open offer, accepted
    (ready for admission) and admitted (ready for discharge), the offers at the planner's own
    locations so provider staff can act on them."""
    seed_demo_region()
    users = {role: User.objects.get(username=username) for role, username in DEMO_USER_FOR_ROLE.items()}
    gp, nurse, planner, coordinator = (
        users[Role.GP],
        users[Role.TRANSFER_NURSE],
        users[Role.PROVIDER_STAFF],
        users[Role.COORDINATOR],
    )
    capacities = list(
        Capacity.objects.filter(location__organisation=planner.organisation, available__gt=0)
        .select_related("product", "location")
        .order_by("pk")
    )
    assert capacities, "the demo planner's organisation has no free bed to offer"
    capacity = capacities[0]
    product = capacity.product
    # Plenty of free beds, so every offer below (and every offer the fuzzer sends) can hold one.
    Capacity.objects.filter(pk=capacity.pk).update(total=20, available=20)

    def submit(by, bsn):
        origin = "ward" if by.role == Role.TRANSFER_NURSE else "home"
        referral, _ = services.referral_submit(by=by, data=_referral_data(bsn=bsn, product=product, origin=origin))
        return referral

    def offer_for(referral):
        if referral.state != State.SEARCHING:  # the demo region may start the search itself
            services.referral_step(referral=referral, target=State.SEARCHING, by=coordinator)
            referral.refresh_from_db()
        return services.offer_create(referral=referral, capacity=Capacity.objects.get(pk=capacity.pk), by=coordinator)

    submit(gp, BSNS[0])
    offer_for(submit(nurse, BSNS[1]))
    accepted = offer_for(submit(gp, BSNS[2]))
    services.offer_accept(offer=accepted, by=planner)
    admitted = offer_for(submit(nurse, BSNS[3]))
    services.offer_accept(offer=admitted, by=planner)
    services.stay_admit(
        referral=Referral.objects.get(pk=admitted.referral_id),
        by=planner,
        admitted_at=timezone.now() - timedelta(hours=1),
    )

    return FuzzRegion(
        tokens={role: Token.objects.create(user=user).key for role, user in users.items()},
        ids={
            "referrals": list(Referral.objects.order_by("pk").values_list("pk", flat=True)),
            "offers": list(Offer.objects.order_by("pk").values_list("pk", flat=True)),
            "capacities": [
                *Capacity.objects.filter(location__organisation=planner.organisation).values_list("pk", flat=True),
                *Capacity.objects.exclude(location__organisation=planner.organisation).values_list("pk", flat=True)[:5],
            ],
        },
    )
