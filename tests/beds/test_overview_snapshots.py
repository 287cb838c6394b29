"""The daily bed overview: a snapshot per region and slot (Europe/Amsterdam), stored once,
browsable by everyone of the region, mailed once to each subscriber in their own language with
a CSV attachment."""

import csv
import io
import threading
from datetime import UTC, datetime, timedelta
from io import StringIO

import pytest
import time_machine
from django.core import mail
from django.core.mail import EmailMultiAlternatives
from django.core.management import call_command
from django.db import close_old_connections, connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from accounts.models import Role
from beds import overviews
from beds.models import BedOverviewSnapshot, OverviewDelivery, OverviewSubscription
from beds.tasks import create_due_bed_overviews, send_overview_email, send_pending_bed_emails
from tests.factories import CapacityFactory, LocationFactory, ProviderFactory, RegionFactory, product, user_with_role

pytestmark = pytest.mark.django_db

SNAPSHOTS = reverse("beds:overview_snapshots")
SUBSCRIPTION = reverse("beds:overview_subscription")
# Monday 2 March 2026: Amsterdam is UTC+1 (winter time); 07:30 local is 06:30 UTC.
MORNING_SLOT = datetime(2026, 3, 2, 6, 30, tzinfo=UTC)


@pytest.fixture
def beds(region, location, capacity):
    """Two locations in the region: De Schacht (hoog 2 free, 1 held) and a stale laag one."""
    stale_location = LocationFactory(organisation=location.organisation, name="Huize Welten", city="Kerkrade")
    CapacityFactory(
        location=stale_location,
        product=product("elv_laag"),
        total=6,
        available=4,
        confirmed_at=MORNING_SLOT - timedelta(hours=30),
    )
    return stale_location


@pytest.fixture
def subscriber(region):
    user = user_with_role(Role.COORDINATOR, region=region, username="desk", language="en")
    OverviewSubscription.objects.create(user=user, region=region)
    return user


def run_job_at(moment, **kwargs):
    with time_machine.travel(moment, tick=False):
        return create_due_bed_overviews.apply(**kwargs).get()


# --- When a snapshot is due ------------------------------------------------------------------


@pytest.mark.parametrize(
    "local_time, expected",
    [
        ("07:29", None),
        ("07:30", datetime(2026, 3, 2, 6, 30, tzinfo=UTC)),
        ("15:59", datetime(2026, 3, 2, 6, 30, tzinfo=UTC)),
        ("16:00", datetime(2026, 3, 2, 15, 0, tzinfo=UTC)),
        ("23:59", datetime(2026, 3, 2, 15, 0, tzinfo=UTC)),
    ],
)
def test_the_due_slot_is_the_latest_passed_time_of_today_in_amsterdam(region, local_time, expected):
    hour, minute = map(int, local_time.split(":"))
    now = datetime(2026, 3, 2, hour - 1, minute, tzinfo=UTC)  # winter time: UTC+1
    assert overviews.due_slot(region, now=now) == expected


def test_summer_time_moves_the_slot_in_utc_not_in_amsterdam(region):
    now = datetime(2026, 7, 1, 6, 0, tzinfo=UTC)  # 08:00 in Amsterdam (UTC+2)
    assert overviews.due_slot(region, now=now) == datetime(2026, 7, 1, 5, 30, tzinfo=UTC)


def test_each_region_keeps_its_own_times(region):
    early = RegionFactory(code="vroeg", overview_times="06:00, 12:15 ,bogus,")
    now = datetime(2026, 3, 2, 5, 30, tzinfo=UTC)  # 06:30 in Amsterdam
    assert overviews.overview_times(early) == [datetime(2000, 1, 1, 6).time(), datetime(2000, 1, 1, 12, 15).time()]
    assert overviews.due_overview_slots(now=now) == [(early.pk, datetime(2026, 3, 2, 5, 0, tzinfo=UTC))]


def test_no_snapshot_before_the_first_time_of_the_day(region, beds):
    assert run_job_at(MORNING_SLOT - timedelta(minutes=1)) == 0
    assert not BedOverviewSnapshot.objects.exists()


# --- The snapshot ----------------------------------------------------------------------------


def test_the_snapshot_stores_free_held_total_expected_and_stale_per_location_and_product(region, beds):
    assert run_job_at(MORNING_SLOT + timedelta(minutes=2)) == 1
    snapshot = BedOverviewSnapshot.objects.get()
    assert snapshot.region == region and snapshot.slot == MORNING_SLOT
    rows = {(row["location"], row["product"]): row for row in snapshot.rows}
    hoog = rows[("De Schacht", "elv_hoog")]
    assert (hoog["free"], hoog["held"], hoog["total"], hoog["expected_24h"], hoog["stale"]) == (2, 1, 10, 1, False)
    assert rows[("Huize Welten", "elv_laag")]["stale"] is True
    totals = {total["product"]: total for total in snapshot.totals}
    assert totals["elv_laag"]["free"] == 4 and totals["elv_laag"]["stale"] == 1
    assert totals["elv_hoog"]["free"] == 2


def test_other_regions_and_inactive_locations_are_not_in_the_snapshot(region, beds):
    elsewhere = LocationFactory(organisation=ProviderFactory(), name="Elders")
    CapacityFactory(location=elsewhere, product=product("elv_laag"))
    closed = LocationFactory(organisation=beds.organisation, name="Gesloten", is_active=False)
    CapacityFactory(location=closed, product=product("elv_laag"))
    run_job_at(MORNING_SLOT)
    names = {row["location"] for row in BedOverviewSnapshot.objects.get(region=region).rows}
    assert names == {"De Schacht", "Huize Welten"}


def test_a_second_run_for_the_same_slot_creates_and_sends_nothing(
    region, beds, subscriber, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        assert run_job_at(MORNING_SLOT + timedelta(minutes=1)) == 1
        assert run_job_at(MORNING_SLOT + timedelta(minutes=3)) == 0
        snapshot = BedOverviewSnapshot.objects.get()
        assert overviews.overview_snapshot_create(region_id=region.pk, slot=MORNING_SLOT) == (snapshot, False)
    assert len(mail.outbox) == 1
    assert OverviewDelivery.objects.count() == 1


def test_the_afternoon_slot_is_a_new_snapshot(region, beds):
    run_job_at(MORNING_SLOT)
    run_job_at(datetime(2026, 3, 2, 15, 5, tzinfo=UTC))
    assert list(BedOverviewSnapshot.objects.values_list("slot", flat=True)) == [
        datetime(2026, 3, 2, 15, 0, tzinfo=UTC),
        MORNING_SLOT,
    ]


@pytest.mark.django_db(transaction=True)
def test_concurrent_runs_create_one_snapshot(region, beds):
    if connection.vendor != "postgresql":
        pytest.skip("concurrent writers need PostgreSQL (run with DATABASE_URL=postgres://…)")
    barrier = threading.Barrier(4)
    results = []

    def run():
        try:
            barrier.wait()
            results.append(overviews.overview_snapshot_create(region_id=region.pk, slot=MORNING_SLOT)[1])
        finally:
            close_old_connections()
            connection.close()

    threads = [threading.Thread(target=run) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(results) == [False, False, False, True]
    assert BedOverviewSnapshot.objects.count() == 1


# --- The e-mail ------------------------------------------------------------------------------


def test_subscribers_get_html_text_and_csv_in_their_own_language(
    region, beds, subscriber, django_capture_on_commit_callbacks
):
    dutch = user_with_role(Role.GP, region=region, username="huisarts", language="nl")
    OverviewSubscription.objects.create(user=dutch, region=region)
    user_with_role(Role.GP, region=region, username="not-subscribed")
    with django_capture_on_commit_callbacks(execute=True):
        run_job_at(MORNING_SLOT + timedelta(minutes=1))
    by_recipient = {message.to[0]: message for message in mail.outbox}
    assert set(by_recipient) == {subscriber.email, dutch.email}

    english = by_recipient[subscriber.email]
    assert english.subject == f"Daily bed overview {region.name} · 2 March 07:30"
    assert "De Schacht" in english.body and "2 / 10" in english.body
    html, mimetype = english.alternatives[0]
    assert mimetype == "text/html" and "<table" in html and "stale" in html
    filename, content, attachment_type = english.attachments[0]
    assert filename == "bed-overview-zuid-limburg-20260302-0730.csv" and attachment_type == "text/csv"
    rows = list(csv.reader(io.StringIO(content)))
    assert rows[0][:3] == ["Region", "Overview of", "Location"]
    assert ["Zuid-Limburg", "2026-03-02 07:30", "De Schacht"] == rows[1][:3]
    assert f"/beds/overviews/{BedOverviewSnapshot.objects.get().pk}/" in english.body

    assert "2 maart 07:30" in by_recipient[dutch.email].subject  # rendered with the Dutch locale


def test_each_subscriber_gets_their_own_greeting_above_the_same_overview(
    region, beds, subscriber, django_capture_on_commit_callbacks
):
    # The overview is rendered once per snapshot and language (beds.tasks): only the greeting differs.
    subscriber.first_name = "Anna"
    subscriber.save()
    other = user_with_role(Role.GP, region=region, username="gp2", first_name="Bram & Co", language="en")
    OverviewSubscription.objects.create(user=other, region=region)
    with django_capture_on_commit_callbacks(execute=True):
        run_job_at(MORNING_SLOT + timedelta(minutes=1))
    anna, bram = sorted(mail.outbox, key=lambda message: message.to[0] != subscriber.email)

    assert anna.body.startswith("Dear Anna,") and bram.body.startswith("Dear Bram &amp; Co,")
    assert anna.body.split("\n", 1)[1] == bram.body.split("\n", 1)[1]
    assert "<p>Dear Anna,</p>" in anna.alternatives[0][0] and "<p>Dear Bram &amp; Co,</p>" in bram.alternatives[0][0]
    assert anna.alternatives[0][0].split("</p>", 1)[1] == bram.alternatives[0][0].split("</p>", 1)[1]
    assert anna.subject == bram.subject and anna.attachments == bram.attachments


def test_a_changed_snapshot_is_not_mailed_from_what_was_rendered_before(
    region, beds, subscriber, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        run_job_at(MORNING_SLOT + timedelta(minutes=1))
    snapshot = BedOverviewSnapshot.objects.get()
    snapshot.rows = [{**row, "location": f"{row['location']} (renamed)"} for row in snapshot.rows]
    snapshot.save()
    delivery = OverviewDelivery.objects.get(snapshot=snapshot)
    OverviewDelivery.objects.filter(pk=delivery.pk).update(sent_at=None, claimed_at=None)
    mail.outbox.clear()

    send_overview_email.apply(args=[delivery.pk])

    assert "De Schacht (renamed)" in mail.outbox[0].body


def test_a_subscription_of_a_user_who_left_the_region_sends_nothing(
    region, beds, subscriber, django_capture_on_commit_callbacks
):
    subscriber.organisation = ProviderFactory()  # another region
    subscriber.save()
    with django_capture_on_commit_callbacks(execute=True):
        run_job_at(MORNING_SLOT)
    assert mail.outbox == []
    assert not OverviewDelivery.objects.exists()


def test_unsubscribing_before_the_mail_goes_out_sends_nothing(region, beds, subscriber):
    run_job_at(MORNING_SLOT)  # no on-commit execution: the delivery waits in the outbox
    delivery = OverviewDelivery.objects.get()
    OverviewSubscription.objects.all().delete()
    assert send_overview_email.delay(delivery.pk).get() is False
    assert mail.outbox == []


def test_sending_one_delivery_twice_mails_once(region, beds, subscriber):
    run_job_at(MORNING_SLOT)
    delivery = OverviewDelivery.objects.get()
    assert send_overview_email.delay(delivery.pk).get() is True
    assert send_overview_email.delay(delivery.pk).get() is False
    assert len(mail.outbox) == 1


def test_a_broker_outage_keeps_the_overview_and_the_sweep_mails_it_later(
    region, beds, subscriber, django_capture_on_commit_callbacks, monkeypatch
):
    def broker_down(*args, **kwargs):
        raise ConnectionError("redis down")

    monkeypatch.setattr(send_overview_email, "delay", broker_down)
    with django_capture_on_commit_callbacks(execute=True):
        assert run_job_at(MORNING_SLOT) == 1
    assert mail.outbox == []
    monkeypatch.undo()
    with time_machine.travel(MORNING_SLOT + timedelta(minutes=5), tick=False):
        assert send_pending_bed_emails.delay().get() == 1
        assert send_pending_bed_emails.delay().get() == 0
    assert len(mail.outbox) == 1


def test_a_smtp_failure_gives_the_delivery_back_for_a_later_attempt(region, beds, subscriber, monkeypatch):
    run_job_at(MORNING_SLOT)
    delivery = OverviewDelivery.objects.get()
    monkeypatch.setattr(send_overview_email, "max_retries", 0)

    def smtp_down(self, fail_silently=False):
        raise OSError("smtp down")

    monkeypatch.setattr("django.core.mail.EmailMultiAlternatives.send", smtp_down)
    with pytest.raises(OSError):
        send_overview_email.delay(delivery.pk).get()
    delivery.refresh_from_db()
    assert delivery.sent_at is None and delivery.claimed_at is None


def test_a_day_old_overview_is_no_longer_mailed_by_the_sweep(region, beds, subscriber):
    run_job_at(MORNING_SLOT)
    with time_machine.travel(MORNING_SLOT + timedelta(hours=25), tick=False):
        assert send_pending_bed_emails.delay().get() == 0
    assert mail.outbox == []


def test_run_periodic_jobs_makes_the_overview_in_process(region, beds, subscriber, django_capture_on_commit_callbacks):
    out = StringIO()
    with time_machine.travel(MORNING_SLOT + timedelta(minutes=1), tick=False):
        with django_capture_on_commit_callbacks(execute=True):
            call_command("run_periodic_jobs", stdout=out)
    assert "create-due-bed-overviews: 1" in out.getvalue()
    assert len(mail.outbox) == 1


# --- Pages -----------------------------------------------------------------------------------


@pytest.fixture
def snapshot(region, beds):
    run_job_at(MORNING_SLOT)
    return BedOverviewSnapshot.objects.get()


@pytest.mark.parametrize(
    "role", [Role.GP, Role.TRANSFER_NURSE, Role.PROVIDER_STAFF, Role.COORDINATOR, Role.ANALYST, Role.ADMIN]
)
def test_everyone_of_the_region_browses_the_snapshots(make_client, region, snapshot, role):
    client = make_client(user_with_role(role, region=region))
    listing = client.get(SNAPSHOTS)
    assert listing.status_code == 200
    detail_url = reverse("beds:overview_snapshot", args=[snapshot.pk])
    assert detail_url in listing.content.decode()
    detail = client.get(detail_url)
    assert detail.status_code == 200
    page = detail.content.decode()
    assert "De Schacht" in page and "Huize Welten" in page and "badge-stale" in page


def test_the_csv_download_has_a_row_per_location_and_product(make_client, gp, snapshot):
    response = make_client(gp).get(reverse("beds:overview_snapshot_csv", args=[snapshot.pk]))
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    assert "attachment;" in response["Content-Disposition"]
    assert len(list(csv.reader(io.StringIO(response.content.decode())))) == 1 + len(snapshot.rows)


def test_another_regions_snapshot_is_not_found(make_client, snapshot):
    outsider = user_with_role(Role.COORDINATOR, region=RegionFactory(code="elders"))
    client = make_client(outsider)
    assert snapshot.pk not in [s.pk for s in client.get(SNAPSHOTS).context["page"].object_list]
    assert client.get(reverse("beds:overview_snapshot", args=[snapshot.pk])).status_code == 404
    assert client.get(reverse("beds:overview_snapshot_csv", args=[snapshot.pk])).status_code == 404


def test_anonymous_users_are_sent_to_login_and_users_without_organisation_refused(make_client, snapshot):
    assert make_client().get(SNAPSHOTS).status_code == 302
    from tests.factories import UserFactory

    assert make_client(UserFactory(organisation=None, role="")).get(SNAPSHOTS).status_code == 403


@pytest.mark.parametrize("name", ["beds:overview_snapshots", "beds:overview_snapshot", "beds:overview_snapshot_csv"])
def test_snapshot_pages_refuse_post(make_client, gp, snapshot, name):
    args = [] if name == "beds:overview_snapshots" else [snapshot.pk]
    assert make_client(gp).post(reverse(name, args=args)).status_code == 405


def test_the_snapshot_list_query_count_does_not_grow_with_snapshots(make_client, gp, region, beds):
    client = make_client(gp)
    run_job_at(MORNING_SLOT)
    with CaptureQueriesContext(connection) as few:
        client.get(SNAPSHOTS)
    for day in range(1, 12):
        run_job_at(MORNING_SLOT + timedelta(days=day))
    with CaptureQueriesContext(connection) as many:
        response = client.get(SNAPSHOTS)
    assert len(response.context["page"].object_list) == 12
    assert len(many.captured_queries) == len(few.captured_queries)


def test_the_snapshot_page_query_count_does_not_grow_with_locations(make_client, gp, region, beds):
    client = make_client(gp)
    run_job_at(MORNING_SLOT)
    few_url = reverse("beds:overview_snapshot", args=[BedOverviewSnapshot.objects.get().pk])
    with CaptureQueriesContext(connection) as few:
        client.get(few_url)
    for _ in range(10):
        CapacityFactory(location=LocationFactory(organisation=beds.organisation), product=product("elv_laag"))
    run_job_at(MORNING_SLOT + timedelta(days=1))
    many_url = reverse("beds:overview_snapshot", args=[BedOverviewSnapshot.objects.first().pk])
    with CaptureQueriesContext(connection) as many:
        client.get(many_url)
    assert len(many.captured_queries) == len(few.captured_queries)


# --- Subscription setting ---------------------------------------------------------------------


def test_a_user_turns_the_daily_overview_on_and_off_for_their_region(make_client, gp, region):
    client = make_client(gp)
    page = client.get(SUBSCRIPTION)
    assert page.status_code == 200 and 'name="subscribed"' in page.content.decode()

    response = client.post(SUBSCRIPTION, {"subscribed": "on"}, follow=True)
    assert OverviewSubscription.objects.filter(user=gp, region=region).exists()
    assert "You will receive the daily bed overview" in response.content.decode()
    assert "checked" in client.get(SUBSCRIPTION).content.decode()

    client.post(SUBSCRIPTION, {"subscribed": "on"})  # twice on stays one subscription
    assert OverviewSubscription.objects.filter(user=gp).count() == 1

    client.post(SUBSCRIPTION, {})
    assert not OverviewSubscription.objects.filter(user=gp).exists()


def test_the_subscription_page_refuses_other_methods_and_anonymous_users(make_client, gp):
    assert make_client(gp).put(SUBSCRIPTION).status_code == 405
    assert make_client().post(SUBSCRIPTION, {"subscribed": "on"}).status_code == 302
    assert not OverviewSubscription.objects.exists()


def test_a_passing_smtp_failure_is_retried_with_backoff_and_mailed_once(region, beds, subscriber, monkeypatch):
    run_job_at(MORNING_SLOT)
    delivery = OverviewDelivery.objects.get()
    original = EmailMultiAlternatives.send
    attempts = []

    def flaky(self, fail_silently=False):
        attempts.append(1)
        if len(attempts) == 1:
            raise OSError("smtp hiccup")
        return original(self, fail_silently)

    countdowns = []
    real_retry = send_overview_email.retry

    def recording_retry(*args, **kwargs):
        countdowns.append(kwargs.get("countdown"))
        return real_retry(*args, **kwargs)

    monkeypatch.setattr(EmailMultiAlternatives, "send", flaky)
    monkeypatch.setattr(send_overview_email, "retry", recording_retry)
    send_overview_email.apply(args=[delivery.pk], throw=False)  # eager: the retry runs inside
    assert len(mail.outbox) == 1 and len(attempts) == 2
    assert countdowns and 0 <= countdowns[0] <= 600
    delivery.refresh_from_db()
    assert delivery.sent_at is not None
