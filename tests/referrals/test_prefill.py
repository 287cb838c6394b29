"""Fewer steps for referrers (issue 17): "Refer to this location" on the bed overview opens the
referral form with what the overview knew (product, postcode, required features) and that
location preferred; what the role tells (a GP's patient is at home) is not asked again."""

import re

import pytest
from django.urls import reverse

from accounts.models import Role
from providers.models import Product
from referrals import services
from referrals.models import Referral, ReferralDraft
from tests.factories import CapacityFactory, LocationFactory, RegionFactory, user_with_role
from tests.referrals.conftest import form_post, referral_input
from tests.referrals.test_views import html, make_client

NEW = reverse("referrals:new")
ADVICE = reverse("referrals:advice")


def input_tag(page: str, name: str, value: str | None = None) -> str:
    """The <input> of that name (and value), or "" when the page has none."""
    for tag in re.findall(r"<input[^>]*>", page):
        if f'name="{name}"' in tag and (value is None or f'value="{value}"' in tag):
            return tag
    return ""


def selected_product(page: str) -> str | None:
    select = re.search(r'<select name="product".*?</select>', page, re.S).group(0)
    chosen = re.search(r'<option value="([^"]*)"[^>]*selected', select)
    return (chosen.group(1) or None) if chosen else None


def preferred_value(page: str) -> str:
    tag = input_tag(page, "preferred_location")
    assert tag, "the form has no preferred_location field"
    value = re.search(r'value="([^"]*)"', tag)
    return value.group(1) if value else ""


def link(location, product="elv_hoog", **extra) -> dict:
    return {"location": str(location.pk), "product": product, **extra}


# --- the link's query string ----------------------------------------------------------------


def test_the_overview_link_fills_in_product_postcode_care_needs_and_prefers_the_location(desk):
    query = link(desk.location, postcode="6411 ab", features=["oxygen", "single_room"])

    page = html(make_client(desk.gp).get(NEW, query))

    assert selected_product(page) == "elv_hoog"
    assert 'value="6411 AB"' in input_tag(page, "postcode")
    for code in ("oxygen", "single_room"):
        assert "checked" in input_tag(page, "care_needs", code)
    assert "checked" not in input_tag(page, "care_needs", "isolation")
    assert preferred_value(page) == str(desk.location.pk)
    assert f"Preferred location: {desk.location.name} (ELV hoog complex)" in page


def test_a_bare_pc4_from_the_overview_is_filled_in_for_the_referrer_to_complete(desk):
    page = html(make_client(desk.gp).get(NEW, link(desk.location, postcode="6411")))

    assert 'value="6411"' in input_tag(page, "postcode")


def _foreign_location(desk):
    location = LocationFactory(organisation=user_with_role(Role.PROVIDER_STAFF, region=RegionFactory()).organisation)
    CapacityFactory(location=location, product=Product.objects.get(code="elv_hoog"))
    return location


def _inactive_location(desk):
    location = LocationFactory(organisation=desk.planner.organisation, is_active=False)
    CapacityFactory(location=location, product=Product.objects.get(code="elv_hoog"))
    return location


def _location_without_the_product(desk):
    location = LocationFactory(organisation=desk.planner.organisation)
    CapacityFactory(location=location, product=Product.objects.get(code="elv_laag"))
    return location


@pytest.mark.parametrize(
    "make_location",
    [
        pytest.param(_foreign_location, id="another-region"),
        pytest.param(_inactive_location, id="inactive"),
        pytest.param(_location_without_the_product, id="without-the-product"),
    ],
)
def test_a_location_that_may_not_be_preferred_is_ignored_and_the_rest_still_filled_in(desk, make_location):
    location = make_location(desk)

    response = make_client(desk.gp).get(NEW, link(location, postcode="6411 AB"))

    page = html(response)
    assert response.status_code == 200
    assert preferred_value(page) == ""
    assert "Preferred location" not in page and location.name not in page
    assert selected_product(page) == "elv_hoog"
    assert 'value="6411 AB"' in input_tag(page, "postcode")


GARBAGE = [
    pytest.param({"location": "abc", "product": "elv_hoog"}, id="location-not-a-number"),
    pytest.param({"location": "9" * 40, "product": "elv_hoog"}, id="location-too-large"),
    pytest.param({"location": "-3", "product": "elv_hoog"}, id="location-negative"),
    pytest.param({"location": "²", "product": "elv_hoog"}, id="location-unicode-digit"),
    pytest.param({"location": "999999", "product": "elv_hoog"}, id="location-unknown"),
    pytest.param({"product": "elv_onbekend"}, id="product-unknown"),
    pytest.param({"product": "x" * 500}, id="product-long"),
    pytest.param({"postcode": "zzzz"}, id="postcode-nonsense"),
    pytest.param({"postcode": "1009 AB"}, id="postcode-unknown-area"),
    pytest.param({"postcode": "6" * 300}, id="postcode-long"),
    pytest.param({"features": ["nope", "x" * 300]}, id="features-unknown"),
    pytest.param({"draft": "12abc"}, id="draft-not-a-number"),
]


@pytest.mark.parametrize("query", GARBAGE)
def test_garbage_in_the_query_string_is_ignored(desk, query):
    response = make_client(desk.gp).get(NEW, query)

    page = html(response)
    assert response.status_code == 200
    assert preferred_value(page) == ""
    assert 'class="field-error"' not in page and 'id="form-errors"' not in page
    assert not any("checked" in tag for tag in re.findall(r'<input[^>]*name="care_needs"[^>]*>', page))
    assert selected_product(page) == ("elv_hoog" if query.get("product") == "elv_hoog" else None)
    if "postcode" in query:
        assert 'value="' not in input_tag(page, "postcode")


def test_only_the_known_features_of_a_mixed_list_are_filled_in(desk):
    page = html(make_client(desk.gp).get(NEW, {"features": ["nope", "oxygen"], "location": "x"}))

    assert "checked" in input_tag(page, "care_needs", "oxygen")


# --- an unsent draft ------------------------------------------------------------------------


def test_the_link_starts_a_fresh_form_and_offers_the_unsent_draft(desk):
    make_client(desk.gp, htmx=True).post(NEW, {"action": "draft", "name": "Piet Eerder", "bsn": "12345"})
    draft = ReferralDraft.objects.get()

    page = html(make_client(desk.gp).get(NEW, link(desk.location)))

    assert "Piet Eerder" not in page
    assert input_tag(page, "draft_id") == '<input type="hidden" name="draft_id" value="" id="id_draft_id">'
    assert "You also have an unsent draft" in page
    assert f'href="{NEW}?draft={draft.pk}"' in page
    assert ReferralDraft.objects.filter(pk=draft.pk).exists()  # kept, not merged or deleted


def test_the_offered_draft_opens_even_after_the_new_form_saved_a_newer_one(desk):
    client = make_client(desk.gp, htmx=True)
    client.post(NEW, {"action": "draft", "name": "Piet Eerder"})
    earlier = ReferralDraft.objects.get()
    client.post(NEW, {"action": "draft", "name": "Nieuwe Patiënt", "preferred_location": str(desk.location.pk)})

    page = html(make_client(desk.gp).get(NEW, {"draft": str(earlier.pk)}))

    assert 'value="Piet Eerder"' in page and "Nieuwe Patiënt" not in page
    assert f'name="draft_id" value="{earlier.pk}"' in page


def test_another_users_draft_is_never_opened_by_its_id(desk):
    colleague = user_with_role(Role.GP, desk.gp.organisation)
    make_client(colleague, htmx=True).post(NEW, {"action": "draft", "name": "Collega Patiënt"})
    theirs = ReferralDraft.objects.get(user=colleague)

    page = html(make_client(desk.gp).get(NEW, {"draft": str(theirs.pk)}))

    assert "Collega Patiënt" not in page and f'value="{theirs.pk}"' not in page


def test_a_draft_keeps_the_preferred_location(desk):
    make_client(desk.gp, htmx=True).post(
        NEW, {"action": "draft", "name": "Piet", "product": "elv_hoog", "preferred_location": str(desk.location.pk)}
    )

    page = html(make_client(desk.gp).get(NEW))

    assert preferred_value(page) == str(desk.location.pk)
    assert f"Preferred location: {desk.location.name}" in page


# --- what the role tells, and defaults ------------------------------------------------------


def test_a_gp_is_not_asked_where_the_patient_is_and_the_referral_says_home(desk):
    page = html(make_client(desk.gp).get(NEW))
    response = make_client(desk.gp).post(NEW, form_post(origin=None))

    assert 'name="origin"' not in page
    assert response.status_code == 302
    assert Referral.objects.get().origin == "home"


def test_a_gp_gets_urgency_today_preselected(desk):
    page = html(make_client(desk.gp).get(NEW))

    assert "checked" in input_tag(page, "urgency", "today")


def test_a_transfer_nurse_gets_ward_and_a_planned_date_preselected_and_types_the_date(desk):
    page = html(make_client(desk.nurse).get(NEW))

    assert re.search(r'<option value="ward"[^>]*selected', page)
    assert 'value="emergency"' in page  # still hers to choose
    assert "checked" in input_tag(page, "urgency", "planned")
    assert 'value="' not in input_tag(page, "planned_date")  # no guessed date


def test_sex_is_not_preselected(desk):
    page = html(make_client(desk.gp).get(NEW))

    assert re.search(r'<option value=""[^>]*selected', re.search(r'<select name="sex".*?</select>', page, re.S)[0])


# --- submitting -----------------------------------------------------------------------------


def test_the_referral_from_the_link_is_stored_with_the_preferred_location(desk):
    response = make_client(desk.gp).post(NEW, form_post(preferred_location=str(desk.location.pk)))

    assert response.status_code == 302
    assert Referral.objects.get().preferred_location == desk.location


@pytest.mark.parametrize(
    ("make_location", "product"),
    [
        pytest.param(_foreign_location, "elv_hoog", id="another-region"),
        pytest.param(_inactive_location, "elv_hoog", id="inactive"),
        pytest.param(lambda desk: desk.location, "elv_laag", id="product-changed-to-one-it-does-not-offer"),
    ],
)
def test_a_posted_preferred_location_that_does_not_fit_is_dropped_not_refused(desk, make_location, product):
    location = make_location(desk)

    response = make_client(desk.gp).post(NEW, form_post(preferred_location=str(location.pk), product=product))

    assert response.status_code == 302
    assert Referral.objects.get().preferred_location is None


def test_the_service_stores_the_preferred_location(desk):
    referral, _ = services.referral_submit(by=desk.gp, data=referral_input(preferred_location=desk.location))

    referral.refresh_from_db()
    assert referral.preferred_location == desk.location


def test_the_note_on_the_preferred_location_follows_the_product(desk):
    client = make_client(desk.gp, htmx=True)
    fits = html(client.post(ADVICE, {"product": "elv_hoog", "preferred_location": str(desk.location.pk)}))
    lapsed = html(client.post(ADVICE, {"product": "elv_laag", "preferred_location": str(desk.location.pk)}))

    assert 'id="advice"' in fits
    assert re.search(r'<div id="preferred-location" hx-swap-oob="true">\s*<p[^>]*>Preferred location', fits)
    assert re.search(r'<div id="preferred-location" hx-swap-oob="true">\s*</div>', lapsed)
