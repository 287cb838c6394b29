"""A location deactivated in Beheer takes no more offers, also when the deactivation lands
between the moment the desk saw the suggestion and pressing "send"."""

import pytest
from django.core.exceptions import ValidationError

from accounts.models import Role
from elvdesk.errors import Conflict
from providers import services as provider_services
from referrals import services
from referrals.models import Offer
from tests.factories import user_with_role

pytestmark = pytest.mark.django_db


def test_an_offer_to_a_location_deactivated_meanwhile_is_refused_and_holds_nothing(desk, searching):
    desk.location.is_active = False
    desk.location.save(update_fields=["is_active"])
    with pytest.raises(Conflict) as refused:
        services.offer_create(referral=searching, capacity=desk.capacity, by=desk.coordinator)
    assert refused.value.code == "location_inactive"
    desk.capacity.refresh_from_db()
    assert desk.capacity.held == 0
    assert not Offer.objects.exists()


def test_a_location_with_an_open_offer_cannot_be_deactivated(desk, offer):
    admin = user_with_role(Role.ADMIN, region=desk.region)
    with pytest.raises(ValidationError) as refused:
        provider_services.location_deactivate(location=desk.location, by=admin)
    assert refused.value.code == "patients_depend"
    desk.location.refresh_from_db()
    assert desk.location.is_active
