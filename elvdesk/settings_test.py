"""Settings for the test suite: the normal settings with test-only conveniences.

One configuration, whatever the environment says: Celery runs tasks in-process and the cache is
this process's memory, with or without REDIS_URL, so a run on a laptop and a run in CI take the
same code paths. A test that needs the real broker or cache asks for it with the fixtures in
tests/conftest.py (`redis_url`, `real_cache`), which use TEST_REDIS_URL and never flush a Redis
database: the cache keys carry a per-test prefix and the worker tests use their own queue.
"""

import os

os.environ.setdefault("ELVDESK_TESTING", "1")

from elvdesk.settings import *  # noqa: E402,F403

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]  # speed only
EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}
# Tests never collect static files; WhiteNoise would only warn about the missing directory.
MIDDLEWARE = [m for m in MIDDLEWARE if m != "whitenoise.middleware.WhiteNoiseMiddleware"]  # noqa: F405

# The Redis the fixtures may use; the application itself sees none (/healthz reports broker and
# cache as in-process unless a test points them at one: tests/private_redis.py, `real_cache`).
TEST_REDIS_URL = REDIS_URL  # noqa: F405
REDIS_URL = ""
CELERY_BROKER_URL = "memory://"
CELERY_TASK_ALWAYS_EAGER = True
# The queue the real-worker tests publish to and purge: never the `celery` queue of a worker
# that may be running against the same Redis.
CELERY_TASK_DEFAULT_QUEUE = "elvdesk-test"
CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
