"""The real login flow: password, then the second factor; lockout; idle timeout."""

from datetime import timedelta

import time_machine
from django.test import Client
from django.utils import timezone
from django_otp.oath import totp
from django_otp.plugins.otp_totp.models import TOTPDevice

from accounts.models import Role
from tests.factories import TEST_PASSWORD, user_with_role


def _password_login(client, user, address="10.0.0.1"):
    return client.post(
        "/accounts/login/",
        {"username": user.username, "password": TEST_PASSWORD},
        REMOTE_ADDR=address,
        HTTP_ACCEPT_LANGUAGE="en",
    )


def _code(device) -> str:
    """The phone's current code; forgets the earlier failure's throttle delay (1 s) and last step."""
    TOTPDevice.objects.filter(pk=device.pk).update(last_t=-1, throttling_failure_count=0)
    return f"{totp(device.bin_key):06d}"


def test_first_login_of_a_gp_leads_to_enrolment_and_nothing_else(db):
    user = user_with_role(Role.GP)
    client = Client()
    _password_login(client, user)
    response = client.get("/beds/")
    assert response.status_code == 302 and response["Location"].startswith("/accounts/two-factor/setup/")
    page = client.get("/accounts/two-factor/setup/", HTTP_ACCEPT_LANGUAGE="en")
    assert "<svg" in page.content.decode()
    assert page.context["secret"]


def test_enrolment_needs_a_correct_code_and_shows_recovery_codes_once(db):
    user = user_with_role(Role.GP)
    client = Client()
    _password_login(client, user)
    client.get("/accounts/two-factor/setup/")
    device = TOTPDevice.objects.get(user=user, confirmed=False)
    wrong = client.post("/accounts/two-factor/setup/", {"token": "000000"}, HTTP_ACCEPT_LANGUAGE="en")
    assert "not right" in wrong.content.decode()
    response = client.post("/accounts/two-factor/setup/", {"token": _code(device), "next": "/beds/"}, follow=True)
    codes = response.context["codes"]
    assert len(codes) == 10
    assert client.get("/accounts/two-factor/recovery-codes/").status_code == 302  # shown only once
    assert client.get("/beds/").status_code == 200


def test_a_returning_user_must_give_a_code_before_anything(db):
    user = user_with_role(Role.PROVIDER_STAFF)
    device = TOTPDevice.objects.create(user=user, name="phone", confirmed=True)
    client = Client()
    _password_login(client, user)
    assert client.get("/beds/mine/")["Location"].startswith("/accounts/two-factor/verify/")
    wrong = client.post("/accounts/two-factor/verify/", {"token": "123456"}, HTTP_ACCEPT_LANGUAGE="en")
    assert "not right" in wrong.content.decode()
    client.post("/accounts/two-factor/verify/", {"token": _code(device), "next": "/beds/mine/"})
    assert client.get("/beds/mine/").status_code == 200


def test_a_next_that_is_no_path_leads_home(db):
    """redirect() takes a word for a URL name (it answered 500)."""
    user = user_with_role(Role.PROVIDER_STAFF)
    device = TOTPDevice.objects.create(user=user, name="phone", confirmed=True)
    client = Client()
    _password_login(client, user)

    response = client.post("/accounts/two-factor/verify/", {"token": _code(device), "next": "home"})

    assert response.status_code == 302 and response["Location"] == "/"
    assert client.get("/accounts/two-factor/recovery-codes/?next=0")["Location"] == "/"


def test_a_recovery_code_works_exactly_once(db):
    from accounts.twofactor import recovery_codes_renew

    user = user_with_role(Role.COORDINATOR)
    TOTPDevice.objects.create(user=user, name="phone", confirmed=True)
    code = recovery_codes_renew(user=user)[0]
    first, second = Client(), Client()
    _password_login(first, user)
    first.post("/accounts/two-factor/verify/", {"token": code})
    assert first.get("/referrals/").status_code == 200
    _password_login(second, user)
    second.post("/accounts/two-factor/verify/", {"token": code})
    assert second.get("/referrals/").status_code == 302


def test_an_unverified_session_gets_no_api_and_no_fhir(db):
    user = user_with_role(Role.GP)
    TOTPDevice.objects.create(user=user, name="phone", confirmed=True)
    client = Client()
    _password_login(client, user)
    api = client.get("/api/v1/referrals/")
    assert api.status_code == 403 and api.json()["error"]["code"] == "second_factor_required"
    fhir = client.get("/fhir/r4/Location")
    assert fhir.status_code == 403 and fhir.json()["resourceType"] == "OperationOutcome"


def test_the_analyst_sees_no_patient_data_and_needs_no_second_factor(db):
    user = user_with_role(Role.ANALYST)
    client = Client()
    response = _password_login(client, user)
    assert response.status_code == 302
    assert client.get("/cockpit/kpis/").status_code == 200


def test_five_wrong_passwords_lock_out_that_username_from_that_address_only(db):
    user = user_with_role(Role.GP)
    attacker = Client()
    for _ in range(5):
        attacker.post("/accounts/login/", {"username": user.username, "password": "wrong"}, REMOTE_ADDR="10.6.6.6")
    locked = _password_login(attacker, user, address="10.6.6.6")
    assert locked.status_code in (403, 429)
    assert not attacker.session.get("_auth_user_id")
    # The real user, from the practice's own address, is not locked out by the attacker.
    colleague = Client()
    assert _password_login(colleague, user, address="10.0.0.1").status_code == 302
    assert colleague.session.get("_auth_user_id") == str(user.pk)


def test_the_lockout_ends_after_the_cool_off(db):
    user = user_with_role(Role.GP)
    client = Client()
    for _ in range(5):
        client.post("/accounts/login/", {"username": user.username, "password": "wrong"}, REMOTE_ADDR="10.6.6.6")
    with time_machine.travel(timezone.now() + timedelta(minutes=16)):
        assert _password_login(client, user, address="10.6.6.6").status_code == 302


def test_a_session_ends_after_thirty_idle_minutes(db, client):
    user = user_with_role(Role.GP)
    client.force_login(user)
    assert client.get("/beds/").status_code == 200
    with time_machine.travel(timezone.now() + timedelta(minutes=31)):
        response = client.get("/beds/")
    assert response.status_code == 302 and response["Location"].startswith("/accounts/login/")


def test_activity_keeps_the_session_alive(db, client):
    user = user_with_role(Role.GP)
    client.force_login(user)
    start = timezone.now()
    for minutes in (20, 40, 60):
        with time_machine.travel(start + timedelta(minutes=minutes)):
            assert client.get("/beds/").status_code == 200
