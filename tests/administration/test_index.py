"""Beheer's overview (issue 16): organisations per kind, the locations without a planner (with
links to the organisation and to invite a planner), and the open contact problems with a
"Handled" button for the administrator and the desk. Another region's problem is 404."""

import re

import pytest
from django.test import Client
from django.urls import reverse

from accounts.models import Role
from providers.contact_problems import contact_problem_raise
from providers.models import ContactProblem, ContactProblemKind
from tests.clients import client_for
from tests.factories import (
    GpPracticeFactory,
    HospitalFactory,
    LocationFactory,
    ProviderFactory,
    RegionFactory,
    user_with_role,
)

pytestmark = pytest.mark.django_db

INDEX = reverse("beheer:index")


@pytest.fixture
def region():
    return RegionFactory()


@pytest.fixture
def admin(region):
    return user_with_role(Role.ADMIN, region=region)


@pytest.fixture
def coordinator(region, admin):
    return user_with_role(Role.COORDINATOR, admin.organisation)


@pytest.fixture
def unheard(region):
    """A location of a provider without a planner."""
    provider = ProviderFactory(region=region, name="Zorg Zonder Planner")
    return LocationFactory(organisation=provider, name="Huize Stilte", phone_24_7="045 577 6677")


@pytest.fixture
def problem(region, unheard):
    problem, _ = contact_problem_raise(
        region_id=region.pk, location_id=unheard.pk, kind=ContactProblemKind.REMINDER_UNHEARD
    )
    return problem


def resolve_url(problem) -> str:
    return reverse("beheer:contact_problem_resolve", args=[problem.pk])


# --- The overview -----------------------------------------------------------------------------


def test_the_overview_counts_the_organisations_per_kind(region, admin):
    ProviderFactory(region=region)
    ProviderFactory(region=region, is_active=False)
    GpPracticeFactory(region=region)
    HospitalFactory()  # another region

    html = client_for(admin).get(INDEX).content.decode()

    provider_row = html.split('id="kind-provider"', 1)[1].split("</tr>", 1)[0]
    assert "Care provider" in provider_row
    assert re.findall(r'<td class="num">(\d+)</td>', provider_row) == ["1", "1"]  # active, inactive
    assert f"{reverse('beheer:organisations')}?kind=provider" in provider_row
    hospital_row = html.split('id="kind-hospital"', 1)[1].split("</tr>", 1)[0]
    assert re.findall(r'<td class="num">(\d+)</td>', hospital_row) == ["0", "0"]


def test_the_administrator_sees_the_locations_without_a_planner_with_an_invitation_link(admin, unheard):
    html = client_for(admin).get(INDEX).content.decode()

    listed = html.split(f'id="unreachable-location-{unheard.pk}"', 1)[1].split("</li>", 1)[0]
    assert "Huize Stilte" in listed and 'href="tel:+31455776677"' in listed
    assert reverse("beheer:organisation", args=[unheard.organisation_id]) in listed
    assert f"{reverse('beheer:user_invite')}?organisation={unheard.organisation_id}" in listed


def test_the_coordinator_reads_the_list_without_the_invitation_link(coordinator, unheard):
    html = client_for(coordinator).get(INDEX).content.decode()

    assert f'id="unreachable-location-{unheard.pk}"' in html
    assert reverse("beheer:user_invite") not in html


def test_a_location_with_a_planner_is_not_listed(admin, unheard):
    user_with_role(Role.PROVIDER_STAFF, unheard.organisation)

    html = client_for(admin).get(INDEX).content.decode()

    assert f'id="unreachable-location-{unheard.pk}"' not in html
    assert "Every provider location has a planner." in html


def test_open_problems_are_listed_with_a_handled_button(admin, problem):
    html = client_for(admin).get(INDEX).content.decode()

    listed = html.split(f'id="contact-problem-{problem.pk}"', 1)[1].split("</li>", 1)[0]
    assert "Stale-count reminder reached no planner" in listed and "Huize Stilte" in listed
    assert f'action="{resolve_url(problem)}"' in listed and "Handled" in listed


def test_an_offer_problem_is_listed_with_its_kind(region, admin, unheard):
    ContactProblem.objects.create(region=region, location=unheard, kind=ContactProblemKind.OFFER_UNHEARD)

    html = client_for(admin).get(INDEX).content.decode()

    assert "Offer reached no planner" in html


@pytest.mark.parametrize("rows", [2, 6])
def test_the_overview_costs_the_same_queries_for_more_rows(region, admin, rows, django_assert_num_queries):
    for _ in range(rows):
        location = LocationFactory(organisation=ProviderFactory(region=region))
        GpPracticeFactory(region=region)
        contact_problem_raise(region_id=region.pk, location_id=location.pk, kind=ContactProblemKind.REMINDER_UNHEARD)
    client = client_for(admin)

    # Session, user, second factor; organisations per kind, locations without a planner, open problems.
    with django_assert_num_queries(6):
        response = client.get(INDEX)
    assert response.content.decode().count('id="contact-problem-') == rows


@pytest.mark.parametrize("role", [Role.GP, Role.TRANSFER_NURSE, Role.PROVIDER_STAFF, Role.ANALYST])
def test_other_roles_may_not_see_the_overview(region, role):
    assert client_for(user_with_role(role, region=region)).get(INDEX).status_code == 403


# --- "Handled" ------------------------------------------------------------------------------------


@pytest.mark.parametrize("who", ["admin", "coordinator"])
def test_the_administrator_and_the_desk_mark_a_problem_handled(request, problem, who):
    user = request.getfixturevalue(who)

    response = client_for(user).post(resolve_url(problem))

    assert response.status_code == 302 and response["Location"] == INDEX
    problem.refresh_from_db()
    assert problem.resolved_by == user and problem.resolved_at is not None
    assert f'id="contact-problem-{problem.pk}"' not in client_for(user).get(INDEX).content.decode()


def test_handling_it_twice_changes_nothing(admin, coordinator, problem):
    client_for(admin).post(resolve_url(problem))
    response = client_for(coordinator).post(resolve_url(problem), follow=True)

    assert "This was already handled." in response.content.decode()
    problem.refresh_from_db()
    assert problem.resolved_by == admin


def test_a_foreign_next_address_is_ignored(admin, problem):
    response = client_for(admin).post(resolve_url(problem), {"next": "https://evil.example/"})

    assert response["Location"] == INDEX


@pytest.mark.parametrize("next_url", ["0", "board", "beheer:users"])
def test_a_next_that_is_no_path_is_ignored(admin, problem, next_url):
    """redirect() takes a word for a URL name (it answered 500, after marking the problem handled)."""
    response = client_for(admin).post(resolve_url(problem), {"next": next_url})

    assert response.status_code == 302 and response["Location"] == INDEX


@pytest.mark.parametrize("role", [Role.GP, Role.TRANSFER_NURSE, Role.PROVIDER_STAFF, Role.ANALYST])
def test_other_roles_may_not_mark_a_problem_handled(region, problem, role):
    response = client_for(user_with_role(role, region=region)).post(resolve_url(problem))

    assert response.status_code == 403
    problem.refresh_from_db()
    assert problem.resolved_at is None


def test_another_regions_problem_is_not_found(problem):
    stranger = user_with_role(Role.COORDINATOR, region=RegionFactory())

    response = client_for(stranger).post(resolve_url(problem))

    assert response.status_code == 404
    problem.refresh_from_db()
    assert problem.resolved_at is None


def test_handled_answers_only_post(admin, problem):
    assert client_for(admin).get(resolve_url(problem)).status_code == 405


def test_anonymous_users_are_sent_to_the_login_page(problem):
    response = Client().post(resolve_url(problem))

    assert response.status_code == 302 and reverse("login") in response["Location"]
    problem.refresh_from_db()
    assert problem.resolved_at is None
