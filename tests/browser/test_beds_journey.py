"""The first user journey of issue 2, in a real Chromium.

A provider planner changes a bed count on "Mijn bedden" (htmx, no page reload); a GP looking for
a bed of that product near postcode 6411 AB sees the new free count for that location.
"""

import re

import pytest
from playwright.sync_api import expect

from accounts.models import User
from beds.models import Capacity, CapacityChange, ChangeSource
from providers.demo import DEMO_PASSWORD, seed_demo_region
from tests.browser.journeys.a11y import wait_for_htmx
from tests.conftest import login, screenshot

# transaction=True: the live server thread must see the test's rows (the reference data of the
# data migration comes back after every flush: tests/conftest.py).
pytestmark = pytest.mark.django_db(transaction=True)


def _capacity_to_change(planner: User) -> Capacity:
    """A capacity of the planner's organisation with room for one more free bed."""
    capacities = Capacity.objects.filter(location__organisation=planner.organisation).select_related(
        "location", "product"
    )
    for capacity in capacities.order_by("location__name", "product__sort_order"):
        if capacity.available < capacity.total:
            return capacity
    raise AssertionError("the demo region has no capacity of Mijnstreek Zorg with available < total")


def test_planner_adds_a_free_bed_and_the_gp_sees_it(new_page):
    seed_demo_region()
    planner = User.objects.get(username="planner")
    assert planner.organisation.name == "Mijnstreek Zorg"
    capacity = _capacity_to_change(planner)
    before = capacity.snapshot()
    row = f"#capacity-{capacity.pk}"
    available_input = f"{row} input[name='c{capacity.pk}-available']"
    expected_24h_input = f"{row} input[name='c{capacity.pk}-expected_24h']"

    # --- The planner: "+" on the free count, then type an expected count and save. ----------
    planner_page = new_page()
    login(planner_page, "planner", DEMO_PASSWORD)
    planner_page.goto("/beds/mine/")
    expect(planner_page.locator(available_input)).to_have_value(str(before["available"]))
    # A marker on window survives an htmx swap but not a full page load.
    planner_page.evaluate("window.__noReload = true")

    with planner_page.expect_response(lambda r: f"/beds/capacity/{capacity.pk}/" in r.url) as plus:
        planner_page.locator(f"{row} button[name='adjust'][value='available:+1']").click()
    assert plus.value.request.headers.get("hx-request") == "true"
    expect(planner_page.locator(available_input)).to_have_value(str(before["available"] + 1))

    new_expected = before["expected_24h"] + 2
    planner_page.fill(expected_24h_input, str(new_expected))
    with planner_page.expect_response(lambda r: f"/beds/capacity/{capacity.pk}/" in r.url) as save:
        planner_page.locator(f"{row} button.primary").click()
    assert save.value.status == 200
    # The typed value is already in the field and no error is shown yet: wait for htmx to swap in
    # the saved row, so the checks below read the answer.
    wait_for_htmx(planner_page)
    expect(planner_page.locator(expected_24h_input)).to_have_value(str(new_expected))
    expect(planner_page.locator(f"{row} .field-error")).to_have_count(0)
    assert planner_page.evaluate("window.__noReload") is True, "the page reloaded instead of an htmx swap"
    assert planner_page.url.endswith("/beds/mine/")
    screenshot(planner_page, "issue2-planner-my-beds")

    # --- What the database holds now. -------------------------------------------------------
    capacity.refresh_from_db()
    assert capacity.available == before["available"] + 1
    assert capacity.expected_24h == new_expected
    assert capacity.total == before["total"]
    assert capacity.confirmed_by == planner
    changes = list(CapacityChange.objects.filter(capacity=capacity).order_by("changed_at", "id"))
    assert len(changes) == 2
    assert all(change.source == ChangeSource.WEB and change.changed_by == planner for change in changes)
    assert changes[0].before["available"] == before["available"]
    assert changes[0].after["available"] == before["available"] + 1
    assert changes[1].after["expected_24h"] == new_expected
    free = capacity.free
    assert free == capacity.available - capacity.held

    # --- The GP, in a browser context of his own, looks for that product near 6411 AB. -------
    gp_page = new_page()
    login(gp_page, "huisarts", DEMO_PASSWORD)
    gp_page.goto(f"/beds/?product={capacity.product.code}&postcode=6411+AB")
    location_row = gp_page.locator("#results tbody tr").filter(
        has=gp_page.locator(".loc-name", has_text=re.compile(rf"^\s*{re.escape(capacity.location.name)}\s*$"))
    )
    expect(location_row).to_have_count(1)
    product_item = location_row.locator("li").filter(
        has=gp_page.locator(".product", has_text=re.compile(rf"^\s*{re.escape(capacity.product.name)}\s*$"))
    )
    expect(product_item).to_have_count(1)
    expect(product_item.locator(".free")).to_have_text(re.compile(rf"^\s*{free}\b"))
    expect(product_item.locator(".expected")).to_contain_text(f"({new_expected} /")
    screenshot(gp_page, "issue2-gp-overview")

    # The GP's search is ordered by distance from 6411 AB: De Schacht (6411) comes first when it
    # offers the product.
    names = [name.strip() for name in gp_page.locator("#results tbody tr .loc-name").all_inner_texts()]
    assert capacity.location.name in names
    if Capacity.objects.filter(location__name="De Schacht", product=capacity.product).exists():
        assert names[0] == "De Schacht"
