"""Settings for the test suite: the normal settings with test-only conveniences."""

import os

os.environ.setdefault("ELVDESK_TESTING", "1")

from elvdesk.settings import *  # noqa: E402,F403

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]  # speed only
EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}
# Tests never collect static files; WhiteNoise would only warn about the missing directory.
MIDDLEWARE = [m for m in MIDDLEWARE if m != "whitenoise.middleware.WhiteNoiseMiddleware"]  # noqa: F405
