"""KPI figures against the hand-built fixture in conftest.py (known medians, P90s and shares).
The suite runs on SQLite by default and on PostgreSQL in CI: the same answers on both."""

from datetime import date

import pytest
from django.db import connection

from cockpit.kpis import kpi_report, with_timings
from cockpit.periods import Period
from cockpit.stats import SecondsBetween, percentiles, percentiles_by_window
from referrals.models import Offer, OfferState, Referral, State, Stay, StayProductChange
from tests.cockpit.conftest import PERIOD, at, make_referral, make_stay
from tests.factories import RegionFactory

approx = pytest.approx


def rows_by_label(table) -> dict:
    return {str(row["label"]): row for row in table.rows}


@pytest.fixture
def report(kpi_world):
    return kpi_report(region=kpi_world.region, period=PERIOD)


def test_referrals_by_origin_product_and_outcome_count_only_the_period_and_region(report):
    origin = rows_by_label(report.table("origin"))
    assert (origin["Home"]["count"], origin["Emergency department"]["count"], origin["Hospital ward"]["count"]) == (
        4,
        3,
        3,
    )
    assert origin["Home"]["share"] == approx(0.4)
    assert origin["Total"]["count"] == 10
    product = {row["label"]: row["count"] for row in report.table("product").rows}
    assert product == {"ELV hoog complex": 5, "ELV laag complex": 2, "ELV palliatief": 3, "Total": 10}
    outcome = {row["label"]: row["count"] for row in report.table("outcome").rows}
    assert list(outcome.values()) == [6, 1, 1, 2, 10]  # placed, redirected, cancelled, waiting, total


def test_time_to_first_offer_and_to_acceptance_median_and_p90(report):
    timing = report.table("timing").rows
    to_offer, to_accept = timing
    assert to_offer["count"] == 8
    assert to_offer["median"] == approx(45 / 60, abs=1e-4)  # between 40 and 50 minutes
    assert to_offer["p90"] == approx(156 / 60, abs=1e-4)  # 120 + 0.3 × (240 − 120)
    assert to_accept["count"] == 6
    assert to_accept["median"] == approx(145 / 60, abs=1e-4)  # between 90 and 200
    assert to_accept["p90"] == approx(900 / 60, abs=1e-4)  # 300 + 0.5 × (1500 − 300)


def test_share_placed_within_4_and_24_hours_leaves_planned_referrals_out(report):
    four, day = report.table("placed_within").rows
    assert (four["count"], four["total"]) == (4, 9)
    assert four["share"] == approx(4 / 9)
    assert (day["count"], day["total"]) == (5, 9)
    assert day["share"] == approx(5 / 9)


def test_declines_by_reason(report):
    declines = {row["label"]: row["count"] for row in report.table("declines").rows}
    assert declines["No bed after all"] == 1
    assert declines["Care too complex for this location"] == 1
    assert declines["Insurer not contracted"] == 1
    assert declines["No physician available"] == 0
    assert declines["Total"] == 3


def test_unmet_demand_lists_redirected_and_never_placed_referrals_with_their_reason(report):
    rows = [(row["label"], row["product"], row["count"]) for row in report.table("unmet").rows]
    assert sorted(rows) == [
        ("Cancelled before a bed was booked", "ELV palliatief", 1),
        ("Redirected to Hospital", "ELV laag complex", 1),
    ]


def test_length_of_stay_and_discharge_destinations(report):
    (los,) = report.table("length_of_stay").rows
    assert los["count"] == 4
    assert los["mean"] == approx(6.25, abs=1e-4)
    assert los["median"] == approx(6.5, abs=1e-4)
    assert los["p90"] == approx(9.4, abs=1e-4)
    destinations = rows_by_label(report.table("destinations"))
    assert destinations["Home"]["count"] == 1
    assert destinations["Home with district nursing"]["count"] == 1
    assert destinations["Deceased"]["count"] == 1
    assert destinations["Wlz institution"]["count"] == 1
    assert destinations["Hospital"]["count"] == 0  # the February stay is outside the period
    home = destinations["Share home (excluding deaths)"]
    assert (home["count"], home["share"]) == (2, approx(2 / 3))


def test_providers_compared_on_acceptance_answer_time_length_of_stay_and_share_home(report):
    providers = rows_by_label(report.table("providers"))
    assert list(providers) == ["Aardenburg Zorg", "Beekdal Zorg"]
    a, b = providers["Aardenburg Zorg"], providers["Beekdal Zorg"]
    assert (a["judged"], a["accepted"], a["acceptance"]) == (5, 4, approx(0.8))
    assert a["answer"] == approx(40, abs=1e-3)
    assert (a["stays"], a["los"], a["home"]) == (2, approx(7.5, abs=1e-4), approx(1.0))
    assert (b["judged"], b["accepted"], b["acceptance"]) == (5, 2, approx(0.4))
    assert b["answer"] == approx(45, abs=1e-3)
    assert (b["stays"], b["los"], b["home"]) == (2, approx(5.0, abs=1e-4), approx(0.0))


def test_referrals_per_day_fill_every_day_of_the_period(report):
    volume = report.table("volume")
    assert len(volume.rows) == 20
    assert [row["count"] for row in volume.rows[:12]] == [0, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0]
    assert volume.chart is not None and len(volume.chart.series[0].points) == 20


def test_an_empty_period_gives_no_percentiles_and_no_shares(kpi_world):
    report = kpi_report(region=kpi_world.region, period=Period(date(2025, 1, 1), date(2025, 1, 31)))
    to_offer, _ = report.table("timing").rows
    assert (to_offer["count"], to_offer["median"], to_offer["p90"]) == (0, None, None)
    four, _ = report.table("placed_within").rows
    assert four["share"] is None
    assert report.table("providers").rows == []


def test_percentiles_per_group_in_one_query(kpi_world, django_assert_num_queries):
    offers = Offer.objects.filter(
        referral__region=kpi_world.region,
        created_at__gte=PERIOD.start_at,
        created_at__lt=PERIOD.end_at,
        state__in=["accepted", "declined"],
    )
    with django_assert_num_queries(1):
        found = percentiles(
            offers,
            {"answer": SecondsBetween("answered_at", "created_at")},
            group_by=("location__organisation_id",),
            fractions=(0.5, 0.9),
        )
    a = found[(kpi_world.provider_a.pk,)]["answer"]
    b = found[(kpi_world.provider_b.pk,)]["answer"]
    assert (a[0.5] / 60, a[0.9] / 60) == (approx(40, abs=1e-3), approx(184, abs=1e-3))  # [15, 20, 40, 160, 200]
    assert (b[0.5] / 60, b[0.9] / 60) == (approx(45, abs=1e-3), approx(1026, abs=1e-3))  # [10, 30, 60, 1440]


@pytest.mark.skipif(connection.vendor != "postgresql", reason="compares with PostgreSQL's percentile_cont")
def test_window_fallback_gives_the_same_numbers_as_percentile_cont(kpi_world):
    timed = with_timings(Referral.objects.filter(region=kpi_world.region))
    values = {
        "to_offer": SecondsBetween("first_offer_at", "created_at"),
        "to_accept": SecondsBetween("accepted_at", "created_at"),
    }
    native = percentiles(timed, values, fractions=(0.1, 0.5, 0.9, 0.99))
    fallback = percentiles_by_window(timed, values, fractions=(0.1, 0.5, 0.9, 0.99))
    assert native.keys() == fallback.keys()
    for key in native:
        for name in native[key]:
            for fraction, value in native[key][name].items():
                assert fallback[key][name][fraction] == approx(value, abs=1e-6)


def test_a_booking_cancelled_later_still_counts_as_accepted_and_not_as_cancelled_before_booking(kpi_world):
    """R5's bed was booked (accepted at 300 min), then the referral was cancelled: the provider
    still accepted it in 300 minutes, and it was not a referral cancelled before a bed."""
    r5 = Referral.objects.get(region=kpi_world.region, state=State.ACCEPTED)
    Offer.objects.filter(referral=r5, state=OfferState.ACCEPTED).update(state=OfferState.CANCELLED)
    Referral.objects.filter(pk=r5.pk).update(state=State.CANCELLED)

    report = kpi_report(region=kpi_world.region, period=PERIOD)

    _, to_accept = report.table("timing").rows
    assert to_accept["count"] == 6
    assert to_accept["median"] == approx(145 / 60, abs=1e-4)
    unmet = [(row["label"], row["product"], row["count"]) for row in report.table("unmet").rows]
    assert ("Cancelled before a bed was booked", "ELV hoog complex", 1) not in unmet
    provider_a = rows_by_label(report.table("providers"))["Aardenburg Zorg"]
    assert (provider_a["judged"], provider_a["accepted"]) == (5, 4)


def test_product_changes_in_the_period_count_op_and_afschaling_and_palliatief_apart(kpi_world):
    """R4 (admitted at A, ELV hoog) goes down to laag and up again; R3 (at B) goes to palliatief and
    back to hoog (neither op- nor afschaling: other); a change in February and one of another
    region's stay are not counted."""
    w, c = kpi_world, kpi_world.cap
    r3, r4 = (Stay.objects.get(referral=w.referrals[n]) for n in (3, 4))
    old = Stay.objects.get(referral__region=w.region, referral__created_at__month=2)
    elsewhere = make_referral(w, created_at=at(5), region=RegionFactory(), state=State.ADMITTED, name="Elders Twee")
    far = make_stay(elsewhere, c["a", "elv_hoog"], admitted_at=at(5, 10))
    for stay, old_count, new_count, moment in [
        (r4, c["a", "elv_hoog"], c["a", "elv_laag"], at(6)),
        (r4, c["a", "elv_laag"], c["a", "elv_hoog"], at(7)),
        (r3, c["b", "elv_hoog"], c["b", "elv_palliatief"], at(5, 9)),
        (r3, c["b", "elv_palliatief"], c["b", "elv_hoog"], at(5, 10)),
        (old, c["a", "elv_hoog"], c["a", "elv_laag"], at(12, month=2)),
        (far, c["a", "elv_hoog"], c["a", "elv_laag"], at(6)),
    ]:
        StayProductChange.objects.create(stay=stay, from_capacity=old_count, to_capacity=new_count, changed_at=moment)

    changes = rows_by_label(kpi_report(region=w.region, period=PERIOD).table("product_changes"))

    assert changes["Opschaling: ELV laag to ELV hoog"]["count"] == 1
    assert changes["Afschaling: ELV hoog to ELV laag"]["count"] == 1
    assert changes["To ELV palliatief"]["count"] == 1
    assert changes["Other product change"]["count"] == 1
    assert changes["Total"]["count"] == 4


def test_a_period_without_product_changes_shows_zero(report):
    changes = rows_by_label(report.table("product_changes"))
    assert changes["Total"]["count"] == 0 and changes["Total"]["share"] is None
