"""Pointing the project's Celery app at another broker inside a test, and back.

The app caches its connection and producer pools; after changing `broker_url` they must be
dropped, or publishing keeps using the old broker. So is what this process learnt about broker
failures (elvdesk/outbox.py pauses publishing after one), or one test's outage would hold back
the next test's e-mails."""

from contextlib import contextmanager

from kombu import pools

from elvdesk.celery import app
from elvdesk.outbox import forget_broker_failures

CLOSED_PORT_BROKER = "redis://127.0.0.1:1/0"  # nothing listens there: "Redis is down"
SETTINGS = (
    "broker_url",
    "task_always_eager",
    "broker_connection_timeout",
    "task_publish_retry",
    "broker_transport_options",
)


def reset_connections() -> None:
    pools.reset()
    app._pool = None
    amqp = app.__dict__.get("amqp")
    if amqp is not None:
        amqp._producer_pool = None
    forget_broker_failures()


@contextmanager
def celery_configured(**values):
    """Celery app settings for the duration of the block (always restored)."""
    saved = {name: app.conf[name] for name in {*SETTINGS, *values}}
    app.conf.update(**values)
    reset_connections()
    try:
        yield app
    finally:
        app.conf.update(**saved)
        reset_connections()


def broker_down():
    """Not eager, broker on a closed port; publishing as configured in settings (no Celery
    retries, CELERY_TASK_PUBLISH_RETRY), so tests see what production does."""
    return celery_configured(
        task_always_eager=False,
        broker_url=CLOSED_PORT_BROKER,
        broker_connection_timeout=0.5,
    )
