"""One ranking for the referral page, the board and the API (issue 17 point 2): fresh beats near,
the referrer's chosen location first among fresh counts, the board's best match is the page's first."""

from datetime import timedelta

from django.urls import reverse
from django.utils import timezone, translation

from cockpit.board import offer_suggestions
from providers.models import Insurer, Product
from referrals import services
from referrals.matching import match_locations
from referrals.models import Referral
from tests.clients import client_for
from tests.factories import CapacityFactory, LocationFactory, ProviderFactory
from tests.referrals.conftest import referral_input


def _searching(desk, preferred_location=None, **overrides):
    referral, _ = services.referral_submit(by=desk.gp, data=referral_input(**overrides))
    Referral.objects.filter(pk=referral.pk).update(preferred_location=preferred_location)
    services.referral_step(referral=referral, target="searching", by=desk.coordinator)
    return Referral.objects.select_related("patient", "region").prefetch_related("care_needs").get(pk=referral.pk)


def _location(desk, pc4, *, insurers=("9015",), hours_since_confirmed=0.0):
    location = LocationFactory(organisation=ProviderFactory(region=desk.region), pc4=pc4, insurers=list(insurers))
    return CapacityFactory(
        location=location,
        product=Product.objects.get(code="elv_hoog"),
        available=2,
        confirmed_at=timezone.now() - timedelta(hours=hours_since_confirmed),
    )


def _names(suggestions):
    return [suggestion.location.name for suggestion in suggestions]


def test_a_stale_count_next_door_ranks_after_a_confirmed_count_further_away(desk):
    desk.capacity.confirmed_at = timezone.now() - timedelta(hours=desk.region.stale_after_hours + 1)
    desk.capacity.save(update_fields=["confirmed_at"])  # in 6411, where the patient lives
    far_fresh = _location(desk, "6291")  # Vaals
    with translation.override("en"):
        suggestions = match_locations(referral=_searching(desk))
    names = _names(suggestions)
    assert names.index(far_fresh.location.name) < names.index(desk.location.name)
    stale = next(s for s in suggestions if s.location == desk.location)
    assert any("ranked after confirmed counts" in warning for warning in stale.warnings)
    assert f"{desk.region.stale_after_hours} hours" in " ".join(stale.warnings)


def test_a_stale_contracted_count_ranks_after_a_fresh_uncontracted_one(desk):
    desk.capacity.confirmed_at = None
    desk.capacity.save(update_fields=["confirmed_at"])
    uncontracted = _location(desk, "6413", insurers=["3311"])
    desk.other_capacity.confirmed_at = None
    desk.other_capacity.save(update_fields=["confirmed_at"])
    assert _names(match_locations(referral=_searching(desk)))[0] == uncontracted.location.name


def test_the_location_chosen_on_the_overview_comes_first_among_fresh_counts(desk):
    chosen = _location(desk, "6291", insurers=["3311"])  # far and not contracted
    with translation.override("en"):
        suggestions = match_locations(referral=_searching(desk, preferred_location=chosen.location))
    assert suggestions[0].location == chosen.location
    assert suggestions[0].preferred
    assert "Chosen by the referrer on the bed overview" in suggestions[0].reasons


def test_a_chosen_location_with_a_stale_count_still_ranks_after_confirmed_counts(desk):
    chosen = _location(desk, "6412", hours_since_confirmed=desk.region.stale_after_hours + 2)
    suggestions = match_locations(referral=_searching(desk, preferred_location=chosen.location))
    assert suggestions[0].location != chosen.location
    assert suggestions[-1].location == chosen.location


def test_a_chosen_location_without_a_free_bed_is_not_suggested(desk):
    chosen = _location(desk, "6412")
    chosen.held = chosen.available
    chosen.save(update_fields=["held"])
    assert chosen.location.name not in _names(
        match_locations(referral=_searching(desk, preferred_location=chosen.location))
    )


def test_the_board_suggests_what_the_referral_page_ranks_first_also_when_the_nearest_is_not_contracted(desk):
    # The board used to rank on its own; now both read rank_referrals. Patient in 6411, insured at
    # 3311 (not contracted by the desk's two locations); a contracted location further away wins.
    contracted = _location(desk, "6291", insurers=["3311"])
    referral = _searching(desk, insurer=Insurer.objects.get(uzovi="3311"))
    page_first = match_locations(referral=referral)[0]
    board_best = offer_suggestions([referral], desk.region, timezone.now())[referral.pk]
    assert page_first.location == contracted.location
    assert board_best.capacity == page_first.capacity


def test_the_board_also_puts_fresh_before_near(desk):
    desk.capacity.confirmed_at = None
    desk.capacity.save(update_fields=["confirmed_at"])
    referral = _searching(desk)
    board_best = offer_suggestions([referral], desk.region, timezone.now())[referral.pk]
    assert board_best.capacity == desk.other_capacity
    assert board_best.capacity == match_locations(referral=referral)[0].capacity


def test_the_api_ranks_the_same_and_says_why(desk):
    desk.capacity.confirmed_at = None
    desk.capacity.save(update_fields=["confirmed_at"])
    referral = _searching(desk)
    response = client_for(desk.coordinator).get(reverse("api-referral-matches", args=[referral.pk]))
    assert response.status_code == 200
    body = response.json()
    assert [row["capacity"] for row in body] == [s.capacity.pk for s in match_locations(referral=referral)]
    assert body[0]["stale"] is False and body[-1]["stale"] is True
    assert body[0]["contracted"] is True and body[0]["distance_km"] is not None
