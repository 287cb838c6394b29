"""The referral page's own read (`referral_page_for_user`, found slow by `make bench`): offers and
escalations cost a query only when there are any, and the referrer comes from the timeline."""

import pytest
from django.test import Client
from django.urls import reverse

from accounts.models import Role, User
from referrals import services
from referrals.models import Escalation, EscalationKind, Referral
from referrals.selectors import referral_page_for_user
from tests.factories import user_with_role

pytestmark = pytest.mark.django_db


def reader(user) -> User:
    """The signed-in user as a request has it (with the organisation)."""
    return User.objects.select_related("organisation").get(pk=user.pk)


def page(user, referral) -> str:
    client = Client(headers={"Accept-Language": "en"})
    client.force_login(user)
    response = client.get(reverse("referrals:detail", args=[referral.pk]))
    assert response.status_code == 200
    return response.content.decode()


def test_a_referral_without_offers_or_escalations_is_read_in_three_queries(desk, searching, django_assert_num_queries):
    coordinator = reader(desk.coordinator)
    # The referral (with its patient, product, organisation, region), care needs, timeline.
    with django_assert_num_queries(3):
        referral = referral_page_for_user(coordinator, searching.pk)
        assert (referral.page_offers, referral.page_escalations) == ([], [])
        assert str(referral.referred_by) == str(desk.gp)


def test_offers_and_escalations_are_read_when_there_are_any(desk, searching, django_assert_num_queries):
    offer = services.offer_create(referral=searching, capacity=desk.capacity, by=desk.coordinator)
    Escalation.objects.create(referral=searching, kind=EscalationKind.OFFER_UNANSWERED, offer=offer)
    coordinator = reader(desk.coordinator)

    with django_assert_num_queries(5):
        referral = referral_page_for_user(coordinator, searching.pk)
        assert [o.location.organisation.name for o in referral.page_offers] == [desk.location.organisation.name]
        assert [e.kind for e in referral.page_escalations] == [EscalationKind.OFFER_UNANSWERED]


def test_a_referrer_who_is_not_on_the_timeline_is_still_shown(desk, searching):
    colleague = user_with_role(Role.GP, desk.gp.organisation, first_name="Anna", last_name="Colleague")
    Referral.objects.filter(pk=searching.pk).update(referred_by=colleague)

    assert "Anna Colleague" in page(desk.coordinator, searching)
