"""Settings for ELV bed desk.

Every value that differs between machines comes from the environment, read here and nowhere
else. `.env.example` lists them all. Without any variable the portal runs on the embedded
default: a SQLite file and Celery tasks executed in-process.
"""

import os
from datetime import timedelta
from pathlib import Path

import dj_database_url
from celery.schedules import crontab
from csp.constants import NONCE, NONE, SELF
from django.utils.translation import gettext_lazy as _

BASE_DIR = Path(__file__).resolve().parent.parent


def _env_bool(name: str, default: bool) -> bool:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def _env_list(name: str, default: str) -> list[str]:
    return [item.strip() for item in os.environ.get(name, default).split(",") if item.strip()]


DEBUG = _env_bool("DEBUG", False)
SECRET_KEY = os.environ.get("SECRET_KEY") or (
    # Only the embedded default may run without a secret; production must set one.
    "insecure-dev-only-secret-key-change-me" if DEBUG or os.environ.get("ELVDESK_TESTING") else ""
)
# An empty key does not stop management commands in a checkout (makemigrations, check); the
# processes that serve or run jobs refuse to start without one (elvdesk/secrets.py).

ALLOWED_HOSTS = _env_list("ALLOWED_HOSTS", "127.0.0.1,localhost")
CSRF_TRUSTED_ORIGINS = _env_list("CSRF_TRUSTED_ORIGINS", "")
SITE_URL = os.environ.get("SITE_URL", "http://127.0.0.1:8000").rstrip("/")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django_otp",
    "django_otp.plugins.otp_totp",
    "django_otp.plugins.otp_static",
    "axes",
    "csp",
    "django_htmx",
    "template_partials",
    "rest_framework",
    "rest_framework.authtoken",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "accounts",
    "providers",
    "beds",
    "referrals",
    "audit",
    "interop",
    "cockpit",
    "administration",
]

MIDDLEWARE = [
    # Outermost: every error answer under /fhir/ becomes an OperationOutcome, whoever made it.
    "interop.fhir.middleware.OperationOutcomeMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    # Oversized bodies (413), NUL characters, bad Idempotency-Keys (400): before any view.
    "elvdesk.input_guard.InputGuardMiddleware",
    "accounts.middleware.IdleTimeoutMiddleware",
    "django_otp.middleware.OTPMiddleware",
    "accounts.middleware.TwoFactorRequiredMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "csp.middleware.CSPMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    # Last, as django-axes asks: it turns lockouts raised during login into its response.
    "axes.middleware.AxesMiddleware",
]

# Bad input (README, "Bad input"; elvdesk/input_guard.py): larger request bodies answer 413. The
# largest real body, a bulk capacity PUT of 500 locations with every product, is about 400 kB.
DATA_UPLOAD_MAX_MEMORY_SIZE = 1024 * 1024

ROOT_URLCONF = "elvdesk.urls"
WSGI_APPLICATION = "elvdesk.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "django.template.context_processors.i18n",
                "accounts.context_processors.navigation",
                "elvdesk.context_processors.csp_nonce",
                "elvdesk.context_processors.desk_phone",
            ],
        },
    },
]

DATABASES = {
    "default": dj_database_url.parse(
        os.environ.get("DATABASE_URL") or f"sqlite:///{BASE_DIR / 'db.sqlite3'}",
        conn_max_age=int(os.environ.get("DB_CONN_MAX_AGE", "60")),
        conn_health_checks=True,
    )
}
# The schema owner's URL, for `migrate` and `db_app_role` only (audit/db_roles.py): with it set,
# DATABASE_URL names the application's role, which may only INSERT and SELECT on the access log,
# so the web and worker processes cannot empty it. Unset (make run, tests): one role does all.
MIGRATE_DATABASE = (
    dj_database_url.parse(os.environ["MIGRATE_DATABASE_URL"])
    if os.environ.get("MIGRATE_DATABASE_URL") and not os.environ.get("ELVDESK_TESTING")
    else None
)
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_USER_MODEL = "accounts.User"
AUTHENTICATION_BACKENDS = [
    # First, so a locked-out username/address pair is refused before the password is checked.
    "axes.backends.AxesStandaloneBackend",
    "accounts.backends.ModelBackendWithOrganisation",
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator", "OPTIONS": {"min_length": 10}},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "nl"
LANGUAGES = [("nl", _("Dutch")), ("en", _("English"))]
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = "Europe/Amsterdam"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STATICFILES_DIRS = [BASE_DIR / "static"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": (
            "django.contrib.staticfiles.storage.StaticFilesStorage"
            if DEBUG or os.environ.get("ELVDESK_TESTING")
            else "whitenoise.storage.CompressedManifestStaticFilesStorage"
        )
    },
}

# --- E-mail ---------------------------------------------------------------------------------
EMAIL_BACKEND = os.environ.get("EMAIL_BACKEND", "django.core.mail.backends.console.EmailBackend")
EMAIL_HOST = os.environ.get("EMAIL_HOST", "localhost")
EMAIL_PORT = int(os.environ.get("EMAIL_PORT", "25"))
EMAIL_HOST_USER = os.environ.get("EMAIL_HOST_USER", "")
EMAIL_HOST_PASSWORD = os.environ.get("EMAIL_HOST_PASSWORD", "")
EMAIL_USE_TLS = _env_bool("EMAIL_USE_TLS", False)
DEFAULT_FROM_EMAIL = os.environ.get("DEFAULT_FROM_EMAIL", "ELV bed desk <noreply@elvdesk.localhost>")
# A stalled SMTP server gives up well within a send task's soft time limit (50 s); the claim is
# given back and the task retries (elvdesk/outbox.py).
EMAIL_TIMEOUT = int(os.environ.get("EMAIL_TIMEOUT", "30"))

# --- Celery / Redis -------------------------------------------------------------------------
REDIS_URL = os.environ.get("REDIS_URL", "")
# Without Redis the embedded default runs every task in-process, so `make run` needs no broker.
CELERY_BROKER_URL = REDIS_URL or "memory://"
CELERY_RESULT_BACKEND = None
CELERY_TASK_ALWAYS_EAGER = not REDIS_URL
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_TIMEZONE = TIME_ZONE
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
# Workers log through LOGGING below (with its patient-data scrubbing), not handlers of Celery's own.
CELERY_WORKER_HIJACK_ROOT_LOGGER = False
CELERY_TASK_TIME_LIMIT = 120
CELERY_TASK_SOFT_TIME_LIMIT = 100
# Redis answers in well under a millisecond, so half a second without an answer is an outage:
# a publish to a stopped, frozen (accepts, never answers) or unreachable broker gives up after one
# attempt within that time. max_retries 0: otherwise kombu sleeps 2 s and connects again.
CELERY_BROKER_TRANSPORT_OPTIONS = {
    "visibility_timeout": 3600,
    "socket_connect_timeout": 0.5,
    "socket_timeout": 0.5,
    "max_retries": 0,
}
CELERY_BROKER_CONNECTION_TIMEOUT = 2
# Publishing does not retry: what must be sent waits in an outbox table and a periodic sweep
# queues it again, so a broker outage costs a user's request milliseconds, not seconds.
CELERY_TASK_PUBLISH_RETRY = False
# How long a send task's claim on an outbox row holds (elvdesk/outbox.py): longer than a send
# task may run (time_limit 60 s), so a live claim never runs out under a working worker; a dead
# worker's claim runs out and the sweep sends the e-mail again.
OUTBOX_CLAIM_LEASE = timedelta(minutes=10)
CELERY_BEAT_SCHEDULE = {
    "expire-offers": {"task": "referrals.tasks.expire_offers", "schedule": 60.0},
    "send-pending-notification-emails": {
        "task": "referrals.tasks.send_pending_notification_emails",
        "schedule": 120.0,
    },
    # Background operations (docs/architecture.md §5). Region-specific times (overview_times, thresholds)
    # are data, so these jobs run often and each decides per region what is due (Europe/Amsterdam).
    "propose-freed-beds": {"task": "referrals.tasks.propose_freed_beds", "schedule": 60.0},
    "take-reserved-beds": {"task": "referrals.tasks.take_reserved_beds", "schedule": 300.0},
    "escalations": {"task": "referrals.tasks.update_escalations", "schedule": 60.0},
    "create-due-bed-overviews": {"task": "beds.tasks.create_due_bed_overviews", "schedule": 120.0},
    "send-pending-bed-emails": {"task": "beds.tasks.send_pending_bed_emails", "schedule": 120.0},
    "send-pending-invitation-emails": {"task": "accounts.tasks.send_pending_invitation_emails", "schedule": 120.0},
    "remind-stale-bed-counts": {"task": "beds.tasks.remind_stale_bed_counts", "schedule": 900.0},
    "pseudonymise-closed-referrals": {
        "task": "referrals.tasks.pseudonymise_closed_referrals",
        "schedule": crontab(hour=3, minute=15),
    },
}

# The cache only saves work: while Redis is stopped, frozen or unreachable every call is a miss
# (elvdesk/redis_cache.py), after at most one timeout per process every CIRCUIT_OPEN_SECONDS.
REDIS_CACHE = {
    "BACKEND": "elvdesk.redis_cache.ResilientRedisCache",
    "OPTIONS": {"socket_connect_timeout": 0.25, "socket_timeout": 0.25, "CIRCUIT_OPEN_SECONDS": 5},
}
CACHES = {
    "default": (
        {**REDIS_CACHE, "LOCATION": REDIS_URL}
        if REDIS_URL
        else {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}
    )
}

# --- API ------------------------------------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "accounts.authentication.OrganisationTokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_SCHEMA_CLASS": "elvdesk.api_schema.AutoSchema",
    "EXCEPTION_HANDLER": "elvdesk.api_errors.api_exception_handler",
    # JSON with a nesting limit and without NUL characters (elvdesk/json_parsing.py).
    "DEFAULT_PARSER_CLASSES": [
        "elvdesk.json_parsing.JSONParser",
        "rest_framework.parsers.FormParser",
        "rest_framework.parsers.MultiPartParser",
    ],
    "DEFAULT_PAGINATION_CLASS": "rest_framework.pagination.LimitOffsetPagination",
    "PAGE_SIZE": 100,
}
SPECTACULAR_SETTINGS = {
    "TITLE": "ELV bed desk API",
    "DESCRIPTION": "Regional coordination desk for eerstelijnsverblijf: bed capacity and referrals.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "COMPONENT_SPLIT_REQUEST": True,
    # Swagger UI from the installed sidecar package, never from a CDN.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
}

# --- Security -------------------------------------------------------------------------------
# Login hardening: 5 failures lock out that username *from that address* for 15 minutes, so an
# attacker elsewhere cannot lock a known user out; a successful login resets the counter.
AXES_FAILURE_LIMIT = int(os.environ.get("AXES_FAILURE_LIMIT", "5"))
AXES_COOLOFF_TIME = timedelta(minutes=int(os.environ.get("AXES_COOLOFF_MINUTES", "15")))
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_TEMPLATE = "registration/locked_out.html"
AXES_VERBOSE = False
# How many reverse proxies of ours stand in front (each appends to X-Forwarded-For). 0: the
# header is ignored (anyone could send it). The lock-out and the access log both take the
# client's address from accounts.client_ip.
TRUSTED_PROXY_COUNT = int(os.environ.get("TRUSTED_PROXY_COUNT", "0"))
AXES_CLIENT_IP_CALLABLE = "accounts.client_ip.client_ip"
# Sessions end after 30 idle minutes (accounts.middleware.IdleTimeoutMiddleware) and at the
# latest after 12 hours, and when the browser closes.
SESSION_IDLE_TIMEOUT = int(os.environ.get("SESSION_IDLE_MINUTES", "30")) * 60
SESSION_COOKIE_AGE = 12 * 3600
SESSION_EXPIRE_AT_BROWSER_CLOSE = True
OTP_TOTP_ISSUER = "ELV bed desk"
# Content-Security-Policy: only our own files; scripts need the per-response nonce.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF, NONCE],
        "style-src": [SELF],
        "img-src": [SELF, "data:"],
        "connect-src": [SELF],
        "font-src": [SELF],
        "object-src": [NONE],
        "base-uri": [SELF],
        "form-action": [SELF],
        "frame-ancestors": [NONE],
    }
}
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
CSRF_COOKIE_SAMESITE = "Lax"
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
if not DEBUG and _env_bool("SECURE_COOKIES", True) and not os.environ.get("ELVDESK_TESTING"):
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_SSL_REDIRECT = _env_bool("SECURE_SSL_REDIRECT", True)
    SECURE_HSTS_SECONDS = int(os.environ.get("SECURE_HSTS_SECONDS", "31536000"))
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = True
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    # No BSN, patient field values or quoted database values in any log line (elvdesk/log_scrubbing.py).
    "filters": {"patient_data": {"()": "elvdesk.log_scrubbing.PatientDataFilter"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "filters": ["patient_data"]}},
    "root": {"handlers": ["console"], "level": os.environ.get("LOG_LEVEL", "INFO")},
    # Django's own handlers (console with DEBUG, mail to ADMINS) would see records before the
    # filter: none, so django.* goes through the root handler above.
    "loggers": {"django": {"handlers": [], "level": "INFO", "propagate": True}},
}
# Error reports (mail to ADMINS, the DEBUG page) without patient POST fields, variables or values.
DEFAULT_EXCEPTION_REPORTER_FILTER = "elvdesk.log_scrubbing.PatientSafeExceptionReporterFilter"
DEFAULT_EXCEPTION_REPORTER = "elvdesk.log_scrubbing.PatientSafeExceptionReporter"
