"""Regions working together (issue 18 point 4, referrals/cross_region.py): the desk offers a bed of a
sharing neighbour only when none fits at home; that region's desk sees the referral and may stop the
offer or booking at its location, nothing else; the KPIs count the placements both ways."""

from dataclasses import dataclass
from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone, translation

from accounts.models import Role
from audit.models import AccessLog
from beds import services as beds
from beds.models import Capacity
from cockpit.kpis import kpi_report
from cockpit.periods import Period
from elvdesk.errors import Conflict, PermissionDenied
from providers.models import Product, SelfServiceOffers
from referrals import services
from referrals.models import Offer, OfferState, Referral, State
from tests.clients import client_for
from tests.factories import CapacityFactory, LocationFactory, RegionFactory, user_with_role
from tests.referrals.conftest import referral_input

pytestmark = pytest.mark.django_db


@dataclass
class NextDoor:
    region: object
    planner: object
    coordinator: object
    capacity: Capacity


@pytest.fixture
def next_door(desk) -> NextDoor:
    region = RegionFactory(self_service_offers=SelfServiceOffers.NEVER, share_capacity_with_neighbours=True)
    desk.region.neighbours.add(region)
    planner = user_with_role(Role.PROVIDER_STAFF, region=region)
    location = LocationFactory(organisation=planner.organisation, pc4="6041", insurers=["9015"])
    capacity = CapacityFactory(location=location, product=Product.objects.get(code="elv_hoog"), total=4, available=2)
    return NextDoor(region, planner, user_with_role(Role.COORDINATOR, region=region), capacity)


def _searching(desk) -> Referral:
    referral, _ = services.referral_submit(by=desk.gp, data=referral_input())
    services.referral_step(referral=referral, target=State.SEARCHING, by=desk.coordinator)
    return referral


def _no_bed_at_home(desk):
    for capacity in (desk.capacity, desk.other_capacity):
        beds.capacity_update(capacity_id=capacity.pk, by=desk.planner, counts={"available": 0})


def _offered_next_door(desk, next_door) -> tuple[Referral, Offer]:
    _no_bed_at_home(desk)
    referral = _searching(desk)
    offer = services.offer_create(referral=referral, capacity=next_door.capacity, by=desk.coordinator)
    return referral, offer


def test_the_desk_offers_a_bed_next_door_only_when_none_fits_at_home(desk, next_door):
    referral = _searching(desk)
    with pytest.raises(Conflict) as refused:
        services.offer_create(referral=referral, capacity=next_door.capacity, by=desk.coordinator)
    assert refused.value.code == "bed_in_own_region"

    _no_bed_at_home(desk)
    offer = services.offer_create(referral=referral, capacity=next_door.capacity, by=desk.coordinator)

    referral.refresh_from_db()
    next_door.capacity.refresh_from_db()
    assert (referral.state, offer.state, next_door.capacity.held) == (State.OFFERED, OfferState.OPEN, 1)


@pytest.mark.parametrize("how", ["does_not_share", "not_a_neighbour"])
def test_no_offer_to_a_region_that_does_not_share_or_is_not_a_neighbour(desk, next_door, how):
    if how == "does_not_share":
        next_door.region.share_capacity_with_neighbours = False
        next_door.region.save(update_fields=["share_capacity_with_neighbours"])
    else:
        desk.region.neighbours.remove(next_door.region)
    _no_bed_at_home(desk)
    referral = _searching(desk)
    with pytest.raises(Conflict) as refused:
        services.offer_create(referral=referral, capacity=next_door.capacity, by=desk.coordinator)
    assert refused.value.code == "not_a_sharing_neighbour"
    next_door.capacity.refresh_from_db()
    assert next_door.capacity.held == 0


def test_a_referrer_in_self_service_hours_cannot_offer_a_bed_next_door(desk, next_door):
    desk.region.self_service_offers = SelfServiceOffers.ALWAYS
    desk.region.save(update_fields=["self_service_offers"])
    _no_bed_at_home(desk)
    referral, _ = services.referral_submit(by=desk.gp, data=referral_input())
    with pytest.raises(Conflict) as refused:
        services.offer_create(referral=referral, capacity=next_door.capacity, by=desk.gp)
    assert refused.value.code == "neighbour_desk_only"


def test_the_planner_next_door_accepts_and_the_counts_stay_consistent(desk, next_door):
    referral, offer = _offered_next_door(desk, next_door)

    services.offer_accept(offer=offer, by=next_door.planner)

    referral.refresh_from_db()
    next_door.capacity.refresh_from_db()
    assert referral.state == State.ACCEPTED
    assert (next_door.capacity.available, next_door.capacity.held) == (1, 0)


def test_the_desk_next_door_sees_the_referral_and_its_read_is_logged(desk, next_door):
    referral, _ = _offered_next_door(desk, next_door)
    url = reverse("referrals:detail", args=[referral.pk])
    third_region_desk = user_with_role(Role.COORDINATOR, region=RegionFactory())
    gp_next_door = user_with_role(Role.GP, region=next_door.region)

    page = client_for(next_door.coordinator).get(url)

    assert page.status_code == 200
    assert "Withdraw this offer" in page.content.decode()
    assert AccessLog.objects.filter(user=next_door.coordinator, patient=referral.patient_id).exists()
    assert client_for(desk.coordinator).get(url).status_code == 200  # the home desk still sees it
    assert client_for(third_region_desk).get(url).status_code == 404
    assert client_for(gp_next_door).get(url).status_code == 404
    # Both ways: the home desk never sees the neighbour's own referrals.
    theirs, _ = services.referral_submit(
        by=user_with_role(Role.GP, region=next_door.region), data=referral_input(bsn="123456782")
    )
    assert client_for(desk.coordinator).get(reverse("referrals:detail", args=[theirs.pk])).status_code == 404


def test_the_desk_next_door_withdraws_the_offer_and_the_referral_searches_again(desk, next_door):
    referral, offer = _offered_next_door(desk, next_door)

    response = client_for(next_door.coordinator).post(
        reverse("referrals:offer_stop", args=[offer.pk]), {"reason": "Bed nodig voor eigen regio"}
    )

    assert response.status_code == 302
    offer.refresh_from_db()
    referral.refresh_from_db()
    next_door.capacity.refresh_from_db()
    assert (offer.state, referral.state, next_door.capacity.held) == (OfferState.WITHDRAWN, State.SEARCHING, 0)
    assert "Bed nodig voor eigen regio" in referral.events.last().reason


def test_the_desk_next_door_cancels_the_booking_before_admission(desk, next_door):
    referral, offer = _offered_next_door(desk, next_door)
    services.offer_accept(offer=offer, by=next_door.planner)

    services.offer_stop(offer=offer, by=next_door.coordinator, reason="Eigen patiënt met voorrang")

    offer.refresh_from_db()
    referral.refresh_from_db()
    next_door.capacity.refresh_from_db()
    assert (offer.state, referral.state) == (OfferState.CANCELLED, State.SEARCHING)
    assert (next_door.capacity.available, next_door.capacity.held) == (2, 0)


def test_the_desk_next_door_cannot_stop_an_admitted_patient(desk, next_door):
    referral, offer = _offered_next_door(desk, next_door)
    services.offer_accept(offer=offer, by=next_door.planner)
    services.stay_admit(referral=referral, by=next_door.planner, admitted_at=timezone.now())

    with pytest.raises(Conflict) as refused:
        services.offer_stop(offer=offer, by=next_door.coordinator, reason="Te laat")
    assert refused.value.code == "admitted"


def test_the_desk_next_door_may_do_nothing_else_with_the_referral(desk, next_door):
    referral, _ = _offered_next_door(desk, next_door)

    with pytest.raises(PermissionDenied):
        services.referral_step(
            referral=referral, target=State.CANCELLED, by=next_door.coordinator, reason="Niet van ons"
        )
    response = client_for(next_door.coordinator).post(
        reverse("referrals:step", args=[referral.pk]), {"target": "searching"}
    )
    assert response.status_code == 403
    referral.refresh_from_db()
    assert referral.state == State.OFFERED


def test_stopping_is_only_for_offers_across_the_border_and_only_by_the_desk_where_the_bed_is(desk, next_door):
    referral = _searching(desk)
    own_offer = services.offer_create(referral=referral, capacity=desk.capacity, by=desk.coordinator)
    with pytest.raises(Conflict) as refused:
        services.offer_stop(offer=own_offer, by=desk.coordinator, reason="Eigen regio")
    assert refused.value.code == "not_cross_region"
    # Another region's desk does not even find the offer.
    response = client_for(next_door.coordinator).post(
        reverse("referrals:offer_stop", args=[own_offer.pk]), {"reason": "Niet van ons"}
    )
    assert response.status_code == 404


def test_the_neighbour_beds_page_lists_the_beds_next_door_only_when_none_fits_at_home(desk, next_door):
    referral = _searching(desk)
    url = reverse("referrals:neighbour_beds", args=[referral.pk])
    name = next_door.capacity.location.name

    at_home = client_for(desk.coordinator).get(url).content.decode()
    _no_bed_at_home(desk)
    next_door_page = client_for(desk.coordinator).get(url)

    assert "A bed in your own region fits this patient" in at_home and name not in at_home
    assert next_door_page.status_code == 200
    assert name in next_door_page.content.decode()
    assert client_for(next_door.coordinator).get(url).status_code == 404  # not (yet) visible there


def test_the_kpis_count_placements_across_the_border_both_ways(desk, next_door):
    referral, offer = _offered_next_door(desk, next_door)
    services.offer_accept(offer=offer, by=next_door.planner)
    today = timezone.localdate()
    period = Period(start=today - timedelta(days=1), end=today)

    with translation.override("en"):
        home = {
            r["label"]: r["count"] for r in kpi_report(region=desk.region, period=period).table("cross_region").rows
        }
        host = {
            r["label"]: r["count"]
            for r in kpi_report(region=next_door.region, period=period).table("cross_region").rows
        }

    assert home["Our patients placed in a neighbouring region"] == 1
    assert home["Patients of neighbouring regions placed here"] == 0
    assert host["Patients of neighbouring regions placed here"] == 1
    assert host["Our patients placed in a neighbouring region"] == 0
