"""The client's address behind our TLS proxy (accounts/client_ip.py), for the login lock-out
(django-axes) and the access log (tests/audit/test_source_address.py): X-Forwarded-For counts
only with TRUSTED_PROXY_COUNT set, and then only the entries our own proxies wrote."""

import pytest
from django.test import Client, RequestFactory

from accounts.client_ip import client_ip
from tests.factories import TEST_PASSWORD, user_with_role

PROXY = "10.0.0.2"


def _request(remote: str, forwarded: str | None = None):
    headers = {"REMOTE_ADDR": remote}
    if forwarded is not None:
        headers["HTTP_X_FORWARDED_FOR"] = forwarded
    return RequestFactory().get("/", **headers)


@pytest.mark.parametrize(
    ("proxies", "remote", "forwarded", "expected"),
    [
        (0, "198.51.100.7", "203.0.113.9", "198.51.100.7"),  # no proxy: the header is anyone's
        (1, PROXY, "203.0.113.9", "203.0.113.9"),
        (1, PROXY, "6.6.6.6, 203.0.113.9", "203.0.113.9"),  # the client's own entry is not believed
        (2, PROXY, "6.6.6.6, 203.0.113.9, 10.0.0.1", "203.0.113.9"),
        (1, "198.51.100.7", None, "198.51.100.7"),  # past the proxy: no header
        (2, PROXY, "203.0.113.9", "203.0.113.9"),  # a shorter chain: as far as it goes
        (1, PROXY, "2001:db8::1", "2001:db8::1"),
        (1, PROXY, "not-an-address", PROXY),  # a broken proxy header: the connection's address
    ],
)
def test_the_client_address_is_the_right_most_one_no_proxy_of_ours_wrote(
    settings, proxies, remote, forwarded, expected
):
    settings.TRUSTED_PROXY_COUNT = proxies
    assert client_ip(_request(remote, forwarded)) == expected


def _fail_login(client, user, **headers):
    return client.post("/accounts/login/", {"username": user.username, "password": "wrong"}, **headers)


def _login(client, user, **headers):
    return client.post("/accounts/login/", {"username": user.username, "password": TEST_PASSWORD}, **headers)


def test_behind_the_proxy_a_lockout_from_one_address_does_not_lock_out_another(db, settings):
    settings.TRUSTED_PROXY_COUNT = 1
    user = user_with_role("gp")
    attacker, colleague = Client(), Client()
    for _ in range(5):
        _fail_login(attacker, user, REMOTE_ADDR=PROXY, HTTP_X_FORWARDED_FOR="203.0.113.66")
    assert _login(attacker, user, REMOTE_ADDR=PROXY, HTTP_X_FORWARDED_FOR="203.0.113.66").status_code in (403, 429)
    response = _login(colleague, user, REMOTE_ADDR=PROXY, HTTP_X_FORWARDED_FOR="198.51.100.20")
    assert response.status_code == 302
    assert colleague.session.get("_auth_user_id") == str(user.pk)


def test_without_a_trusted_proxy_a_forged_header_does_not_escape_the_lockout(db, settings):
    settings.TRUSTED_PROXY_COUNT = 0
    user = user_with_role("gp")
    attacker = Client()
    for n in range(5):
        _fail_login(attacker, user, REMOTE_ADDR="203.0.113.66", HTTP_X_FORWARDED_FOR=f"192.0.2.{n}")
    response = _login(attacker, user, REMOTE_ADDR="203.0.113.66", HTTP_X_FORWARDED_FOR="192.0.2.99")
    assert response.status_code in (403, 429)
