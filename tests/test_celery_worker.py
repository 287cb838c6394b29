"""A real Celery worker against the real Redis (not eager mode): the daily bed overview goes
from the periodic task through the broker to the subscriber's mailbox, a second run sends
nothing, and a notification that could not be queued while Redis was down is delivered by the
sweep once it is back.

Runs only with REDIS_URL (CI sets it, and tests/conftest.py fails a CI session without Redis).
The worker runs in a thread of this process (solo pool), so the locmem mail outbox is shared;
the test is transactional so the worker's own database connection sees the committed rows.
"""

import time
from datetime import timedelta

import pytest
import redis
from celery.contrib.testing.worker import start_worker
from celery.worker import state as worker_state
from django.conf import settings
from django.core import mail
from django.db.models import F
from django.test import Client
from django.urls import reverse

from accounts.models import Role
from beds.models import BedOverviewSnapshot, OverviewDelivery, OverviewSubscription
from beds.tasks import create_due_bed_overviews
from providers.models import SelfServiceOffers
from referrals.models import Notification
from referrals.tasks import send_pending_notification_emails
from tests.celery_broker import broker_down, celery_configured
from tests.factories import CapacityFactory, LocationFactory, RegionFactory, product, user_with_role
from tests.referrals.conftest import form_post

pytestmark = [pytest.mark.redis, pytest.mark.django_db(transaction=True, serialized_rollback=True)]

WAIT_SECONDS = 30


@pytest.fixture
def real_worker():
    if not settings.REDIS_URL:
        pytest.skip("needs a real Redis broker: set REDIS_URL=redis://127.0.0.1:6379/<n> (CI sets it)")
    with celery_configured(task_always_eager=False, broker_url=settings.REDIS_URL) as app:
        app.control.purge()  # messages left by earlier runs must not reach this worker
        with start_worker(app, pool="solo", perform_ping_check=False, shutdown_timeout=30) as worker:
            yield worker


def wait_for(condition, what: str):
    deadline = time.monotonic() + WAIT_SECONDS
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.1)
    raise AssertionError(f"gave up after {WAIT_SECONDS} s waiting for {what}")


def wait_until_idle():
    """The queue in Redis is empty and the worker runs nothing (checked twice, 0.5 s apart)."""
    client = redis.Redis.from_url(settings.REDIS_URL)

    def idle():
        return client.llen("celery") == 0 and not worker_state.active_requests and not worker_state.reserved_requests

    for _ in range(2):
        wait_for(idle, "an idle worker")
        time.sleep(0.5)


def test_a_real_worker_mails_the_daily_overview_once(real_worker):
    region = RegionFactory(code="worker-test", name="Werkerregio", overview_times="00:00")
    location = LocationFactory(organisation=user_with_role(Role.PROVIDER_STAFF, region=region).organisation)
    CapacityFactory(location=location, product=product("elv_laag"), total=8, available=5)
    subscriber = user_with_role(Role.COORDINATOR, region=region, language="en")
    OverviewSubscription.objects.create(user=subscriber, region=region)

    create_due_bed_overviews.delay()
    wait_for(lambda: len(mail.outbox) == 1, "the overview e-mail")

    message = mail.outbox[0]
    assert message.to == [subscriber.email]
    assert message.subject.startswith("Daily bed overview Werkerregio")
    assert message.alternatives[0][1] == "text/html"
    assert message.attachments[0][0].endswith(".csv") and location.name in message.attachments[0][1]
    snapshot = BedOverviewSnapshot.objects.get(region=region)
    assert OverviewDelivery.objects.get(snapshot=snapshot).sent_at is not None

    # A duplicate run of the job (beat firing twice, a redelivered message) sends nothing.
    create_due_bed_overviews.delay()
    create_due_bed_overviews.delay()
    wait_until_idle()
    assert len(mail.outbox) == 1
    assert BedOverviewSnapshot.objects.filter(region=region).count() == 1


def test_a_notification_held_back_by_a_redis_outage_is_delivered_by_the_real_worker():
    if not settings.REDIS_URL:
        pytest.skip("needs a real Redis broker: set REDIS_URL=redis://127.0.0.1:6379/<n> (CI sets it)")
    region = RegionFactory(code="outage", self_service_offers=SelfServiceOffers.NEVER)
    gp = user_with_role(Role.GP, region=region)
    coordinator = user_with_role(Role.COORDINATOR, region=region)
    client = Client(headers={"Accept-Language": "en"})
    client.force_login(gp)
    with broker_down():
        response = client.post(reverse("referrals:new"), form_post())
    assert response.status_code == 302
    notification = Notification.objects.get(user=coordinator)
    assert notification.emailed_at is None and mail.outbox == []
    # The sweep leaves the last minute to the on-commit enqueue; make the outage a while ago.
    Notification.objects.update(created_at=F("created_at") - timedelta(minutes=2))

    with celery_configured(task_always_eager=False, broker_url=settings.REDIS_URL) as app:
        app.control.purge()
        with start_worker(app, pool="solo", perform_ping_check=False, shutdown_timeout=30):
            send_pending_notification_emails.delay()
            wait_for(lambda: len(mail.outbox) == 1, "the notification e-mail")
    assert mail.outbox[0].to == [coordinator.email]
    notification.refresh_from_db()
    assert notification.emailed_at is not None
