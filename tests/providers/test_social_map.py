""" "Sociale kaart": GPs, transfer nurses, the desk and planners look up every active care
provider of their region, with phones, products, features, contracts, admission hours, the
treating physician, the 24/7 specialist and the referral procedure; searchable and filterable."""

import re
from datetime import time

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from accounts.models import Role
from providers.models import TreatingPhysician
from providers.social_map_forms import SEARCH_TEXT
from tests.factories import (
    CapacityFactory,
    GpPracticeFactory,
    LocationFactory,
    ProviderFactory,
    RegionFactory,
    product,
    user_with_role,
)

pytestmark = pytest.mark.django_db

SOCIAL_MAP = reverse("providers:social_map")


@pytest.fixture
def region():
    return RegionFactory(code="zuid-limburg", name="Zuid-Limburg")


@pytest.fixture
def provider(region):
    return ProviderFactory(
        region=region,
        name="Zorggroep Maasheuvel",
        agb_code="73730001",
        phone="043 350 1234",
        email="bemiddeling@maasheuvel.example.org",
        street="Kapoenstraat 5",
        postcode="6211 KV",
        city="Maastricht",
    )


@pytest.fixture
def gp(region):
    return user_with_role(Role.GP, region=region)


@pytest.fixture
def schacht(provider):
    """A location with every detail the social map shows."""
    location = LocationFactory(
        organisation=provider,
        name="De Schacht",
        pc4="6411",
        street="Akerstraat 88",
        postcode="6411 HD",
        city="Heerlen",
        phone_24_7="045 555 1234",
        phone_office="045 577 6677",
        admission_24_7=False,
        admission_from=time(8, 0),
        admission_until=time(20, 0),
        treating_physician=TreatingPhysician.ELDERLY_CARE_SPECIALIST,
        specialist_24_7=True,
        referral_procedure="Bel eerst de 24/7-lijn.\nStuur daarna de verwijzing via het regioloket.",
        features=["oxygen", "single_room"],
        insurers=["3311", "7095"],
    )
    CapacityFactory(location=location, product=product("elv_hoog"), total=8, available=2)
    CapacityFactory(location=location, product=product("elv_laag"), total=0, available=0)
    return location


def make_client(user=None, *, htmx: bool = False) -> Client:
    """A page client in English (Dutch is the default), signed in as `user` when given."""
    headers = {"Accept-Language": "en"}
    if htmx:
        headers["HX-Request"] = "true"
    client = Client(headers=headers)
    if user is not None:
        client.force_login(user)
    return client


def location_ids(html: str) -> set[int]:
    return {int(pk) for pk in re.findall(r'<article class="social-map-location" id="location-(\d+)"', html)}


def organisation_names(html: str) -> set[str]:
    return set(re.findall(r'<h2 id="organisation-\d+-title">([^<]+)</h2>', html))


def location_html(html: str, location) -> str:
    start = html.index(f'id="location-{location.pk}"')
    return html[start : html.index("</article>", start)]


def shown(client, **params) -> set[str]:
    html = client.get(SOCIAL_MAP, params).content.decode()
    return {name for name in re.findall(r'<span class="loc-name">([^<]+)</span>', html)}


# --- what it shows --------------------------------------------------------------------------


def test_social_map_shows_the_provider_and_every_detail_of_its_location(gp, provider, schacht):
    response = make_client(gp).get(SOCIAL_MAP)

    assert response.status_code == 200
    html = response.content.decode()
    assert organisation_names(html) == {"Zorggroep Maasheuvel"}
    assert "73730001" in html
    assert '<a href="tel:+31433501234">043 350 1234</a>' in html
    assert '<a href="mailto:bemiddeling@maasheuvel.example.org">' in html
    assert "Kapoenstraat 5, 6211 KV Maastricht" in html
    detail = location_html(html, schacht)
    assert "Akerstraat 88, 6411 HD Heerlen" in detail
    assert '<a href="tel:+31455551234">045 555 1234</a>' in detail
    assert '<a href="tel:+31455776677">045 577 6677</a>' in detail
    assert "ELV hoog complex</span>: 8 beds" in detail
    assert "ELV laag complex" not in detail  # no contracted beds: not offered
    assert '<span class="tag">Zuurstof</span>' in detail and '<span class="tag">Eenpersoonskamer</span>' in detail
    assert "VGZ Zorgverzekeraar" in detail and "Zilveren Kruis Zorgverzekeringen" in detail
    assert "08:00–20:00" in detail
    assert "Specialist ouderengeneeskunde</dd>" in detail  # the treating physician
    assert "Specialist ouderengeneeskunde 24/7</dt>\n        <dd>Yes</dd>" in detail
    assert "Bel eerst de 24/7-lijn.<br>Stuur daarna de verwijzing via het regioloket." in detail
    assert "1 location" in html


def test_social_map_shows_24_7_admission_the_gp_as_physician_and_missing_details_plainly(gp, provider):
    location = LocationFactory(
        organisation=provider,
        admission_24_7=True,
        treating_physician=TreatingPhysician.GP,
        specialist_24_7=False,
        phone_office="",
        referral_procedure="",
    )

    detail = location_html(make_client(gp).get(SOCIAL_MAP).content.decode(), location)

    assert '<span class="badge badge-ok">24/7</span>' in detail
    assert "The patient&#x27;s GP" in detail
    assert "Specialist ouderengeneeskunde 24/7</dt>\n        <dd>No</dd>" in detail
    assert "Phone during office hours</dt>\n        <dd>—</dd>" in detail
    assert "Not described; call the 24/7 number." in detail


def test_social_map_lists_providers_and_locations_by_name(gp, region):
    second = ProviderFactory(region=region, name="B Zorg")
    first = ProviderFactory(region=region, name="A Zorg")
    for name in ("Zuid", "Noord"):
        LocationFactory(organisation=second, name=name)
    LocationFactory(organisation=first, name="Midden")

    html = make_client(gp).get(SOCIAL_MAP).content.decode()

    names = re.findall(r'<span class="loc-name">([^<]+)</span>', html)
    assert names == ["Midden", "Noord", "Zuid"]
    assert html.index("A Zorg") < html.index("B Zorg")


def test_social_map_gives_each_location_an_anchor_other_pages_link_to(gp, schacht):
    html = make_client(gp).get(SOCIAL_MAP).content.decode()

    assert f'id="location-{schacht.pk}"' in html
    assert location_ids(html) == {schacht.pk}


def test_social_map_shows_a_provider_without_active_locations_only_when_not_searching(gp, region):
    ProviderFactory(region=region, name="Nog zonder locaties")
    client = make_client(gp)

    html = client.get(SOCIAL_MAP).content.decode()
    assert "Nog zonder locaties" in html
    assert "No active locations." in html
    assert "Nog zonder locaties" not in client.get(SOCIAL_MAP, {"specialist_24_7": "on"}).content.decode()


def test_social_map_shows_only_the_users_own_region(gp, schacht):
    elsewhere = RegionFactory(code="midden-limburg", name="Midden-Limburg")
    roermond = LocationFactory(organisation=ProviderFactory(region=elsewhere, name="Zorggroep Roermond"), pc4="6041")
    client = make_client(gp)

    html = client.get(SOCIAL_MAP).content.decode()
    assert location_ids(html) == {schacht.pk}
    assert "Zorggroep Roermond" not in html
    # Not by searching for it either.
    assert location_ids(client.get(SOCIAL_MAP, {"q": "Roermond"}).content.decode()) == set()
    neighbour_gp = user_with_role(Role.GP, region=elsewhere)
    assert location_ids(make_client(neighbour_gp).get(SOCIAL_MAP).content.decode()) == {roermond.pk}


def test_social_map_leaves_out_inactive_providers_and_locations_and_other_kinds(gp, region, provider, schacht):
    closed_location = LocationFactory(organisation=provider, name="Gesloten locatie", is_active=False)
    inactive = ProviderFactory(region=region, name="Opgeheven Zorg", is_active=False)
    LocationFactory(organisation=inactive, name="Locatie van opgeheven zorg")
    GpPracticeFactory(region=region, name="Huisartsenpraktijk De Linde")

    html = make_client(gp).get(SOCIAL_MAP).content.decode()

    assert location_ids(html) == {schacht.pk}
    assert organisation_names(html) == {"Zorggroep Maasheuvel"}
    for name in (closed_location.name, "Opgeheven Zorg", "Locatie van opgeheven zorg", "De Linde"):
        assert name not in html


# --- search and filters ---------------------------------------------------------------------


@pytest.fixture
def three(provider, region):
    """Three locations that differ in every searchable way."""
    other = ProviderFactory(region=region, name="Heuvelland Verpleging")
    heerlen = LocationFactory(
        organisation=provider,
        name="De Schacht",
        pc4="6411",
        postcode="6411 HD",
        city="Heerlen",
        features=["oxygen"],
        insurers=["3311"],
        specialist_24_7=True,
    )
    CapacityFactory(location=heerlen, product=product("elv_hoog"), total=8)
    maastricht = LocationFactory(
        organisation=provider,
        name="Sint Pieter",
        pc4="6212",
        postcode="6212 AB",
        city="Maastricht",
        features=["single_room"],
        insurers=["7095"],
    )
    CapacityFactory(location=maastricht, product=product("elv_laag"), total=6)
    CapacityFactory(location=maastricht, product=product("elv_hoog"), total=0, available=0)
    valkenburg = LocationFactory(
        organisation=other, name="De Geulhof", pc4="6301", postcode="6301 GM", city="Valkenburg", insurers=["3311"]
    )
    CapacityFactory(location=valkenburg, product=product("elv_palliatief"), total=4)
    return {"heerlen": heerlen, "maastricht": maastricht, "valkenburg": valkenburg}


@pytest.mark.parametrize(
    ("q", "expected"),
    [
        ("schacht", {"De Schacht"}),  # location name, any case
        ("HEUVELLAND", {"De Geulhof"}),  # organisation name
        ("maasheuvel", {"De Schacht", "Sint Pieter"}),
        ("maastricht", {"Sint Pieter"}),  # city
        ("6301", {"De Geulhof"}),  # postcode, four digits
        ("6212 ab", {"Sint Pieter"}),  # full postcode, lower case
        ("6212ab", {"Sint Pieter"}),  # without the space
        ("zuurstof", {"De Schacht"}),  # feature name
        ("zilveren kruis", {"De Schacht", "De Geulhof"}),  # insurer name, two words
        ("de heerlen", {"De Schacht"}),  # every word must match
        ("  ", {"De Schacht", "Sint Pieter", "De Geulhof"}),
        ("nergens", set()),
        ("%", set()),  # taken literally, not as a wildcard
        ("_", set()),
    ],
)
def test_social_map_search_matches_names_places_postcodes_features_and_insurers(gp, three, q, expected):
    assert shown(make_client(gp), q=q) == expected


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"product": "elv_hoog"}, {"De Schacht"}),  # Sint Pieter has no contracted ELV hoog beds
        ({"product": "elv_laag"}, {"Sint Pieter"}),
        ({"feature": "single_room"}, {"Sint Pieter"}),
        ({"insurer": "3311"}, {"De Schacht", "De Geulhof"}),
        ({"specialist_24_7": "on"}, {"De Schacht"}),
        ({"insurer": "3311", "q": "valkenburg"}, {"De Geulhof"}),
        ({"insurer": "3311", "product": "elv_laag"}, set()),
    ],
)
def test_social_map_filters_by_product_feature_insurer_and_specialist(gp, three, params, expected):
    assert shown(make_client(gp), **params) == expected


def test_social_map_keeps_the_search_in_the_form_so_the_url_can_be_shared(gp, three):
    url = f"{SOCIAL_MAP}?q=De+Schacht&product=elv_hoog&feature=oxygen&insurer=3311&specialist_24_7=on"

    html = make_client(gp).get(url).content.decode()

    assert 'value="De Schacht"' in html
    assert 'value="elv_hoog" selected' in html
    assert 'value="oxygen" selected' in html
    assert 'value="3311" selected' in html
    assert 'name="specialist_24_7" id="id_specialist_24_7" checked' in html
    assert f'<a href="{SOCIAL_MAP}">Show all</a>' in html


def test_social_map_says_so_when_nothing_matches(gp, three):
    html = make_client(gp).get(SOCIAL_MAP, {"q": "nergens"}).content.decode()

    assert "No provider matches this search." in html
    assert "0 locations" in html


@pytest.mark.parametrize(
    "params",
    [
        {"product": "nonsense"},
        {"product": "grz" * 50},
        {"feature": "no-such-feature"},
        {"insurer": "99999"},
        {"insurer": "abcd"},
    ],
)
def test_social_map_ignores_unknown_filter_values(gp, three, params):
    response = make_client(gp).get(SOCIAL_MAP, params)

    assert response.status_code == 200
    html = response.content.decode()
    assert location_ids(html) == {location.pk for location in three.values()}
    assert "Select a valid choice" not in html
    assert 'aria-invalid="true"' not in html


def test_social_map_ignores_a_product_the_region_does_not_offer(three):
    region = three["heerlen"].organisation.region
    region.products.set([product("elv_laag")])
    gp = user_with_role(Role.GP, region=region)

    html = make_client(gp).get(SOCIAL_MAP, {"product": "elv_hoog"}).content.decode()

    assert location_ids(html) == {location.pk for location in three.values()}
    assert 'value="elv_hoog"' not in html


def test_social_map_cuts_a_very_long_search_text_off(gp, three):
    response = make_client(gp).get(SOCIAL_MAP, {"q": "Schacht" + "x" * 10_000})

    assert response.status_code == 200
    html = response.content.decode()
    assert location_ids(html) == set()
    assert f'value="Schacht{"x" * (SEARCH_TEXT - 7)}"' in html
    assert f'maxlength="{SEARCH_TEXT}"' in html


def test_social_map_uses_only_the_first_words_of_a_long_search(gp, three):
    words = "schacht " + " ".join(["nergens"] * 20)

    assert shown(make_client(gp), q=words) == set()  # the first six words count
    assert shown(make_client(gp), q="schacht heerlen zuurstof maasheuvel 6411 de nergens") == {"De Schacht"}


# --- htmx -----------------------------------------------------------------------------------


def test_social_map_with_htmx_returns_only_the_results(gp, three):
    response = make_client(gp, htmx=True).get(SOCIAL_MAP, {"q": "maastricht"})

    assert response.status_code == 200
    html = response.content.decode()
    assert html.lstrip().startswith('<section id="results"')
    assert "<html" not in html and "<form" not in html
    assert location_ids(html) == {three["maastricht"].pk}
    assert "HX-Request" in response.headers["Vary"]


def test_social_map_form_searches_live_with_htmx_and_works_without(gp, three):
    html = make_client(gp).get(SOCIAL_MAP).content.decode()

    start = html.index('<form method="get" action="/social-map/"')
    form = html[start : html.index("</form>", start)]
    assert f'hx-get="{SOCIAL_MAP}"' in form and 'hx-target="#results"' in form
    assert '<button type="submit"' in form


# --- who may use it -------------------------------------------------------------------------


@pytest.mark.parametrize("role", [Role.GP, Role.TRANSFER_NURSE, Role.COORDINATOR, Role.ADMIN, Role.PROVIDER_STAFF])
def test_referrers_the_desk_and_planners_may_use_the_social_map(region, schacht, role):
    response = make_client(user_with_role(role, region=region)).get(SOCIAL_MAP)

    assert response.status_code == 200
    assert location_ids(response.content.decode()) == {schacht.pk}


def test_analysts_may_not_use_the_social_map(region, schacht):
    assert make_client(user_with_role(Role.ANALYST, region=region)).get(SOCIAL_MAP).status_code == 403


def test_social_map_sends_anonymous_visitors_to_the_login_page():
    response = make_client().get(SOCIAL_MAP)

    assert response.status_code == 302
    assert response.url.startswith(reverse("login") + "?next=")


def test_social_map_refuses_post(gp):
    assert make_client(gp).post(SOCIAL_MAP).status_code == 405


def test_social_map_is_in_dutch_by_default(gp, schacht):
    client = Client()
    client.force_login(gp)

    response = client.get(SOCIAL_MAP)

    assert response.headers["Content-Language"] == "nl"
    assert "Zoeken" in response.content.decode()  # "Search", translated already


# --- a pinned query count -------------------------------------------------------------------

# Every page: session, user (with organisation and region), its second-factor device. The full
# page adds the header's unread notifications count (referrers) and the filter form's choices
# (region products, features, insurers); each given filter one look-up of its value. Then the
# providers, their locations, and the locations' products, features and insurers: none of them
# may repeat per provider or location.
PAGE_NO_FILTERS = 12
PAGE_ALL_FILTERS = 15
HTMX_NO_FILTERS = 8
HTMX_ALL_FILTERS = 11
ALL_FILTERS = {"q": "zorg", "product": "elv_hoog", "feature": "oxygen", "insurer": "3311", "specialist_24_7": "on"}


def _fill_region(region, count: int) -> None:
    for i in range(count):
        organisation = ProviderFactory(region=region, name=f"Zorg {i}")
        location = LocationFactory(
            organisation=organisation,
            features=["oxygen", "single_room"],
            insurers=["3311", "7095"],
            specialist_24_7=True,
            phone_office="045 577 6677",
        )
        for code in ("elv_laag", "elv_hoog", "elv_palliatief"):
            CapacityFactory(location=location, product=product(code), total=5 + i)


@pytest.mark.parametrize(
    ("htmx", "params", "queries"),
    [
        pytest.param(False, {}, PAGE_NO_FILTERS, id="page-no-filters"),
        pytest.param(False, ALL_FILTERS, PAGE_ALL_FILTERS, id="page-all-filters"),
        pytest.param(True, {}, HTMX_NO_FILTERS, id="htmx-no-filters"),
        pytest.param(True, ALL_FILTERS, HTMX_ALL_FILTERS, id="htmx-all-filters"),
    ],
)
def test_social_map_query_count_is_the_same_for_2_and_6_locations(
    gp, region, django_assert_num_queries, htmx, params, queries
):
    client = make_client(gp, htmx=htmx)
    _fill_region(region, 2)
    with CaptureQueriesContext(connection) as two:
        response = client.get(SOCIAL_MAP, params)
    assert len(location_ids(response.content.decode())) == 2

    _fill_region(region, 4)
    with django_assert_num_queries(len(two.captured_queries)):
        response = client.get(SOCIAL_MAP, params)
    assert len(location_ids(response.content.decode())) == 6

    # Equal for 2 and 6 (above), and equal to the pinned number.
    assert len(two.captured_queries) == queries, "\n".join(q["sql"][:100] for q in two.captured_queries)
