"""Redis down while a GP submits a referral: the submit succeeds, the desk's notification waits
in the outbox (Notification without sent_at) and is delivered by the sweep once the broker
is back. Real commits (transactional test), a real broker client on a closed port."""

from datetime import timedelta

import pytest
import time_machine
from celery import Celery
from django.core import mail
from django.test import Client
from django.urls import reverse

from referrals.models import Notification, Referral
from referrals.tasks import send_pending_notification_emails
from tests.celery_broker import broker_down, celery_configured
from tests.referrals.conftest import form_post

pytestmark = pytest.mark.django_db(transaction=True)


def test_a_submit_while_redis_is_down_succeeds_and_the_mail_follows_when_it_is_back(desk, monkeypatch):
    client = Client(headers={"Accept-Language": "en"})
    client.force_login(desk.gp)
    publish_attempts = []
    send_task = Celery.send_task

    def counting_send_task(self, name, *args, **options):
        retry = options.get("retry")
        publish_attempts.append((name, self.conf.task_publish_retry if retry is None else retry))
        return send_task(self, name, *args, **options)

    monkeypatch.setattr(Celery, "send_task", counting_send_task)
    with broker_down():
        response = client.post(reverse("referrals:new"), form_post())
    assert response.status_code == 302, response.content.decode()[:500]
    # The submit does not wait out the outage: one publish per e-mail, without Celery's retries
    # (counted, not timed: how long a refused connection takes is the machine's business).
    assert publish_attempts == [("referrals.tasks.send_notification_email", False)]
    referral = Referral.objects.get()
    notification = Notification.objects.get(referral=referral, user=desk.coordinator)
    assert notification.sent_at is None
    assert mail.outbox == []

    # The broker is back (in-process here; tests/test_celery_worker.py does this with real Redis).
    with celery_configured(task_always_eager=True):
        with time_machine.travel(notification.created_at + timedelta(minutes=2)):
            assert send_pending_notification_emails.delay().get() == 1
            assert send_pending_notification_emails.delay().get() == 0
    assert [message.to for message in mail.outbox] == [[desk.coordinator.email]]
    assert f"/referrals/{referral.pk}/" in mail.outbox[0].body
