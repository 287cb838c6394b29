"""The Redis cache backend that degrades to "no cache" when Redis is stopped, frozen or unreachable.

Everything the desk caches can be computed again (docs/architecture.md §4), so a Redis outage
must cost speed, not pages: a failing call is a miss (`get` returns the default) or does nothing
(`set`, `delete`, ...). Give it short `socket_connect_timeout`/`socket_timeout` OPTIONS: a frozen
Redis accepts connections but never answers. After a connection error or timeout the backend
skips Redis for `CIRCUIT_OPEN_SECONDS` (elvdesk/circuit.py), so a process waits out at most one
timeout per period instead of one per call.
"""

import logging
import threading

import redis
from django.core.cache.backends.base import DEFAULT_TIMEOUT
from django.core.cache.backends.redis import RedisCache

from elvdesk.circuit import CircuitBreaker

logger = logging.getLogger(__name__)

DEFAULT_CIRCUIT_OPEN_SECONDS = 5.0

# Django makes a backend object per thread; the breaker is per process and server, so the
# threads of a process share what one of them found out.
_breakers: dict[tuple, CircuitBreaker] = {}
_breakers_lock = threading.Lock()


def _breaker_for(servers: list[str], open_seconds: float) -> CircuitBreaker:
    key = (tuple(servers), open_seconds)
    with _breakers_lock:
        if key not in _breakers:
            _breakers[key] = CircuitBreaker(open_seconds=open_seconds)
        return _breakers[key]


class ResilientRedisCache(RedisCache):
    def __init__(self, server, params):
        options = dict(params.get("OPTIONS", {}))
        open_seconds = float(options.pop("CIRCUIT_OPEN_SECONDS", DEFAULT_CIRCUIT_OPEN_SECONDS))
        super().__init__(server, {**params, "OPTIONS": options})
        self.breaker = _breaker_for(self._servers, open_seconds)

    def _call(self, operation: str, fallback, call):
        if not self.breaker.allow():
            return fallback
        try:
            result = call()
        except (redis.ConnectionError, redis.TimeoutError) as error:
            if self.breaker.failed():
                logger.warning(
                    "cache unavailable (%s: %s); serving without cache, next try in %s s",
                    operation,
                    error,
                    self.breaker.open_seconds,
                )
            return fallback
        except redis.RedisError as error:  # Redis answered but refused (out of memory, read-only)
            logger.warning("cache %s refused: %s", operation, error)
            return fallback
        if self.breaker.succeeded():
            logger.warning("cache available again")
        return result

    def get(self, key, default=None, version=None):
        return self._call("get", default, lambda: super(ResilientRedisCache, self).get(key, default, version))

    def get_many(self, keys, version=None):
        return self._call("get_many", {}, lambda: super(ResilientRedisCache, self).get_many(keys, version))

    def has_key(self, key, version=None):
        return self._call("has_key", False, lambda: super(ResilientRedisCache, self).has_key(key, version))

    def set(self, key, value, timeout=DEFAULT_TIMEOUT, version=None):
        self._call("set", None, lambda: super(ResilientRedisCache, self).set(key, value, timeout, version))

    def add(self, key, value, timeout=DEFAULT_TIMEOUT, version=None):
        return self._call("add", False, lambda: super(ResilientRedisCache, self).add(key, value, timeout, version))

    def set_many(self, data, timeout=DEFAULT_TIMEOUT, version=None):
        # The keys that were not stored: all of them.
        return self._call(
            "set_many", list(data), lambda: super(ResilientRedisCache, self).set_many(data, timeout, version)
        )

    def touch(self, key, timeout=DEFAULT_TIMEOUT, version=None):
        return self._call("touch", False, lambda: super(ResilientRedisCache, self).touch(key, timeout, version))

    def delete(self, key, version=None):
        return self._call("delete", False, lambda: super(ResilientRedisCache, self).delete(key, version))

    def delete_many(self, keys, version=None):
        self._call("delete_many", None, lambda: super(ResilientRedisCache, self).delete_many(keys, version))

    def incr(self, key, delta=1, version=None):
        missing = object()
        result = self._call("incr", missing, lambda: super(ResilientRedisCache, self).incr(key, delta, version))
        if result is missing:  # as for a key that is not there
            raise ValueError(f"Key '{key}' not found.")
        return result

    def clear(self):
        return self._call("clear", False, lambda: super(ResilientRedisCache, self).clear())

    def ping(self) -> bool:
        """Does Redis answer now? For /healthz: asks even while the breaker skips calls."""
        try:
            return bool(self._cache.get_client(write=True).ping())
        except redis.RedisError:
            return False
