"""The BSN never appears in URLs, log output or e-mails, and errors reveal nothing."""

import logging

from django.core import mail
from django.utils import timezone
from rest_framework.test import APIClient

from audit.models import AccessLog
from referrals.models import Offer, Referral
from tests.factories import user_with_role
from tests.referrals.conftest import VALID_BSN, form_post


def test_a_whole_journey_leaves_no_bsn_in_urls_logs_or_mail(desk, client, caplog, django_capture_on_commit_callbacks):
    caplog.set_level(logging.DEBUG)
    urls = []

    def go(method, url, user, data=None):
        client.force_login(user)
        urls.append(url)
        with django_capture_on_commit_callbacks(execute=True):
            response = getattr(client, method)(url, data or {})
        if response.status_code in (301, 302):
            urls.append(response["Location"])
        return response

    go("post", "/referrals/new/", desk.gp, form_post())
    referral = Referral.objects.get()
    go("get", f"/referrals/{referral.pk}/", desk.coordinator)
    go("post", f"/referrals/{referral.pk}/step/", desk.coordinator, {"target": "searching"})
    go("post", f"/referrals/{referral.pk}/offers/", desk.coordinator, {"capacity": desk.capacity.pk})
    offer = Offer.objects.get()
    now = timezone.localtime().strftime("%Y-%m-%dT%H:%M")
    go("post", f"/referrals/offers/{offer.pk}/accept/", desk.planner, {"admission_at": now})
    go("post", f"/referrals/{referral.pk}/admission/", desk.planner, {"admitted_at": now})
    go("post", f"/referrals/{referral.pk}/discharge/", desk.planner, {"discharged_at": now, "destination": "home"})
    go("post", "/privacy/", desk.coordinator, {"bsn": VALID_BSN})
    referral.refresh_from_db()
    assert referral.state == "discharged"
    assert mail.outbox, "the journey sends notifications"

    assert all(VALID_BSN not in url for url in urls)
    assert all(VALID_BSN not in path for path in AccessLog.objects.values_list("path", flat=True))
    assert VALID_BSN not in caplog.text
    for message in mail.outbox:
        everything = message.subject + message.body + "".join(body for body, _ in message.alternatives)
        assert VALID_BSN not in everything
        assert "Maria" not in everything


def test_api_404_for_a_foreign_referral_looks_exactly_like_a_missing_one(desk, submitted):
    stranger = user_with_role("gp", region=desk.region)
    api = APIClient()
    api.force_authenticate(stranger)
    foreign = api.get(f"/api/v1/referrals/{submitted.pk}/")
    missing = api.get("/api/v1/referrals/999999/")
    assert foreign.status_code == missing.status_code == 404
    assert foreign.json() == missing.json()


def test_the_404_page_shows_no_patient_data(desk, submitted, client):
    client.force_login(user_with_role("gp", region=desk.region))
    response = client.get(f"/referrals/{submitted.pk}/")
    assert response.status_code == 404
    html = response.content.decode()
    assert "Maria" not in html and VALID_BSN not in html
