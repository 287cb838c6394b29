"""The e-mail outbox (docs/architecture.md §5.5): how every e-mail of the desk is sent exactly once.

What must be mailed is a row written in the same transaction as what caused it: a
`referrals.Notification`, a `beds.OverviewDelivery`, a `beds.StaleCountReminder`. Each has
`created_at`, `claimed_at` and `sent_at`; the broker message only wakes a worker up.

- A send task claims its row (`outbox_claim`): a conditional UPDATE that one task wins, and that
  can be won again only once the claim's lease (`settings.OUTBOX_CLAIM_LEASE`, longer than a send
  task may run) has run out, i.e. its worker died.
- It marks the row sent only after the SMTP server accepted the message (`outbox_send`); an SMTP
  error gives the claim back and the task retries with backoff.
- The sweeps queue what is unsent and unclaimed or whose claim ran out (`outbox_due`).

So an e-mail is never lost to a dead worker or broker. It is sent twice only if a worker dies in
the moment between the server's acceptance and the UPDATE of `sent_at`.
"""

import logging
from collections.abc import Iterable
from datetime import timedelta

from celery.utils.time import get_exponential_backoff_interval
from django.conf import settings
from django.core.mail import EmailMessage
from django.db import transaction
from django.db.models import Model, Q, QuerySet
from django.utils import timezone

from elvdesk.circuit import CircuitBreaker

logger = logging.getLogger(__name__)

# Every send task: ids in, re-read, safe twice. Retries back off exponentially (with jitter) up to
# 10 minutes, far below the broker's visibility timeout (1 hour), so a retry waiting in a worker
# is never redelivered to another one. (Celery's retry_backoff applies only to autoretry_for.)
SEND_TASK_OPTIONS = {"bind": True, "acks_late": True, "max_retries": 8, "time_limit": 60, "soft_time_limit": 50}
RETRY_BACKOFF_SECONDS = 10
RETRY_BACKOFF_MAX = 600
# The sweeps leave rows younger than this to the enqueue after commit.
SETTLE = timedelta(minutes=1)
SWEEP_BATCH = 500
# After a failed publish this process queues nothing for a while: the rows wait for the sweep,
# and a frozen broker costs one timeout per pause instead of one per e-mail.
WAKE_PAUSE_SECONDS = 5.0

_broker_breakers: dict[str, CircuitBreaker] = {}


def _unclaimed(now) -> Q:
    return Q(claimed_at__isnull=True) | Q(claimed_at__lt=now - settings.OUTBOX_CLAIM_LEASE)


def outbox_claim(*, model: type[Model], pk: int) -> bool:
    """Take the row for sending; False when it is sent or another task's claim still holds."""
    now = timezone.now()
    return bool(model.objects.filter(_unclaimed(now), pk=pk, sent_at__isnull=True).update(claimed_at=now))


def outbox_send(*, task, model: type[Model], pk: int, message: EmailMessage) -> None:
    """Send the claimed row's message; mark it sent once the server accepted it. On an error,
    give the claim back and retry `task` later (raises celery's Retry)."""
    try:
        message.send()
    except Exception as error:  # SMTP trouble (also the soft time limit): try again later
        model.objects.filter(pk=pk, sent_at__isnull=True).update(claimed_at=None)
        countdown = get_exponential_backoff_interval(
            factor=RETRY_BACKOFF_SECONDS, retries=task.request.retries, maximum=RETRY_BACKOFF_MAX, full_jitter=True
        )
        raise task.retry(exc=error, countdown=countdown) from error
    model.objects.filter(pk=pk).update(sent_at=timezone.now())


def outbox_close_unsent(*, model: type[Model], pk: int) -> None:
    """Nothing to send (no address, recipient gone or unsubscribed): close the row."""
    model.objects.filter(pk=pk).update(sent_at=timezone.now())


def outbox_due(*, rows: QuerySet, now=None) -> list[int]:
    """Ids among `rows` that a sweep should queue: unsent, unclaimed or claim run out, and old
    enough that the enqueue after commit had its chance."""
    now = now or timezone.now()
    due = rows.filter(_unclaimed(now), sent_at__isnull=True, created_at__lte=now - SETTLE)
    return list(due.order_by("pk").values_list("pk", flat=True)[:SWEEP_BATCH])


def outbox_wake(*, task, pks: Iterable[int]) -> int:
    """Queue `task(pk)` for each row (in a sweep: a broker error fails the sweep, which runs again)."""
    count = 0
    for pk in pks:
        task.delay(pk)
        count += 1
    return count


def outbox_wake_after_commit(*, task, pks: Iterable[int]) -> None:
    """Queue `task(pk)` for each row once the transaction has committed, never failing the
    user's action: when the broker is down the rows wait for the sweep."""
    pks = list(pks)
    if pks:
        transaction.on_commit(lambda: _wake_now(task, pks), robust=True)


def _wake_now(task, pks: list[int]) -> None:
    if task.app.conf.task_always_eager:  # no broker: each task runs here, on its own
        for pk in pks:
            try:
                task.delay(pk)
            except Exception:
                logger.exception("%s(%s) failed; the sweep tries again", task.name, pk)
        return
    breaker = _broker_breaker(task.app.conf.broker_url)
    for pk in pks:
        if not breaker.allow():
            return
        try:
            task.delay(pk)
        except Exception as error:  # any broker trouble: this and the rest wait for the sweep
            if breaker.failed():
                logger.warning("broker unavailable (%s); e-mails wait in the outbox for the sweep", error)
            return
        if breaker.succeeded():
            logger.warning("broker available again")


def _broker_breaker(broker_url: str) -> CircuitBreaker:
    # One per broker address, per process, shared by its threads (setdefault: one wins a race).
    breaker = _broker_breakers.get(broker_url)
    if breaker is None:
        breaker = _broker_breakers.setdefault(broker_url, CircuitBreaker(open_seconds=WAKE_PAUSE_SECONDS))
    return breaker


def forget_broker_failures() -> None:
    """Start again without knowledge of past broker failures (a test pointing at a new broker)."""
    _broker_breakers.clear()
