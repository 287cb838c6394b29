""" "Mijn bedden": a provider planner keeps the counts of her own locations right, with − / +,
direct entry and "klopt nog", with and without htmx; bad input changes nothing and keeps what
she typed."""

from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.urls import reverse

from accounts.models import Role
from beds.models import CapacityChange
from tests.factories import CapacityFactory, LocationFactory, ProviderFactory, UserFactory, product, user_with_role

pytestmark = pytest.mark.django_db

MY_BEDS = reverse("beds:my_beds")
NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def save_url(capacity):
    return reverse("beds:capacity_save", args=[capacity.pk])


def confirm_url(location):
    return reverse("beds:location_confirm", args=[location.pk])


def form_data(capacity, **typed):
    """What the browser posts for one capacity row: every count plus the version it was read at."""
    values = {
        "total": capacity.total,
        "available": capacity.available,
        "expected_24h": capacity.expected_24h,
        "expected_72h": capacity.expected_72h,
        "version": capacity.version,
        **typed,
    }
    return {f"c{capacity.pk}-{name}": value for name, value in values.items()}


def counts(capacity) -> tuple:
    capacity.refresh_from_db()
    return (capacity.total, capacity.available, capacity.held, capacity.expected_24h, capacity.expected_72h)


def is_location_partial(response, location) -> bool:
    html = response.content.decode()
    return html.lstrip().startswith(f'<section class="card location-card" id="location-{location.pk}"') and (
        "<html" not in html
    )


# --- the page --------------------------------------------------------------------------------


def test_my_beds_shows_every_own_location_and_product_with_its_counts(make_client, planner, capacity, foreign_capacity):
    second = LocationFactory(organisation=planner.organisation, name="Huis Vaalserberg", pc4="6291")
    CapacityFactory(location=second, product=product("elv_palliatief"), total=6, available=2)

    response = make_client(planner).get(MY_BEDS)

    assert response.status_code == 200
    html = response.content.decode()
    assert "<h1>My beds</h1>" in html
    assert "De Schacht" in html and "Huis Vaalserberg" in html
    assert "ELV hoog complex" in html and "ELV palliatief" in html
    assert f'name="c{capacity.pk}-available" id="id_c{capacity.pk}-available" value="3"' in html
    assert f'name="c{capacity.pk}-total" id="id_c{capacity.pk}-total" value="10"' in html
    assert "Huize Welten" not in html
    assert f"c{foreign_capacity.pk}-available" not in html


def test_my_beds_shows_the_last_confirmation_and_who_made_it(make_client, planner, location):
    CapacityFactory(location=location, confirmed_at=NOW - timedelta(hours=1), confirmed_by=planner)

    with time_machine.travel(NOW, tick=False):
        html = make_client(planner).get(MY_BEDS).content.decode()

    # Confirmed at 08:00 UTC, which is 09:00 in Amsterdam (winter time); the page shows local time.
    assert f"Confirmed 2 March 09:00 by {planner}" in html
    assert "Stale: please confirm" not in html


def test_my_beds_marks_counts_not_confirmed_within_the_regions_limit_as_stale(make_client, planner, location):
    CapacityFactory(location=location, product=product("elv_laag"), confirmed_at=NOW - timedelta(hours=13))
    CapacityFactory(location=location, product=product("elv_hoog"), confirmed_at=NOW - timedelta(hours=1))

    with time_machine.travel(NOW, tick=False):
        html = make_client(planner).get(MY_BEDS).content.decode()

    assert "Stale: please confirm" in html
    assert html.count('class="capacity-row is-stale"') == 1


def test_my_beds_query_count_does_not_grow_with_locations(make_client, planner, django_assert_num_queries):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    def add_locations(n):
        for _ in range(n):
            location = LocationFactory(organisation=planner.organisation)
            for code in ("elv_laag", "elv_hoog"):
                CapacityFactory(location=location, product=product(code), confirmed_by=planner)

    client = make_client(planner)
    add_locations(2)
    with CaptureQueriesContext(connection) as few:
        assert client.get(MY_BEDS).status_code == 200
    add_locations(20)
    with django_assert_num_queries(len(few.captured_queries)):
        assert client.get(MY_BEDS).status_code == 200


def test_a_button_press_with_htmx_costs_a_fixed_number_of_queries(
    make_client, planner, capacity, django_assert_num_queries
):
    second = LocationFactory(organisation=planner.organisation, name="Huis Vaalserberg", pc4="6291")
    CapacityFactory(location=second, product=product("elv_palliatief"))
    client = make_client(planner, htmx=True)

    # Session, user with organisation and region, second factor, the count; in the transaction:
    # the count locked, stored, its history; after it the region's generation raised
    # (elvdesk/page_cache.py); the organisation's locations and their counts.
    with django_assert_num_queries(12):
        response = client.post(save_url(capacity), {"adjust": "available:+1"})

    assert is_location_partial(response, capacity.location)
    assert counts(capacity)[1] == 4


# --- direct entry ----------------------------------------------------------------------------


def test_saving_typed_counts_stores_them_and_redirects_to_the_location(make_client, planner, capacity):
    client = make_client(planner)

    response = client.post(save_url(capacity), form_data(capacity, available=5, expected_24h=3, expected_72h=4))

    assert response.status_code == 302
    assert response.url == f"{MY_BEDS}#location-{capacity.location_id}"
    assert counts(capacity) == (10, 5, 1, 3, 4)
    assert capacity.version == 2
    assert capacity.confirmed_by == planner
    change = CapacityChange.objects.get(capacity=capacity)
    assert (change.source, change.changed_by, change.before["available"], change.after["available"]) == (
        "web",
        planner,
        3,
        5,
    )
    assert "Bed counts of De Schacht saved." in client.get(response.url).content.decode()


def test_saving_typed_counts_with_htmx_returns_only_the_location_card(make_client, planner, capacity):
    response = make_client(planner, htmx=True).post(save_url(capacity), form_data(capacity, available=6))

    assert response.status_code == 200
    assert is_location_partial(response, capacity.location)
    html = response.content.decode()
    assert f'name="c{capacity.pk}-available" id="id_c{capacity.pk}-available" value="6"' in html
    assert f'name="c{capacity.pk}-version" value="2"' in html
    assert counts(capacity)[1] == 6


# --- − / + buttons ---------------------------------------------------------------------------


@pytest.mark.parametrize(("button", "expected"), [("available:+1", 4), ("available:-1", 2)])
def test_plus_and_minus_change_the_count_by_one(make_client, planner, capacity, button, expected):
    response = make_client(planner).post(save_url(capacity), {**form_data(capacity), "adjust": button})

    assert response.status_code == 302
    assert counts(capacity)[1] == expected
    assert CapacityChange.objects.get(capacity=capacity).after["available"] == expected


@pytest.mark.parametrize(
    ("button", "field", "expected"),
    [("total:+1", "total", 11), ("expected_24h:+1", "expected_24h", 2), ("expected_72h:-1", "expected_72h", 1)],
)
def test_plus_and_minus_work_for_every_count(make_client, planner, capacity, button, field, expected):
    response = make_client(planner, htmx=True).post(save_url(capacity), {**form_data(capacity), "adjust": button})

    assert response.status_code == 200
    assert is_location_partial(response, capacity.location)
    assert (
        f'name="c{capacity.pk}-{field}" id="id_c{capacity.pk}-{field}" value="{expected}"' in response.content.decode()
    )
    capacity.refresh_from_db()
    assert getattr(capacity, field) == expected


def test_minus_below_zero_is_refused_with_a_message(make_client, planner, location):
    capacity = CapacityFactory(location=location, product=product("elv_laag"), total=4, available=0, held=0)

    response = make_client(planner, htmx=True).post(
        save_url(capacity), {**form_data(capacity), "adjust": "available:-1"}
    )

    assert response.status_code == 200
    assert is_location_partial(response, location)
    assert "A count cannot be negative." in response.content.decode()
    assert counts(capacity) == (4, 0, 0, 1, 2)
    assert not CapacityChange.objects.exists()


def test_plus_above_the_contracted_total_is_refused_with_a_message(make_client, planner, location):
    capacity = CapacityFactory(location=location, product=product("elv_laag"), total=4, available=4, held=0)

    response = make_client(planner).post(save_url(capacity), {**form_data(capacity), "adjust": "available:+1"})

    assert response.status_code == 200
    html = response.content.decode()
    assert "Free beds (5) cannot exceed contracted beds (4)." in html
    assert "saved" not in html
    assert counts(capacity)[:2] == (4, 4)
    assert not CapacityChange.objects.exists()


@pytest.mark.parametrize("htmx", [False, True], ids=["page", "htmx"])
@pytest.mark.parametrize("button", ["held:+1", "version:+1", "available:+5", "nonsense"])
def test_a_button_that_is_not_allowed_changes_nothing_and_says_so(make_client, planner, capacity, button, htmx):
    client = make_client(planner, htmx=htmx)

    response = client.post(save_url(capacity), {**form_data(capacity), "adjust": button}, follow=True)

    assert response.status_code == 200
    html = response.content.decode()
    assert "That button did not work; please reload the page." in html
    assert "saved" not in html
    assert counts(capacity) == (10, 3, 1, 1, 2)
    assert not CapacityChange.objects.exists()


# --- bad typed input -------------------------------------------------------------------------


BAD_INPUT = [
    pytest.param("available", "-1", "A count cannot be negative.", id="negative"),
    pytest.param("total", "-3", "A count cannot be negative.", id="negative-total"),
    pytest.param("available", "abc", "Enter a whole number.", id="non-numeric"),
    pytest.param("expected_24h", "2.5", "Enter a whole number.", id="fraction"),
    pytest.param("available", "", "Enter a number.", id="empty"),
    pytest.param("available", "11", "Free beds (11) cannot exceed contracted beds (10).", id="available-above-total"),
    pytest.param("total", "2", "Free beds (3) cannot exceed contracted beds (2).", id="total-below-available"),
    pytest.param(
        "available", "0", "1 beds are held by open offers; free beds cannot be lower than that.", id="below-held"
    ),
]


@pytest.mark.parametrize("htmx", [False, True], ids=["page", "htmx"])
@pytest.mark.parametrize(("field", "typed", "message"), BAD_INPUT)
def test_bad_input_shows_a_message_keeps_what_was_typed_and_changes_nothing(
    make_client, planner, capacity, field, typed, message, htmx
):
    # The planner also changed another count in the same row; that must not be lost either.
    data = form_data(capacity, expected_72h=7, **{field: typed})

    response = make_client(planner, htmx=htmx).post(save_url(capacity), data)

    assert response.status_code == 200
    html = response.content.decode()
    assert message in html
    assert 'aria-invalid="true"' in html
    assert f'name="c{capacity.pk}-{field}" id="id_c{capacity.pk}-{field}" value="{typed}"' in html
    assert f'name="c{capacity.pk}-expected_72h" id="id_c{capacity.pk}-expected_72h" value="7"' in html
    if htmx:
        assert is_location_partial(response, capacity.location)
    else:
        assert "<h1>My beds</h1>" in html
    assert counts(capacity) == (10, 3, 1, 1, 2)
    assert capacity.version == 1
    assert not CapacityChange.objects.exists()


def test_a_tampered_version_is_refused_and_changes_nothing(make_client, planner, capacity):
    response = make_client(planner).post(save_url(capacity), form_data(capacity, available=5, version="x"))

    assert response.status_code == 200
    assert counts(capacity)[1] == 3


# --- two planners ----------------------------------------------------------------------------


@pytest.mark.parametrize("htmx", [False, True], ids=["page", "htmx"])
def test_two_planners_saving_the_same_count_never_lose_an_update_silently(make_client, planner, capacity, htmx):
    colleague = user_with_role(Role.PROVIDER_STAFF, planner.organisation, username="colleague")
    read_by_both = form_data(capacity)  # both opened the page at version 1

    first = make_client(colleague).post(save_url(capacity), {**read_by_both, f"c{capacity.pk}-available": "5"})
    assert first.status_code == 302
    second = make_client(planner, htmx=htmx).post(
        save_url(capacity), {**read_by_both, f"c{capacity.pk}-available": "7"}
    )

    assert second.status_code == 200
    html = second.content.decode()
    assert "These counts were changed by someone else in the meantime." in html
    assert "Now stored: contracted 10, free 5, held 1" in html
    assert f'name="c{capacity.pk}-available" id="id_c{capacity.pk}-available" value="7"' in html
    assert f'name="c{capacity.pk}-version" value="2"' in html
    assert counts(capacity)[1] == 5
    assert CapacityChange.objects.filter(capacity=capacity).count() == 1


def test_after_a_conflict_saving_again_on_purpose_wins(make_client, planner, capacity):
    colleague = user_with_role(Role.PROVIDER_STAFF, planner.organisation, username="colleague")
    read_by_both = form_data(capacity)
    make_client(colleague).post(save_url(capacity), {**read_by_both, f"c{capacity.pk}-available": "5"})
    client = make_client(planner)
    conflict = client.post(save_url(capacity), {**read_by_both, f"c{capacity.pk}-available": "7"})
    assert conflict.status_code == 200

    again = client.post(
        save_url(capacity), {**read_by_both, f"c{capacity.pk}-available": "7", f"c{capacity.pk}-version": "2"}
    )

    assert again.status_code == 302
    assert counts(capacity)[1] == 7


def test_two_planners_pressing_plus_at_once_both_count(make_client, planner, capacity):
    colleague = user_with_role(Role.PROVIDER_STAFF, planner.organisation, username="colleague")
    read_by_both = form_data(capacity)

    make_client(colleague).post(save_url(capacity), {**read_by_both, "adjust": "available:+1"})
    make_client(planner).post(save_url(capacity), {**read_by_both, "adjust": "available:+1"})

    assert counts(capacity)[1] == 5


# --- "klopt nog" -----------------------------------------------------------------------------


def test_still_correct_confirms_every_count_of_the_location(make_client, planner, location):
    old = NOW - timedelta(hours=20)
    capacities = [
        CapacityFactory(location=location, product=product(c), confirmed_at=old) for c in ("elv_laag", "elv_hoog")
    ]
    client = make_client(planner)

    with time_machine.travel(NOW, tick=False):
        response = client.post(confirm_url(location))
        page = client.get(response.url).content.decode()

    assert response.status_code == 302
    assert response.url == f"{MY_BEDS}#location-{location.pk}"
    assert "Counts of De Schacht confirmed." in page
    assert "Stale: please confirm" not in page
    for capacity in capacities:
        capacity.refresh_from_db()
        assert (capacity.confirmed_at, capacity.confirmed_by) == (NOW, planner)
    assert CapacityChange.objects.filter(capacity__location=location, source="confirm").count() == 2


def test_still_correct_with_htmx_returns_the_refreshed_location_card(make_client, planner, location):
    CapacityFactory(location=location, confirmed_at=NOW - timedelta(hours=20))

    with time_machine.travel(NOW, tick=False):
        before = make_client(planner).get(MY_BEDS).content.decode()
        response = make_client(planner, htmx=True).post(confirm_url(location))

    assert "Stale: please confirm" in before
    assert response.status_code == 200
    assert is_location_partial(response, location)
    html = response.content.decode()
    assert "Stale: please confirm" not in html
    assert f"by {planner}" in html


# --- who may do this -------------------------------------------------------------------------


def test_a_planner_of_another_provider_gets_404_for_a_foreign_count(make_client, planner, foreign_capacity):
    response = make_client(planner).post(save_url(foreign_capacity), form_data(foreign_capacity, available=0))

    assert response.status_code == 404
    assert counts(foreign_capacity)[1] == 3


def test_a_planner_of_another_provider_gets_404_for_a_foreign_plus_button(make_client, planner, foreign_capacity):
    response = make_client(planner).post(save_url(foreign_capacity), {"adjust": "available:-1"})

    assert response.status_code == 404
    assert counts(foreign_capacity)[1] == 3


def test_a_planner_of_another_provider_gets_404_when_confirming_a_foreign_location(
    make_client, planner, foreign_capacity
):
    stamp = foreign_capacity.confirmed_at

    response = make_client(planner).post(confirm_url(foreign_capacity.location))

    assert response.status_code == 404
    foreign_capacity.refresh_from_db()
    assert foreign_capacity.confirmed_at == stamp
    assert not CapacityChange.objects.exists()


OTHER_ROLES = [Role.GP, Role.TRANSFER_NURSE, Role.COORDINATOR, Role.ADMIN, Role.ANALYST]


@pytest.mark.parametrize("role", OTHER_ROLES)
def test_other_roles_may_not_use_my_beds(make_client, region, capacity, role):
    client = make_client(user_with_role(role, region=region))

    assert client.get(MY_BEDS).status_code == 403
    assert client.post(save_url(capacity), form_data(capacity, available=5)).status_code == 403
    assert client.post(save_url(capacity), {"adjust": "available:+1"}).status_code == 403
    assert client.post(confirm_url(capacity.location)).status_code == 403
    assert counts(capacity)[1] == 3
    assert not CapacityChange.objects.exists()


def test_an_analyst_in_the_providers_own_organisation_is_refused(make_client, capacity):
    analyst_at_provider = user_with_role(Role.ANALYST, capacity.location.organisation)

    assert (
        make_client(analyst_at_provider).post(save_url(capacity), form_data(capacity, available=5)).status_code == 403
    )


def test_a_planner_without_an_organisation_is_refused(make_client, capacity):
    orphan = UserFactory(role=Role.PROVIDER_STAFF, organisation=None)

    assert make_client(orphan).get(MY_BEDS).status_code == 403


def test_anonymous_visitors_are_sent_to_the_login_page(make_client, capacity):
    client = make_client()

    for response in (
        client.get(MY_BEDS),
        client.post(save_url(capacity), form_data(capacity, available=5)),
        client.post(confirm_url(capacity.location)),
    ):
        assert response.status_code == 302
        assert response.url.startswith(reverse("login") + "?next=")
    assert counts(capacity)[1] == 3


def test_post_only_endpoints_refuse_get_with_405(make_client, planner, capacity):
    client = make_client(planner)

    assert client.get(save_url(capacity)).status_code == 405
    assert client.get(confirm_url(capacity.location)).status_code == 405
    assert client.post(MY_BEDS).status_code == 405


def test_the_provider_menu_shows_my_beds_and_not_the_overview(make_client, planner, capacity):
    html = make_client(planner).get(MY_BEDS).content.decode()

    assert f'href="{MY_BEDS}"' in html
    assert f'href="{reverse("beds:overview")}"' not in html


def test_a_provider_with_no_locations_sees_a_helpful_message(make_client, region):
    lonely = user_with_role(Role.PROVIDER_STAFF, ProviderFactory(region=region))

    assert "Your organisation has no locations yet." in make_client(lonely).get(MY_BEDS).content.decode()
