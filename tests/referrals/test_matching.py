from datetime import time

import time_machine
from django.utils import timezone

from providers.models import Product
from referrals import services
from referrals.matching import match_locations
from tests.factories import CapacityFactory, LocationFactory, ProviderFactory
from tests.referrals.conftest import referral_input


def _searching(desk, **overrides):
    referral, _ = services.referral_submit(by=desk.gp, data=referral_input(**overrides))
    services.referral_step(referral=referral, target="searching", by=desk.coordinator)
    return referral


def _hoog_location(desk, pc4, **kwargs):
    organisation = ProviderFactory(region=desk.region)
    location = LocationFactory(organisation=organisation, pc4=pc4, **kwargs)
    return CapacityFactory(location=location, product=Product.objects.get(code="elv_hoog"), available=2)


def test_only_locations_with_a_free_unheld_bed_of_the_product_are_suggested(desk):
    full = _hoog_location(desk, "6413", insurers=["9015"])
    full.held = full.available
    full.save()
    referral = _searching(desk)
    names = [s.location.name for s in match_locations(referral=referral)]
    assert full.location.name not in names
    assert desk.location.name in names


def test_required_care_needs_are_a_hard_filter(desk):
    with_oxygen = _hoog_location(desk, "6413", features=["oxygen"], insurers=["9015"])
    referral = _searching(desk, care_needs=[with_oxygen.location.features.get()])
    assert [s.location for s in match_locations(referral=referral)] == [with_oxygen.location]


def test_contracted_insurer_comes_before_distance(desk):
    near_uncontracted = _hoog_location(desk, "6411", insurers=["3311"])
    referral = _searching(desk)  # patient in 6411, insured at 9015
    suggestions = match_locations(referral=referral)
    order = [s.location for s in suggestions]
    assert order.index(desk.location) < order.index(near_uncontracted.location)
    uncontracted = next(s for s in suggestions if s.location == near_uncontracted.location)
    assert any("9015" not in w and "CZ" in w for w in uncontracted.warnings)


def test_nearer_locations_come_first_and_say_how_far(desk):
    far = _hoog_location(desk, "6291", insurers=["9015"])  # Vaals
    referral = _searching(desk)
    suggestions = match_locations(referral=referral)
    assert [s.location for s in suggestions].index(desk.location) < [s.location for s in suggestions].index(
        far.location
    )
    assert any("km" in reason for reason in suggestions[0].reasons)


def test_a_location_that_cannot_admit_now_is_left_out_for_today(desk):
    daytime = _hoog_location(desk, "6413", insurers=["9015"], admission_24_7=False)
    daytime.location.admission_from, daytime.location.admission_until = time(8), time(17)
    daytime.location.save()
    night = timezone.make_aware(timezone.datetime(2026, 11, 25, 23, 30))
    with time_machine.travel(night, tick=False):
        referral = _searching(desk)
        names = [s.location for s in match_locations(referral=referral)]
    assert daytime.location not in names
    assert desk.location in names


def test_a_location_that_declined_for_a_clinical_reason_is_not_suggested_again(desk):
    referral = _searching(desk)
    offer = services.offer_create(referral=referral, capacity=desk.capacity, by=desk.coordinator)
    services.offer_decline(offer=offer, by=desk.planner, reason="too_complex")
    assert desk.location not in [s.location for s in match_locations(referral=referral)]


def test_every_suggestion_explains_itself_in_words(desk):
    referral = _searching(desk)
    suggestion = match_locations(referral=referral)[0]
    assert suggestion.reasons
    assert all(isinstance(reason, str) and reason for reason in suggestion.reasons)
