"""The address a request came from, for the login lock-out (django-axes, AXES_CLIENT_IP_CALLABLE)
and the access log's source address (audit.trail).

Behind TLS proxies every connection comes from the nearest proxy (REMOTE_ADDR); each proxy
appends the address it received the request from to X-Forwarded-For. Only the entries our own
proxies wrote can be trusted: a client can send any X-Forwarded-For it likes, and our proxies
append to it. With `TRUSTED_PROXY_COUNT = n` the client is the n-th address from the right of
[X-Forwarded-For…, REMOTE_ADDR] (the right-most one no trusted proxy of ours is); with 0 (the
default, no proxy) the header is ignored, so it cannot be used to spoof an address.
"""

import ipaddress

from django.conf import settings


def _address(value: str) -> str | None:
    try:
        return str(ipaddress.ip_address(value.strip()))
    except ValueError:
        return None


def client_ip(request) -> str | None:
    remote = request.META.get("REMOTE_ADDR") or None
    proxies = max(0, int(getattr(settings, "TRUSTED_PROXY_COUNT", 0)))
    if not proxies:
        return remote
    forwarded = [item for item in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",") if item.strip()]
    chain = [*forwarded, remote or ""]
    # A shorter chain reached us past the proxies (or with a proxy that adds no header): then the
    # left-most address is as far as anything trustworthy goes.
    candidate = chain[max(0, len(chain) - 1 - proxies)]
    # Our own proxy wrote this entry; if it is not an address the proxy is misconfigured, and the
    # connection's address is the only fact left.
    return _address(candidate) or remote
