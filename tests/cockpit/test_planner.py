"""The capacity planner (cockpit/planner.py): the Erlang loss formula's known values, arrivals and
length of stay from the history, the what-ifs, and the page, its exports and the API."""

import csv
import io
from datetime import date, timedelta

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse
from openpyxl import load_workbook
from rest_framework.test import APIClient

from accounts.models import Role
from cockpit.erlang import beds_needed, erlang_b
from cockpit.periods import Period
from cockpit.planner import DEFAULT_LOS_DAYS, POOL_KEY, BedChange, LosSource, capacity_plan, curve
from referrals.models import State
from tests.clients import client_for
from tests.cockpit.conftest import at, make_referral, make_stay
from tests.factories import CapacityFactory, LocationFactory, ProviderFactory, RegionFactory, user_with_role

PLANNER = reverse("cockpit:planner")
EXPORT = reverse("cockpit:planner_export")
API = reverse("api-planner")
PERIOD = Period(start=date(2026, 3, 1), end=date(2026, 3, 10))  # 10 days
QUERY = {"from": "2026-03-01", "to": "2026-03-10"}


# --- the formula --------------------------------------------------------------------------------


def test_erlang_b_known_values():
    assert round(erlang_b(10, 15), 4) == 0.0365
    assert round(erlang_b(10, 10), 4) == 0.2146
    assert erlang_b(1, 1) == pytest.approx(0.5)
    assert beds_needed(10, 0.05) == 15
    assert erlang_b(10, 14) > 0.05 >= erlang_b(10, 15)


def test_erlang_b_edge_cases():
    assert erlang_b(0, 0) == 1.0  # no beds at all: nobody finds one
    assert erlang_b(0, 5) == 0.0
    assert erlang_b(5, 0) == 1.0
    assert beds_needed(0, 0.05) == 0
    assert erlang_b(1000, 1200) < 1e-6  # the recurrence stays finite for large numbers
    for bad in (lambda: erlang_b(-1, 3), lambda: erlang_b(3, -1), lambda: beds_needed(3, 0), lambda: beds_needed(3, 1)):
        with pytest.raises(ValueError):
            bad()


def test_the_curve_spans_ten_beds_around_today_and_needed():
    points = curve(load=10, current=12, needed=15)
    assert (points[0].beds, points[-1].beds) == (2, 25)
    assert [p.beds for p in points if p.is_current] == [12] and [p.beds for p in points if p.is_needed] == [15]
    assert points[13].probability == pytest.approx(erlang_b(10, 15))
    assert curve(load=1, current=3, needed=2)[0].beds == 0  # never below 0 beds


# --- from the history ---------------------------------------------------------------------------


@pytest.fixture
def history(world):
    """ELV hoog: 20 referrals in 1–10 March 2026 (one cancelled, one redirected: they count), two
    stays discharged in the period (5 and 10 days: mean 7.5), an open stay and noise that does not
    count. ELV palliatief: 5 referrals, no discharged stay (the national default). ELV laag: none.
    Beds (conftest world): hoog 20, laag 20, palliatief 10."""
    w, hoog = world, world.cap["a", "elv_hoog"]
    referrals = []
    for n in range(20):
        state = {0: State.CANCELLED, 1: State.REDIRECTED}.get(n, State.SEARCHING)
        referrals.append(make_referral(w, created_at=at(1 + n // 2, 8 + n % 2), state=state, name=f"Hoog {n}"))
    for n in range(5):
        make_referral(w, created_at=at(2 + n), product="elv_palliatief", state=State.SEARCHING, name=f"Pall {n}")
    make_stay(referrals[2], hoog, admitted_at=at(25, month=2), days=5)  # discharged 2 March
    make_stay(referrals[3], hoog, admitted_at=at(28, month=2), days=10)  # discharged 10 March
    make_stay(referrals[4], hoog, admitted_at=at(3))  # still there: not counted
    make_stay(referrals[5], hoog, admitted_at=at(3), days=9)  # discharged 12 March: after the period
    # Not arrivals: a draft, before the period, another region.
    make_referral(w, created_at=at(4), state=State.DRAFT, name="Concept")
    make_referral(w, created_at=at(28, month=2), name="Februari")
    make_referral(w, created_at=at(4), region=RegionFactory(), name="Elders")
    return w


def _row(plan, key):
    return next(row for row in plan.rows if row.key == key)


def test_arrivals_and_length_of_stay_come_from_the_period(history):
    plan = capacity_plan(region=history.region, period=PERIOD)

    assert [row.key for row in plan.rows] == ["elv_laag", "elv_hoog", "elv_palliatief"]
    hoog = _row(plan, "elv_hoog")
    assert (hoog.arrivals, hoog.arrivals_per_day) == (20, 2.0)
    assert hoog.discharged_stays == 2 and hoog.mean_los_days == pytest.approx(7.5)
    assert hoog.los_source == LosSource.HISTORY
    assert hoog.load == pytest.approx(15.0)
    assert hoog.beds_today == 20
    assert hoog.probability == pytest.approx(erlang_b(15, 20))
    assert hoog.needed == beds_needed(15, 0.05) == 20  # P(no bed) 4.56 % with 20, 6.6 % with 19
    assert hoog.shortfall == 0
    pall = _row(plan, "elv_palliatief")
    assert pall.mean_los_days == DEFAULT_LOS_DAYS and pall.los_source == LosSource.DEFAULT
    assert pall.load == pytest.approx(0.5 * 34)
    laag = _row(plan, "elv_laag")
    assert (laag.load, laag.probability, laag.needed, laag.shortfall) == (0, 0.0, 0, -20)


def test_growth_raises_the_load_and_the_chance(history):
    base = _row(capacity_plan(region=history.region, period=PERIOD), "elv_hoog")
    grown = _row(capacity_plan(region=history.region, period=PERIOD, growth_percent=10), "elv_hoog")
    assert grown.load == pytest.approx(16.5)
    assert grown.probability > base.probability and grown.needed >= base.needed


def test_added_beds_lower_the_chance_and_removed_beds_raise_it(history):
    location = history.cap["a", "elv_hoog"].location_id
    base = _row(capacity_plan(region=history.region, period=PERIOD), "elv_hoog")
    more = _row(
        capacity_plan(region=history.region, period=PERIOD, changes=[BedChange(location, "elv_hoog", 3)]), "elv_hoog"
    )
    fewer = _row(
        capacity_plan(region=history.region, period=PERIOD, changes=[BedChange(location, "elv_hoog", -4)]), "elv_hoog"
    )
    assert (more.beds_contracted, more.beds_changed, more.beds_today) == (20, 3, 23)
    assert more.probability == pytest.approx(erlang_b(15, 23)) and more.probability < base.probability
    assert fewer.beds_today == 16 and fewer.probability > base.probability
    assert more.shortfall == -3 and fewer.shortfall == 4


def test_a_lower_target_needs_more_beds(history):
    strict = _row(capacity_plan(region=history.region, period=PERIOD, target=0.001), "elv_hoog")
    assert strict.needed == beds_needed(15, 0.001) > 20 and strict.shortfall > 0


def test_pooled_laag_and_hoog_are_one_row_with_summed_load_and_beds(history):
    separate = capacity_plan(region=history.region, period=PERIOD)
    pooled = capacity_plan(region=history.region, period=PERIOD, pooled=True)

    assert [row.key for row in pooled.rows] == [POOL_KEY, "elv_palliatief"]
    flex = _row(pooled, POOL_KEY)
    laag, hoog = _row(separate, "elv_laag"), _row(separate, "elv_hoog")
    assert flex.load == pytest.approx(laag.load + hoog.load)
    assert flex.beds_today == 40 and flex.arrivals == 20
    assert flex.probability == pytest.approx(erlang_b(15, 40))
    assert flex.needed <= laag.needed + hoog.needed
    assert flex.mean_los_days == pytest.approx(7.5)


def test_a_location_of_another_region_is_refused(history):
    elsewhere = LocationFactory(organisation=ProviderFactory(region=RegionFactory()))
    CapacityFactory(location=elsewhere, product=history.cap["a", "elv_hoog"].product)
    with pytest.raises(ValidationError) as error:
        capacity_plan(region=history.region, period=PERIOD, changes=[BedChange(elsewhere.pk, "elv_hoog", 2)])
    assert "not an active location of your region" in error.value.message_dict["beds"][0]


def test_a_location_cannot_lose_more_beds_than_it_has(history):
    location = history.cap["a", "elv_hoog"].location_id
    with pytest.raises(ValidationError) as error:
        capacity_plan(region=history.region, period=PERIOD, changes=[BedChange(location, "elv_hoog", -11)])
    assert "cannot lose more than that" in error.value.message_dict["beds"][0]
    with pytest.raises(ValidationError):
        capacity_plan(region=history.region, period=PERIOD, changes=[BedChange(location, "grz", 1)])


# --- the page -----------------------------------------------------------------------------------


@pytest.mark.parametrize("role", [Role.COORDINATOR, Role.ANALYST])
def test_coordinators_and_analysts_see_a_chart_and_table_per_product(history, role):
    response = client_for(user_with_role(role, region=history.region)).get(PLANNER, QUERY)

    assert response.status_code == 200
    page = response.content.decode()
    assert page.count('role="img"') == 3
    for key in ("elv_laag", "elv_hoog", "elv_palliatief"):
        assert f'id="table-planner-{key}"' in page and f'id="chart-planner-{key}-title"' in page
    assert page.count('class="is-current"') == 3  # today's beds marked in each table
    assert "mark-target" in page and "mark-current" in page
    assert page.count('class="baseline"') == 3 and 'text-anchor="end">beds</text>' in page  # shared axes
    assert "national average (no discharged stays in the period)" in page
    assert reverse("cockpit:planner") in page  # in the menu
    assert "Hoog 1" not in page


def test_without_input_the_page_shows_the_last_90_days_and_5_percent(history):
    response = client_for(history.coordinator).get(PLANNER)
    assert response.status_code == 200
    plan = response.context["plan"]
    assert (plan.period.end - plan.period.start).days == 89 and plan.target == 0.05
    assert f'value="{plan.period.start.isoformat()}"' in response.content.decode()


def test_what_ifs_on_the_page(history):
    location = history.cap["b", "elv_hoog"].location_id
    beds = f"{location}:elv_hoog:+2, {location}:elv_laag:-1"
    query = {**QUERY, "growth": "10", "target": "1", "flex": "on", "beds": beds}
    response = client_for(history.coordinator).get(PLANNER, query)
    assert response.status_code == 200
    plan = response.context["plan"]
    flex = _row(plan, POOL_KEY)
    assert (flex.beds_today, plan.target) == (41, 0.01)
    assert flex.load == pytest.approx(16.5)
    assert f"{location}:elv_hoog:+2" in response.content.decode()  # what was typed stays


@pytest.mark.parametrize("role", [Role.GP, Role.TRANSFER_NURSE, Role.PROVIDER_STAFF, Role.ADMIN])
def test_other_roles_get_403(history, role):
    client = client_for(user_with_role(role, region=history.region))
    assert client.get(PLANNER).status_code == 403
    assert client.get(EXPORT, {"format": "csv"}).status_code == 403


def test_an_analyst_of_another_region_sees_only_their_own_region(history):
    other = user_with_role(Role.ANALYST, region=RegionFactory(name="Verweg"))
    response = client_for(other).get(PLANNER, QUERY)

    assert response.status_code == 200
    plan = response.context["plan"]
    assert plan.region == other.organisation.region
    assert all(row.arrivals == 0 and row.beds_today == 0 for row in plan.rows)
    assert "Locatie Aardenburg" not in response.content.decode()
    # naming this region's location does not reveal it either
    location = history.cap["a", "elv_hoog"].location_id
    refused = client_for(other).get(PLANNER, {**QUERY, "beds": f"{location}:elv_hoog:+1"})
    assert refused.status_code == 400 and "Locatie Aardenburg" not in refused.content.decode()


def test_the_planner_answers_only_get(history):
    client = client_for(history.coordinator)
    assert client.post(PLANNER).status_code == 405
    assert client.post(EXPORT).status_code == 405


@pytest.mark.parametrize(
    "query, field, message",
    [
        ({"growth": "lots"}, "growth", "Enter a number, for example 10 or 2.5."),
        ({"growth": "900"}, "growth", "Ensure this value is less than or equal to 500."),
        ({"target": "0"}, "target", "Ensure this value is greater than or equal to 0.1."),
        ({"target": "75"}, "target", "Ensure this value is less than or equal to 50."),
        ({"from": "2026-03-10", "to": "2026-03-01"}, "to", "The end date is before the start date."),
        ({"from": "2026-03-01"}, "to", "Enter both dates of the period."),
        ({"from": "2031-03-01", "to": "2031-04-01"}, "to", "The period cannot end after today"),
        ({"beds": "12 beds more"}, "beds", "is not a change"),
        ({"beds": "999999:elv_hoog:+1"}, "beds", "Location 999999 is not an active location of your region."),
    ],
)
def test_bad_input_is_a_400_with_a_message_and_keeps_what_was_typed(history, query, field, message):
    response = client_for(history.coordinator).get(PLANNER, query)
    assert response.status_code == 400
    page = response.content.decode()
    assert message in page and 'role="alert"' in page
    assert response.context["form"].errors[field]
    typed = next(iter(query.values()))
    assert f'value="{typed}"' in page or f"{typed}</textarea>" in page

    api = APIClient(HTTP_ACCEPT_LANGUAGE="en")
    api.force_authenticate(history.analyst)
    answer = api.get(API, query)
    assert answer.status_code == 400
    error = answer.json()["error"]
    assert error["code"] == "invalid" and field in error["fields"]


def test_bad_input_message_in_dutch(history):
    response = client_for(history.coordinator, language="nl").get(PLANNER, {"from": "2026-03-10", "to": "2026-03-01"})
    assert response.status_code == 400
    assert "De einddatum ligt vóór de begindatum." in response.content.decode()


def test_htmx_gets_only_the_planner_part(history):
    response = client_for(history.coordinator, htmx=True).get(PLANNER, QUERY)
    assert response.status_code == 200
    page = response.content.decode()
    assert page.lstrip().startswith('<div id="planner">') and "<html" not in page
    assert response["Vary"] and "HX-Request" in response["Vary"]


def test_the_page_reads_in_a_fixed_number_of_queries(history, django_assert_num_queries):
    client = client_for(history.analyst)
    client.get(PLANNER, QUERY)  # warm the session and the menu
    # session, user, region (organisation), products, arrivals, stays, beds, locations
    with django_assert_num_queries(8):
        response = client.get(PLANNER, {**QUERY, "flex": "on"})
    assert response.status_code == 200
    for n in range(10):
        make_referral(history, created_at=at(5), name=f"Extra {n}")
    with django_assert_num_queries(8):
        client.get(PLANNER, QUERY)


# --- exports ------------------------------------------------------------------------------------


def test_csv_export_has_the_summary_and_every_number_of_beds(history):
    response = client_for(history.coordinator).get(EXPORT, {**QUERY, "format": "csv"})

    assert response.status_code == 200 and response["Content-Type"].startswith("text/csv")
    assert 'filename="elv-capacity-plan-20260301-20260310.csv"' in response["Content-Disposition"]
    rows = list(csv.reader(io.StringIO(response.content.decode("utf-8-sig"))))
    assert rows[0][0] == "Product" and rows[0][-1] == "Beds short (negative: to spare)"
    hoog = next(row for row in rows[1:4] if row[0] == "ELV hoog complex")
    assert hoog[1:3] == ["20", "2.0"] and hoog[9] == "20" and hoog[12] == "20"
    assert hoog[10] == str(float(round(erlang_b(15, 20) * 100, 2)))
    blank = rows.index([])
    assert rows[blank + 1] == ["Product", "Beds", "Chance of no free bed (%)", "Beds in the plan", "Beds needed"]
    curve_hoog = [row for row in rows[blank + 2 :] if row[0] == "ELV hoog complex"]
    assert [int(row[1]) for row in curve_hoog] == list(range(10, 31))
    assert next(row for row in curve_hoog if row[1] == "20")[3:] == ["yes", "yes"]
    assert next(row for row in curve_hoog if row[1] == "19")[3:] == ["", ""]


def test_xlsx_export_has_two_sheets(history):
    response = client_for(history.analyst).get(EXPORT, {**QUERY, "format": "xlsx", "flex": "true"})

    assert response.status_code == 200
    workbook = load_workbook(io.BytesIO(response.content))
    summary, curves = workbook.worksheets
    names = [row[0] for row in summary.iter_rows(min_row=2, values_only=True)]
    assert names == ["ELV laag and hoog together (flex)", "ELV palliatief"]
    first = next(curves.iter_rows(min_row=2, values_only=True))
    assert first[0] == "ELV laag and hoog together (flex)" and isinstance(first[2], float)


def test_export_refuses_a_bad_format_or_input(history):
    client = client_for(history.coordinator)
    assert client.get(EXPORT, {"format": "pdf"}).status_code == 400
    response = client.get(EXPORT, {"format": "csv", "growth": "x"})
    assert response.status_code == 400 and "Enter a number" in response.content.decode()


# --- API ----------------------------------------------------------------------------------------


def _api(user) -> APIClient:
    client = APIClient(HTTP_ACCEPT_LANGUAGE="en")
    client.force_authenticate(user)
    return client


def test_api_gives_the_plan_of_the_callers_region(history):
    response = _api(history.coordinator).get(API, {**QUERY, "growth": "10"})

    assert response.status_code == 200
    data = response.json()
    assert (data["start"], data["end"], data["target"], data["flex"]) == ("2026-03-01", "2026-03-10", 0.05, False)
    hoog = next(row for row in data["products"] if row["product"] == "elv_hoog")
    assert hoog["load"] == pytest.approx(16.5) and hoog["beds_today"] == 20 and hoog["los_source"] == "history"
    assert hoog["probability"] == pytest.approx(erlang_b(16.5, 20))
    assert [p["beds"] for p in hoog["curve"] if p["is_current"]] == [20]


def test_api_refuses_other_roles(history):
    for role in (Role.GP, Role.PROVIDER_STAFF, Role.ADMIN):
        response = _api(user_with_role(role, region=history.region)).get(API)
        assert response.status_code == 403 and response.json()["error"]["status"] == 403
    assert APIClient().get(API).status_code == 401


def test_api_default_period_ends_today(history):
    response = _api(history.analyst).get(API)
    assert response.status_code == 200
    end = date.fromisoformat(response.json()["end"])
    assert end - date.fromisoformat(response.json()["start"]) == timedelta(days=89)


def test_api_is_stricter_about_empty_parameters_and_flex(history):
    client = _api(history.coordinator)
    empty = client.get(API, {"growth": ""})
    assert empty.status_code == 400 and "growth" in empty.json()["error"]["fields"]
    wrong = client.get(API, {"flex": "yes"})
    assert wrong.status_code == 400 and "flex" in wrong.json()["error"]["fields"]
    pooled = client.get(API, {**QUERY, "flex": "true"})
    assert [row["product"] for row in pooled.json()["products"]] == [POOL_KEY, "elv_palliatief"]
