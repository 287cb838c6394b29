"""The access log's source address is the client's, behind our proxies too
(accounts/client_ip.py, TRUSTED_PROXY_COUNT), and a forged X-Forwarded-For cannot set it."""

import pytest

from audit.models import AccessLog

PROXY = "10.0.0.2"


@pytest.mark.parametrize(
    ("proxies", "remote", "forwarded", "logged"),
    [
        (0, "198.51.100.7", "6.6.6.6", "198.51.100.7"),
        (1, PROXY, "6.6.6.6, 203.0.113.9", "203.0.113.9"),
    ],
    ids=["no proxy: header ignored", "one proxy: its entry"],
)
def test_the_access_log_records_the_clients_address(
    desk, submitted, client, settings, proxies, remote, forwarded, logged
):
    settings.TRUSTED_PROXY_COUNT = proxies
    client.force_login(desk.coordinator)
    client.get(f"/referrals/{submitted.pk}/", REMOTE_ADDR=remote, HTTP_X_FORWARDED_FOR=forwarded)
    assert AccessLog.objects.get().source_address == logged
