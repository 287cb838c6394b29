"""Beheer pages about users (issue 16, point 3): the list of the region with search and filters,
the invitation form, the user's page with its changes, buttons and history. Administrators
change, coordinators read, everybody else is refused; another region's user is 404."""

import re

import pytest
from django.conf import settings
from django.contrib.auth.hashers import UNUSABLE_PASSWORD_PREFIX
from django.core import mail
from django.test import Client
from django.urls import reverse
from django_otp.plugins.otp_totp.models import TOTPDevice
from rest_framework.authtoken.models import Token

from accounts import services
from accounts.models import Invitation, Role, User
from accounts.twofactor import recovery_codes_renew, totp_secret_base32
from audit.models import ChangeRecord
from tests.clients import client_for
from tests.factories import (
    TEST_PASSWORD,
    GpPracticeFactory,
    HospitalFactory,
    ProviderFactory,
    RegionFactory,
    user_with_role,
)

pytestmark = pytest.mark.django_db

USERS = reverse("beheer:users")
INVITE = reverse("beheer:user_invite")
ACTIONS = [
    "user_deactivate",
    "user_reactivate",
    "user_invitation_resend",
    "user_second_factor_reset",
    "user_lockout_lift",
]


@pytest.fixture
def region():
    return RegionFactory()


@pytest.fixture
def admin(region):
    return user_with_role(Role.ADMIN, region=region, first_name="Anna", last_name="Beheer")


@pytest.fixture
def coordinator(region, admin):
    return user_with_role(Role.COORDINATOR, admin.organisation, first_name="Cor", last_name="Dinator")


@pytest.fixture
def provider(region):
    return ProviderFactory(region=region, name="Zorggroep Heuvelland")


@pytest.fixture
def planner(provider):
    return user_with_role(
        Role.PROVIDER_STAFF,
        provider,
        first_name="Petra",
        last_name="Planner",
        username="petra@example.org",
        email="petra@example.org",
    )


@pytest.fixture
def stranger():
    """A user of another region."""
    return user_with_role(Role.PROVIDER_STAFF, region=RegionFactory(), first_name="Stef", last_name="Vreemd")


def detail(user) -> str:
    return reverse("beheer:user_detail", args=[user.pk])


def invite_post(organisation, **overrides) -> dict:
    return {
        "first_name": "Nina",
        "last_name": "Nieuw",
        "email": "nina@example.org",
        "role": Role.PROVIDER_STAFF,
        "organisation": organisation.pk,
        "language": "nl",
        **overrides,
    }


def edit_post(user, **overrides) -> dict:
    return {
        "first_name": user.first_name,
        "last_name": user.last_name,
        "email": user.email,
        "role": user.role,
        "organisation": user.organisation_id,
        "language": user.language,
        **overrides,
    }


def lock_out(user):
    client = Client()
    for _ in range(settings.AXES_FAILURE_LIMIT):
        client.post(reverse("login"), {"username": user.username, "password": "wrong"}, REMOTE_ADDR="10.0.0.1")


# --- Who may --------------------------------------------------------------------------------


@pytest.mark.parametrize("role", [Role.GP, Role.TRANSFER_NURSE, Role.PROVIDER_STAFF, Role.ANALYST])
def test_other_roles_are_refused_every_user_page(role, region, planner):
    client = client_for(user_with_role(role, region=region))
    assert client.get(USERS).status_code == 403
    assert client.get(INVITE).status_code == 403
    assert client.get(detail(planner)).status_code == 403
    assert client.post(INVITE, invite_post(planner.organisation)).status_code == 403
    for action in ACTIONS:
        assert client.post(reverse(f"beheer:{action}", args=[planner.pk])).status_code == 403
    planner.refresh_from_db()
    assert planner.is_active


def test_an_anonymous_visitor_is_sent_to_log_in(planner):
    for url in (USERS, INVITE, detail(planner)):
        response = Client().get(url)
        assert response.status_code == 302 and response["Location"].startswith(reverse("login"))


def test_a_coordinator_reads_but_changes_nothing(coordinator, planner):
    client = client_for(coordinator)
    listing = client.get(USERS)
    assert listing.status_code == 200 and "Invite a user" not in listing.content.decode()
    page = client.get(detail(planner))
    assert page.status_code == 200
    html = page.content.decode()
    assert "Petra Planner" in html and '<form method="post"' not in html.split("<main")[1]
    assert client.get(INVITE).status_code == 403  # a page that only changes something
    assert client.post(INVITE, invite_post(planner.organisation)).status_code == 403
    assert client.post(detail(planner), edit_post(planner, last_name="X")).status_code == 403
    for action in ACTIONS:
        assert client.post(reverse(f"beheer:{action}", args=[planner.pk])).status_code == 403
    planner.refresh_from_db()
    assert planner.last_name == "Planner" and planner.is_active


def test_a_user_of_another_region_is_not_found(admin, stranger):
    client = client_for(admin)
    assert client.get(detail(stranger)).status_code == 404
    assert client.post(detail(stranger), edit_post(stranger, last_name="X")).status_code == 404
    for action in ACTIONS:
        assert client.post(reverse(f"beheer:{action}", args=[stranger.pk])).status_code == 404
    stranger.refresh_from_db()
    assert stranger.is_active and stranger.last_name == "Vreemd"


def test_a_technical_account_is_not_found(admin, provider):
    developer = user_with_role(Role.PROVIDER_STAFF, provider, is_staff=True, is_superuser=True)
    assert client_for(admin).get(detail(developer)).status_code == 404
    assert developer.username not in client_for(admin).get(USERS).content.decode()


@pytest.mark.parametrize("method", ["put", "patch", "delete"])
def test_wrong_methods_are_refused(method, admin, planner):
    client = client_for(admin)
    for url in (USERS, INVITE, detail(planner)):
        assert getattr(client, method)(url).status_code == 405


def test_the_list_is_only_read_and_the_buttons_are_only_posted(admin, planner):
    client = client_for(admin)
    assert client.post(USERS).status_code == 405
    for action in ACTIONS:
        assert client.get(reverse(f"beheer:{action}", args=[planner.pk])).status_code == 405


# --- The list -------------------------------------------------------------------------------


def test_the_list_shows_the_users_of_the_region_only(admin, coordinator, planner, stranger):
    page = client_for(admin).get(USERS)
    assert page.status_code == 200
    html = page.content.decode()
    assert "Petra Planner" in html and "Cor Dinator" in html and "Anna Beheer" in html
    assert "Stef Vreemd" not in html
    assert "Zorggroep Heuvelland" in html and "Provider planner" in html


def names(response) -> list[str]:
    return [user.get_full_name() for user in response.context["page"]]


def test_the_list_searches_names_and_addresses(admin, planner, provider):
    user_with_role(Role.PROVIDER_STAFF, provider, first_name="Karel", last_name="Kok", email="k.kok@zorg.nl")
    client = client_for(admin)
    assert names(client.get(USERS, {"q": "petra plan"})) == ["Petra Planner"]
    assert names(client.get(USERS, {"q": "zorg.nl"})) == ["Karel Kok"]
    assert names(client.get(USERS, {"q": "niemand"})) == []


def test_the_list_filters_by_organisation_and_role(admin, planner, region):
    practice = GpPracticeFactory(region=region)
    user_with_role(Role.GP, practice, first_name="Huib", last_name="Huisarts")
    client = client_for(admin)
    assert names(client.get(USERS, {"organisation": practice.pk})) == ["Huib Huisarts"]
    assert names(client.get(USERS, {"role": Role.PROVIDER_STAFF})) == ["Petra Planner"]


def test_the_list_filters_by_status(admin, planner, provider, region):
    invited = services.user_invite(
        by=admin,
        email="ingo@example.org",
        first_name="Ingo",
        last_name="Uitgenodigd",
        role=Role.PROVIDER_STAFF,
        organisation=provider,
        language="nl",
    )
    gone = user_with_role(Role.PROVIDER_STAFF, provider, first_name="Dirk", last_name="Weg", is_active=False)
    locked = user_with_role(Role.PROVIDER_STAFF, provider, first_name="Lotte", last_name="Slot")
    TOTPDevice.objects.create(user=locked, name="phone", confirmed=True)
    TOTPDevice.objects.create(user=admin, name="phone", confirmed=True)
    lock_out(locked)
    client = client_for(admin)
    assert names(client.get(USERS, {"status": "invited"})) == [invited.get_full_name()]
    assert names(client.get(USERS, {"status": "deactivated"})) == [gone.get_full_name()]
    assert names(client.get(USERS, {"status": "locked_out"})) == ["Lotte Slot"]
    # Petra has a password but never set up her authenticator.
    assert names(client.get(USERS, {"status": "no_second_factor"})) == ["Petra Planner"]
    assert set(names(client.get(USERS, {"status": "active"}))) == {"Anna Beheer", "Petra Planner", "Lotte Slot"}


def test_the_list_shows_each_state(admin, planner, provider):
    services.user_invite(
        by=admin,
        email="ingo@example.org",
        first_name="Ingo",
        last_name="Uitgenodigd",
        role=Role.PROVIDER_STAFF,
        organisation=provider,
        language="nl",
    )
    lock_out(planner)
    html = client_for(admin).get(USERS).content.decode()
    for state in ("Invited", "Active", "Locked out", "No second factor yet"):
        assert state in html, state


def test_a_bad_filter_is_refused_with_a_message(admin, planner):
    response = client_for(admin).get(USERS, {"status": "everything", "organisation": "abc"})
    assert response.status_code == 400
    assert "Select a valid choice" in response.content.decode()


def test_the_list_answers_htmx_with_the_list_only(admin, planner):
    response = client_for(admin).get(USERS, {"q": "petra"}, HTTP_HX_REQUEST="true")
    html = response.content.decode()
    assert response.status_code == 200 and html.lstrip().startswith('<section id="user-list">')
    assert "Petra Planner" in html


def test_the_list_costs_the_same_queries_for_more_users(admin, provider, django_assert_num_queries):
    client = client_for(admin)
    for number in range(2):
        user_with_role(Role.PROVIDER_STAFF, provider, first_name=f"A{number}")
    client.get(USERS)  # warm up (the session's first request stamps its activity)
    # session, user, second factor, the organisations of the filter, the count, the page
    with django_assert_num_queries(6) as small:
        assert len(client.get(USERS).context["page"]) == 3
    for number in range(4):
        user_with_role(Role.PROVIDER_STAFF, ProviderFactory(region=provider.region), first_name=f"B{number}")
    with django_assert_num_queries(len(small.captured_queries)):
        assert len(client.get(USERS).context["page"]) == 7


def test_the_list_pages(admin, provider, monkeypatch):
    monkeypatch.setattr("administration.user_views.USERS_PER_PAGE", 2)
    for number in range(3):
        user_with_role(Role.PROVIDER_STAFF, provider, last_name=f"Z{number}")
    client = client_for(admin)
    first = client.get(USERS, {"role": Role.PROVIDER_STAFF})
    assert "role=provider_staff&amp;page=2" in first.content.decode()
    assert len(client.get(USERS, {"role": Role.PROVIDER_STAFF, "page": 2}).context["page"]) == 1


# --- Invite ---------------------------------------------------------------------------------


def test_an_administrator_invites_a_user(admin, provider, django_capture_on_commit_callbacks):
    client = client_for(admin)
    assert client.get(INVITE).status_code == 200
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(INVITE, invite_post(provider))
    user = User.objects.get(username="nina@example.org")
    assert response.status_code == 302 and response["Location"] == detail(user)
    assert (user.role, user.organisation) == (Role.PROVIDER_STAFF, provider)
    assert [message.to for message in mail.outbox] == [["nina@example.org"]]
    page = client.get(detail(user)).content.decode()
    assert "An invitation is on its way to nina@example.org." in page
    assert "Invited" in page and "E-mailed" in page


def test_the_invite_form_preselects_the_organisation_of_the_link(admin, provider, region, stranger):
    client = client_for(admin)
    form = client.get(INVITE, {"organisation": provider.pk}).context["form"]
    assert form.initial["organisation"] == provider and form.initial["role"] == Role.PROVIDER_STAFF
    hospital = HospitalFactory(region=region)
    assert client.get(INVITE, {"organisation": hospital.pk}).context["form"].initial["role"] == Role.TRANSFER_NURSE
    # Another region's organisation, or nonsense, is simply not preselected.
    assert "organisation" not in client.get(INVITE, {"organisation": stranger.organisation_id}).context["form"].initial
    assert "organisation" not in client.get(INVITE, {"organisation": "x"}).context["form"].initial


def test_an_organisation_number_that_is_no_number_is_not_preselected(admin, provider):
    """ "²" is a digit to str.isdigit() but no number to the database (it answered 500)."""
    response = client_for(admin).get(INVITE, {"organisation": "²"})

    assert response.status_code == 200 and "organisation" not in response.context["form"].initial


# An address of 150 characters whose log-in name (lowercased) is longer: "İ" becomes "i̇".
LONGER_IN_LOWERCASE = "İ" * 138 + "@example.org"


@pytest.mark.parametrize(
    ("overrides", "field", "message"),
    [
        ({"email": "geen-adres"}, "email", "Enter a valid email address."),
        ({"email": LONGER_IN_LOWERCASE}, "email", "too long to log in with"),
        ({"first_name": ""}, "first_name", "This field is required."),
        ({"role": "superuser"}, "role", "Select a valid choice."),
        ({"role": Role.GP}, "organisation", "does not fit this organisation"),
        ({"email": "petra@example.org"}, "email", "already in use"),
    ],
)
def test_bad_input_on_the_invite_form_is_refused_and_kept(overrides, field, message, admin, provider, planner):
    users_before = User.objects.count()
    response = client_for(admin).post(INVITE, invite_post(provider, **overrides))
    assert response.status_code == 400
    form = response.context["form"]
    assert any(message in error for error in form.errors[field]), form.errors
    html = response.content.decode()
    assert 'value="Nieuw"' in html  # the input is kept
    assert User.objects.count() == users_before and not Invitation.objects.exists()


def test_the_invite_form_offers_only_the_regions_active_organisations(admin, provider, stranger, region):
    closed = ProviderFactory(region=region, is_active=False, name="Gesloten Zorg")
    html = client_for(admin).get(INVITE).content.decode()
    assert "Zorggroep Heuvelland" in html
    assert stranger.organisation.name not in html and "Gesloten Zorg" not in html
    response = client_for(admin).post(INVITE, invite_post(closed))
    assert response.status_code == 400 and not User.objects.filter(username="nina@example.org").exists()


def test_the_invite_form_is_shown_in_dutch(admin):
    html = client_for(admin, "nl").get(INVITE).content.decode()
    assert "Planner zorgaanbieder" in html


# --- The user's page ------------------------------------------------------------------------


def test_the_users_page_shows_the_account_and_its_history(admin, planner, region):
    services.user_update(
        user=planner,
        by=admin,
        first_name="Petra",
        last_name="Planner-Jansen",
        email=planner.email,
        language="nl",
        role=planner.role,
        organisation=planner.organisation,
    )
    response = client_for(admin).get(detail(planner))
    assert response.status_code == 200
    html = response.content.decode()
    assert "petra@example.org" in html and "Zorggroep Heuvelland" in html
    assert "Planner-Jansen" in html and "History" in html
    assert [change.action for change in response.context["changes"]] == ["update"]


def test_an_administrator_changes_a_user(admin, planner, region):
    other = ProviderFactory(region=region, name="Zorggroep Maasland")
    response = client_for(admin).post(detail(planner), edit_post(planner, organisation=other.pk, language="en"))
    assert response.status_code == 302 and response["Location"] == detail(planner)
    planner.refresh_from_db()
    assert planner.organisation == other and planner.language == "en"
    assert ChangeRecord.objects.filter(object_type="user", object_id=planner.pk, action="update").exists()


@pytest.mark.parametrize(
    ("overrides", "field", "message"),
    [
        ({"email": ""}, "email", "This field is required."),
        ({"email": LONGER_IN_LOWERCASE}, "email", "too long to log in with"),
        ({"role": Role.COORDINATOR}, "organisation", "does not fit this organisation"),
        ({"language": "de"}, "language", "Select a valid choice."),
    ],
)
def test_bad_input_on_the_change_form_is_refused_and_kept(overrides, field, message, admin, planner):
    response = client_for(admin).post(detail(planner), edit_post(planner, last_name="Veranderd", **overrides))
    assert response.status_code == 400
    assert any(message in error for error in response.context["form"].errors[field])
    assert 'value="Veranderd"' in response.content.decode()
    planner.refresh_from_db()
    assert planner.last_name == "Planner"


def test_an_administrator_cannot_demote_themselves_on_the_page(admin):
    response = client_for(admin).post(detail(admin), edit_post(admin, role=Role.COORDINATOR))
    assert response.status_code == 400
    assert "your own administrator role" in response.content.decode()
    admin.refresh_from_db()
    assert admin.role == Role.ADMIN


# --- The buttons ----------------------------------------------------------------------------


def test_deactivate_and_reactivate(admin, planner):
    Token.objects.create(user=planner)
    client = client_for(admin)
    response = client.post(reverse("beheer:user_deactivate", args=[planner.pk]))
    assert response.status_code == 302 and response["Location"] == detail(planner)
    planner.refresh_from_db()
    assert not planner.is_active and not Token.objects.filter(user=planner).exists()
    page = client.get(detail(planner)).content.decode()
    assert "is deactivated" in page and "Reactivate" in page
    client.post(reverse("beheer:user_reactivate", args=[planner.pk]))
    planner.refresh_from_db()
    assert planner.is_active


def test_an_administrator_cannot_deactivate_themselves_on_the_page(admin):
    client = client_for(admin)
    assert "Deactivate</button>" not in client.get(detail(admin)).content.decode()
    response = client.post(reverse("beheer:user_deactivate", args=[admin.pk]))
    assert response.status_code == 400
    assert "cannot deactivate yourself" in response.content.decode()
    admin.refresh_from_db()
    assert admin.is_active


def test_resend_an_invitation(admin, provider, django_capture_on_commit_callbacks):
    user = services.user_invite(
        by=admin,
        email="ingo@example.org",
        first_name="Ingo",
        last_name="Uitgenodigd",
        role=Role.PROVIDER_STAFF,
        organisation=provider,
        language="nl",
    )
    client = client_for(admin)
    assert "Send the invitation again" in client.get(detail(user)).content.decode()
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(reverse("beheer:user_invitation_resend", args=[user.pk]))
    assert response.status_code == 302
    assert Invitation.objects.filter(user=user).count() == 2
    assert [message.to for message in mail.outbox] == [["ingo@example.org"]]


def test_a_resend_for_someone_with_a_password_is_refused_on_the_page(admin, planner):
    response = client_for(admin).post(reverse("beheer:user_invitation_resend", args=[planner.pk]))
    assert response.status_code == 400 and "already set a password" in response.content.decode()


def test_reset_the_second_factor(admin, planner):
    TOTPDevice.objects.create(user=planner, name="phone", confirmed=True)
    client = client_for(admin)
    assert "Reset the second factor" in client.get(detail(planner)).content.decode()
    assert client.post(reverse("beheer:user_second_factor_reset", args=[planner.pk])).status_code == 302
    assert not TOTPDevice.objects.filter(user=planner).exists()


def test_lift_a_lock_out(admin, planner):
    lock_out(planner)
    client = client_for(admin)
    page = client.get(detail(planner)).content.decode()
    assert "Locked out after too many failed attempts" in page and "Lift the lock-out" in page
    assert client.post(reverse("beheer:user_lockout_lift", args=[planner.pk])).status_code == 302
    assert "Not locked out" in client.get(detail(planner)).content.decode()
    login = Client()
    login.post(reverse("login"), {"username": planner.username, "password": TEST_PASSWORD}, REMOTE_ADDR="10.0.0.1")
    assert login.session["_auth_user_id"] == str(planner.pk)


# --- Never a secret -------------------------------------------------------------------------


def test_no_page_shows_a_password_totp_secret_or_recovery_code(admin, planner, provider):
    device = TOTPDevice.objects.create(user=planner, name="phone", confirmed=True)
    codes = recovery_codes_renew(user=planner)
    invited = services.user_invite(
        by=admin,
        email="ingo@example.org",
        first_name="Ingo",
        last_name="Uitgenodigd",
        role=Role.PROVIDER_STAFF,
        organisation=provider,
        language="nl",
    )
    planner.refresh_from_db()
    invited.refresh_from_db()
    secrets = [
        planner.password,
        planner.password.split("$")[-1],
        TEST_PASSWORD,
        device.key,
        totp_secret_base32(device),
        *codes,
        invited.password,
        invited.password.removeprefix(UNUSABLE_PASSWORD_PREFIX),
        Invitation.objects.get(user=invited).nonce,
    ]
    client = client_for(admin)
    pages = [
        client.get(USERS).content.decode(),
        client.get(detail(planner)).content.decode(),
        client.get(detail(invited)).content.decode(),
        client.get(INVITE).content.decode(),
    ]
    for html in pages:
        for secret in secrets:
            assert secret not in html
        assert not re.search(r"/accounts/invitation/[^/\"<\s]+/", html)  # nor an invitation link
