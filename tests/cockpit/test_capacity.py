"""The capacity picture: counts now, stale flags, the 30-day trend from the change history,
and neighbouring regions only when they share their counts."""

from datetime import timedelta

import pytest
import time_machine
from django.test import Client
from django.urls import reverse

from accounts.models import Role
from beds.models import CapacityChange
from cockpit.capacity import capacity_picture
from providers.models import Product
from tests.cockpit.conftest import NOW, at
from tests.factories import CapacityFactory, LocationFactory, ProviderFactory, RegionFactory, user_with_role

CAPACITY = reverse("cockpit:capacity")


def change(capacity, moment, before, after):
    return CapacityChange.objects.create(
        capacity=capacity,
        changed_at=moment,
        source="web",
        before={"total": 10, "available": before[0], "held": before[1]},
        after={"total": 10, "available": after[0], "held": after[1]},
    )


@pytest.fixture
def history(world):
    """ELV hoog at A now 3 free: 5 free until 10 March 09:00, 3 then, 2 from 15:00, 3 again from
    20 March. ELV hoog at B now 3 free: 1 free (since 1 February) until 15 March, then 3.
    Without history (laag at A and B, palliatief at B) a count has always been as it is now: 3."""
    a, b = world.cap["a", "elv_hoog"], world.cap["b", "elv_hoog"]
    change(a, at(10, 9), (5, 0), (4, 1))
    change(a, at(10, 15), (4, 1), (2, 0))
    change(a, at(20, 10), (2, 0), (3, 0))
    change(b, at(1, 12, month=2), (3, 0), (1, 0))
    change(b, at(15, 12), (1, 0), (3, 0))
    return world


def test_free_beds_trend_is_the_last_known_state_of_each_day(history):
    with time_machine.travel(NOW, tick=False):
        own, *neighbours = capacity_picture(region=history.region)
    trend = {row["day"].isoformat(): row for row in own.trend.rows}
    names = {column.label: column.key for column in own.trend.columns[1:]}
    hoog, laag, palliatief = names["ELV hoog complex"], names["ELV laag complex"], names["ELV palliatief"]
    assert len(own.trend.rows) == 30
    assert (
        own.trend.rows[0]["day"].isoformat() == "2026-02-24" and own.trend.rows[-1]["day"].isoformat() == "2026-03-25"
    )
    assert trend["2026-02-24"][hoog] == 5 + 1
    assert trend["2026-03-09"][hoog] == 5 + 1
    assert trend["2026-03-10"][hoog] == 2 + 1  # free = available − held after the day's last change
    assert trend["2026-03-14"][hoog] == 2 + 1
    assert trend["2026-03-15"][hoog] == 2 + 3
    assert trend["2026-03-20"][hoog] == 3 + 3
    assert trend["2026-03-25"][hoog] == 3 + 3
    assert {row[laag] for row in own.trend.rows} == {6}
    assert {row[palliatief] for row in own.trend.rows} == {3}
    assert [series.name for series in own.trend.chart.series] == [
        "ELV laag complex",
        "ELV hoog complex",
        "ELV palliatief",
    ]


def test_counts_per_product_and_stale_locations_now(world):
    stale = world.cap["b", "elv_palliatief"]
    stale.confirmed_at = NOW - timedelta(hours=world.region.stale_after_hours + 1)
    stale.held = 1
    stale.save()
    with time_machine.travel(NOW, tick=False):
        own, *_ = capacity_picture(region=world.region)
    products = {row.name: row for row in own.products}
    hoog = products["ELV hoog complex"]
    assert (hoog.total, hoog.available, hoog.held, hoog.free) == (20, 6, 0, 6)
    assert hoog.occupancy == pytest.approx(0.7)
    assert (products["ELV palliatief"].free, products["ELV palliatief"].held) == (2, 1)
    assert own.totals.total == 50
    assert own.stale_count == 1
    flagged = [row.location.name for row in own.locations if row.any_stale]
    assert flagged == ["Locatie Beekdal"]


def test_neighbours_are_shown_only_when_they_share_their_counts(world):
    sharing, closed = (
        RegionFactory(name="Deelregio"),
        RegionFactory(name="Geslotenregio", share_capacity_with_neighbours=False),
    )
    world.region.neighbours.add(sharing, closed)
    CapacityFactory(
        location=LocationFactory(organisation=ProviderFactory(region=sharing), name="Buurlocatie"),
        product=Product.objects.get(code="elv_laag"),
        total=7,
        available=4,
    )
    CapacityFactory(
        location=LocationFactory(organisation=ProviderFactory(region=closed), name="Geheimlocatie"),
        product=Product.objects.get(code="elv_laag"),
    )
    client = Client(headers={"Accept-Language": "en"})
    client.force_login(world.coordinator)
    page = client.get(CAPACITY).content.decode()
    assert "Deelregio" in page and "Buurlocatie" in page
    assert "Geslotenregio" not in page and "Geheimlocatie" not in page
    own, neighbour = capacity_picture(region=world.region)
    assert [p.free for p in neighbour.products] == [4]


def test_capacity_page_has_accessible_charts_with_their_tables(history):
    client = Client(headers={"Accept-Language": "en"})
    client.force_login(history.analyst)
    with time_machine.travel(NOW, tick=False):
        page = client.get(CAPACITY).content.decode()
    code = history.region.code
    assert f'role="img" aria-labelledby="chart-trend-{code}-title chart-trend-{code}-desc"' in page
    assert f'<title id="chart-trend-{code}-title">' in page and f'<desc id="chart-trend-{code}-desc">' in page
    assert f'id="table-trend-{code}"' in page
    assert page.index(f'id="chart-trend-{code}-title"') < page.index(f'id="table-trend-{code}"')
    assert "<script" not in page.split("</head>")[1]  # no JavaScript needed for the charts
    assert "style=" not in page


@pytest.mark.parametrize("role", [Role.COORDINATOR, Role.ANALYST])
def test_coordinators_and_analysts_see_the_capacity_picture(world, role):
    client = Client()
    client.force_login(user_with_role(role, region=world.region))
    assert client.get(CAPACITY).status_code == 200


@pytest.mark.parametrize("role", [Role.GP, Role.TRANSFER_NURSE, Role.PROVIDER_STAFF, Role.ADMIN])
def test_other_roles_may_not_see_the_capacity_picture(world, role):
    client = Client()
    client.force_login(user_with_role(role, region=world.region))
    assert client.get(CAPACITY).status_code == 403


def test_capacity_answers_only_get(world):
    client = Client()
    client.force_login(world.coordinator)
    assert client.post(CAPACITY).status_code == 405
