from datetime import timedelta
from unittest import mock

import time_machine
from django.core import mail

from referrals import services
from referrals.models import Notification
from referrals.tasks import send_notification_email, send_pending_notification_emails
from tests.referrals.conftest import VALID_BSN, referral_input


def test_the_desk_gets_an_email_after_the_commit_with_a_link_and_no_patient_data(
    desk, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        referral, _ = services.referral_submit(by=desk.gp, data=referral_input())
    assert callbacks, "the e-mail is only queued once the transaction commits"
    assert len(mail.outbox) == 1
    message = mail.outbox[0]
    assert message.to == [desk.coordinator.email]
    assert f"/referrals/{referral.pk}/" in message.body
    everything = message.subject + message.body + message.alternatives[0][0]
    for secret in (VALID_BSN, "Maria", "Jansen", "1938", "6411"):
        assert secret not in everything
    assert Notification.objects.get(referral=referral).sent_at is not None


def test_emails_are_written_in_the_recipients_language(desk, django_capture_on_commit_callbacks):
    desk.coordinator.language = "en"
    desk.coordinator.save()
    with django_capture_on_commit_callbacks(execute=True):
        services.referral_submit(by=desk.gp, data=referral_input())
    assert mail.outbox[0].subject.startswith("New referral")


def test_sending_the_same_notification_twice_sends_one_email(desk):
    referral, _ = services.referral_submit(by=desk.gp, data=referral_input())
    notification = Notification.objects.get(referral=referral)
    assert send_notification_email.delay(notification.pk).get() is True
    assert send_notification_email.delay(notification.pk).get() is False
    assert len(mail.outbox) == 1


def test_a_broker_outage_does_not_fail_the_referral_and_the_sweep_sends_later(desk, django_capture_on_commit_callbacks):
    with mock.patch.object(send_notification_email, "delay", side_effect=ConnectionError("redis down")):
        with django_capture_on_commit_callbacks(execute=True):
            referral, created = services.referral_submit(by=desk.gp, data=referral_input())
    assert created
    assert mail.outbox == []
    notification = Notification.objects.get(referral=referral)
    assert notification.sent_at is None
    with time_machine.travel(notification.created_at + timedelta(minutes=2)):
        assert send_pending_notification_emails.delay().get() == 1
    assert len(mail.outbox) == 1


def test_the_referrer_hears_of_the_booking_with_the_location_on_the_page(desk, accepted, client):
    notification = Notification.objects.get(user=desk.gp, kind="offer_accepted")
    client.force_login(desk.gp)
    response = client.get(f"/referrals/{notification.referral_id}/", HTTP_ACCEPT_LANGUAGE="en")
    assert desk.location.name in response.content.decode()
    assert desk.location.phone_24_7 in response.content.decode()
