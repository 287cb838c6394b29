"""Nobody unreachable (issue 16): which locations no planner hears (one query), and the contact
problems raised instead of a message to nobody: once per offer, once per open reminder, to the
desk, and gone from the list once a planner is back."""

from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext

from accounts.models import Role, User
from beds.models import Capacity, StaleCountReminder
from beds.reminders import stale_reminders_create
from providers.contact_problems import contact_problem_raise, contact_problem_resolve
from providers.models import ContactProblem, ContactProblemKind, Location
from providers.reachability import (
    open_contact_problems,
    unreachable_location_ids,
    unreachable_locations,
    with_planner_flag,
)
from referrals import services
from referrals.models import Notification
from referrals.notifications import notify_offer_received
from tests.factories import (
    CapacityFactory,
    LocationFactory,
    ProviderFactory,
    RegionFactory,
    product,
    user_with_role,
)
from tests.referrals.conftest import referral_input

pytestmark = pytest.mark.django_db

NOW = datetime(2031, 3, 3, 9, 0, tzinfo=UTC)


@pytest.fixture
def region():
    return RegionFactory()


@pytest.fixture
def heard(region):
    """A location whose organisation has a planner."""
    planner = user_with_role(Role.PROVIDER_STAFF, region=region)
    return LocationFactory(organisation=planner.organisation, name="Gehoord")


@pytest.fixture
def unheard(region):
    """A location whose organisation has nobody who plans beds."""
    return LocationFactory(organisation=ProviderFactory(region=region), name="Ongehoord", phone_24_7="045 577 6677")


# --- Which locations nobody hears ---------------------------------------------------------------


def test_a_location_without_an_active_planner_is_unreachable(region, heard, unheard, django_assert_num_queries):
    with django_assert_num_queries(1):
        assert unreachable_location_ids(region_id=region.pk) == {unheard.pk}


def test_an_inactive_planner_or_another_role_does_not_make_a_location_reachable(region, unheard):
    user_with_role(Role.PROVIDER_STAFF, unheard.organisation, is_active=False)
    user_with_role(Role.GP, unheard.organisation)

    assert unreachable_location_ids(region_id=region.pk) == {unheard.pk}


def test_a_planner_reaches_every_location_of_the_organisation(region, heard):
    second = LocationFactory(organisation=heard.organisation)

    assert unreachable_location_ids(region_id=region.pk) == set()
    assert second.pk not in unreachable_location_ids(region_id=region.pk)


def test_inactive_locations_organisations_and_other_regions_are_not_listed(region, unheard):
    LocationFactory(organisation=unheard.organisation, is_active=False)
    LocationFactory(organisation=ProviderFactory(region=region, is_active=False))
    LocationFactory(organisation=ProviderFactory())  # another region

    assert unreachable_location_ids(region_id=region.pk) == {unheard.pk}


def test_unreachable_locations_come_with_their_organisation_in_one_query(region, unheard, django_assert_num_queries):
    LocationFactory(organisation=ProviderFactory(region=region))
    with django_assert_num_queries(1):
        locations = unreachable_locations(region_id=region.pk)
        names = [location.organisation.name for location in locations]
    assert len(names) == 2


@pytest.mark.parametrize("rows", [2, 6])
def test_the_planner_flag_costs_no_query_per_row(region, rows, django_assert_num_queries):
    for n in range(rows):
        location = LocationFactory(organisation=ProviderFactory(region=region))
        CapacityFactory(location=location, product=product("elv_hoog"))
        if n % 2:
            user_with_role(Role.PROVIDER_STAFF, location.organisation)
    with django_assert_num_queries(2):
        locations = list(with_planner_flag(Location.objects.filter(organisation__region=region)))
        capacities = list(with_planner_flag(Capacity.objects.filter(location__organisation__region=region)))
    assert sum(location.has_planner for location in locations) == rows // 2
    assert sum(capacity.has_planner for capacity in capacities) == rows // 2


# --- Raising and resolving ----------------------------------------------------------------------


def test_raising_the_same_reminder_problem_twice_keeps_one_open(region, unheard):
    first, created = contact_problem_raise(
        region_id=region.pk, location_id=unheard.pk, kind=ContactProblemKind.REMINDER_UNHEARD
    )
    again, created_again = contact_problem_raise(
        region_id=region.pk, location_id=unheard.pk, kind=ContactProblemKind.REMINDER_UNHEARD
    )

    assert (created, created_again) == (True, False)
    assert again.pk == first.pk
    assert ContactProblem.objects.count() == 1


def test_a_resolved_reminder_problem_can_be_raised_anew(region, unheard):
    problem, _ = contact_problem_raise(
        region_id=region.pk, location_id=unheard.pk, kind=ContactProblemKind.REMINDER_UNHEARD
    )
    assert contact_problem_resolve(problem=problem, by=None) is True
    assert contact_problem_resolve(problem=problem, by=None) is False

    _again, created = contact_problem_raise(
        region_id=region.pk, location_id=unheard.pk, kind=ContactProblemKind.REMINDER_UNHEARD
    )
    assert created
    assert ContactProblem.objects.filter(resolved_at__isnull=True).count() == 1


def test_open_problems_are_listed_in_one_query_and_hidden_once_a_planner_is_back(
    region, unheard, django_assert_num_queries
):
    contact_problem_raise(region_id=region.pk, location_id=unheard.pk, kind=ContactProblemKind.REMINDER_UNHEARD)
    with django_assert_num_queries(1):
        problems = open_contact_problems(region_id=region.pk)
        assert [(p.location.name, p.location.organisation.name) for p in problems] == [
            ("Ongehoord", unheard.organisation.name)
        ]

    # A planner without an address still cannot get an e-mailed reminder.
    planner = user_with_role(Role.PROVIDER_STAFF, unheard.organisation, email="")
    assert len(open_contact_problems(region_id=region.pk)) == 1
    planner.email = "planner@example.org"
    planner.save()
    assert open_contact_problems(region_id=region.pk) == []


# --- The stale-count reminder job -------------------------------------------------------------------


def stale_count(location):
    return CapacityFactory(location=location, product=product("elv_hoog"), confirmed_at=NOW - timedelta(hours=13))


def test_a_stale_location_without_a_planner_becomes_one_problem_however_often_the_job_runs(region, unheard):
    stale_count(unheard)
    with time_machine.travel(NOW, tick=False):
        assert stale_reminders_create() == 0
        assert stale_reminders_create() == 0

    problem = ContactProblem.objects.get()
    assert (problem.kind, problem.location_id, problem.region_id) == (
        ContactProblemKind.REMINDER_UNHEARD,
        unheard.pk,
        region.pk,
    )
    assert problem.resolved_at is None and problem.referral_id is None


def test_a_planner_without_an_email_address_is_no_recipient_for_the_reminder(region, unheard):
    user_with_role(Role.PROVIDER_STAFF, unheard.organisation, email="")
    stale_count(unheard)
    with time_machine.travel(NOW, tick=False):
        assert stale_reminders_create() == 0

    assert ContactProblem.objects.filter(kind=ContactProblemKind.REMINDER_UNHEARD, location=unheard).exists()


def test_once_the_location_has_a_planner_the_job_reminds_them_and_closes_the_problem(region, unheard):
    stale_count(unheard)
    with time_machine.travel(NOW, tick=False):
        stale_reminders_create()
    planner = user_with_role(Role.PROVIDER_STAFF, unheard.organisation)
    with time_machine.travel(NOW + timedelta(minutes=10), tick=False):
        assert stale_reminders_create() == 1

    assert StaleCountReminder.objects.get().user == planner
    problem = ContactProblem.objects.get()
    assert problem.resolved_at is not None and problem.resolved_by is None


def test_the_job_also_closes_offer_problems_of_a_location_that_has_a_planner_again(region, unheard):
    problem = ContactProblem.objects.create(region=region, location=unheard, kind=ContactProblemKind.OFFER_UNHEARD)
    with time_machine.travel(NOW, tick=False):
        stale_reminders_create()
    problem.refresh_from_db()
    assert problem.resolved_at is None, "nobody can be reached yet"

    user_with_role(Role.PROVIDER_STAFF, unheard.organisation, email="")  # any planner sees offers
    with time_machine.travel(NOW, tick=False):
        stale_reminders_create()
    problem.refresh_from_db()
    assert problem.resolved_at == NOW and problem.resolved_by is None


def test_a_reachable_stale_location_raises_no_problem(region, heard):
    stale_count(heard)
    with time_machine.travel(NOW, tick=False):
        assert stale_reminders_create() == 1
    assert not ContactProblem.objects.exists()


def test_a_second_run_costs_the_same_queries_for_more_open_problems(region):
    def second_run(count: int) -> int:
        for _ in range(count):
            stale_count(LocationFactory(organisation=ProviderFactory(region=region)))
        with time_machine.travel(NOW, tick=False):
            stale_reminders_create()
            with CaptureQueriesContext(connection) as queries:
                stale_reminders_create()
        return len(queries)

    assert second_run(2) == second_run(4)
    assert ContactProblem.objects.count() == 6


# --- Offer notifications without a planner ------------------------------------------------------------


@pytest.fixture
def referral_searching(region):
    gp = user_with_role(Role.GP, region=region)
    user_with_role(Role.COORDINATOR, region=region, username="desk-1")
    referral, _ = services.referral_submit(by=gp, data=referral_input())
    services.referral_step(referral=referral, target="searching", by=user_with_role(Role.COORDINATOR, region=region))
    referral.refresh_from_db()
    return referral


def coordinators(region):
    return set(User.objects.filter(role=Role.COORDINATOR, organisation__region=region))


def test_an_offer_nobody_hears_is_a_problem_and_the_desk_is_told(region, unheard, referral_searching):
    capacity = CapacityFactory(location=unheard, product=product("elv_hoog"))
    coordinator = next(iter(coordinators(region)))

    offer = services.offer_create(referral=referral_searching, capacity=capacity, by=coordinator)

    problem = ContactProblem.objects.get()
    assert (problem.kind, problem.location_id, problem.offer_id, problem.referral_id) == (
        ContactProblemKind.OFFER_UNHEARD,
        unheard.pk,
        offer.pk,
        referral_searching.pk,
    )
    told = Notification.objects.filter(referral=referral_searching, kind="provider_unreachable")
    assert {notification.user for notification in told} == coordinators(region)
    assert not Notification.objects.filter(kind="offer_received").exists()


def test_telling_the_same_offer_twice_raises_one_problem_and_tells_the_desk_once(region, unheard, referral_searching):
    capacity = CapacityFactory(location=unheard, product=product("elv_hoog"))
    offer = services.offer_create(referral=referral_searching, capacity=capacity, by=next(iter(coordinators(region))))
    notify_offer_received(offer)

    assert ContactProblem.objects.count() == 1
    assert Notification.objects.filter(kind="provider_unreachable").count() == len(coordinators(region))


def test_an_offer_to_a_planner_raises_no_problem(region, heard, referral_searching):
    capacity = CapacityFactory(location=heard, product=product("elv_hoog"))
    services.offer_create(referral=referral_searching, capacity=capacity, by=next(iter(coordinators(region))))

    assert not ContactProblem.objects.exists()
    assert Notification.objects.filter(kind="offer_received").count() == 1


def test_a_cancelled_booking_nobody_hears_is_a_problem_for_the_desk(region, heard, referral_searching):
    capacity = CapacityFactory(location=heard, product=product("elv_hoog"))
    coordinator = next(iter(coordinators(region)))
    offer = services.offer_create(referral=referral_searching, capacity=capacity, by=coordinator)
    planner = User.objects.get(organisation=heard.organisation)
    services.offer_accept(offer=offer, by=planner)
    planner.is_active = False  # the planner left before the patient's plans changed
    planner.save()
    referral_searching.refresh_from_db()

    services.referral_step(referral=referral_searching, target="cancelled", by=coordinator, reason="Blijft thuis")

    problem = ContactProblem.objects.get()
    assert (problem.kind, problem.offer_id) == (ContactProblemKind.CANCELLATION_UNHEARD, offer.pk)
    assert Notification.objects.filter(kind="provider_unreachable").count() == len(coordinators(region))
