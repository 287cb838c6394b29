"""The account services of Beheer (accounts/services.py): invite, change, deactivate and
reactivate, reset the second factor, lift a lock-out. Every change is in the history and in the
NEN 7513 log; the rules refuse with a clear message and leave nothing half-done."""

import pytest
from axes.models import AccessAttempt
from django.conf import settings
from django.test import Client
from django.urls import reverse
from django.utils import translation
from django_otp.plugins.otp_static.models import StaticDevice
from django_otp.plugins.otp_totp.models import TOTPDevice
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from accounts import invitations, services
from accounts.models import Invitation, Role, User
from accounts.services import ROLE_ORGANISATION_KINDS, UserChangeRefused
from accounts.twofactor import recovery_codes_renew
from audit.models import AccessLog, ChangeRecord
from elvdesk.errors import PermissionDenied
from providers.models import OrganisationKind
from tests.factories import (
    ORGANISATION_FACTORY_BY_KIND,
    TEST_PASSWORD,
    ProviderFactory,
    RegionFactory,
    UserFactory,
    user_with_role,
)

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _english():
    """The services' messages are asserted in English (the Dutch ones are in locale/nl)."""
    with translation.override("en"):
        yield


@pytest.fixture
def region():
    return RegionFactory()


@pytest.fixture
def admin(region):
    return user_with_role(Role.ADMIN, region=region)


@pytest.fixture
def provider(region):
    return ProviderFactory(region=region)


@pytest.fixture
def planner(provider):
    return user_with_role(
        Role.PROVIDER_STAFF, provider, username="p.planner@example.org", email="p.planner@example.org"
    )


def invite(admin, organisation, **overrides) -> User:
    values = {
        "email": "nieuw@example.org",
        "first_name": "Nina",
        "last_name": "Nieuw",
        "role": Role.PROVIDER_STAFF,
        "organisation": organisation,
        "language": "nl",
        **overrides,
    }
    return services.user_invite(by=admin, **values)


def update(user, by, **changes) -> User:
    values = {
        "first_name": user.first_name,
        "last_name": user.last_name,
        "email": user.email,
        "language": user.language,
        "role": user.role,
        "organisation": user.organisation,
        **changes,
    }
    return services.user_update(user=user, by=by, source_address="10.0.0.9", path="/beheer/users/1/", **values)


def history(user, action=None):
    rows = ChangeRecord.objects.filter(object_type="user", object_id=user.pk).order_by("id")
    return rows.filter(action=action) if action else rows


def account_logs(user):
    return AccessLog.objects.filter(subject_user=user).order_by("id")


# --- Invite -------------------------------------------------------------------------------


def test_an_invite_makes_a_user_without_password_and_an_invitation(admin, provider):
    user = services.user_invite(
        by=admin,
        email=" Nina.Nieuw@Example.ORG ",
        first_name="Nina",
        last_name="Nieuw",
        role=Role.PROVIDER_STAFF,
        organisation=provider,
        language="en",
        source_address="10.0.0.7",
        path="/beheer/users/invite/",
    )
    user.refresh_from_db()
    assert user.username == "nina.nieuw@example.org"
    assert user.email == "Nina.Nieuw@example.org"
    assert (user.role, user.organisation, user.language) == (Role.PROVIDER_STAFF, provider, "en")
    assert not user.has_usable_password()
    assert user.is_active and not user.is_staff and not user.is_superuser
    invitation = Invitation.objects.get(user=user)
    assert invitation.created_by == admin
    assert invitation.expires_at - invitation.created_at == invitations.INVITATION_VALID_FOR
    record = history(user).get()
    assert (record.action, record.by, record.region_id) == ("invite", admin, provider.region_id)
    assert record.after["role"] == Role.PROVIDER_STAFF and record.after["organisation"] == provider.name
    log = account_logs(user).get()
    assert (log.action, log.user_id, log.source_address, log.path) == (
        "create",
        admin.pk,
        "10.0.0.7",
        "/beheer/users/invite/",
    )


@pytest.mark.parametrize("taken", ["p.planner@example.org", "P.Planner@EXAMPLE.org"])
def test_an_address_in_use_is_refused_and_nothing_is_saved(taken, admin, provider, planner):
    users_before = User.objects.count()
    with pytest.raises(UserChangeRefused) as refused:
        invite(admin, provider, email=taken)
    assert refused.value.field == "email"
    assert "already in use" in refused.value.message
    assert User.objects.count() == users_before
    assert not Invitation.objects.exists() and not ChangeRecord.objects.exists()


def test_an_address_that_is_someones_log_in_name_is_in_use(admin, provider):
    UserFactory(username="jan@example.org", email="", organisation=provider, role=Role.PROVIDER_STAFF)
    with pytest.raises(UserChangeRefused):
        invite(admin, provider, email="JAN@example.org")


ALL_PAIRS = [(role, kind) for role in Role for kind in OrganisationKind]


@pytest.mark.parametrize(("role", "kind"), ALL_PAIRS)
def test_a_role_fits_only_its_kinds_of_organisation(role, kind, admin, region):
    organisation = ORGANISATION_FACTORY_BY_KIND[kind](region=region)
    if kind in ROLE_ORGANISATION_KINDS[role]:
        assert invite(admin, organisation, role=role).role == role
    else:
        with pytest.raises(UserChangeRefused) as refused:
            invite(admin, organisation, role=role)
        assert refused.value.field == "organisation"
        assert not User.objects.filter(email="nieuw@example.org").exists()


def test_the_fit_is_exactly_the_design():
    assert ROLE_ORGANISATION_KINDS == {
        Role.PROVIDER_STAFF: (OrganisationKind.PROVIDER,),
        Role.GP: (OrganisationKind.GP_PRACTICE,),
        Role.TRANSFER_NURSE: (OrganisationKind.HOSPITAL,),
        Role.COORDINATOR: (OrganisationKind.DESK,),
        Role.ADMIN: (OrganisationKind.DESK,),
        Role.ANALYST: (OrganisationKind.DESK, OrganisationKind.INSURER),
    }


def test_an_organisation_of_another_region_is_refused(admin):
    elsewhere = ProviderFactory(region=RegionFactory())
    with pytest.raises(UserChangeRefused) as refused:
        invite(admin, elsewhere)
    assert refused.value.field == "organisation" and "your own region" in refused.value.message
    assert not User.objects.filter(email="nieuw@example.org").exists()


def test_an_inactive_organisation_gets_no_new_users(admin, provider):
    provider.is_active = False
    provider.save()
    with pytest.raises(UserChangeRefused) as refused:
        invite(admin, provider)
    assert refused.value.field == "organisation"


@pytest.mark.parametrize("role", [Role.COORDINATOR, Role.PROVIDER_STAFF, Role.GP])
def test_only_an_administrator_invites(role, region, provider):
    with pytest.raises(PermissionDenied):
        invite(user_with_role(role, region=region), provider)
    assert not User.objects.filter(email="nieuw@example.org").exists()


# --- Change -------------------------------------------------------------------------------


def test_a_change_is_saved_with_only_the_changed_fields_in_the_history(admin, region, planner):
    other_provider = ProviderFactory(region=region)
    update(planner, admin, last_name="Anders", organisation=other_provider, language="en")
    planner.refresh_from_db()
    assert (planner.last_name, planner.organisation, planner.language) == ("Anders", other_provider, "en")
    record = history(planner, "update").get()
    assert set(record.before) == set(record.after) == {"last_name", "organisation", "language"}
    assert record.after["organisation"] == other_provider.name
    log = account_logs(planner).get()
    assert (log.action, log.source_address) == ("update", "10.0.0.9")


def test_a_change_of_nothing_writes_nothing(admin, planner):
    update(planner, admin)
    assert not history(planner).exists() and not account_logs(planner).exists()


def test_the_log_in_name_follows_the_address_it_was(admin, planner, region):
    update(planner, admin, email="Petra@Nieuw.nl")
    planner.refresh_from_db()
    assert (planner.email, planner.username) == ("Petra@nieuw.nl", "petra@nieuw.nl")
    desk_user = user_with_role(Role.COORDINATOR, region=region, username="beheer2")
    update(desk_user, admin, email="coordinator@example.org")
    desk_user.refresh_from_db()
    assert desk_user.username == "beheer2"


def test_a_new_address_must_be_free(admin, planner, provider):
    user_with_role(Role.PROVIDER_STAFF, provider, email="bezet@example.org")
    with pytest.raises(UserChangeRefused) as refused:
        update(planner, admin, email="Bezet@example.org")
    assert refused.value.field == "email"
    planner.refresh_from_db()
    assert planner.email == "p.planner@example.org"


def test_a_change_keeps_the_role_and_organisation_fitting(admin, planner, region):
    with pytest.raises(UserChangeRefused):
        update(planner, admin, role=Role.GP)
    planner.refresh_from_db()
    assert planner.role == Role.PROVIDER_STAFF and not history(planner).exists()


def test_an_administrator_cannot_demote_themselves(admin):
    with pytest.raises(UserChangeRefused) as refused:
        update(admin, admin, role=Role.COORDINATOR)
    assert refused.value.field == "role" and "your own administrator role" in refused.value.message
    admin.refresh_from_db()
    assert admin.role == Role.ADMIN


def test_a_user_of_another_region_cannot_be_changed(admin):
    stranger = user_with_role(Role.PROVIDER_STAFF, region=RegionFactory())
    with pytest.raises(PermissionDenied):
        update(stranger, admin, last_name="Gewijzigd")
    with pytest.raises(PermissionDenied):
        services.user_deactivate(user=stranger, by=admin)


def test_a_technical_account_is_not_managed_here(admin, provider):
    developer = user_with_role(Role.PROVIDER_STAFF, provider, is_staff=True, is_superuser=True)
    with pytest.raises(PermissionDenied):
        services.user_deactivate(user=developer, by=admin)


def test_a_new_address_for_an_invited_user_makes_the_old_link_stop_working(admin, provider):
    user = invite(admin, provider, email="tikfout@exmaple.org")
    old = Invitation.objects.get(user=user)
    update(user, admin, email="goed@example.org")
    with pytest.raises(invitations.InvitationLinkReplaced):
        invitations.invitation_for_token(invitations.invitation_token(old))
    newest = Invitation.objects.filter(user=user).latest("id")
    assert invitations.invitation_for_token(invitations.invitation_token(newest)).user == user
    assert history(user, "invite_resend").exists()


# --- Resend -------------------------------------------------------------------------------


def test_a_resend_is_only_for_someone_without_a_password(admin, planner):
    with pytest.raises(UserChangeRefused) as refused:
        services.invitation_resend(user=planner, by=admin)
    assert "already set a password" in refused.value.message
    assert not Invitation.objects.exists()


def test_a_resend_to_a_deactivated_user_is_refused(admin, provider):
    user = invite(admin, provider)
    services.user_deactivate(user=user, by=admin)
    with pytest.raises(UserChangeRefused):
        services.invitation_resend(user=user, by=admin)
    assert Invitation.objects.filter(user=user).count() == 1


def test_a_resend_is_in_the_history_and_the_log(admin, provider):
    user = invite(admin, provider)
    services.invitation_resend(user=user, by=admin, source_address="10.0.0.5", path="/x/")
    assert Invitation.objects.filter(user=user).count() == 2
    assert history(user, "invite_resend").get().by == admin
    assert account_logs(user).count() == 2


# --- Deactivate and reactivate ------------------------------------------------------------


def test_deactivating_ends_the_session_and_the_api_tokens_at_once(admin, planner):
    browser = Client()
    browser.force_login(planner)
    assert browser.get(reverse("beds:my_beds")).status_code == 200
    token = Token.objects.create(user=planner)
    api = APIClient(HTTP_AUTHORIZATION=f"Token {token.key}", HTTP_ACCEPT_LANGUAGE="en")
    assert api.get("/api/v1/locations/").status_code == 200

    services.user_deactivate(user=planner, by=admin, source_address="10.0.0.3", path="/p/")

    response = browser.get(reverse("beds:my_beds"))
    assert response.status_code == 302 and response["Location"].startswith(reverse("login"))
    assert api.get("/api/v1/locations/").status_code == 401
    assert not Token.objects.filter(user=planner).exists()
    planner.refresh_from_db()
    assert not planner.is_active
    record = history(planner, "deactivate").get()
    assert (record.before, record.after) == ({"is_active": True}, {"is_active": False})
    assert account_logs(planner).get().source_address == "10.0.0.3"


def test_a_deactivated_user_cannot_log_in(admin, planner):
    services.user_deactivate(user=planner, by=admin)
    client = Client()
    client.post(reverse("login"), {"username": planner.username, "password": TEST_PASSWORD})
    assert "_auth_user_id" not in client.session


def test_an_administrator_cannot_deactivate_themselves(admin):
    with pytest.raises(UserChangeRefused) as refused:
        services.user_deactivate(user=admin, by=admin)
    assert "cannot deactivate yourself" in refused.value.message
    admin.refresh_from_db()
    assert admin.is_active and not history(admin).exists()


def test_deactivating_twice_changes_nothing_the_second_time(admin, planner):
    services.user_deactivate(user=planner, by=admin)
    services.user_deactivate(user=planner, by=admin)
    assert history(planner).count() == 1


def test_a_reactivated_user_logs_in_again(admin, planner):
    services.user_deactivate(user=planner, by=admin)
    services.user_reactivate(user=planner, by=admin)
    planner.refresh_from_db()
    assert planner.is_active
    assert history(planner, "activate").get().after == {"is_active": True}
    client = Client()
    client.post(reverse("login"), {"username": planner.username, "password": TEST_PASSWORD})
    assert client.session["_auth_user_id"] == str(planner.pk)


# --- Second factor ------------------------------------------------------------------------


def test_a_second_factor_reset_removes_the_devices_and_the_session_must_enrol_again(admin, planner):
    browser = Client()
    browser.force_login(planner)  # verified with a confirmed authenticator
    recovery_codes_renew(user=planner)
    assert browser.get(reverse("beds:my_beds")).status_code == 200

    services.user_second_factor_reset(user=planner, by=admin)

    assert not TOTPDevice.objects.filter(user=planner).exists()
    assert not StaticDevice.objects.filter(user=planner).exists()
    response = browser.get(reverse("beds:my_beds"))
    assert response.status_code == 302 and response["Location"].startswith(reverse("two_factor_setup"))
    assert history(planner, "reset_second_factor").get().by == admin
    assert account_logs(planner).exists()


def test_a_second_factor_reset_without_a_second_factor_is_refused(admin, planner):
    with pytest.raises(UserChangeRefused):
        services.user_second_factor_reset(user=planner, by=admin)
    assert not history(planner).exists()


# --- Lock-out -----------------------------------------------------------------------------


def fail_logins(user, times=None, address="10.0.0.1"):
    client = Client()
    for _ in range(times or settings.AXES_FAILURE_LIMIT):
        client.post(reverse("login"), {"username": user.username, "password": "wrong"}, REMOTE_ADDR=address)


def test_lifting_a_lock_out_lets_the_user_log_in_again(admin, planner):
    fail_logins(planner)
    fail_logins(planner, address="10.0.0.2")
    locked = Client()
    locked.post(reverse("login"), {"username": planner.username, "password": TEST_PASSWORD}, REMOTE_ADDR="10.0.0.1")
    assert "_auth_user_id" not in locked.session

    assert services.user_lockout_lift(user=planner, by=admin) == 2

    assert not AccessAttempt.objects.filter(username=planner.username).exists()
    again = Client()
    again.post(reverse("login"), {"username": planner.username, "password": TEST_PASSWORD}, REMOTE_ADDR="10.0.0.1")
    assert again.session["_auth_user_id"] == str(planner.pk)
    assert history(planner, "unlock").get().by == admin


def test_lifting_a_lock_out_of_nobody_is_refused(admin, planner):
    with pytest.raises(UserChangeRefused) as refused:
        services.user_lockout_lift(user=planner, by=admin)
    assert "not locked out" in refused.value.message
