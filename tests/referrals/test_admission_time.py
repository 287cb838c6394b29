"""The expected admission time given with an accept is plausible: not in the past (an hour's grace
for a time entered just after the fact), not more than two weeks ahead. The rule is the
service's (services.offer_accept), so the page and the API refuse the same times and change nothing."""

from datetime import datetime, timedelta

import pytest
from django.core.exceptions import ValidationError
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from beds.models import CapacityChange
from referrals import services
from referrals.models import OfferState, ReferralEvent, State
from tests.referrals.test_api import api, assert_error, offer_url

ABSURD = {
    "1900": lambda: timezone.make_aware(datetime(1900, 1, 1)),
    "yesterday": lambda: timezone.now() - timedelta(days=1),
    "three weeks ahead": lambda: timezone.now() + timedelta(days=21),
    "year 9999": lambda: timezone.make_aware(datetime(9999, 1, 1)),
}


def assert_nothing_changed(desk, offer, changes_before: int) -> None:
    offer.refresh_from_db()
    assert (offer.state, offer.admission_at) == (OfferState.OPEN, None)
    desk.capacity.refresh_from_db()
    assert (desk.capacity.available, desk.capacity.held) == (1, 1)
    assert CapacityChange.objects.count() == changes_before
    assert not ReferralEvent.objects.filter(referral_id=offer.referral_id, to_state=State.ACCEPTED).exists()


@pytest.mark.parametrize("when", list(ABSURD), ids=list(ABSURD))
def test_the_api_refuses_an_absurd_admission_time_with_a_field_error(desk, offer, when):
    changes = CapacityChange.objects.count()

    response = api(desk.planner).post(
        offer_url(offer.pk, "accept"), {"admission_at": ABSURD[when]().isoformat()}, format="json"
    )

    error = assert_error(response, 400, "invalid")
    assert list(error["fields"]) == ["admission_at"]
    assert_nothing_changed(desk, offer, changes)


@pytest.mark.parametrize("when", ["1900", "three weeks ahead"])
def test_the_page_refuses_an_absurd_admission_time_with_a_form_error(desk, offer, when):
    changes = CapacityChange.objects.count()
    client = Client(headers={"Accept-Language": "en"})
    client.force_login(desk.planner)
    typed = timezone.localtime(ABSURD[when]()).strftime("%Y-%m-%dT%H:%M")

    response = client.post(reverse("referrals:offer_accept", args=[offer.pk]), {"admission_at": typed})

    assert response.status_code == 400
    page = response.content.decode()
    assert "cannot be in the past" in page or "cannot be more than two weeks ahead" in page
    assert response.context["accept_form"].errors["admission_at"]
    assert_nothing_changed(desk, offer, changes)


@pytest.mark.parametrize(
    "offset", [timedelta(minutes=-30), timedelta(hours=2), timedelta(days=13)], ids=["just now", "today", "13 days"]
)
def test_a_plausible_admission_time_is_accepted(desk, offer, offset):
    accepted = services.offer_accept(offer=offer, by=desk.planner, admission_at=timezone.now() + offset)

    assert accepted.state == OfferState.ACCEPTED


def test_the_service_itself_refuses_it_whoever_calls(desk, offer):
    with pytest.raises(ValidationError) as refused:
        services.offer_accept(offer=offer, by=desk.planner, admission_at=ABSURD["1900"]())

    assert list(refused.value.message_dict) == ["admission_at"]


def test_an_accept_without_an_admission_time_is_still_fine(desk, offer):
    response = api(desk.planner).post(offer_url(offer.pk, "accept"), {}, format="json")

    assert response.status_code == 200
