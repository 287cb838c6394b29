"""Zorgplicht (referrals/duty_of_care.py): a referral searching longer than the region's limit is
e-mailed, pseudonymised, to the duty-of-care contact of the region's insurer organisation(s) of
the patient's insurer — once, through the outbox."""

from datetime import timedelta

import pytest
import time_machine
from django.core import mail
from django.utils import timezone

from accounts.models import Role
from providers.models import DutyOfCareMessage, Insurer
from referrals import services
from referrals.escalations import escalations_update
from referrals.models import Escalation, EscalationKind
from referrals.tasks import send_duty_of_care_email, send_pending_notification_emails
from tests.factories import InsurerOrganisationFactory, RegionFactory, user_with_role
from tests.referrals.conftest import VALID_BSN, referral_input

T0 = timezone.make_aware(timezone.datetime(2026, 3, 2, 9, 0))
OWN_ADDRESS = "zorgplicht@cz.example.org"


@pytest.fixture
def contacts(desk):
    """CZ (9015, the patient's insurer) with a contact; VGZ (7095) with one; CZ in another region
    with one; a second CZ organisation of the region without an address; and CZ's analyst."""
    cz, vgz = Insurer.objects.get(uzovi="9015"), Insurer.objects.get(uzovi="7095")
    own = InsurerOrganisationFactory(region=desk.region, insurer=cz, duty_of_care_email=OWN_ADDRESS)
    InsurerOrganisationFactory(region=desk.region, insurer=vgz, duty_of_care_email="zorgplicht@vgz.example.org")
    InsurerOrganisationFactory(region=RegionFactory(), insurer=cz, duty_of_care_email="elders@cz.example.org")
    InsurerOrganisationFactory(region=desk.region, insurer=cz, duty_of_care_email="")
    user_with_role(Role.ANALYST, own, email="analist@cz.example.org")
    return own


def _searching(desk, **overrides):
    referral, _ = services.referral_submit(by=desk.gp, data=referral_input(**overrides))
    services.referral_step(referral=referral, target="searching", by=desk.coordinator)
    return referral


def _too_long(desk) -> timezone.datetime:
    return T0 + timedelta(hours=desk.region.search_limit_hours, minutes=1)


def _duty_mails():
    return [m for m in mail.outbox if any(address.startswith(("zorgplicht@", "elders@")) for address in m.to)]


def test_waiting_too_long_mails_the_patients_insurer_once_and_pseudonymised(
    desk, contacts, django_capture_on_commit_callbacks
):
    with time_machine.travel(T0, tick=False):
        referral = _searching(desk)
    with time_machine.travel(_too_long(desk), tick=False):
        with django_capture_on_commit_callbacks(execute=True):
            escalations_update()
        with django_capture_on_commit_callbacks(execute=True):
            escalations_update()  # a second run raises nothing and mails nobody again
    escalation = Escalation.objects.get(kind=EscalationKind.WAITING_LONG)
    sent = _duty_mails()
    assert [m.to for m in sent] == [[OWN_ADDRESS]]
    message = sent[0]
    everything = message.subject + message.body + "".join(body for body, _ in message.alternatives)
    assert f"#{referral.pk}" in message.subject and f"#{referral.pk}" in message.body
    assert "elv_hoog" not in everything and "ELV hoog" in everything
    assert f"{desk.region.search_limit_hours}" in message.body
    for secret in (VALID_BSN, "Maria", "Jansen", "1938", "6411", "Gevallen", "mantelzorger", "06 1234"):
        assert secret not in everything
    row = DutyOfCareMessage.objects.get()
    assert row.escalation == escalation and row.organisation == contacts and row.sent_at is not None
    # Later sweeps and a repeated task do not send it again.
    with time_machine.travel(_too_long(desk) + timedelta(minutes=5), tick=False):
        send_pending_notification_emails()  # (wakes the earlier submission notices, not this)
        assert send_duty_of_care_email.apply(args=[row.pk]).get() is False
    assert len(_duty_mails()) == 1


def test_another_insurers_insured_go_to_that_insurer_only(desk, contacts, django_capture_on_commit_callbacks):
    with time_machine.travel(T0, tick=False):
        _searching(desk, insurer=Insurer.objects.get(uzovi="7095"))
    with time_machine.travel(_too_long(desk), tick=False), django_capture_on_commit_callbacks(execute=True):
        escalations_update()
    assert [m.to for m in _duty_mails()] == [["zorgplicht@vgz.example.org"]]


def test_no_insurer_or_no_contact_mails_nobody(desk, contacts, django_capture_on_commit_callbacks):
    with time_machine.travel(T0, tick=False):
        _searching(desk, insurer=None, bsn="123456782")
        _searching(desk, insurer=Insurer.objects.get(uzovi="3311"), bsn=None, name="Piet Peters")
    with time_machine.travel(_too_long(desk), tick=False), django_capture_on_commit_callbacks(execute=True):
        escalations_update()
    assert Escalation.objects.filter(kind=EscalationKind.WAITING_LONG).count() == 2
    assert not _duty_mails() and not DutyOfCareMessage.objects.exists()


def test_other_escalations_do_not_mail_the_insurer(desk, contacts, django_capture_on_commit_callbacks):
    with time_machine.travel(T0, tick=False):
        services.referral_submit(by=desk.gp, data=referral_input())  # untriaged, urgent and unplaced
    with time_machine.travel(_too_long(desk), tick=False), django_capture_on_commit_callbacks(execute=True):
        escalations_update()
    assert Escalation.objects.exclude(kind=EscalationKind.WAITING_LONG).exists()
    assert not _duty_mails()


def test_a_mail_that_could_not_be_queued_is_sent_by_the_sweep_once(desk, contacts):
    """The broker was down (the after-commit wake never ran): the row waits in the outbox."""
    with time_machine.travel(T0, tick=False):
        _searching(desk)
    with time_machine.travel(_too_long(desk), tick=False):
        escalations_update()  # on-commit callbacks are not run: nothing queued
    assert not _duty_mails()
    with time_machine.travel(_too_long(desk) + timedelta(minutes=2), tick=False):
        assert send_pending_notification_emails() >= 1
        send_pending_notification_emails()
    assert [m.to for m in _duty_mails()] == [[OWN_ADDRESS]]


def test_a_deactivated_organisation_closes_the_row_unsent(desk, contacts):
    with time_machine.travel(T0, tick=False):
        _searching(desk)
    with time_machine.travel(_too_long(desk), tick=False):
        escalations_update()
    contacts.is_active = False
    contacts.save(update_fields=["is_active"])
    row = DutyOfCareMessage.objects.get()
    assert send_duty_of_care_email.apply(args=[row.pk]).get() is False
    row.refresh_from_db()
    assert row.sent_at is not None and not _duty_mails()


def test_an_organisation_that_no_longer_represents_the_insurer_gets_nothing(desk, contacts):
    with time_machine.travel(T0, tick=False):
        _searching(desk)
    with time_machine.travel(_too_long(desk), tick=False):
        escalations_update()
    contacts.insurer = Insurer.objects.get(uzovi="7095")
    contacts.save(update_fields=["insurer"])
    row = DutyOfCareMessage.objects.get()
    assert send_duty_of_care_email.apply(args=[row.pk]).get() is False
    assert not _duty_mails()
