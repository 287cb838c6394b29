"""Invitations (issue 16, point 3): a one-use link that expires, the person sets a password and
enrols the second factor. The e-mail goes through the outbox and survives a broker outage."""

import re
from datetime import timedelta

import pytest
import time_machine
from django.core import mail, signing
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from django_otp.oath import totp
from django_otp.plugins.otp_totp.models import TOTPDevice

from accounts import invitations, services
from accounts.models import Invitation, Role, User
from accounts.tasks import send_invitation_email, send_pending_invitation_emails
from audit.models import AccessLog, ChangeRecord
from beds.reminders import REMINDER_SALT
from tests.factories import ProviderFactory, RegionFactory, user_with_role

pytestmark = pytest.mark.django_db

NEW_PASSWORD = "Paarse-Olifant-Dansend-42"
LINK = re.compile(r"https?://\S+/accounts/invitation/[^/\s]+/")


@pytest.fixture
def region():
    return RegionFactory()


@pytest.fixture
def admin(region):
    return user_with_role(Role.ADMIN, region=region)


@pytest.fixture
def provider(region):
    return ProviderFactory(region=region)


def invite(admin, organisation, *, email="Planner@Example.org", role=Role.PROVIDER_STAFF, language="nl") -> User:
    return services.user_invite(
        by=admin,
        email=email,
        first_name="Petra",
        last_name="Planner",
        role=role,
        organisation=organisation,
        language=language,
    )


def invite_and_mail(admin, organisation, capture, **kwargs) -> User:
    with capture(execute=True):
        return invite(admin, organisation, **kwargs)


def link_in(message) -> str:
    return LINK.search(message.body).group(0)


def path_of(link: str) -> str:
    return "/" + link.split("/", 3)[3]


def english() -> Client:
    return Client(headers={"Accept-Language": "en"})


def accept(client, link, password=NEW_PASSWORD, again=None, **extra):
    return client.post(path_of(link), {"new_password1": password, "new_password2": again or password}, **extra)


# --- The e-mail ---------------------------------------------------------------------------


def test_the_invitation_is_mailed_after_commit_with_a_link_on_the_sites_address(
    admin, provider, settings, django_capture_on_commit_callbacks
):
    settings.SITE_URL = "https://elv.example.nl"
    user = invite_and_mail(admin, provider, django_capture_on_commit_callbacks)
    assert [message.to for message in mail.outbox] == [["Planner@example.org"]]
    link = link_in(mail.outbox[0])
    assert link.startswith("https://elv.example.nl/accounts/invitation/")
    assert link in mail.outbox[0].alternatives[0][0]
    assert "planner@example.org" in mail.outbox[0].body  # the log-in name
    assert Invitation.objects.get(user=user).sent_at is not None


def test_the_invitation_is_written_in_the_invitees_language(admin, provider, django_capture_on_commit_callbacks):
    invite_and_mail(admin, provider, django_capture_on_commit_callbacks, email="nl@example.org", language="nl")
    invite_and_mail(admin, provider, django_capture_on_commit_callbacks, email="en@example.org", language="en")
    dutch, english_mail = mail.outbox
    assert "Beste Petra," in dutch.body and "Planner zorgaanbieder" in dutch.body
    assert "Dear Petra," in english_mail.body and "Provider planner" in english_mail.body
    assert english_mail.subject == "Your account for the ELV bed desk"


def test_an_invitation_survives_a_broker_outage_and_the_sweep_mails_it_once(
    admin, provider, monkeypatch, django_capture_on_commit_callbacks
):
    def broker_down(*args, **kwargs):
        raise ConnectionError("redis down")

    monkeypatch.setattr(send_invitation_email, "delay", broker_down)
    user = invite_and_mail(admin, provider, django_capture_on_commit_callbacks)  # the invite itself succeeds
    assert mail.outbox == []
    invitation = Invitation.objects.get(user=user)
    assert invitation.sent_at is None and invitation.claimed_at is None
    monkeypatch.undo()
    with time_machine.travel(invitation.created_at + timedelta(minutes=2), tick=False):
        assert send_pending_invitation_emails.delay().get() == 1
        assert send_pending_invitation_emails.delay().get() == 0
    assert [message.to for message in mail.outbox] == [[user.email]]


def test_the_sweep_leaves_used_expired_and_fresh_invitations(admin, provider):
    # Not a transactional test: the enqueue after commit never runs, so every row waits unsent.
    fresh = Invitation.objects.get(user=invite(admin, provider, email="fresh@example.org"))
    used = Invitation.objects.get(user=invite(admin, provider, email="used@example.org"))
    Invitation.objects.filter(pk=used.pk).update(used_at=timezone.now())
    assert send_pending_invitation_emails.delay().get() == 0  # younger than a minute: left to the enqueue
    with time_machine.travel(fresh.created_at + timedelta(minutes=2), tick=False):
        assert send_pending_invitation_emails.delay().get() == 1
    with time_machine.travel(fresh.created_at + invitations.INVITATION_VALID_FOR + timedelta(minutes=1)):
        Invitation.objects.update(sent_at=None, claimed_at=None)
        assert send_pending_invitation_emails.delay().get() == 0
    assert [message.to for message in mail.outbox] == [["fresh@example.org"]]


def test_a_replaced_invitation_is_closed_unsent(admin, provider):
    user = invite(admin, provider)
    first = Invitation.objects.get(user=user)
    services.invitation_resend(user=user, by=admin)
    assert send_invitation_email.delay(first.pk).get() is False
    assert Invitation.objects.get(pk=first.pk).sent_at is not None  # closed
    assert mail.outbox == []


def test_the_invitation_sweep_is_scheduled(settings):
    tasks = {entry["task"] for entry in settings.CELERY_BEAT_SCHEDULE.values()}
    assert "accounts.tasks.send_pending_invitation_emails" in tasks


# --- The link -----------------------------------------------------------------------------


def test_opening_the_link_only_shows_the_form(admin, provider, django_capture_on_commit_callbacks):
    user = invite_and_mail(admin, provider, django_capture_on_commit_callbacks)
    response = english().get(path_of(link_in(mail.outbox[0])))
    assert response.status_code == 200
    assert "Choose your password" in response.content.decode()
    user.refresh_from_db()
    assert not user.has_usable_password()
    assert Invitation.objects.get(user=user).used_at is None


def test_accepting_sets_the_password_logs_in_and_leads_to_enrolment(
    admin, provider, django_capture_on_commit_callbacks
):
    user = invite_and_mail(admin, provider, django_capture_on_commit_callbacks)
    client = english()
    response = accept(client, link_in(mail.outbox[0]))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("two_factor_setup"))
    user.refresh_from_db()
    assert user.check_password(NEW_PASSWORD)
    assert Invitation.objects.get(user=user).used_at is not None
    # Signed in, halfway: the second factor first, then the portal.
    assert client.get("/beds/mine/")["Location"].startswith("/accounts/two-factor/setup/")
    client.get(reverse("two_factor_setup"))
    device = TOTPDevice.objects.get(user=user, confirmed=False)
    client.post(reverse("two_factor_setup"), {"token": f"{totp(device.bin_key):06d}", "next": "/beds/mine/"})
    assert client.get("/beds/mine/").status_code == 200
    # And the next time with the password, as everybody.
    fresh = english()
    fresh.post(reverse("login"), {"username": "planner@example.org", "password": NEW_PASSWORD})
    assert fresh.get("/beds/mine/")["Location"].startswith("/accounts/two-factor/verify/")


def test_an_analyst_goes_straight_to_the_portal(admin, region, django_capture_on_commit_callbacks):
    from tests.factories import InsurerOrganisationFactory

    insurer = InsurerOrganisationFactory(region=region)
    invite_and_mail(admin, insurer, django_capture_on_commit_callbacks, role=Role.ANALYST)
    response = accept(english(), link_in(mail.outbox[0]))
    assert response.status_code == 302 and response["Location"] == reverse("home")


def test_accepting_is_in_the_history_and_the_access_log(admin, provider, django_capture_on_commit_callbacks):
    user = invite_and_mail(admin, provider, django_capture_on_commit_callbacks)
    link = link_in(mail.outbox[0])
    accept(english(), link, REMOTE_ADDR="10.1.2.3")
    record = ChangeRecord.objects.get(object_type="user", object_id=user.pk, action="invite_accept")
    assert record.by_id == user.pk
    log = AccessLog.objects.filter(subject_user=user, user_id=user.pk).get()
    assert log.path == "/accounts/invitation/…/"  # the token stays out of the log
    assert log.source_address == "10.1.2.3"


def test_the_link_works_once(admin, provider, django_capture_on_commit_callbacks):
    invite_and_mail(admin, provider, django_capture_on_commit_callbacks)
    link = link_in(mail.outbox[0])
    accept(english(), link)
    again = english().get(path_of(link))
    assert again.status_code == 410
    assert "already been used" in again.content.decode()
    assert accept(english(), link, "Een-Ander-Wachtwoord-77").status_code == 410
    assert User.objects.get(username="planner@example.org").check_password(NEW_PASSWORD)


def test_an_expired_link_is_refused(admin, provider, django_capture_on_commit_callbacks):
    user = invite_and_mail(admin, provider, django_capture_on_commit_callbacks)
    link = link_in(mail.outbox[0])
    with time_machine.travel(timezone.now() + invitations.INVITATION_VALID_FOR + timedelta(minutes=1)):
        response = accept(english(), link)
    assert response.status_code == 410
    assert "expired" in response.content.decode()
    user.refresh_from_db()
    assert not user.has_usable_password()


def test_a_resend_makes_the_earlier_link_stop_working(admin, provider, django_capture_on_commit_callbacks):
    user = invite_and_mail(admin, provider, django_capture_on_commit_callbacks)
    with django_capture_on_commit_callbacks(execute=True):
        services.invitation_resend(user=user, by=admin)
    first, second = (link_in(message) for message in mail.outbox)
    assert first != second
    response = english().get(path_of(first))
    assert response.status_code == 410 and "newer invitation" in response.content.decode()
    assert accept(english(), second).status_code == 302


def test_a_tampered_link_or_one_signed_for_something_else_is_not_valid(admin, provider):
    user = invite(admin, provider)
    invitation = Invitation.objects.get(user=user)
    token = invitations.invitation_token(invitation)
    other_salt = signing.dumps({"i": invitation.pk, "n": invitation.nonce}, salt=REMINDER_SALT)
    wrong_nonce = signing.dumps({"i": invitation.pk, "n": "guessed"}, salt=invitations.INVITATION_SALT)
    for bad in (token[:-2] + "xx", other_salt, wrong_nonce, "nonsense"):
        response = english().get(reverse("invitation_accept", args=[bad]))
        assert response.status_code == 400, bad
        assert "not valid" in response.content.decode()


def test_a_deactivated_users_link_no_longer_works(admin, provider, django_capture_on_commit_callbacks):
    user = invite_and_mail(admin, provider, django_capture_on_commit_callbacks)
    services.user_deactivate(user=user, by=admin)
    assert english().get(path_of(link_in(mail.outbox[0]))).status_code == 400


def test_a_weak_password_is_refused_with_the_validators_message_and_nothing_is_saved(
    admin, provider, django_capture_on_commit_callbacks
):
    user = invite_and_mail(admin, provider, django_capture_on_commit_callbacks)
    response = accept(english(), link_in(mail.outbox[0]), "1234567890")
    assert response.status_code == 400
    page = response.content.decode()
    assert "This password is too common." in page or "entirely numeric" in page
    user.refresh_from_db()
    assert not user.has_usable_password()
    assert Invitation.objects.get(user=user).used_at is None


def test_two_different_passwords_are_refused(admin, provider, django_capture_on_commit_callbacks):
    user = invite_and_mail(admin, provider, django_capture_on_commit_callbacks)
    response = accept(english(), link_in(mail.outbox[0]), NEW_PASSWORD, "Iets-Anders-Helemaal-9")
    assert response.status_code == 400
    assert "not the same" in response.content.decode()
    user.refresh_from_db()
    assert not user.has_usable_password()


@pytest.mark.parametrize("method", ["put", "delete"])
def test_the_link_answers_only_get_and_post(method, admin, provider):
    token = invitations.invitation_token(Invitation.objects.get(user=invite(admin, provider)))
    assert getattr(english(), method)(reverse("invitation_accept", args=[token])).status_code == 405


def test_the_link_works_for_someone_halfway_through_another_login(admin, provider, django_capture_on_commit_callbacks):
    """Paths under /accounts/ are open to a session that has not passed the second factor."""
    invite_and_mail(admin, provider, django_capture_on_commit_callbacks)
    client = english()
    client.post(reverse("login"), {"username": admin.username, "password": "Test-ELV-2026!"})
    assert client.get(path_of(link_in(mail.outbox[0]))).status_code == 200
