"""Every e-mail of the desk is delivered exactly once (issue 15, point 6; elvdesk/outbox.py).

The three kinds (a notification, a daily overview, a stale-count reminder) share one outbox: a
send task claims its row with a lease, marks it sent only after the mail server accepted the
message, and gives the claim back on an SMTP error; the sweeps queue what is unsent and unclaimed
or whose claim ran out. The last test kills a real worker in the middle of the SMTP conversation.
"""

import os
import signal
import smtplib
import subprocess
import sys
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from unittest import mock

import pytest
import time_machine
from celery import Celery
from django.core import mail
from django.core.mail import EmailMultiAlternatives
from django.core.mail.backends import locmem
from django.db import connection
from django.db.models import F
from django.utils import timezone

from accounts.models import Role
from beds import overviews, reminders
from beds.models import OverviewDelivery, OverviewSubscription, StaleCountReminder
from beds.tasks import send_overview_email, send_pending_bed_emails, send_stale_reminder_email
from elvdesk.outbox import outbox_claim
from providers.models import SelfServiceOffers
from referrals import services
from referrals.models import Notification
from referrals.tasks import send_notification_email, send_pending_notification_emails
from tests.celery_broker import broker_down
from tests.conftest import REPO_ROOT, _required_in_ci
from tests.factories import CapacityFactory, LocationFactory, RegionFactory, product, user_with_role
from tests.private_redis import app_on_redis, private_redis  # noqa: F401 (fixture)
from tests.referrals.conftest import OTHER_BSN, referral_input
from tests.smtp_sink import SmtpSink

KINDS = {
    "notification": (Notification, send_notification_email, send_pending_notification_emails),
    "overview": (OverviewDelivery, send_overview_email, send_pending_bed_emails),
    "reminder": (StaleCountReminder, send_stale_reminder_email, send_pending_bed_emails),
}


def make_outbox_rows() -> dict[str, tuple[int, str]]:
    """One unsent row of each kind, each for its own recipient: kind → (row id, address)."""
    region = RegionFactory(self_service_offers=SelfServiceOffers.NEVER)
    planner = user_with_role(Role.PROVIDER_STAFF, region=region)
    location = LocationFactory(organisation=planner.organisation)
    stale_since = timezone.now() - timedelta(hours=region.stale_after_hours + 1)
    CapacityFactory(location=location, product=product("elv_hoog"), confirmed_at=stale_since)
    gp = user_with_role(Role.GP, region=region)
    coordinator = user_with_role(Role.COORDINATOR, region=region)
    OverviewSubscription.objects.create(user=gp, region=region)
    services.referral_submit(by=gp, data=referral_input())
    overviews.overview_snapshot_create(region_id=region.pk, slot=timezone.now())
    reminders.stale_reminders_create()
    return {
        "notification": (Notification.objects.get(user=coordinator).pk, coordinator.email),
        "overview": (OverviewDelivery.objects.get(user=gp).pk, gp.email),
        "reminder": (StaleCountReminder.objects.get(user=planner).pk, planner.email),
    }


@pytest.fixture
def rows(db) -> dict[str, tuple[int, str]]:
    # Not a transactional test: the enqueue after commit never runs, the rows wait unsent.
    return make_outbox_rows()


def mails_to(address: str) -> int:
    return sum(1 for message in mail.outbox if message.to == [address])


# --- Claim, lease, sent --------------------------------------------------------------------


@pytest.mark.parametrize("kind", KINDS)
def test_the_lease_outlasts_a_send_task(kind, settings):
    _, task, _ = KINDS[kind]
    assert settings.OUTBOX_CLAIM_LEASE > timedelta(seconds=task.time_limit)


@pytest.mark.parametrize("kind", KINDS)
def test_a_claim_holds_until_its_lease_runs_out(kind, rows, settings):
    model, _, _ = KINDS[kind]
    pk, _ = rows[kind]
    assert outbox_claim(model=model, pk=pk)
    assert not outbox_claim(model=model, pk=pk)  # a second task while the first one sends
    claimed = timezone.now()
    with time_machine.travel(claimed + settings.OUTBOX_CLAIM_LEASE - timedelta(seconds=5)):
        assert not outbox_claim(model=model, pk=pk)
    with time_machine.travel(claimed + settings.OUTBOX_CLAIM_LEASE + timedelta(seconds=5)):
        assert outbox_claim(model=model, pk=pk)  # its worker died: the claim ran out


@pytest.mark.parametrize("kind", KINDS)
def test_a_sent_row_is_never_claimed_or_mailed_again(kind, rows, settings):
    model, task, _ = KINDS[kind]
    pk, address = rows[kind]
    assert task.delay(pk).get() is True
    assert task.delay(pk).get() is False
    with time_machine.travel(timezone.now() + settings.OUTBOX_CLAIM_LEASE * 2):
        assert not outbox_claim(model=model, pk=pk)
    assert mails_to(address) == 1


class RowWatchingBackend(locmem.EmailBackend):
    """Records the watched outbox row as it is at the moment the server takes the message."""

    watched: tuple | None = None
    seen: list = []

    def send_messages(self, messages):
        model, pk = RowWatchingBackend.watched
        RowWatchingBackend.seen.append(model.objects.values("claimed_at", "sent_at").get(pk=pk))
        return super().send_messages(messages)


@pytest.mark.parametrize("kind", KINDS)
def test_a_row_is_marked_sent_only_after_the_server_accepted_the_mail(kind, rows, settings, monkeypatch):
    model, task, _ = KINDS[kind]
    pk, address = rows[kind]
    settings.EMAIL_BACKEND = f"{__name__}.RowWatchingBackend"
    monkeypatch.setattr(RowWatchingBackend, "watched", (model, pk))
    monkeypatch.setattr(RowWatchingBackend, "seen", [])
    assert task.delay(pk).get() is True
    assert RowWatchingBackend.seen == [{"claimed_at": mock.ANY, "sent_at": None}]
    assert RowWatchingBackend.seen[0]["claimed_at"] is not None
    assert model.objects.get(pk=pk).sent_at is not None
    assert mails_to(address) == 1


def smtp_refuses(self, fail_silently=False):
    raise smtplib.SMTPServerDisconnected("Connection unexpectedly closed")


@pytest.mark.parametrize("kind", KINDS)
def test_an_smtp_error_gives_the_claim_back_and_the_sweep_mails_it_once(kind, rows, monkeypatch):
    model, task, sweep = KINDS[kind]
    pk, address = rows[kind]
    monkeypatch.setattr(task, "max_retries", 0)  # the retries are tests/beds/test_overview_snapshots.py's
    monkeypatch.setattr(EmailMultiAlternatives, "send", smtp_refuses)
    with pytest.raises(smtplib.SMTPServerDisconnected):
        task.delay(pk).get()
    row = model.objects.get(pk=pk)
    assert row.claimed_at is None and row.sent_at is None
    monkeypatch.undo()
    with time_machine.travel(timezone.now() + timedelta(minutes=2)):
        sweep.delay().get()
        sweep.delay().get()
    assert mails_to(address) == 1


@pytest.mark.parametrize("kind", KINDS)
def test_the_sweep_leaves_a_live_claim_and_mails_one_whose_worker_died(kind, rows, settings):
    model, _, sweep = KINDS[kind]
    pk, address = rows[kind]
    assert outbox_claim(model=model, pk=pk)  # a worker took the row and died
    with time_machine.travel(timezone.now() + timedelta(minutes=2)):
        sweep.delay().get()
    assert mails_to(address) == 0
    with time_machine.travel(timezone.now() + settings.OUTBOX_CLAIM_LEASE + timedelta(minutes=2)):
        sweep.delay().get()
        sweep.delay().get()
    assert mails_to(address) == 1
    assert model.objects.get(pk=pk).sent_at is not None


def test_a_user_without_an_address_closes_the_notification_unsent(rows):
    pk, _ = rows["notification"]
    user = Notification.objects.get(pk=pk).user
    user.email = ""
    user.save(update_fields=["email"])
    assert send_notification_email.delay(pk).get() is False
    assert Notification.objects.get(pk=pk).sent_at is not None and mail.outbox == []


# --- Waking the worker: one publish per outage, not one per e-mail ----------------------------


def test_a_broker_outage_costs_an_action_one_publish_and_the_next_actions_none(
    db, monkeypatch, django_capture_on_commit_callbacks
):
    region = RegionFactory(self_service_offers=SelfServiceOffers.NEVER)
    gp = user_with_role(Role.GP, region=region)
    for _ in range(3):
        user_with_role(Role.COORDINATOR, region=region)
    publishes = []
    send_task = Celery.send_task

    def counting_send_task(self, name, *args, **options):
        publishes.append(name)
        return send_task(self, name, *args, **options)

    monkeypatch.setattr(Celery, "send_task", counting_send_task)
    with broker_down():
        with django_capture_on_commit_callbacks(execute=True):
            services.referral_submit(by=gp, data=referral_input())
        assert len(publishes) == 1  # three e-mails, one attempt: the other two wait as well
        with django_capture_on_commit_callbacks(execute=True):
            services.referral_submit(by=gp, data=referral_input(bsn=OTHER_BSN))
        assert len(publishes) == 1  # within the pause nothing is tried
    assert Notification.objects.filter(sent_at__isnull=True, claimed_at__isnull=True).count() == 6


# --- A real worker killed in the middle of the SMTP conversation ------------------------------

WAIT_SECONDS = 90
LEASE_SECONDS = 5  # production: 10 minutes; a short one lets the test wait it out
QUEUE = "elvdesk-test"

WORKER_SETTINGS = """\
from datetime import timedelta

from elvdesk.settings import *  # noqa: F403

DATABASES["default"]["NAME"] = {database!r}  # noqa: F405
CELERY_BROKER_URL = {broker!r}
CELERY_TASK_ALWAYS_EAGER = False
CELERY_TASK_DEFAULT_QUEUE = {queue!r}
CACHES = {{"default": {{"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}}}
EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
EMAIL_HOST = "127.0.0.1"
EMAIL_PORT = {smtp_port}
OUTBOX_CLAIM_LEASE = timedelta(seconds={lease})
"""


class Worker:
    """`celery worker` in a process group of its own, configured as production but for the
    test's database, private broker, SMTP sink and a short lease (a settings module in `directory`)."""

    def __init__(self, directory, name: str):
        self.directory = directory
        self.log = directory / f"{name}.log"
        self.name = name
        self.process: subprocess.Popen | None = None

    def start(self) -> None:
        env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "outbox_worker_settings",
            "PYTHONPATH": os.pathsep.join([str(self.directory), str(REPO_ROOT)]),
            "ELVDESK_TESTING": "1",
        }
        command = [sys.executable, "-m", "celery", "-A", "elvdesk", "worker", "--pool=prefork", "--concurrency=3"]
        command += ["-Q", QUEUE, "-n", f"{self.name}@%h", "--without-gossip", "--without-mingle", "--without-heartbeat"]
        with self.log.open("ab") as log:
            self.process = subprocess.Popen(
                command, cwd=REPO_ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
            )

    def kill(self) -> None:
        """SIGKILL to the worker and its pool processes: no cleanup, no acknowledgement."""
        if self.process is not None and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=30)

    def stop(self) -> None:
        """Warm shutdown: the tasks running now finish first."""
        if self.process is not None and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                self.kill()

    def tail(self) -> str:
        return self.log.read_text(errors="replace")[-3000:] if self.log.exists() else ""


def wait_for(condition, what: str, worker: Worker) -> None:
    deadline = time.monotonic() + WAIT_SECONDS
    while time.monotonic() < deadline:
        if condition():
            return
        if worker.process.poll() is not None:
            break
        time.sleep(0.1)
    raise AssertionError(f"gave up waiting for {what}; worker log:\n{worker.tail()}")


@pytest.mark.django_db(transaction=True)
def test_a_worker_killed_in_the_middle_of_sending_loses_no_email_and_doubles_none(
    private_redis,  # noqa: F811
    settings,
    tmp_path,
):
    if connection.vendor != "postgresql":
        _required_in_ci("the worker processes share the test database: needs PostgreSQL")
    (tmp_path / "outbox_worker_settings.py").write_text(
        WORKER_SETTINGS.format(
            database=connection.settings_dict["NAME"],
            broker=private_redis.url,
            queue=QUEUE,
            smtp_port=(sink := SmtpSink()).port,
            lease=LEASE_SECONDS,
        )
    )
    sink.stall_data = True
    # The workers' clock is the real one; so is the test's here, or their leases and the
    # test's rows would be years apart.
    real_now = datetime.fromtimestamp(time_machine.escape_hatch.time.time(), tz=UTC)
    first, second = Worker(tmp_path, "first"), Worker(tmp_path, "second")
    try:
        with time_machine.travel(real_now, tick=True), app_on_redis(settings, private_redis):
            outbox = make_outbox_rows()  # committed; their wake-ups wait in the broker
            first.start()
            wait_for(lambda: sink.stalled_count() == 3, "three sends in the middle of DATA", first)
            first.kill()
            assert sink.delivered == []
            for kind, (pk, _) in outbox.items():
                row = KINDS[kind][0].objects.get(pk=pk)
                assert row.claimed_at is not None and row.sent_at is None, kind

            # The sweeps leave the last minute to the enqueue after commit: make it older.
            for model, _, _ in KINDS.values():
                model.objects.update(created_at=F("created_at") - timedelta(minutes=2))
            sink.stall_data = False
            second.start()
            claims_run_out = max(KINDS[kind][0].objects.get(pk=pk).claimed_at for kind, (pk, _) in outbox.items())
            time.sleep(max(0.0, (claims_run_out - timezone.now()).total_seconds() + LEASE_SECONDS + 0.5))
            # The sweeps and, racing them, the broker's redelivery of the lost messages.
            send_pending_notification_emails.delay()
            send_pending_bed_emails.delay()
            for kind, (pk, _) in outbox.items():
                KINDS[kind][1].delay(pk)

            def all_sent() -> bool:
                sent = [
                    KINDS[kind][0].objects.filter(pk=pk, sent_at__isnull=False).exists()
                    for kind, (pk, _) in outbox.items()
                ]
                return all(sent) and len(sink.recipients()) == 3

            wait_for(all_sent, "the three e-mails, marked sent", second)
            second.stop()  # whatever was still running has finished
    finally:
        first.kill()
        second.kill()
        sink.close()
    assert sink.recipients() == Counter({address: 1 for _, address in outbox.values()})
