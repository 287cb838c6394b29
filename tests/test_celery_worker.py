"""A real Celery worker against the real Redis (not eager mode): the daily bed overview goes
from the periodic task through the broker to the subscriber's mailbox, a second run sends
nothing, and a notification that could not be queued while Redis was down is delivered by the
sweep once it is back.

Runs only with REDIS_URL (the `redis_url` fixture skips without it, and fails in CI). The worker
runs in a thread of this process (solo pool), so the locmem mail outbox is shared; the test is
transactional so the worker's own database connection sees the committed rows. The suite's tasks
go to the queue `elvdesk-test` (settings_test), so purging it never touches a real worker's queue.

"Done" is never guessed from an empty queue: the tests count the tasks the worker has finished
(Celery's task_postrun signal, sent in this process) and wait for the number they published.
"""

import threading
import time
from collections import Counter
from datetime import timedelta

import pytest
from celery.contrib.testing.worker import start_worker
from celery.signals import task_postrun
from django.core import mail
from django.db.models import F
from django.test import Client
from django.urls import reverse

from accounts.models import Role
from beds.models import BedOverviewSnapshot, OverviewDelivery, OverviewSubscription
from beds.tasks import create_due_bed_overviews, send_overview_email
from providers.models import SelfServiceOffers
from referrals.models import Notification
from referrals.tasks import send_pending_notification_emails
from tests.celery_broker import broker_down, celery_configured
from tests.factories import CapacityFactory, LocationFactory, RegionFactory, product, user_with_role
from tests.referrals.conftest import form_post

pytestmark = [pytest.mark.redis, pytest.mark.django_db(transaction=True)]

WAIT_SECONDS = 30


class FinishedTasks:
    """Counts the tasks the worker has finished, by task name."""

    def __init__(self):
        self._lock = threading.Lock()
        self._counts = Counter()

    def __call__(self, sender=None, **kwargs):
        with self._lock:
            self._counts[sender.name] += 1

    def count(self, task) -> int:
        with self._lock:
            return self._counts[task.name]


@pytest.fixture
def finished_tasks():
    counter = FinishedTasks()
    task_postrun.connect(counter, weak=False)
    yield counter
    task_postrun.disconnect(counter)


@pytest.fixture
def real_worker(redis_url):
    with celery_configured(task_always_eager=False, broker_url=redis_url) as app:
        app.control.purge()  # the suite's own queue only: messages left by an earlier run
        with start_worker(app, pool="solo", perform_ping_check=False, shutdown_timeout=30) as worker:
            yield worker


def wait_for(condition, what: str):
    deadline = time.monotonic() + WAIT_SECONDS
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.05)
    raise AssertionError(f"gave up after {WAIT_SECONDS} s waiting for {what}")


def test_a_real_worker_mails_the_daily_overview_once(real_worker, finished_tasks):
    region = RegionFactory(code="worker-test", name="Werkerregio", overview_times="00:00")
    location = LocationFactory(organisation=user_with_role(Role.PROVIDER_STAFF, region=region).organisation)
    CapacityFactory(location=location, product=product("elv_laag"), total=8, available=5)
    subscriber = user_with_role(Role.COORDINATOR, region=region, language="en")
    OverviewSubscription.objects.create(user=subscriber, region=region)

    create_due_bed_overviews.delay()
    snapshot_sent = OverviewDelivery.objects.filter(snapshot__region=region, sent_at__isnull=False).exists
    # The delivery row is marked sent in the same task that sends the mail, after it: wait for both.
    wait_for(lambda: len(mail.outbox) == 1 and snapshot_sent(), "the overview e-mail, marked sent")
    assert finished_tasks.count(create_due_bed_overviews) == 1

    message = mail.outbox[0]
    assert message.to == [subscriber.email]
    assert message.subject.startswith("Daily bed overview Werkerregio")
    assert message.alternatives[0][1] == "text/html"
    assert message.attachments[0][0].endswith(".csv") and location.name in message.attachments[0][1]
    snapshot = BedOverviewSnapshot.objects.get(region=region)
    assert OverviewDelivery.objects.get(snapshot=snapshot).sent_at is not None

    # A duplicate run of the job (beat firing twice, a redelivered message) sends nothing: both
    # runs have finished (counted, not guessed from an empty queue) and still one e-mail.
    create_due_bed_overviews.delay()
    create_due_bed_overviews.delay()
    delivery = OverviewDelivery.objects.get(snapshot__region=region)
    sends_before = finished_tasks.count(send_overview_email)
    send_overview_email.delay(delivery.pk)  # the e-mail task itself redelivered
    wait_for(
        lambda: (
            finished_tasks.count(create_due_bed_overviews) == 3
            and finished_tasks.count(send_overview_email) == sends_before + 1
        ),
        "the duplicate runs",
    )
    assert len(mail.outbox) == 1
    assert BedOverviewSnapshot.objects.filter(region=region).count() == 1


def test_a_notification_held_back_by_a_redis_outage_is_delivered_by_the_real_worker(redis_url):
    region = RegionFactory(code="outage", self_service_offers=SelfServiceOffers.NEVER)
    gp = user_with_role(Role.GP, region=region)
    coordinator = user_with_role(Role.COORDINATOR, region=region)
    client = Client(headers={"Accept-Language": "en"})
    client.force_login(gp)
    with broker_down():
        response = client.post(reverse("referrals:new"), form_post())
    assert response.status_code == 302
    notification = Notification.objects.get(user=coordinator)
    assert notification.sent_at is None and mail.outbox == []
    # The sweep leaves the last minute to the on-commit enqueue; make the outage a while ago.
    Notification.objects.update(created_at=F("created_at") - timedelta(minutes=2))

    with celery_configured(task_always_eager=False, broker_url=redis_url) as app:
        app.control.purge()
        with start_worker(app, pool="solo", perform_ping_check=False, shutdown_timeout=30):
            send_pending_notification_emails.delay()
            wait_for(lambda: len(mail.outbox) == 1, "the notification e-mail")
    assert mail.outbox[0].to == [coordinator.email]
    notification.refresh_from_db()
    assert notification.sent_at is not None
