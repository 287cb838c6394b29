"""The benchmark's data generator (bench/dataset.py) on the test database: a tiny data set that
obeys the same rules as data made through the services. No timing here: `make bench` measures."""

import pytest

from beds.models import Capacity
from bench import dataset
from providers.models import Location, Region
from referrals.models import Offer, Referral, ReferralEvent, State, Stay


@pytest.mark.django_db
def test_plan_keeps_the_focus_region_at_every_scale():
    chunks = dataset.pc4_chunks()  # the real PC4 table, loaded by a data migration
    focus = dataset.focus_index(chunks)
    assert chunks[focus][0][0] <= dataset.FOCUS_PC4 <= chunks[focus][-1][0]

    full = dataset.make_plan(1.0, chunks)
    small = dataset.make_plan(0.05, chunks)
    tiny = dataset.make_plan(0.001, chunks)

    assert full.region_indexes == list(range(31)) and full.density == 1.0
    assert len(small.region_indexes) == 2 and focus in small.region_indexes and small.density == 1.0
    assert tiny.region_indexes == [focus] and tiny.density == pytest.approx(0.031)


@pytest.mark.django_db
def test_generator_makes_a_tiny_consistent_data_set():
    summary = dataset.generate(scale=0.001, seed=7, log=lambda *args: None)

    region = Region.objects.get(code=summary["focus_region_code"])
    assert summary["regions"] == 1
    assert Location.objects.filter(organisation__region=region).count() >= 3
    assert Capacity.objects.filter(location__organisation__region=region).count() == summary["rows"]["bed counts"]
    referrals = Referral.objects.filter(region=region)
    assert referrals.count() == summary["rows"]["referrals"] > 50
    assert referrals.filter(state=State.DISCHARGED).exists()
    assert ReferralEvent.objects.filter(referral__region=region).count() > referrals.count()
    assert Offer.objects.filter(referral__region=region).exists()
    assert Stay.objects.filter(referral__region=region).exists()
    assert dataset.check_consistency() == {
        "counts_out_of_bounds": 0,
        "held_not_open_offers": 0,
        "two_open_offers": 0,
        "two_live_referrals": 0,
        "stays_without_acceptance": 0,
    }
    # Every referral's timeline starts with its submission and ends in its current state.
    for referral in referrals.prefetch_related("events")[:20]:
        events = list(referral.events.all())
        assert events[0].to_state == State.SUBMITTED
        assert events[-1].to_state == referral.state
