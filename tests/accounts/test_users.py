"""Users belong to one organisation and have one role; login, home and the API token command."""

from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.test import Client
from django.urls import reverse
from django_otp.oath import totp
from django_otp.plugins.otp_totp.models import TOTPDevice
from rest_framework.authtoken.models import Token

from accounts.models import BED_FINDER_ROLES, REFERRER_ROLES, Role, User
from providers.models import OrganisationKind
from tests.factories import TEST_PASSWORD, RegionFactory, UserFactory, user_with_role

pytestmark = pytest.mark.django_db


def english_client(user=None) -> Client:
    client = Client(headers={"Accept-Language": "en"})
    if user is not None:
        client.force_login(user)
    return client


def test_there_are_exactly_the_six_roles_of_the_design():
    assert {role.value for role in Role} == {
        "gp",
        "transfer_nurse",
        "provider_staff",
        "coordinator",
        "admin",
        "analyst",
    }
    assert BED_FINDER_ROLES == {Role.GP, Role.TRANSFER_NURSE, Role.COORDINATOR, Role.ADMIN}
    assert REFERRER_ROLES == {Role.GP, Role.TRANSFER_NURSE}


@pytest.mark.parametrize(
    ("role", "kind"),
    [
        (Role.GP, OrganisationKind.GP_PRACTICE),
        (Role.TRANSFER_NURSE, OrganisationKind.HOSPITAL),
        (Role.PROVIDER_STAFF, OrganisationKind.PROVIDER),
        (Role.COORDINATOR, OrganisationKind.DESK),
        (Role.ADMIN, OrganisationKind.DESK),
        (Role.ANALYST, OrganisationKind.INSURER),
    ],
)
def test_user_with_role_belongs_to_an_organisation_of_the_fitting_kind(role, kind):
    user = user_with_role(role)

    assert user.role == role
    assert user.organisation.kind == kind
    assert user.region == user.organisation.region
    assert user.has_role(role)
    assert not user.has_role(*(r for r in Role if r != role))


def test_user_with_role_in_a_given_region_or_organisation():
    region = RegionFactory()
    in_region = user_with_role(Role.GP, region=region)
    colleague = user_with_role(Role.COORDINATOR, in_region.organisation)

    assert in_region.region == region
    assert colleague.organisation == in_region.organisation


def test_a_technical_superuser_has_no_organisation_and_no_region():
    user = User.objects.create_superuser("root", "root@example.org", TEST_PASSWORD)

    assert user.organisation is None
    assert user.region is None
    assert not user.has_role(Role.ADMIN)


def test_a_user_is_shown_by_full_name_or_else_username():
    assert str(UserFactory.build(username="x", first_name="Anna", last_name="de Vries")) == "Anna de Vries"
    assert str(UserFactory.build(username="anna", first_name="", last_name="")) == "anna"


def test_dutch_is_the_default_language_of_a_user():
    assert user_with_role(Role.GP).language == "nl"


def test_the_login_page_is_served_in_dutch_by_default():
    response = Client().get(reverse("login"))

    assert response.status_code == 200
    assert response.headers["Content-Language"] == "nl"
    assert '<html lang="nl">' in response.content.decode()


@pytest.mark.parametrize(
    ("role", "home"),
    [(Role.PROVIDER_STAFF, "beds:my_beds"), (Role.GP, "beds:overview"), (Role.COORDINATOR, "beds:overview")],
)
def test_logging_in_leads_each_role_to_its_start_page(role, home):
    user = user_with_role(role)
    device = TOTPDevice.objects.create(user=user, name="phone", confirmed=True)
    client = english_client()

    response = client.post(reverse("login"), {"username": user.username, "password": TEST_PASSWORD}, follow=True)
    assert response.redirect_chain[-1][0].startswith(reverse("two_factor_verify"))
    response = client.post(response.redirect_chain[-1][0], {"token": totp(device.bin_key), "next": "/"}, follow=True)

    assert response.redirect_chain[-1][0] == reverse(home)
    assert response.status_code == 200


def test_a_wrong_password_shows_a_message_and_keeps_the_username():
    user = user_with_role(Role.GP, username="huisarts")
    client = english_client()

    response = client.post(reverse("login"), {"username": "huisarts", "password": "wrong"})

    assert response.status_code == 200
    html = response.content.decode()
    assert 'role="alert"' in html
    assert 'value="huisarts"' in html
    assert "_auth_user_id" not in client.session
    user.refresh_from_db()
    assert user.last_login is None


def test_logging_out_ends_the_session_and_returns_to_login():
    client = english_client(user_with_role(Role.GP))

    response = client.post(reverse("logout"))

    assert response.status_code == 302
    assert response.url == reverse("login")
    assert client.get(reverse("beds:overview")).status_code == 302


def test_home_sends_anonymous_visitors_to_login():
    response = english_client().get(reverse("home"))

    assert response.status_code == 302
    assert response.url.startswith(reverse("login"))


def test_bed_finders_see_the_overview_in_the_menu_and_not_my_beds():
    html = english_client(user_with_role(Role.GP)).get(reverse("beds:overview")).content.decode()

    assert f'href="{reverse("beds:overview")}"' in html
    assert f'href="{reverse("beds:my_beds")}"' not in html


# --- issue_api_token -------------------------------------------------------------------------


def _issue(*args) -> str:
    out = StringIO()
    call_command("issue_api_token", *args, stdout=out)
    return out.getvalue().strip()


def test_issue_api_token_prints_the_users_token():
    user = user_with_role(Role.PROVIDER_STAFF, username="planner")

    key = _issue("planner")

    assert key == Token.objects.get(user=user).key
    assert len(key) == 40


def test_issue_api_token_twice_prints_the_same_token():
    user_with_role(Role.PROVIDER_STAFF, username="planner")

    assert _issue("planner") == _issue("planner")


def test_issue_api_token_rotate_replaces_the_old_token():
    user = user_with_role(Role.PROVIDER_STAFF, username="planner")
    old = _issue("planner")

    new = _issue("planner", "--rotate")

    assert new != old
    assert list(Token.objects.filter(user=user).values_list("key", flat=True)) == [new]


def test_issue_api_token_for_an_unknown_or_inactive_user_fails():
    user_with_role(Role.PROVIDER_STAFF, username="gone", is_active=False)

    with pytest.raises(CommandError, match="nobody"):
        _issue("nobody")
    with pytest.raises(CommandError, match="gone"):
        _issue("gone")
    assert not Token.objects.exists()


def test_an_invited_person_logs_in_with_their_e_mail_address_in_any_case(db):
    # Invited users' log-in names are their e-mail addresses in lower case (accounts/services.py).
    user = UserFactory(username="petra.smeets@example.org", role=Role.ANALYST)
    client = english_client()
    response = client.post("/accounts/login/", {"username": " Petra.Smeets@Example.ORG", "password": TEST_PASSWORD})
    assert response.status_code == 302
    assert client.session["_auth_user_id"] == str(user.pk)
