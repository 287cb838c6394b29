"""Settings for `make simulate` (simulate/): the normal settings on a throw-away database.

The simulator drives the real services with a moved clock, so it must never touch a database
that holds anything: it gets a new SQLite file in a new temporary directory per process
(removed by simulate/__main__.py when the run ends), Celery tasks in-process, e-mail kept in
memory and a per-process cache, whatever DATABASE_URL or REDIS_URL say.
"""

import os
import tempfile

os.environ.setdefault("ELVDESK_TESTING", "1")  # the development secret key; no MIGRATE_DATABASE_URL

from elvdesk.settings import *  # noqa: E402,F403

SIMULATE_DIRECTORY = tempfile.mkdtemp(prefix="elvdesk-simulate-")
DATABASES = {
    "default": {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": os.path.join(SIMULATE_DIRECTORY, "simulate.sqlite3"),
        # One process, one connection: no locking between writers to wait for.
        "OPTIONS": {"init_command": "PRAGMA journal_mode=MEMORY; PRAGMA synchronous=OFF;"},
    }
}
MIGRATE_DATABASE = None
REDIS_URL = ""
CELERY_BROKER_URL = "memory://"
CELERY_TASK_ALWAYS_EAGER = True
CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]  # nobody signs in; speed only
LOGGING = {"version": 1, "disable_existing_loggers": False, "root": {"level": "WARNING"}}
