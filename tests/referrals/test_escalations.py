"""The escalation ladder: untriaged referrals, unanswered offers, urgent referrals without a bed
and planned discharges tomorrow without a bed are recorded once, notified once, shown on the
referral and in the desk's list, and resolved when the cause is gone."""

from datetime import date, datetime, timedelta

import pytest
import time_machine
from django.core import mail
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from accounts.models import Role
from audit.models import AccessLog
from providers.models import Product
from referrals import escalations, services
from referrals.models import Escalation, EscalationKind, Notification, Offer, Referral
from referrals.tasks import update_escalations
from tests.factories import CapacityFactory, LocationFactory, RegionFactory, user_with_role
from tests.referrals.conftest import OTHER_BSN, referral_input

ESCALATIONS = reverse("referrals:escalations")
# A Tuesday in winter time (Amsterdam = UTC+1): 10:00 local.
T0 = timezone.make_aware(datetime(2026, 3, 3, 10, 0))


def make_client(user=None) -> Client:
    client = Client(headers={"Accept-Language": "en"})
    if user is not None:
        client.force_login(user)
    return client


def run(moment) -> dict:
    with time_machine.travel(moment, tick=False):
        return update_escalations.apply().get()


def kinds(referral) -> set[str]:
    return set(Escalation.objects.filter(referral=referral, resolved_at__isnull=True).values_list("kind", flat=True))


def submit_at(moment, desk, **overrides) -> Referral:
    with time_machine.travel(moment, tick=False):
        referral, _ = services.referral_submit(by=overrides.pop("by", desk.gp), data=referral_input(**overrides))
    return referral


@pytest.fixture
def planned(desk):
    """Urgency "planned" so only the triage rule applies."""
    return submit_at(T0, desk, urgency="planned", planned_date=date(2026, 3, 20))


# --- Untriaged --------------------------------------------------------------------------------


def test_a_referral_not_triaged_within_the_regions_limit_is_escalated_to_the_desk(desk, planned):
    Notification.objects.all().delete()
    assert run(T0 + timedelta(minutes=14))["raised"] == 0
    assert run(T0 + timedelta(minutes=15, seconds=1))["raised"] == 1
    escalation = Escalation.objects.get(referral=planned)
    assert escalation.kind == EscalationKind.UNTRIAGED
    notification = Notification.objects.get()
    assert (notification.user, notification.kind) == (desk.coordinator, "escalation_untriaged")


def test_the_triage_limit_is_a_region_setting(desk, planned):
    desk.region.triage_sla_minutes = 60
    desk.region.save()
    assert run(T0 + timedelta(minutes=30))["raised"] == 0
    assert run(T0 + timedelta(minutes=61))["raised"] == 1


def test_a_duplicate_run_records_and_notifies_nothing_twice(desk, planned):
    Notification.objects.all().delete()
    run(T0 + timedelta(minutes=20))
    run(T0 + timedelta(minutes=21))
    with time_machine.travel(T0 + timedelta(minutes=22), tick=False):
        assert escalations.escalations_update() == {"raised": 0, "resolved": 0}
    assert Escalation.objects.count() == 1
    assert Notification.objects.count() == 1


def test_the_escalation_email_goes_out_once_after_the_commit(desk, planned, django_capture_on_commit_callbacks):
    from elvdesk.celery import app

    desk.coordinator.language = "en"  # the e-mail is written in the recipient's language
    desk.coordinator.save(update_fields=["language"])
    previous, app.conf.task_always_eager = app.conf.task_always_eager, True
    try:
        mail.outbox.clear()
        with django_capture_on_commit_callbacks(execute=True):
            run(T0 + timedelta(minutes=20))
            run(T0 + timedelta(minutes=25))
    finally:
        app.conf.task_always_eager = previous
    assert [message.subject for message in mail.outbox] == [f"Referral #{planned.pk} has not been triaged in time"]


def test_triage_resolves_the_escalation(desk, planned):
    run(T0 + timedelta(minutes=20))
    with time_machine.travel(T0 + timedelta(minutes=30), tick=False):
        services.referral_step(referral=planned, target="triage", by=desk.coordinator)
    assert run(T0 + timedelta(minutes=31)) == {"raised": 0, "resolved": 1}
    escalation = Escalation.objects.get()
    assert escalation.resolved_at == T0 + timedelta(minutes=31)
    assert run(T0 + timedelta(hours=3))["raised"] == 0


# --- Offer not answered -----------------------------------------------------------------------


def test_an_expired_offer_is_recorded_once_and_resolved_by_the_next_offer(desk):
    referral = submit_at(T0, desk, urgency="planned", planned_date=date(2026, 3, 20))
    with time_machine.travel(T0 + timedelta(minutes=5), tick=False):
        services.referral_step(referral=referral, target="searching", by=desk.coordinator)
        offer = services.offer_create(referral=referral, capacity=desk.capacity, by=desk.coordinator)
    expiry = offer.expires_at + timedelta(seconds=1)
    with time_machine.travel(expiry, tick=False):
        assert services.offer_expire(offer_id=offer.pk) is True
    desk_notes = Notification.objects.filter(user=desk.coordinator, kind="offer_expired").count()
    assert desk_notes == 1  # the expiry itself told the desk

    run(expiry + timedelta(seconds=30))
    run(expiry + timedelta(minutes=1))
    escalation = Escalation.objects.get(kind=EscalationKind.OFFER_UNANSWERED)
    assert escalation.offer == offer and escalation.details["location"] == desk.location.name
    assert Notification.objects.filter(user=desk.coordinator, kind="offer_expired").count() == 1  # not twice

    with time_machine.travel(expiry + timedelta(minutes=2), tick=False):
        services.offer_create(referral=referral, capacity=desk.other_capacity, by=desk.coordinator)
    assert run(expiry + timedelta(minutes=3))["resolved"] == 1
    assert Escalation.objects.get(pk=escalation.pk).resolved_at is not None


# --- Urgent and unplaced ----------------------------------------------------------------------


@pytest.fixture
def neighbour_beds(desk):
    neighbour = RegionFactory(code="midden", name="Midden-Limburg")
    desk.region.neighbours.add(neighbour)
    hoog = Product.objects.get(code="elv_hoog")
    roermond = LocationFactory(organisation=user_with_role(Role.PROVIDER_STAFF, region=neighbour).organisation)
    CapacityFactory(location=roermond, product=hoog, total=6, available=3, held=1)
    full = LocationFactory(organisation=user_with_role(Role.PROVIDER_STAFF, region=neighbour).organisation)
    CapacityFactory(location=full, product=hoog, total=6, available=1, held=1)
    far = RegionFactory(code="ver-weg")
    elsewhere = LocationFactory(organisation=user_with_role(Role.PROVIDER_STAFF, region=far).organisation)
    CapacityFactory(location=elsewhere, product=hoog, total=9, available=9)
    return roermond


def test_an_urgent_referral_without_a_bed_after_the_limit_goes_to_the_desk_with_neighbour_beds(desk, neighbour_beds):
    referral = submit_at(T0, desk, urgency="today")
    Notification.objects.all().delete()
    with time_machine.travel(T0 + timedelta(minutes=1), tick=False):
        services.referral_step(referral=referral, target="searching", by=desk.coordinator)
    assert run(T0 + timedelta(hours=3, minutes=59))["raised"] == 0
    assert run(T0 + timedelta(hours=4, minutes=1))["raised"] == 1
    escalation = Escalation.objects.get(kind=EscalationKind.URGENT_UNPLACED)
    hint = escalation.details["neighbour_beds"]
    assert [(bed["location"], bed["region"], bed["free"]) for bed in hint] == [
        (neighbour_beds.name, "Midden-Limburg", 2)
    ]
    assert set(Notification.objects.values_list("user", "kind")) == {
        (desk.coordinator.pk, "escalation_urgent_unplaced")
    }


def test_a_neighbour_that_does_not_share_its_counts_is_left_out_of_the_hint(desk, neighbour_beds):
    neighbour = neighbour_beds.organisation.region
    neighbour.share_capacity_with_neighbours = False
    neighbour.save()
    submit_at(T0, desk, urgency="today")
    run(T0 + timedelta(hours=5))
    assert Escalation.objects.get(kind=EscalationKind.URGENT_UNPLACED).details == {"neighbour_beds": []}


def test_within_24_hours_counts_as_urgent_and_the_limit_is_a_region_setting(desk):
    desk.region.urgent_placement_hours = 2
    desk.region.save()
    referral = submit_at(T0, desk, urgency="within_24h")
    run(T0 + timedelta(hours=2, minutes=1))
    assert EscalationKind.URGENT_UNPLACED in kinds(referral)


def test_booking_a_bed_resolves_the_urgent_escalation(desk):
    referral = submit_at(T0, desk, urgency="today")
    with time_machine.travel(T0 + timedelta(minutes=1), tick=False):
        services.referral_step(referral=referral, target="searching", by=desk.coordinator)
    run(T0 + timedelta(hours=5))
    with time_machine.travel(T0 + timedelta(hours=5, minutes=1), tick=False):
        offer = services.offer_create(referral=referral, capacity=desk.capacity, by=desk.coordinator)
    run(T0 + timedelta(hours=5, minutes=2))
    assert EscalationKind.URGENT_UNPLACED in kinds(referral)  # an offer is not a bed yet
    with time_machine.travel(T0 + timedelta(hours=5, minutes=3), tick=False):
        services.offer_accept(offer=Offer.objects.get(pk=offer.pk), by=desk.planner)
    run(T0 + timedelta(hours=5, minutes=4))
    assert kinds(referral) == set()


# --- Planned discharge tomorrow ---------------------------------------------------------------


def test_a_discharge_planned_tomorrow_without_a_bed_tells_the_nurse_and_the_desk(desk):
    referral = submit_at(T0, desk, by=desk.nurse, origin="ward", urgency="planned", planned_date=date(2026, 3, 5))
    with time_machine.travel(T0 + timedelta(minutes=1), tick=False):
        services.referral_step(referral=referral, target="searching", by=desk.coordinator)
    Notification.objects.all().delete()
    assert run(T0 + timedelta(minutes=2))["raised"] == 0  # the day after tomorrow
    # Wednesday 00:01 in Amsterdam (Tuesday 23:01 UTC): the discharge is tomorrow.
    wednesday = timezone.make_aware(datetime(2026, 3, 4, 0, 1))
    assert run(wednesday)["raised"] == 1
    assert set(Notification.objects.values_list("user", "kind")) == {
        (desk.nurse.pk, "escalation_discharge_tomorrow"),
        (desk.coordinator.pk, "escalation_discharge_tomorrow"),
    }
    assert run(wednesday + timedelta(hours=6))["raised"] == 0


def test_moving_the_discharge_date_later_resolves_it(desk):
    referral = submit_at(T0, desk, by=desk.nurse, origin="ward", urgency="planned", planned_date=date(2026, 3, 4))
    run(T0 + timedelta(minutes=20))
    assert EscalationKind.DISCHARGE_TOMORROW in kinds(referral)
    Referral.objects.filter(pk=referral.pk).update(planned_date=date(2026, 3, 10))
    run(T0 + timedelta(minutes=21))
    assert EscalationKind.DISCHARGE_TOMORROW not in kinds(referral)


def test_cancelling_resolves_every_escalation_of_the_referral(desk):
    referral = submit_at(T0, desk, by=desk.nurse, origin="ward", urgency="planned", planned_date=date(2026, 3, 4))
    run(T0 + timedelta(minutes=20))
    assert kinds(referral) == {EscalationKind.UNTRIAGED, EscalationKind.DISCHARGE_TOMORROW}
    with time_machine.travel(T0 + timedelta(minutes=25), tick=False):
        services.referral_step(referral=referral, target="cancelled", by=desk.coordinator, reason="Thuis gebleven")
    assert run(T0 + timedelta(minutes=26))["resolved"] == 2
    assert kinds(referral) == set()


# --- Pages ------------------------------------------------------------------------------------


def test_the_referral_page_shows_its_escalations(desk, planned):
    run(T0 + timedelta(minutes=20))
    response = make_client(desk.gp).get(reverse("referrals:detail", args=[planned.pk]))
    page = response.content.decode()
    assert 'id="escalations"' in page and "Not triaged in time" in page


def test_the_neighbour_hint_is_for_the_desk_only(desk, neighbour_beds):
    referral = submit_at(T0, desk, urgency="today")
    run(T0 + timedelta(hours=5))
    url = reverse("referrals:detail", args=[referral.pk])
    assert neighbour_beds.name in make_client(desk.coordinator).get(url).content.decode()
    as_gp = make_client(desk.gp).get(url).content.decode()
    assert "Urgent referral still without a bed" in as_gp and neighbour_beds.name not in as_gp


def test_the_referral_page_without_escalations_has_no_section(desk, planned):
    page = make_client(desk.gp).get(reverse("referrals:detail", args=[planned.pk])).content.decode()
    assert 'id="escalations"' not in page


def test_the_desk_lists_open_escalations_of_its_region_and_the_access_is_logged(desk, neighbour_beds):
    urgent = submit_at(T0, desk, urgency="today")
    elsewhere_region = RegionFactory(code="elders")
    outsider_gp = user_with_role(Role.GP, region=elsewhere_region)
    with time_machine.travel(T0, tick=False):
        foreign, _ = services.referral_submit(by=outsider_gp, data=referral_input(bsn=OTHER_BSN))
    run(T0 + timedelta(hours=5))
    assert Escalation.objects.filter(referral=foreign).exists()

    before = AccessLog.objects.count()
    response = make_client(desk.coordinator).get(ESCALATIONS)
    assert response.status_code == 200
    shown = {escalation.referral_id for escalation in response.context["escalations"]}
    assert shown == {urgent.pk}
    page = response.content.decode()
    assert "Urgent referral still without a bed" in page and neighbour_beds.name in page
    logged = AccessLog.objects.order_by("-id")[: AccessLog.objects.count() - before]
    assert {(row.referral_id, row.action, row.outcome) for row in logged} == {(urgent.pk, "read", "ok")}


def test_resolved_escalations_are_listed_only_on_request(desk, planned):
    run(T0 + timedelta(minutes=20))
    with time_machine.travel(T0 + timedelta(minutes=30), tick=False):
        services.referral_step(referral=planned, target="triage", by=desk.coordinator)
    run(T0 + timedelta(minutes=31))
    client = make_client(desk.coordinator)
    assert client.get(ESCALATIONS).context["escalations"] == []
    assert len(client.get(ESCALATIONS, {"resolved": "1"}).context["escalations"]) == 1


@pytest.mark.parametrize("role", [Role.GP, Role.TRANSFER_NURSE, Role.PROVIDER_STAFF, Role.ANALYST, Role.ADMIN])
def test_only_the_desk_opens_the_escalation_list(desk, role):
    assert make_client(user_with_role(role, region=desk.region)).get(ESCALATIONS).status_code == 403


def test_the_escalation_list_refuses_post_and_anonymous_users(desk):
    assert make_client(desk.coordinator).post(ESCALATIONS).status_code == 405
    assert make_client().get(ESCALATIONS).status_code == 302


def test_the_escalation_list_query_count_does_not_grow(desk):
    from tests.referrals.test_views import valid_bsns

    client = make_client(desk.coordinator)
    bsns = iter(valid_bsns(12))
    submit_at(T0, desk, bsn=next(bsns), urgency="today")
    run(T0 + timedelta(hours=5))
    with CaptureQueriesContext(connection) as few:
        client.get(ESCALATIONS)
    for bsn in bsns:
        submit_at(T0 + timedelta(minutes=1), desk, bsn=bsn, urgency="today")
    run(T0 + timedelta(hours=6))
    with CaptureQueriesContext(connection) as many:
        response = client.get(ESCALATIONS)
    assert len(response.context["escalations"]) > 12
    assert len(many.captured_queries) == len(few.captured_queries)


def test_the_referral_page_query_count_does_not_grow_with_escalations(desk, planned):
    client = make_client(desk.coordinator)
    url = reverse("referrals:detail", args=[planned.pk])
    run(T0 + timedelta(minutes=20))
    with CaptureQueriesContext(connection) as one:
        client.get(url)
    Referral.objects.filter(pk=planned.pk).update(planned_date=date(2026, 3, 4))
    run(T0 + timedelta(hours=5))
    assert len(kinds(planned)) == 2
    with CaptureQueriesContext(connection) as two:
        client.get(url)
    assert len(two.captured_queries) == len(one.captured_queries)
