"""The Celery application. Configuration lives in settings (CELERY_* names)."""

import os

from celery import Celery
from celery.signals import beat_init, worker_init

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "elvdesk.settings")

app = Celery("elvdesk")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@worker_init.connect
@beat_init.connect
def refuse_to_run_without_a_secret_key(**kwargs):
    """A worker or beat without SECRET_KEY stops (signal handlers' exceptions are only logged,
    so this exits)."""
    from django.core.exceptions import ImproperlyConfigured

    from elvdesk.secrets import require_secret_key

    try:
        require_secret_key()
    except ImproperlyConfigured as error:
        raise SystemExit(str(error)) from error
