"""Stale bed counts: the planners of a location whose counts are older than the region's limit
get one reminder with a signed "klopt nog" link. The link only shows a page on GET, confirms on
POST without a login, and refuses reuse, tampering and expiry."""

import re
from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.core import mail, signing
from django.test import Client
from django.urls import reverse

from accounts.models import Role
from beds import reminders
from beds.models import Capacity, CapacityChange, ChangeSource, StaleCountReminder
from beds.tasks import remind_stale_bed_counts, send_pending_bed_emails, send_stale_reminder_email
from tests.factories import CapacityFactory, LocationFactory, product, user_with_role

pytestmark = pytest.mark.django_db

NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


@pytest.fixture
def stale(location, planner):
    """De Schacht's counts were confirmed 13 hours before NOW; the region's limit is 12."""
    capacity = CapacityFactory(
        location=location, product=product("elv_hoog"), total=10, available=3, confirmed_at=NOW - timedelta(hours=13)
    )
    planner.language = "en"
    planner.save()
    return capacity


def remind_at(moment, capture):
    with time_machine.travel(moment, tick=False), capture(execute=True):
        return remind_stale_bed_counts.apply().get()


def link_in(message) -> str:
    return re.search(r"http://[^/]+(/beds/still-correct/[^/\s]+/)", message.body).group(1)


def anonymous() -> Client:
    return Client(headers={"Accept-Language": "en"})


# --- Who is reminded, and how often ---------------------------------------------------------


def test_the_planners_of_a_stale_location_get_a_reminder_with_the_link(
    stale, planner, django_capture_on_commit_callbacks
):
    colleague = user_with_role(Role.PROVIDER_STAFF, planner.organisation, username="colleague")
    user_with_role(Role.PROVIDER_STAFF, region=planner.organisation.region, username="other-provider")
    assert remind_at(NOW, django_capture_on_commit_callbacks) == 2
    assert sorted(message.to[0] for message in mail.outbox) == sorted([planner.email, colleague.email])
    message = next(m for m in mail.outbox if m.to == [planner.email])
    assert message.subject == "Are the bed counts of De Schacht still correct?"
    assert "/beds/still-correct/" in message.body and "/beds/still-correct/" in message.alternatives[0][0]
    assert "ELV hoog complex: 3 / 10" in message.body


def test_fresh_counts_get_no_reminder(stale, django_capture_on_commit_callbacks):
    assert remind_at(NOW - timedelta(hours=2), django_capture_on_commit_callbacks) == 0
    assert mail.outbox == []


def test_the_regions_own_limit_decides_what_is_stale(stale, region, django_capture_on_commit_callbacks):
    region.stale_after_hours = 24
    region.save()
    assert remind_at(NOW, django_capture_on_commit_callbacks) == 0


def test_a_location_is_not_reminded_again_while_its_reminder_is_open(stale, django_capture_on_commit_callbacks):
    assert remind_at(NOW, django_capture_on_commit_callbacks) == 1
    assert remind_at(NOW + timedelta(hours=1), django_capture_on_commit_callbacks) == 0
    assert remind_at(NOW + timedelta(hours=23), django_capture_on_commit_callbacks) == 0
    assert len(mail.outbox) == 1
    # Once the link has expired and the counts are still stale, the planner is reminded again.
    assert remind_at(NOW + timedelta(hours=24, minutes=1), django_capture_on_commit_callbacks) == 1
    assert len(mail.outbox) == 2
    assert StaleCountReminder.objects.filter(is_open=True).count() == 1


def test_sending_one_reminder_twice_mails_once(stale):
    with time_machine.travel(NOW, tick=False):
        remind_stale_bed_counts.apply().get()  # on-commit not executed: the e-mail waits
        reminder = StaleCountReminder.objects.get()
        assert send_stale_reminder_email.delay(reminder.pk).get() is True
        assert send_stale_reminder_email.delay(reminder.pk).get() is False
    assert len(mail.outbox) == 1


def test_a_reminder_that_could_not_be_queued_is_sent_by_the_sweep(stale):
    with time_machine.travel(NOW, tick=False):
        remind_stale_bed_counts.apply().get()
    with time_machine.travel(NOW + timedelta(minutes=3), tick=False):
        assert send_pending_bed_emails.delay().get() == 1
        assert send_pending_bed_emails.delay().get() == 0
    assert len(mail.outbox) == 1
    with time_machine.travel(NOW + timedelta(hours=25), tick=False):
        assert send_pending_bed_emails.delay().get() == 0


# --- The link --------------------------------------------------------------------------------


@pytest.fixture
def link(stale, django_capture_on_commit_callbacks):
    remind_at(NOW, django_capture_on_commit_callbacks)
    return link_in(mail.outbox[0])


def test_opening_the_link_shows_a_confirmation_page_and_changes_nothing(stale, link):
    with time_machine.travel(NOW + timedelta(minutes=5), tick=False):
        response = anonymous().get(link)
    assert response.status_code == 200
    page = response.content.decode()
    assert "Are the counts of De Schacht still correct?" in page
    assert '<form method="post"' in page and "csrfmiddlewaretoken" in page
    assert "<script" not in page.split("</head>")[1]  # works without JavaScript
    assert response["Cache-Control"].startswith("max-age=0")
    stale.refresh_from_db()
    assert stale.confirmed_at == NOW - timedelta(hours=13)
    assert StaleCountReminder.objects.get().used_at is None


def test_posting_the_confirmation_confirms_the_counts_as_the_reminded_planner(stale, planner, link):
    client = Client(enforce_csrf_checks=True, headers={"Accept-Language": "en"})  # as a real browser
    with time_machine.travel(NOW + timedelta(minutes=5), tick=False):
        page = client.get(link)
        token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.content.decode()).group(1)
        response = client.post(link, {"csrfmiddlewaretoken": token})
    assert response.status_code == 200
    assert "are confirmed" in response.content.decode()
    stale.refresh_from_db()
    assert stale.confirmed_at == NOW + timedelta(minutes=5)
    assert stale.confirmed_by == planner
    change = CapacityChange.objects.filter(capacity=stale).first()
    assert change.source == ChangeSource.CONFIRM and change.changed_by == planner
    reminder = StaleCountReminder.objects.get()
    assert reminder.used_at is not None and reminder.is_open is False


def test_the_link_works_once(stale, link):
    client = anonymous()
    with time_machine.travel(NOW + timedelta(minutes=5), tick=False):
        assert client.post(link).status_code == 200
    with time_machine.travel(NOW + timedelta(minutes=6), tick=False):
        again = client.post(link)
        assert again.status_code == 410
        assert "already been used" in again.content.decode()
        assert client.get(link).status_code == 410
    stale.refresh_from_db()
    assert stale.confirmed_at == NOW + timedelta(minutes=5)
    assert CapacityChange.objects.filter(capacity=stale, source=ChangeSource.CONFIRM).count() == 1


def test_an_expired_link_is_refused(stale, link):
    with time_machine.travel(NOW + timedelta(hours=24, minutes=1), tick=False):
        response = anonymous().post(link)
        assert response.status_code == 410
        assert "expired" in response.content.decode()
        assert anonymous().get(link).status_code == 410
    stale.refresh_from_db()
    assert stale.confirmed_at == NOW - timedelta(hours=13)


@pytest.mark.parametrize(
    "tamper",
    [
        lambda token: token[:-2] + ("AA" if not token.endswith("AA") else "BB"),  # signature
        lambda token: signing.dumps(signing.loads(token, salt=reminders.REMINDER_SALT), salt="other"),  # other salt
        lambda token: "not-a-token",
    ],
    ids=["signature", "salt", "garbage"],
)
def test_a_tampered_link_is_refused(stale, link, tamper):
    token = link.split("/")[-2]
    bad = reverse("beds:reminder_confirm", args=[tamper(token)])
    with time_machine.travel(NOW + timedelta(minutes=5), tick=False):
        assert anonymous().get(bad).status_code == 400
        assert anonymous().post(bad).status_code == 400
    stale.refresh_from_db()
    assert stale.confirmed_at == NOW - timedelta(hours=13)


def test_a_correctly_signed_link_for_another_reminder_or_nonce_is_refused(stale, link):
    reminder = StaleCountReminder.objects.get()
    forged = signing.dumps({"r": reminder.pk, "n": "guessed"}, salt=reminders.REMINDER_SALT)
    with time_machine.travel(NOW + timedelta(minutes=5), tick=False):
        assert anonymous().post(reverse("beds:reminder_confirm", args=[forged])).status_code == 400


def test_a_planner_who_left_the_organisation_can_no_longer_use_the_link(stale, planner, link):
    planner.is_active = False
    planner.save()
    with time_machine.travel(NOW + timedelta(minutes=5), tick=False):
        assert anonymous().post(link).status_code == 400
    assert Capacity.objects.get(pk=stale.pk).confirmed_at == NOW - timedelta(hours=13)


def test_the_link_refuses_other_methods(link):
    assert anonymous().put(link).status_code == 405


def test_a_stale_location_of_another_organisation_is_confirmed_only_by_its_own_link(stale, location, link):
    other = CapacityFactory(
        location=LocationFactory(organisation=user_with_role(Role.PROVIDER_STAFF).organisation),
        product=product("elv_laag"),
        confirmed_at=NOW - timedelta(days=3),
    )
    with time_machine.travel(NOW + timedelta(minutes=5), tick=False):
        anonymous().post(link)
    other.refresh_from_db()
    assert other.confirmed_at == NOW - timedelta(days=3)
