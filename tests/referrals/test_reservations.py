"""Planned discharges reserved at their date (issue 17 point 3): the offer holds no bed today, the
acceptance reserves against the beds expected by then, the bed is taken on the day, and when the
expected bed does not come the desk hears of it a day ahead. The Klikmoment page lists them."""

from datetime import date, datetime

import pytest
import time_machine
from django.urls import reverse
from django.utils import timezone, translation
from stdnum.nl import bsn as nl_bsn

from beds import services as beds
from beds.models import Capacity
from elvdesk.errors import Conflict
from referrals import services
from referrals.escalations import escalations_update
from referrals.matching import match_locations
from referrals.models import Escalation, EscalationKind, Notification, Offer, Referral, State
from referrals.reservations import reservations_take
from referrals.tasks import take_reserved_beds
from tests.clients import client_for
from tests.factories import user_with_role
from tests.referrals.conftest import OTHER_BSN, referral_input

T0 = timezone.make_aware(datetime(2026, 3, 3, 10, 0))  # Tuesday
DAY = date(2026, 3, 5)  # the day after tomorrow
DAY_BEFORE = timezone.make_aware(datetime(2026, 3, 4, 9, 0))
ON_THE_DAY = timezone.make_aware(datetime(2026, 3, 5, 0, 10))


@pytest.fixture(autouse=True)
def _tuesday():
    with time_machine.travel(T0, tick=False) as traveller:
        yield traveller


def _planned(desk, *, day=DAY, bsn=None, **overrides) -> Referral:
    data = referral_input(origin="ward", urgency="planned", planned_date=day, **overrides)
    if bsn:
        data["bsn"] = bsn
    referral, _ = services.referral_submit(by=desk.nurse, data=data)
    services.referral_step(referral=referral, target="searching", by=desk.coordinator)
    return Referral.objects.get(pk=referral.pk)


def _counts(capacity) -> tuple[int, int, int]:
    row = Capacity.objects.get(pk=capacity.pk)
    return row.available, row.held, row.reserved


def _reserved(desk, **kwargs) -> Offer:
    referral = _planned(desk, **kwargs)
    offer = services.offer_create(referral=referral, capacity=desk.capacity, by=desk.coordinator)
    return services.offer_accept(offer=offer, by=desk.planner)


def test_an_offer_for_a_later_day_holds_no_bed_today(desk):
    referral = _planned(desk)
    offer = services.offer_create(referral=referral, capacity=desk.capacity, by=desk.coordinator)
    assert offer.for_date == DAY
    assert _counts(desk.capacity) == (1, 0, 0), "today's free bed stays free"


def test_accepting_reserves_against_the_expected_beds_without_taking_todays(desk):
    offer = _reserved(desk)
    assert _counts(desk.capacity) == (1, 0, 1)
    assert Referral.objects.get(pk=offer.referral_id).state == State.ACCEPTED


def test_a_location_with_no_free_bed_now_but_one_expected_is_suggested_for_a_planned_day_only(desk):
    beds.capacity_update(
        capacity_id=desk.capacity.pk, by=desk.planner, counts={"available": 0, "expected_24h": 0, "expected_72h": 1}
    )
    planned = _planned(desk)
    with translation.override("en"):
        suggestion = next(s for s in match_locations(referral=planned) if s.capacity == desk.capacity)
    assert suggestion.for_date == DAY
    assert any("expected by 5 March" in reason for reason in suggestion.reasons)
    today, _ = services.referral_submit(by=desk.gp, data=referral_input(bsn=OTHER_BSN))
    services.referral_step(referral=today, target="searching", by=desk.coordinator)
    assert desk.capacity not in [s.capacity for s in match_locations(referral=today)]


def test_no_reservation_where_no_bed_is_free_or_expected(desk):
    beds.capacity_update(
        capacity_id=desk.capacity.pk, by=desk.planner, counts={"available": 0, "expected_24h": 0, "expected_72h": 0}
    )
    with pytest.raises(Conflict) as refused:
        services.offer_create(referral=_planned(desk), capacity=desk.capacity, by=desk.coordinator)
    assert refused.value.code == "no_expected_bed"


def test_the_bed_is_taken_on_its_day_once(desk, _tuesday):
    offer = _reserved(desk)
    assert reservations_take() == {"taken": 0, "waiting": 0}, "not before its day"
    _tuesday.move_to(ON_THE_DAY)
    assert take_reserved_beds() == {"taken": 1, "waiting": 0}
    assert reservations_take() == {"taken": 0, "waiting": 0}
    assert _counts(desk.capacity) == (0, 0, 0)
    assert Offer.objects.get(pk=offer.pk).taken_at is not None


def test_a_declined_or_withdrawn_dated_offer_releases_no_other_offers_hold(desk):
    today, _ = services.referral_submit(by=desk.gp, data=referral_input(bsn=OTHER_BSN))
    services.referral_step(referral=today, target="searching", by=desk.coordinator)
    services.offer_create(referral=today, capacity=desk.other_capacity, by=desk.coordinator)  # holds a bed there
    planned = _planned(desk)
    dated = services.offer_create(referral=planned, capacity=desk.other_capacity, by=desk.coordinator)
    services.offer_decline(offer=dated, by=desk.other_planner, reason="too_complex")
    assert _counts(desk.other_capacity) == (2, 1, 0), "the other referral's hold stays"


def test_cancelling_a_reservation_before_its_day_unreserves_and_after_it_frees_the_bed(desk, _tuesday):
    offer = _reserved(desk)
    services.referral_step(referral=offer.referral, target="cancelled", by=desk.nurse, reason="Toch naar huis")
    assert _counts(desk.capacity) == (1, 0, 0)

    taken = _reserved(desk, bsn=OTHER_BSN)
    _tuesday.move_to(ON_THE_DAY)
    reservations_take()
    assert _counts(desk.capacity) == (0, 0, 0)
    services.referral_step(referral=taken.referral, target="cancelled", by=desk.nurse, reason="Overleden")
    assert _counts(desk.capacity) == (1, 0, 0)


def test_admission_early_on_the_day_takes_the_reserved_bed(desk, _tuesday):
    offer = _reserved(desk)
    _tuesday.move_to(ON_THE_DAY)
    services.stay_admit(referral=offer.referral, by=desk.planner, admitted_at=timezone.now())
    assert _counts(desk.capacity) == (0, 0, 0)
    assert reservations_take() == {"taken": 0, "waiting": 0}


def test_the_desk_hears_a_day_ahead_when_the_expected_bed_does_not_cover_the_reservation(desk, _tuesday):
    offer = _reserved(desk)
    # Somebody else took today's free bed, and nothing is expected within 24 hours.
    beds.capacity_update(capacity_id=desk.capacity.pk, by=desk.planner, counts={"available": 0, "expected_24h": 0})
    escalations_update()
    assert not Escalation.objects.filter(kind=EscalationKind.RESERVATION_AT_RISK).exists(), "two days ahead"
    _tuesday.move_to(DAY_BEFORE)
    escalations_update()
    escalations_update()
    escalation = Escalation.objects.get(kind=EscalationKind.RESERVATION_AT_RISK)
    assert escalation.referral_id == offer.referral_id
    assert escalation.details == {"location": desk.location.name, "for_date": "2026-03-05"}
    told = set(Notification.objects.filter(kind="escalation_reservation_at_risk").values_list("user", flat=True))
    assert told == {desk.nurse.pk, desk.coordinator.pk}
    # On the day no bed can be taken; once the planner frees one, it is taken and the alarm ends.
    _tuesday.move_to(ON_THE_DAY)
    assert reservations_take() == {"taken": 0, "waiting": 1}
    beds.capacity_update(capacity_id=desk.capacity.pk, by=desk.planner, counts={"available": 1})
    assert reservations_take()["taken"] == 1
    escalations_update()
    assert Escalation.objects.get(pk=escalation.pk).resolved_at is not None


def test_an_expected_bed_within_24_hours_covers_tomorrows_reservation(desk, _tuesday):
    _reserved(desk)
    beds.capacity_update(capacity_id=desk.capacity.pk, by=desk.planner, counts={"available": 0, "expected_24h": 1})
    _tuesday.move_to(DAY_BEFORE)
    escalations_update()
    assert not Escalation.objects.filter(kind=EscalationKind.RESERVATION_AT_RISK).exists()


# --- The Klikmoment page ----------------------------------------------------------------------

KLIKMOMENT = reverse("referrals:klikmoment")
# Session, user, second factor, notifications badge; referrals, their offers and risks; the access log.
KLIKMOMENT_QUERIES = 8


def test_the_klikmoment_lists_each_day_with_the_reservation_state(desk):
    reserved = _reserved(desk)
    waiting = _planned(desk, bsn=OTHER_BSN, day=date(2026, 3, 4))
    page = client_for(desk.coordinator).get(KLIKMOMENT)
    assert page.status_code == 200
    html = page.content.decode()
    assert f'href="/referrals/{reserved.referral_id}/"' in html and f'href="/referrals/{waiting.pk}/"' in html
    assert "Reserved" in html and desk.location.name in html
    assert "No bed yet" in html
    assert html.index(f"/referrals/{waiting.pk}/") < html.index(f"/referrals/{reserved.referral_id}/"), "per day"


def test_a_transfer_nurse_sees_her_hospitals_discharges_only_and_a_gp_none(desk):
    link = f'href="/referrals/{_reserved(desk).referral_id}/"'
    other_nurse = user_with_role("transfer_nurse", region=desk.region)
    assert link in client_for(desk.nurse).get(KLIKMOMENT).content.decode()
    assert link not in client_for(other_nurse).get(KLIKMOMENT).content.decode()
    assert client_for(desk.gp).get(KLIKMOMENT).status_code == 403
    assert client_for(desk.planner).get(KLIKMOMENT).status_code == 403


def test_the_klikmoment_answers_only_get(desk):
    assert client_for(desk.coordinator, csrf=False).post(KLIKMOMENT).status_code == 405


@pytest.mark.parametrize("n", [1, 6])
def test_the_klikmoment_query_count_does_not_grow(desk, n, django_assert_num_queries):
    numbers = [f"{x:09d}" for x in range(100000000, 100001000) if nl_bsn.is_valid(f"{x:09d}")][:n]
    for number in numbers:
        _planned(desk, bsn=number)
    client = client_for(desk.coordinator)
    client.get(KLIKMOMENT)  # session and caches warm
    with django_assert_num_queries(KLIKMOMENT_QUERIES):
        assert client.get(KLIKMOMENT).status_code == 200
