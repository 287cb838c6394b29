"""The desk keeps looking (issue 17 point 5): a bed that comes free is proposed to the searching
referrals it fits — on the board, and in self-service hours to the referrer, one notification per
referral — and a referral searching longer than the region's limit is escalated with those beds."""

from datetime import datetime, timedelta

import time_machine
from django.urls import reverse
from django.utils import timezone

from beds import services as beds
from providers.models import Product, SelfServiceOffers
from referrals import services
from referrals.escalations import escalations_update
from referrals.models import BedProposal, Escalation, EscalationKind, Notification, Referral
from referrals.proposals import proposals_update
from referrals.tasks import propose_freed_beds
from tests.clients import client_for
from tests.referrals.conftest import OTHER_BSN, VALID_BSN, referral_input

T0 = timezone.make_aware(datetime(2026, 3, 3, 10, 0))


def _searching(desk, bsn=VALID_BSN, **overrides) -> Referral:
    referral, _ = services.referral_submit(by=desk.gp, data=referral_input(bsn=bsn, **overrides))
    if referral.state != "searching":  # in self-service hours the referral searches at once
        services.referral_step(referral=referral, target="searching", by=desk.coordinator)
    return referral


def _no_free_beds(desk):
    for capacity in (desk.capacity, desk.other_capacity):
        beds.capacity_update(capacity_id=capacity.pk, by=desk.planner, counts={"available": 0})


def _raise_count(desk, available=1):
    beds.capacity_update(capacity_id=desk.capacity.pk, by=desk.planner, counts={"available": available})


def _self_service(desk):
    desk.region.self_service_offers = SelfServiceOffers.ALWAYS
    desk.region.save(update_fields=["self_service_offers"])


def test_a_count_raised_proposes_the_bed_to_the_searching_referrals_it_fits_once(desk):
    with time_machine.travel(T0, tick=False):
        _no_free_beds(desk)
        fits = _searching(desk)
        other_product = _searching(desk, bsn=OTHER_BSN, product=Product.objects.get(code="elv_laag"))
        assert proposals_update()["proposed"] == 0
        _raise_count(desk)

        assert proposals_update()["proposed"] == 1
        assert proposals_update()["proposed"] == 0, "safe to repeat"
        assert propose_freed_beds() == {"proposed": 0, "notified": 0}

    proposal = BedProposal.objects.get()
    assert (proposal.referral_id, proposal.capacity_id) == (fits.pk, desk.capacity.pk)
    assert not BedProposal.objects.filter(referral=other_product).exists()


def test_a_discharge_frees_a_bed_that_is_proposed(desk, accepted):
    beds.capacity_update(capacity_id=desk.other_capacity.pk, by=desk.planner, counts={"available": 0})
    services.stay_admit(referral=accepted, by=desk.planner, admitted_at=timezone.now())
    waiting = _searching(desk, bsn=OTHER_BSN)
    assert proposals_update()["proposed"] == 0
    services.stay_discharge(referral=accepted, by=desk.planner, discharged_at=timezone.now(), destination="home")
    assert proposals_update()["proposed"] == 1
    assert BedProposal.objects.get().referral == waiting


def test_a_declined_offer_releases_its_bed_to_the_next_referral(desk):
    with time_machine.travel(T0, tick=False):
        beds.capacity_update(capacity_id=desk.other_capacity.pk, by=desk.planner, counts={"available": 0})
        first = _searching(desk)
        offer = services.offer_create(referral=first, capacity=desk.capacity, by=desk.coordinator)
        second = _searching(desk, bsn=OTHER_BSN)
        proposals_update()
        services.offer_decline(offer=offer, by=desk.planner, reason="too_complex")
        proposals_update()
    # The first referral's own decline excludes that location for it; the second one gets the bed.
    assert list(BedProposal.objects.values_list("referral_id", flat=True)) == [second.pk]


def test_in_self_service_hours_the_most_urgent_referrer_hears_of_the_one_free_bed(desk):
    _self_service(desk)
    with time_machine.travel(T0, tick=False):
        _no_free_beds(desk)
        later = _searching(desk, bsn=OTHER_BSN, urgency="within_24h")
        urgent = _searching(desk, urgency="today")
        _raise_count(desk, available=1)
        result = proposals_update()
    assert result == {"proposed": 2, "notified": 1}
    assert set(BedProposal.objects.values_list("referral_id", flat=True)) == {later.pk, urgent.pk}
    told = Notification.objects.filter(kind="bed_proposed")
    assert [(n.referral_id, n.user_id) for n in told] == [(urgent.pk, desk.gp.pk)]


def test_a_referrer_gets_one_notification_per_referral_not_one_per_bed(desk):
    _self_service(desk)
    with time_machine.travel(T0, tick=False):
        _no_free_beds(desk)
        referral = _searching(desk)
        _raise_count(desk, available=1)
        beds.capacity_update(capacity_id=desk.other_capacity.pk, by=desk.planner, counts={"available": 2})
        proposals_update()
    with time_machine.travel(T0 + timedelta(minutes=5), tick=False):
        _raise_count(desk, available=0)
        _raise_count(desk, available=1)
        proposals_update()
    assert BedProposal.objects.filter(referral=referral).count() == 3
    assert Notification.objects.filter(referral=referral, kind="bed_proposed").count() == 1


def test_outside_self_service_hours_only_the_desk_sees_the_proposal(desk):
    with time_machine.travel(T0, tick=False):
        _no_free_beds(desk)
        _searching(desk)
        _raise_count(desk)
        assert proposals_update() == {"proposed": 1, "notified": 0}
    assert not Notification.objects.filter(kind="bed_proposed").exists()


def test_the_board_shows_the_bed_that_came_free_on_the_card(desk):
    with time_machine.travel(T0, tick=False):
        _no_free_beds(desk)
        _searching(desk)
        _raise_count(desk)
        proposals_update()
        page = client_for(desk.coordinator).get(reverse("cockpit:board")).content.decode()
    assert "Bed came free" in page
    assert desk.location.name in page


def test_a_referral_searching_too_long_is_escalated_with_the_beds_that_came_free(desk):
    with time_machine.travel(T0, tick=False):
        _no_free_beds(desk)
        referral = _searching(desk, urgency="within_24h")
        _raise_count(desk)
        proposals_update()
        # Taken by someone else before the desk acted: the bed went, the referral still waits.
        beds.capacity_update(capacity_id=desk.capacity.pk, by=desk.planner, counts={"available": 0})
    limit = timedelta(hours=desk.region.search_limit_hours)
    with time_machine.travel(T0 + limit - timedelta(minutes=1), tick=False):
        escalations_update()
        assert not Escalation.objects.filter(kind=EscalationKind.WAITING_LONG).exists()
    with time_machine.travel(T0 + limit + timedelta(minutes=1), tick=False):
        escalations_update()
        escalations_update()
    escalation = Escalation.objects.get(kind=EscalationKind.WAITING_LONG)
    assert escalation.referral == referral
    assert [bed["location"] for bed in escalation.details["freed_beds"]] == [desk.location.name]
    assert Notification.objects.filter(kind="escalation_waiting_long", user=desk.coordinator).count() == 1
    with time_machine.travel(T0 + limit + timedelta(minutes=5), tick=False):
        services.referral_step(referral=referral, target="cancelled", by=desk.coordinator, reason="Elders geplaatst")
        escalations_update()
    assert Escalation.objects.get(pk=escalation.pk).resolved_at is not None


def test_the_escalation_list_names_the_beds_that_came_free(desk):
    with time_machine.travel(T0, tick=False):
        _no_free_beds(desk)
        _searching(desk, urgency="within_24h")
        _raise_count(desk)
        proposals_update()
    with time_machine.travel(T0 + timedelta(hours=desk.region.search_limit_hours, minutes=1), tick=False):
        escalations_update()
        page = client_for(desk.coordinator).get(reverse("referrals:escalations")).content.decode()
    assert "Came free meanwhile and fitted:" in page
    assert desk.location.name in page
