"""The cache backend degrades to "no cache" (elvdesk/redis_cache.py): against a private Redis that
is stopped, frozen or refusing writes, every call is a miss or does nothing; after a failure the
backend leaves Redis alone for a pause; it works again once Redis is back."""

import time
from unittest import mock

import pytest
from django.conf import settings

from elvdesk.redis_cache import ResilientRedisCache
from tests.private_redis import private_redis  # noqa: F401 (fixture)


def backend(server, **options) -> ResilientRedisCache:
    return ResilientRedisCache(
        server.url,
        {**settings.REDIS_CACHE, "OPTIONS": {**settings.REDIS_CACHE["OPTIONS"], **options}},
    )


def test_the_application_uses_the_degrading_backend_with_short_timeouts():
    assert settings.REDIS_CACHE["BACKEND"] == "elvdesk.redis_cache.ResilientRedisCache"
    options = settings.REDIS_CACHE["OPTIONS"]
    assert options["socket_connect_timeout"] <= 0.5 and options["socket_timeout"] <= 0.5


def test_with_redis_up_it_is_a_cache(private_redis):  # noqa: F811
    cache = backend(private_redis)
    cache.set("a", {"rows": [1, 2]}, 60)
    assert cache.get("a") == {"rows": [1, 2]}
    assert cache.add("a", 3) is False and cache.add("b", 3) is True
    assert cache.get_many(["a", "b", "c"]) == {"a": {"rows": [1, 2]}, "b": 3}
    assert cache.incr("b") == 4
    assert cache.ping() is True


OPERATIONS = {
    "get": (lambda cache: cache.get("a", "default"), "default"),
    "get_many": (lambda cache: cache.get_many(["a", "b"]), {}),
    "has_key": (lambda cache: cache.has_key("a"), False),
    "set": (lambda cache: cache.set("a", 1), None),
    "add": (lambda cache: cache.add("a", 1), False),
    "set_many": (lambda cache: cache.set_many({"a": 1, "b": 2}), ["a", "b"]),
    "touch": (lambda cache: cache.touch("a"), False),
    "delete": (lambda cache: cache.delete("a"), False),
    "delete_many": (lambda cache: cache.delete_many(["a"]), None),
    "get_or_set": (lambda cache: cache.get_or_set("a", "computed"), "computed"),
}


@pytest.mark.parametrize("operation", OPERATIONS)
def test_with_redis_stopped_every_call_is_a_miss_or_does_nothing(operation, private_redis):  # noqa: F811
    cache = backend(private_redis)
    cache.set("a", 1)
    private_redis.stop()
    call, answer = OPERATIONS[operation]
    assert call(cache) == answer
    assert cache.ping() is False


def test_with_redis_stopped_incr_is_as_for_a_missing_key(private_redis):  # noqa: F811
    cache = backend(private_redis)
    private_redis.stop()
    with pytest.raises(ValueError):
        cache.incr("counter")


def test_after_a_timeout_redis_is_left_alone_for_the_pause(private_redis):  # noqa: F811
    cache = backend(private_redis, CIRCUIT_OPEN_SECONDS=60)
    cache.set("a", 1)
    with private_redis.frozen(at_most=30):
        with mock.patch.object(cache._cache, "get", wraps=cache._cache.get) as redis_get:
            assert cache.get("a") is None  # one timeout
            assert cache.get("a") is None  # no second one: not asked
            cache.set("a", 2)
        assert redis_get.call_count == 1
    assert cache.breaker.is_open


def test_threads_of_a_process_share_what_one_of_them_found_out(private_redis):  # noqa: F811
    # Django makes a backend per thread; two backends on one server stand for two threads.
    first, second = backend(private_redis), backend(private_redis)
    private_redis.stop()
    assert first.get("a") is None
    assert second.breaker is first.breaker and second.breaker.is_open


def test_after_the_pause_it_tries_again_and_works_when_redis_is_back(private_redis):  # noqa: F811
    cache = backend(private_redis, CIRCUIT_OPEN_SECONDS=0.2)
    private_redis.stop()
    assert cache.get("a") is None and cache.breaker.is_open
    private_redis.start()
    while cache.breaker.is_open:  # the pause (0.2 s) runs out
        time.sleep(0.02)
    cache.set("a", 1)
    assert cache.get("a") == 1
    assert not cache.breaker.is_open


def test_a_refusal_is_a_miss_without_a_pause(private_redis):  # noqa: F811
    cache = backend(private_redis)
    cache.set("a", 1)
    cache._cache.get_client(write=True).config_set("maxmemory", 1)  # every write: OOM error
    cache.set("b", 2)
    assert cache.get("b") is None
    assert cache.get("a") == 1  # reads still work: no pause for an answer that is a refusal
    assert not cache.breaker.is_open
