""" "Beschikbare bedden": GPs, transfer nurses and the desk find free beds in their region,
filtered and nearest first, with stale counts visibly marked."""

import re
from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from accounts.models import Role
from elvdesk import page_cache
from tests.factories import (
    CapacityFactory,
    LocationFactory,
    ProviderFactory,
    RegionFactory,
    product,
    user_with_role,
)

pytestmark = pytest.mark.django_db

OVERVIEW = reverse("beds:overview")
NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)

# Distances from the centroid of PC4 6411 (Heerlen): 6413 ≈ 3.4 km, 6301 ≈ 10.8 km, 6212 ≈ 20.8 km.
# The names sort differently from the distances, so ordering by name cannot pass by accident.
NEAR, MIDDLE, FAR = "Huize Welten", "De Geulhof", "Maasheuvel Sint Pieter"


@pytest.fixture
def three_locations(provider):
    locations = {}
    for name, pc4 in ((FAR, "6212"), (MIDDLE, "6301"), (NEAR, "6413")):
        location = LocationFactory(organisation=provider, name=name, pc4=pc4)
        CapacityFactory(location=location, product=product("elv_hoog"), total=8, available=2)
        locations[name] = location
    return locations


def names_in_order(html: str, names) -> list[str]:
    found = [(html.index(f'<span class="loc-name">{name}</span>'), name) for name in names if name in html]
    return [name for _, name in sorted(found)]


def shown(html: str) -> set[str]:
    return set(re.findall(r'<span class="loc-name">([^<]+)</span>', html))


def test_overview_lists_locations_with_free_and_expected_beds_and_phone(make_client, gp, location):
    location.phone_24_7 = "045 555 9876"
    location.save()
    CapacityFactory(
        location=location, product=product("elv_hoog"), total=8, available=3, held=1, expected_24h=2, expected_72h=4
    )

    response = make_client(gp).get(OVERVIEW)

    assert response.status_code == 200
    html = response.content.decode()
    assert "Available beds" in html and "Zuid-Limburg" in html
    assert shown(html) == {"De Schacht"}
    assert "2 free" in html
    assert "(2 / 4)" in html
    assert 'href="tel:0455559876"' in html
    assert "24/7" in html
    assert "1 location" in html


def test_overview_shows_beds_reserved_for_later_days_apart_from_the_free_ones(make_client, gp, location):
    CapacityFactory(location=location, product=product("elv_hoog"), total=8, available=3, held=1, reserved=2)

    html = make_client(gp).get(OVERVIEW).content.decode()

    assert "2 free" in html, "free now: available − held, reservations not taken yet"
    assert "+ 2 reserved for later days" in html


def test_overview_orders_locations_nearest_first_from_a_postcode(make_client, gp, three_locations):
    html = make_client(gp).get(OVERVIEW, {"postcode": "6411 AB"}).content.decode()

    assert names_in_order(html, [NEAR, MIDDLE, FAR]) == [NEAR, MIDDLE, FAR]
    assert re.search(r"3\.\d km", html)
    assert "20.8 km" in html


def test_overview_accepts_a_bare_pc4_and_a_lowercase_postcode(make_client, gp, three_locations):
    client = make_client(gp)

    for postcode in ("6411", "6411ab", " 6411 ab "):
        html = client.get(OVERVIEW, {"postcode": postcode}).content.decode()
        assert names_in_order(html, [NEAR, MIDDLE, FAR]) == [NEAR, MIDDLE, FAR], postcode


def test_overview_without_postcode_lists_locations_by_name(make_client, gp, three_locations):
    html = make_client(gp).get(OVERVIEW).content.decode()

    assert names_in_order(html, [NEAR, MIDDLE, FAR]) == sorted([NEAR, MIDDLE, FAR])
    assert "Distance" not in html


def test_overview_from_another_postcode_reverses_the_order(make_client, gp, three_locations):
    html = make_client(gp).get(OVERVIEW, {"postcode": "6211"}).content.decode()  # Maastricht centre

    assert names_in_order(html, [NEAR, MIDDLE, FAR]) == [FAR, MIDDLE, NEAR]


@pytest.mark.parametrize(("max_km", "expected"), [(5, {NEAR}), (15, {NEAR, MIDDLE}), (25, {NEAR, MIDDLE, FAR})])
def test_overview_within_a_distance_leaves_out_locations_further_away(
    make_client, gp, three_locations, max_km, expected
):
    html = make_client(gp).get(OVERVIEW, {"postcode": "6411", "max_km": max_km}).content.decode()

    assert shown(html) == expected


def test_overview_filters_by_product_and_shows_only_that_products_count(make_client, gp, provider):
    laag_only = LocationFactory(organisation=provider, name="Alleen Laag")
    CapacityFactory(location=laag_only, product=product("elv_laag"), available=5)
    both = LocationFactory(organisation=provider, name="Laag en Hoog")
    CapacityFactory(location=both, product=product("elv_laag"), total=10, available=7)
    CapacityFactory(location=both, product=product("elv_hoog"), total=10, available=1)

    html = make_client(gp).get(OVERVIEW, {"product": "elv_hoog"}).content.decode()

    assert shown(html) == {"Laag en Hoog"}
    assert "ELV hoog complex" in html
    assert "ELV laag complex</span>" not in html
    assert "1 free" in html and "7 free" not in html


def test_overview_filters_by_every_required_feature(make_client, gp, provider):
    for name, features in (
        ("Met zuurstof", ["oxygen"]),
        ("Zuurstof en eenpersoonskamer", ["oxygen", "single_room"]),
        ("Zonder extra's", []),
    ):
        CapacityFactory(location=LocationFactory(organisation=provider, name=name, features=features))
    client = make_client(gp)

    one = client.get(OVERVIEW, {"features": ["oxygen"]}).content.decode()
    both = client.get(OVERVIEW, {"features": ["oxygen", "single_room"]}).content.decode()

    assert shown(one) == {"Met zuurstof", "Zuurstof en eenpersoonskamer"}
    assert shown(both) == {"Zuurstof en eenpersoonskamer"}


def test_overview_filters_by_contracted_insurer(make_client, gp, provider):
    CapacityFactory(location=LocationFactory(organisation=provider, name="Contract VGZ", insurers=["7095"]))
    CapacityFactory(location=LocationFactory(organisation=provider, name="Contract Zilveren Kruis", insurers=["3311"]))
    CapacityFactory(location=LocationFactory(organisation=provider, name="Geen contract"))

    html = make_client(gp).get(OVERVIEW, {"insurer": "3311"}).content.decode()

    assert shown(html) == {"Contract Zilveren Kruis"}


def test_overview_only_free_leaves_out_locations_whose_beds_are_all_taken_or_held(make_client, gp, provider):
    CapacityFactory(location=LocationFactory(organisation=provider, name="Vol"), total=5, available=0, held=0)
    CapacityFactory(
        location=LocationFactory(organisation=provider, name="Alles vastgehouden"), total=5, available=2, held=2
    )
    CapacityFactory(location=LocationFactory(organisation=provider, name="Plek vrij"), total=5, available=2, held=1)
    client = make_client(gp)

    assert shown(client.get(OVERVIEW).content.decode()) == {"Vol", "Alles vastgehouden", "Plek vrij"}
    assert shown(client.get(OVERVIEW, {"only_free": "on"}).content.decode()) == {"Plek vrij"}


def test_overview_only_free_with_a_product_looks_at_that_product(make_client, gp, provider):
    location = LocationFactory(organisation=provider, name="Laag vrij, hoog vol")
    CapacityFactory(location=location, product=product("elv_laag"), available=3)
    CapacityFactory(location=location, product=product("elv_hoog"), available=0)
    client = make_client(gp)

    assert shown(client.get(OVERVIEW, {"only_free": "on", "product": "elv_laag"}).content.decode()) == {location.name}
    assert shown(client.get(OVERVIEW, {"only_free": "on", "product": "elv_hoog"}).content.decode()) == set()


def test_overview_combines_filters_in_one_shareable_url(make_client, gp, provider):
    match = LocationFactory(
        organisation=provider, name="Past precies", pc4="6413", features=["oxygen"], insurers=["3311"]
    )
    CapacityFactory(location=match, product=product("elv_hoog"), available=2)
    wrong_insurer = LocationFactory(organisation=provider, name="Andere verzekeraar", pc4="6413", features=["oxygen"])
    CapacityFactory(location=wrong_insurer, product=product("elv_hoog"), available=2)
    too_far = LocationFactory(organisation=provider, name="Te ver", pc4="6212", features=["oxygen"], insurers=["3311"])
    CapacityFactory(location=too_far, product=product("elv_hoog"), available=2)

    url = f"{OVERVIEW}?product=elv_hoog&postcode=6411+AB&max_km=10&insurer=3311&features=oxygen&only_free=on"
    html = make_client(gp).get(url).content.decode()

    assert shown(html) == {"Past precies"}
    # The form shows the filters from the URL, so a bookmarked link reopens the same search.
    assert 'value="6411 AB"' in html
    assert 'value="elv_hoog" selected' in html
    assert 'value="3311" selected' in html


def test_overview_marks_stale_counts(make_client, gp, provider):
    fresh = LocationFactory(organisation=provider, name="Vers")
    CapacityFactory(location=fresh, confirmed_at=NOW - timedelta(hours=2))
    stale = LocationFactory(organisation=provider, name="Verouderd")
    CapacityFactory(location=stale, confirmed_at=NOW - timedelta(hours=13))
    never = LocationFactory(organisation=provider, name="Nooit bevestigd")
    CapacityFactory(location=never, confirmed_at=None)

    with time_machine.travel(NOW, tick=False):
        html = make_client(gp).get(OVERVIEW).content.decode()

    rows = {name: html[html.index(f'<span class="loc-name">{name}</span>') :].split("</tr>")[0] for name in shown(html)}
    assert 'class="badge badge-stale"' not in rows["Vers"]
    assert 'class="badge badge-stale"' in rows["Verouderd"]
    assert 'class="badge badge-stale"' in rows["Nooit bevestigd"]
    assert "never confirmed" in rows["Nooit bevestigd"]
    assert "confirmed 2\xa0hours ago" in rows["Vers"]


def test_overview_staleness_follows_the_regions_limit(make_client, provider):
    region = RegionFactory(stale_after_hours=2)
    gp = user_with_role(Role.GP, region=region)
    location = LocationFactory(organisation=ProviderFactory(region=region))
    CapacityFactory(location=location, confirmed_at=NOW - timedelta(hours=3))

    with time_machine.travel(NOW, tick=False):
        html = make_client(gp).get(OVERVIEW).content.decode()

    assert 'class="badge badge-stale"' in html


@pytest.mark.parametrize(
    ("params", "field", "message"),
    [
        ({"postcode": "64"}, "Patient's postcode", "Enter a valid Dutch postcode, for example 6411 AB."),
        ({"postcode": "6411 SA"}, "Patient's postcode", "Enter a valid Dutch postcode, for example 6411 AB."),
        ({"postcode": "hello"}, "Patient's postcode", "Enter a valid Dutch postcode, for example 6411 AB."),
        ({"postcode": "6000 AA"}, "Patient's postcode", "Postcode area 6000 is unknown; check the postcode."),
        ({"max_km": "10"}, "Patient's postcode", "Enter a postcode to search within a distance."),
        ({"postcode": "6411", "max_km": "ten"}, "Within (km)", "Enter a whole number of kilometres."),
        ({"product": "nonsense"}, "Product", "Select a valid choice."),
    ],
)
def test_overview_with_bad_filters_shows_a_clear_message_and_keeps_them(
    make_client, gp, three_locations, params, field, message
):
    response = make_client(gp).get(OVERVIEW, params)

    assert response.status_code == 200
    html = response.content.decode().replace("&#x27;", "'")
    assert "Please correct the filters:" in html
    assert f"<li>{field}: {message}" in html
    assert shown(html) == set()
    for name in ("postcode", "max_km"):
        if name in params:
            assert f'value="{params[name]}"' in html


def test_overview_with_a_bad_postcode_answers_in_dutch_by_default(client, gp, three_locations):
    client.force_login(gp)

    response = client.get(OVERVIEW, {"postcode": "64"})

    assert response.status_code == 200
    assert response.headers["Content-Language"] == "nl"
    assert '<html lang="nl">' in response.content.decode()


def test_overview_with_htmx_returns_only_the_results(make_client, gp, three_locations):
    response = make_client(gp, htmx=True).get(OVERVIEW, {"postcode": "6411"})

    assert response.status_code == 200
    html = response.content.decode()
    assert html.lstrip().startswith('<section id="results"')
    assert "<html" not in html and "<form" not in html
    assert names_in_order(html, [NEAR, MIDDLE, FAR]) == [NEAR, MIDDLE, FAR]


def test_overview_with_htmx_and_a_bad_postcode_returns_the_results_with_the_message(make_client, gp, three_locations):
    response = make_client(gp, htmx=True).get(OVERVIEW, {"postcode": "64"})

    html = response.content.decode()
    assert response.status_code == 200
    assert html.lstrip().startswith('<section id="results"')
    assert "Enter a valid Dutch postcode, for example 6411 AB." in html


def test_overview_links_each_location_to_its_place_on_the_social_map(make_client, gp, location):
    CapacityFactory(location=location)
    social_map = reverse("providers:social_map")
    link = f'href="{social_map}#location-{location.pk}"'

    page = make_client(gp).get(OVERVIEW).content.decode()
    results = make_client(gp, htmx=True).get(OVERVIEW, {"postcode": "6411"}).content.decode()

    assert link in page and link in results
    assert f'id="location-{location.pk}"' in make_client(gp).get(social_map).content.decode()


def test_overview_shows_only_the_users_own_region(make_client, gp, location):
    CapacityFactory(location=location)
    elsewhere = RegionFactory(code="midden-limburg", name="Midden-Limburg")
    CapacityFactory(
        location=LocationFactory(organisation=ProviderFactory(region=elsewhere), name="Roermond", pc4="6041")
    )
    neighbour_gp = user_with_role(Role.GP, region=elsewhere)

    assert shown(make_client(gp).get(OVERVIEW).content.decode()) == {"De Schacht"}
    assert shown(make_client(neighbour_gp).get(OVERVIEW).content.decode()) == {"Roermond"}


def test_overview_leaves_out_inactive_locations(make_client, gp, provider):
    CapacityFactory(location=LocationFactory(organisation=provider, name="Gesloten", is_active=False))
    CapacityFactory(location=LocationFactory(organisation=provider, name="Open"))

    assert shown(make_client(gp).get(OVERVIEW).content.decode()) == {"Open"}


def test_overview_offers_only_the_products_of_the_region(make_client, provider):
    region = RegionFactory(products=[product("elv_laag"), product("elv_hoog")])
    gp = user_with_role(Role.GP, region=region)

    html = make_client(gp).get(OVERVIEW).content.decode()

    assert 'value="elv_hoog"' in html
    assert 'value="grz"' not in html
    refused = make_client(gp).get(OVERVIEW, {"product": "grz"})
    assert refused.status_code == 200
    assert "Product: Select a valid choice." in refused.content.decode()


@pytest.mark.parametrize("role", [Role.GP, Role.TRANSFER_NURSE, Role.COORDINATOR, Role.ADMIN])
def test_bed_finders_may_use_the_overview(make_client, region, three_locations, role):
    response = make_client(user_with_role(role, region=region)).get(OVERVIEW)

    assert response.status_code == 200
    assert shown(response.content.decode()) == {NEAR, MIDDLE, FAR}


@pytest.mark.parametrize("role", [Role.PROVIDER_STAFF, Role.ANALYST])
def test_provider_staff_and_analysts_may_not_use_the_overview(make_client, region, three_locations, role):
    assert make_client(user_with_role(role, region=region)).get(OVERVIEW).status_code == 403


def test_overview_sends_anonymous_visitors_to_the_login_page(make_client):
    response = make_client().get(OVERVIEW, {"postcode": "6411"})

    assert response.status_code == 302
    assert response.url.startswith(reverse("login") + "?next=")


def test_overview_refuses_post(make_client, gp):
    assert make_client(gp).post(OVERVIEW).status_code == 405


# --- a pinned query count --------------------------------------------------------------------

# The overview's queries, pinned. Every page: session, user (with organisation and region),
# its second-factor device; the
# filters' look-ups when given (region products, PC4 area, insurer, features); locations;
# their capacities (with products); their features. The full page adds the header's unread
# notifications count and the filter form's choices (products, insurers, features).
# None of them may repeat per location; a change here must be a conscious one. Plus one: the
# fingerprint of the region's bed counts in the overview's cache key (a cached answer needs only
# the session's queries and that one; tests/beds/test_overview_cache.py).
PAGE_NO_FILTERS = 10
PAGE_ALL_FILTERS = 14
HTMX_NO_FILTERS = 6  # the #results partial renders neither the header nor the filter form
HTMX_ALL_FILTERS = 10
ALL_FILTERS = {"product": "elv_hoog", "postcode": "6411 AB", "max_km": "100", "insurer": "3311", "features": ["oxygen"]}


def _fill_region(provider, count: int) -> None:
    # Factories bypass the services, which raise the region's generation (elvdesk/page_cache.py).
    page_cache.region_changed(provider.region_id)
    pc4s = ["6411", "6413", "6212", "6301", "6461", "6131", "6221", "6291"]
    for i in range(count):
        location = LocationFactory(
            organisation=provider,
            pc4=pc4s[i % len(pc4s)],
            features=["oxygen", "single_room"],
            insurers=["3311", "7095"],
        )
        for code in ("elv_laag", "elv_hoog", "elv_palliatief"):
            CapacityFactory(
                location=location,
                product=product(code),
                available=i % 3,
                # Some stale, some never confirmed, some confirmed by a user: all rendered.
                confirmed_at=None if i % 5 == 0 else NOW - timedelta(hours=i % 24),
            )


@pytest.mark.parametrize(
    ("htmx", "params", "queries"),
    [
        pytest.param(False, {}, PAGE_NO_FILTERS, id="page-no-filters"),
        pytest.param(False, ALL_FILTERS, PAGE_ALL_FILTERS, id="page-all-filters"),
        pytest.param(True, {}, HTMX_NO_FILTERS, id="htmx-no-filters"),
        pytest.param(True, ALL_FILTERS, HTMX_ALL_FILTERS, id="htmx-all-filters"),
    ],
)
def test_overview_query_count_is_the_same_for_5_and_50_locations(
    make_client, gp, provider, django_assert_num_queries, htmx, params, queries
):
    client = make_client(gp, htmx=htmx)
    _fill_region(provider, 5)
    with time_machine.travel(NOW, tick=False):
        with CaptureQueriesContext(connection) as five:
            response = client.get(OVERVIEW, params)
        assert len(shown(response.content.decode())) == 5

        _fill_region(provider, 45)
        with django_assert_num_queries(len(five.captured_queries)):
            response = client.get(OVERVIEW, params)
        assert len(shown(response.content.decode())) == 50
        assert 'class="badge badge-stale"' in response.content.decode()

    # Equal for 5 and 50 (above), and equal to the pinned number.
    assert len(five.captured_queries) == queries, "\n".join(q["sql"][:100] for q in five.captured_queries)
