"""The referral desk's pages: the referral form (with drafts and live advice), who may open
what, the lists per role with pinned query counts, and the desk's and provider's steps."""

import re
from datetime import timedelta

import pytest
import time_machine
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone
from stdnum.nl import bsn as nl_bsn

from accounts.models import Role
from elvdesk import page_cache
from providers.models import Product
from referrals import services
from referrals.models import Offer, OfferState, Referral, ReferralDraft, ReferralEvent, State
from tests.factories import CapacityFactory, LocationFactory, RegionFactory, user_with_role
from tests.referrals.conftest import form_post, referral_input

NEW = reverse("referrals:new")
ADVICE = reverse("referrals:advice")
INDEX = reverse("referrals:index")


def detail_url(referral) -> str:
    return reverse("referrals:detail", args=[referral.pk])


def make_client(user=None, *, htmx: bool = False) -> Client:
    """A page client in English (Dutch is the default; asserting on English keeps these tests
    valid once the Dutch translations exist), signed in as `user` when given."""
    headers = {"Accept-Language": "en"}
    if htmx:
        headers["HX-Request"] = "true"
    client = Client(headers=headers)
    if user is not None:
        client.force_login(user)
    return client


def html(response) -> str:
    return response.content.decode()


def local_minute(moment=None) -> str:
    """A datetime as a datetime-local input posts it: "YYYY-MM-DDTHH:MM" in local time."""
    return timezone.localtime(moment or timezone.now()).strftime("%Y-%m-%dT%H:%M")


def valid_bsns(count: int, start: int = 20000000) -> list[str]:
    """`count` distinct BSNs that pass the eleven test."""
    numbers = []
    prefix = start
    while len(numbers) < count:
        for digit in "0123456789":
            if nl_bsn.is_valid(f"{prefix}{digit}"):
                numbers.append(f"{prefix}{digit}")
                break
        prefix += 1
    return numbers


def listed_ids(response) -> set[int]:
    return {int(pk) for pk in re.findall(r'href="/referrals/(\d+)/"', html(response))}


def capacity_counts(capacity) -> tuple[int, int]:
    capacity.refresh_from_db()
    return capacity.available, capacity.held


# --- The referral form ----------------------------------------------------------------------


def test_gp_submits_the_form_and_lands_on_the_new_referral(desk):
    response = make_client(desk.gp).post(NEW, form_post())

    referral = Referral.objects.get()
    assert response.status_code == 302
    assert response.url == f"/referrals/{referral.pk}/"
    assert referral.state == State.SUBMITTED
    assert (referral.referred_by, referral.organisation) == (desk.gp, desk.gp.organisation)
    assert (referral.patient.name, referral.patient.bsn, referral.patient.postcode) == (
        "Maria Jansen",
        "111222333",
        "6411 AB",
    )
    assert (referral.product.code, referral.origin, referral.urgency) == ("elv_hoog", "home", "today")
    assert referral.wakeful_eye and referral.needs_elderly_care_specialist and referral.consent
    assert not referral.unplannable_nursing


def test_transfer_nurse_refers_a_ward_patient_with_a_planned_date(desk):
    planned = (timezone.localdate() + timedelta(days=2)).isoformat()

    response = make_client(desk.nurse).post(NEW, form_post(origin="ward", urgency="planned", planned_date=planned))

    assert response.status_code == 302
    referral = Referral.objects.get()
    assert (referral.origin, referral.urgency, referral.planned_date.isoformat()) == ("ward", "planned", planned)


def test_submitting_the_same_form_twice_creates_one_referral(desk):
    client = make_client(desk.gp)

    first = client.post(NEW, form_post(submit_token="double-click"))
    second = client.post(NEW, form_post(submit_token="double-click"))

    assert Referral.objects.count() == 1
    assert first.status_code == second.status_code == 302
    assert first.url == second.url == detail_url(Referral.objects.get())


def test_submitting_twice_for_a_returning_patient_lands_on_the_referral_it_created(desk):
    """The patient had a referral before: the repeat meets a live referral, its own."""
    earlier, _ = services.referral_submit(by=desk.gp, data=referral_input())
    services.referral_step(referral=earlier, target="cancelled", by=desk.gp, reason="Opgeknapt")
    client = make_client(desk.gp)

    first = client.post(NEW, form_post(submit_token="double-click"))
    second = client.post(NEW, form_post(submit_token="double-click"))

    created = Referral.objects.get(idempotency_key="double-click")
    assert first.status_code == second.status_code == 302
    assert first.url == second.url == detail_url(created)


def test_the_form_carries_a_fresh_submit_token(desk):
    page = html(make_client(desk.gp).get(NEW))

    token = re.search(r'name="submit_token" value="([0-9a-f]{32})"', page)
    assert token, "the form has no submit token"
    assert token.group(1) not in html(make_client(desk.gp).get(NEW + "?fresh=1"))


def _future(days=1) -> str:
    return (timezone.localdate() + timedelta(days=days)).isoformat()


def _past(days=1) -> str:
    return (timezone.localdate() - timedelta(days=days)).isoformat()


BAD_INPUT = [
    pytest.param({"bsn": "123456789"}, "bsn", "eleven test", id="invalid-bsn"),
    pytest.param({"postcode": "64 11"}, "postcode", "valid Dutch postcode", id="malformed-postcode"),
    pytest.param({"date_of_birth": _future}, "date_of_birth", "cannot be in the future", id="future-birth-date"),
    pytest.param(
        {"urgency": "planned", "planned_date": _past}, "planned_date", "cannot be in the past", id="past-planned-date"
    ),
    pytest.param({"urgency": "planned"}, "planned_date", "Enter the planned date", id="planned-without-date"),
    pytest.param({"consent": None}, "consent", "must consent", id="no-consent"),
    pytest.param({"origin": "ward"}, "origin", "valid choice", id="ward-origin-for-a-gp"),
    pytest.param({"product": "elv_onbekend"}, "product", "valid choice", id="unknown-product"),
]


@pytest.mark.parametrize(("overrides", "field", "message"), BAD_INPUT)
def test_bad_input_is_refused_with_a_message_and_keeps_what_was_typed(desk, overrides, field, message):
    overrides = {key: value() if callable(value) else value for key, value in overrides.items()}
    post = form_post(name="Maria Typed-Jansen", medical_reason="Gevallen op de trap.", **overrides)

    response = make_client(desk.gp).post(NEW, post)

    page = html(response)
    assert response.status_code == 400
    assert Referral.objects.count() == 0
    assert f'id="id_{field}_error"' in page, f"no error shown at {field}"
    assert message in page
    assert 'id="form-errors"' in page
    # What was typed is still there.
    assert 'value="Maria Typed-Jansen"' in page
    assert "Gevallen op de trap." in page
    for name in ("bsn", "postcode", "planned_date", "date_of_birth"):
        if name in post:
            assert f'value="{post[name]}"' in page, f"{name} typed as {post[name]!r} is lost"
    # ... and stored as a draft, invalid values included.
    draft = ReferralDraft.objects.get(user=desk.gp)
    assert draft.data["name"] == "Maria Typed-Jansen"
    for name, value in overrides.items():
        if value is not None:
            assert draft.data[name] == value


def test_a_product_the_region_does_not_offer_is_refused(db):
    region = RegionFactory(products=[Product.objects.get(code="elv_laag"), Product.objects.get(code="elv_palliatief")])
    gp = user_with_role(Role.GP, region=region)

    form = html(make_client(gp).get(NEW + "?fresh=1"))
    response = make_client(gp).post(NEW, form_post(product="elv_hoog"))

    assert 'value="elv_hoog"' not in form and 'value="elv_laag"' in form
    assert response.status_code == 400
    assert 'id="id_product_error"' in html(response)
    assert 'value="Maria Jansen"' in html(response)
    assert Referral.objects.count() == 0


def test_a_second_live_referral_for_the_same_patient_is_a_conflict_on_the_page(desk, submitted):
    response = make_client(desk.gp).post(NEW, form_post(submit_token="another-token"))

    assert response.status_code == 409
    assert "already a live referral" in html(response)
    assert 'value="Maria Jansen"' in html(response)
    assert Referral.objects.count() == 1


def test_htmx_autosave_stores_a_draft_and_returns_the_draft_status(desk):
    client = make_client(desk.gp, htmx=True)

    response = client.post(NEW, {"action": "draft", "name": "Piet Half", "bsn": "12345", "draft_id": ""})

    page = html(response)
    assert response.status_code == 200
    assert 'id="draft-status"' in page
    assert "Draft saved at" in page
    assert "<html" not in page and 'id="referral-form"' not in page
    draft = ReferralDraft.objects.get(user=desk.gp)
    assert draft.data == {"name": "Piet Half", "bsn": "12345", "draft_id": ""}
    assert Referral.objects.count() == 0


def test_autosave_tells_the_page_its_draft_so_the_next_autosave_updates_it(desk):
    """The autosave swaps only #draft-status; the new draft's id must reach the form's hidden
    draft_id too (out of band), or every change would start another draft."""
    client = make_client(desk.gp, htmx=True)

    first = html(client.post(NEW, {"action": "draft", "name": "Piet", "draft_id": ""}))
    draft = ReferralDraft.objects.get()
    oob = re.search(r"<input[^>]*hx-swap-oob[^>]*>", first)
    assert oob, first
    assert 'id="id_draft_id"' in oob.group(0) and f'value="{draft.pk}"' in oob.group(0)

    client.post(NEW, {"action": "draft", "name": "Piet H", "draft_id": str(draft.pk)})
    assert ReferralDraft.objects.get().data["name"] == "Piet H"


def test_a_draft_without_htmx_redirects_back_to_the_form(desk):
    response = make_client(desk.gp).post(NEW, {"action": "draft", "name": "Piet Plain"})

    assert response.status_code == 302 and response.url == NEW
    assert ReferralDraft.objects.get().data["name"] == "Piet Plain"


def test_the_form_loads_the_latest_draft_without_shouting_errors(desk):
    make_client(desk.gp, htmx=True).post(NEW, {"action": "draft", "name": "Oude Draft"})
    make_client(desk.gp, htmx=True).post(NEW, {"action": "draft", "name": "Piet Draft", "bsn": "12345"})

    page = html(make_client(desk.gp).get(NEW))

    assert 'value="Piet Draft"' in page and 'value="12345"' in page
    assert "Oude Draft" not in page
    assert "field-error" not in page and 'id="form-errors"' not in page
    latest = ReferralDraft.objects.filter(user=desk.gp).first()
    assert f'name="draft_id" value="{latest.pk}"' in page


def test_start_with_an_empty_form_discards_the_draft(desk):
    make_client(desk.gp, htmx=True).post(NEW, {"action": "draft", "name": "Piet Draft"})

    page = html(make_client(desk.gp).get(NEW + "?fresh=1"))

    assert "Piet Draft" not in page
    assert not ReferralDraft.objects.filter(user=desk.gp).exists()


def test_drafts_are_per_user(desk):
    colleague = user_with_role(Role.GP, desk.gp.organisation)
    make_client(colleague, htmx=True).post(NEW, {"action": "draft", "name": "Van de collega"})

    assert "Van de collega" not in html(make_client(desk.gp).get(NEW))


def test_submitting_a_draft_removes_it(desk):
    client = make_client(desk.gp, htmx=True)
    client.post(NEW, {"action": "draft", "name": "Maria", "draft_id": ""})
    draft = ReferralDraft.objects.get()

    response = make_client(desk.gp).post(NEW, form_post(draft_id=str(draft.pk)))

    assert response.status_code == 302
    assert not ReferralDraft.objects.exists()


def test_after_a_corrected_submit_no_draft_is_left_and_the_next_form_is_empty(desk):
    client = make_client(desk.gp)
    refused = client.post(NEW, form_post(bsn="123456789"))
    assert refused.status_code == 400
    # The page re-rendered after the error must keep pointing at the draft it stored ...
    draft = ReferralDraft.objects.get()
    assert f'name="draft_id" value="{draft.pk}"' in html(refused)

    # ... so submitting the corrected form (as the browser posts it back) removes it.
    accepted = client.post(NEW, form_post(draft_id=str(draft.pk)))
    assert accepted.status_code == 302
    assert not ReferralDraft.objects.exists()
    next_form = html(client.get(NEW))
    assert "Maria Jansen" not in next_form
    assert 'value="token-1"' not in next_form


@pytest.mark.parametrize(
    ("ticked", "summary"),
    [
        pytest.param(["life_expectancy_short"], "Advice: ELV palliatief", id="palliatief"),
        pytest.param(["needs_hospital_care", "life_expectancy_short"], "Advice: hospital admission", id="hospital"),
        pytest.param(["wlz_indication"], "Advice: Wlz crisis bed or logeeropvang", id="wlz"),
        pytest.param(["carer_relief_only"], "Advice: respite care (Wmo)", id="respijtzorg"),
        pytest.param(["trainable_after_hospital"], "Advice: geriatric rehabilitation (GRZ)", id="grz"),
        pytest.param(["wakeful_eye", "needs_elderly_care_specialist"], "Advice: ELV hoog complex", id="hoog"),
        pytest.param(["adl_taken_over"], "Advice: ELV laag complex", id="laag"),
    ],
)
def test_decision_support_partial_gives_the_advice_with_reasons(desk, ticked, summary):
    response = make_client(desk.gp, htmx=True).post(ADVICE, {name: "on" for name in ticked})

    page = html(response)
    assert response.status_code == 200
    assert 'id="advice"' in page and "<html" not in page
    assert summary in page
    assert page.count("<li>") >= 1


def test_decision_support_is_shown_beside_a_refused_form(desk):
    response = make_client(desk.gp).post(NEW, form_post(consent=None, life_expectancy_short="on"))

    assert response.status_code == 400
    assert "Advice: ELV palliatief" in html(response)


def test_decision_support_is_advice_only(desk):
    """The advice says hospital; the GP's choice of ELV hoog stands."""
    response = make_client(desk.gp).post(NEW, form_post(needs_hospital_care="on"))

    assert response.status_code == 302
    assert Referral.objects.get().product.code == "elv_hoog"


# --- Roles ----------------------------------------------------------------------------------


@pytest.mark.parametrize("role", [Role.PROVIDER_STAFF, Role.COORDINATOR, Role.ANALYST, Role.ADMIN])
def test_only_referrers_may_open_the_referral_form(desk, role):
    client = make_client(user_with_role(role, region=desk.region))

    assert client.get(NEW).status_code == 403
    assert client.post(NEW, form_post()).status_code == 403
    assert client.post(ADVICE, {}).status_code == 403
    assert Referral.objects.count() == 0


@pytest.mark.parametrize("who", ["gp", "nurse"])
def test_referrers_may_open_the_referral_form(desk, who):
    response = make_client(getattr(desk, who)).get(NEW)

    assert response.status_code == 200
    assert 'id="referral-form"' in html(response)


def test_the_transfer_nurse_chooses_between_ward_and_emergency(desk):
    page = html(make_client(desk.nurse).get(NEW))

    assert 'value="ward"' in page and 'value="emergency"' in page and 'value="home"' not in page


def test_anonymous_users_are_sent_to_the_login_page(desk, submitted):
    client = make_client()

    for url in (NEW, INDEX, detail_url(submitted)):
        response = client.get(url)
        assert response.status_code == 302
        assert response.url.startswith(reverse("login") + "?next=")
    assert client.post(NEW, form_post()).status_code == 302
    assert Referral.objects.count() == 1


@pytest.mark.parametrize(
    ("name", "who", "on_offer"),
    [
        ("referrals:step", "coordinator", False),
        ("referrals:offer_send", "coordinator", False),
        ("referrals:admit", "planner", False),
        ("referrals:discharge", "planner", False),
        ("referrals:offer_accept", "planner", True),
        ("referrals:offer_decline", "planner", True),
    ],
)
def test_post_only_endpoints_refuse_get(desk, offer, name, who, on_offer):
    url = reverse(name, args=[offer.pk if on_offer else offer.referral_id])

    assert make_client(getattr(desk, who)).get(url).status_code == 405


# --- Who sees a referral --------------------------------------------------------------------


def _viewer(desk, who):
    other_region = RegionFactory()
    return {
        "gp": lambda: desk.gp,
        "colleague": lambda: user_with_role(Role.GP, desk.gp.organisation),
        "coordinator": lambda: desk.coordinator,
        "other_practice": lambda: user_with_role(Role.GP, region=desk.region),
        "nurse_same_region": lambda: desk.nurse,
        "other_region_coordinator": lambda: user_with_role(Role.COORDINATOR, region=other_region),
        "provider_without_offer": lambda: desk.planner,
        "analyst": lambda: user_with_role(Role.ANALYST, region=desk.region),
        "admin": lambda: user_with_role(Role.ADMIN, region=desk.region),
    }[who]()


@pytest.mark.parametrize(
    ("who", "status"),
    [
        ("gp", 200),
        ("colleague", 200),
        ("coordinator", 200),
        ("other_practice", 404),
        ("nurse_same_region", 404),
        ("other_region_coordinator", 404),
        ("provider_without_offer", 404),
        ("analyst", 403),
        ("admin", 403),
    ],
)
def test_who_may_open_a_referral(desk, submitted, who, status):
    response = make_client(_viewer(desk, who)).get(detail_url(submitted))

    assert response.status_code == status
    if status == 200:
        assert "Maria Jansen" in html(response)
    else:
        assert "Maria Jansen" not in html(response)


def test_the_provider_with_an_offer_sees_the_referral_and_other_providers_do_not(desk, offer):
    assert make_client(desk.planner).get(detail_url(offer.referral)).status_code == 200
    assert make_client(desk.other_planner).get(detail_url(offer.referral)).status_code == 404


def test_a_provider_that_declined_still_sees_the_referral_it_had_an_offer_for(desk, offer):
    services.offer_decline(offer=offer, by=desk.planner, reason="too_complex")

    page = make_client(desk.planner).get(detail_url(offer.referral))

    assert page.status_code == 200
    assert 'action="/referrals/offers/' not in html(page), "a declined offer cannot be answered again"


def test_the_bsn_is_never_in_a_link(desk, offer):
    for user in (desk.gp, desk.coordinator, desk.planner):
        for url in (INDEX, detail_url(offer.referral)):
            assert "111222333" not in "".join(
                re.findall(r'(?:href|action)="([^"]*)"', html(make_client(user).get(url)))
            )


# --- Lists ----------------------------------------------------------------------------------


def test_each_role_sees_exactly_its_referrals_in_the_list(desk):
    other_gp = user_with_role(Role.GP, region=desk.region)
    other_region = RegionFactory()
    far_gp = user_with_role(Role.GP, region=other_region)
    far_coordinator = user_with_role(Role.COORDINATOR, region=other_region)
    bsn_a, bsn_b, bsn_c, bsn_d = valid_bsns(4)
    own, _ = services.referral_submit(by=desk.gp, data=referral_input(bsn=bsn_a))
    services.referral_step(referral=own, target="searching", by=desk.coordinator)
    services.offer_create(referral=own, capacity=desk.capacity, by=desk.coordinator)
    colleagues, _ = services.referral_submit(by=desk.gp, data=referral_input(bsn=bsn_b))
    neighbours, _ = services.referral_submit(by=other_gp, data=referral_input(bsn=bsn_c))
    far, _ = services.referral_submit(by=far_gp, data=referral_input(bsn=bsn_d))

    expected = {
        desk.gp: {own.pk, colleagues.pk},
        user_with_role(Role.GP, desk.gp.organisation): {own.pk, colleagues.pk},
        other_gp: {neighbours.pk},
        desk.nurse: set(),
        desk.planner: {own.pk},
        desk.other_planner: set(),
        desk.coordinator: {own.pk, colleagues.pk, neighbours.pk},
        far_coordinator: {far.pk},
    }
    for user, ids in expected.items():
        response = make_client(user).get(INDEX)
        assert response.status_code == 200
        assert listed_ids(response) == ids, f"{user.role} of {user.organisation}"


@pytest.mark.parametrize("role", [Role.ANALYST, Role.ADMIN])
def test_analysts_and_admins_have_no_referral_list(desk, submitted, role):
    assert make_client(user_with_role(role, region=desk.region)).get(INDEX).status_code == 403


def test_the_list_shows_closed_referrals_only_on_request(desk, submitted):
    services.referral_step(referral=submitted, target="cancelled", by=desk.gp, reason="Opgeknapt")
    client = make_client(desk.gp)

    assert listed_ids(client.get(INDEX)) == set()
    assert listed_ids(client.get(INDEX, {"all": "1"})) == {submitted.pk}
    assert listed_ids(client.get(INDEX, {"all": "1", "state": "submitted"})) == set()


def test_the_list_as_htmx_returns_only_the_table(desk, submitted):
    response = make_client(desk.coordinator, htmx=True).get(INDEX)

    assert 'id="referral-list"' in html(response) and "<html" not in html(response)
    assert listed_ids(response) == {submitted.pk}


def _add_referrals(desk, bsns, *, offered_every: int = 2):
    """Referrals by the GP; every other one offered to the planner's location."""
    capacity = desk.capacity
    capacity.total = capacity.available = 50
    capacity.save()
    for index, bsn in enumerate(bsns):
        referral, _ = services.referral_submit(by=desk.gp, data=referral_input(bsn=bsn))
        if index % offered_every == 0:
            services.referral_step(referral=referral, target="searching", by=desk.coordinator)
            offer = services.offer_create(referral=referral, capacity=capacity, by=desk.coordinator)
            if index % 4 == 0:
                services.offer_accept(offer=offer, by=desk.planner)


@pytest.mark.parametrize("who", ["gp", "planner", "coordinator"])
def test_list_query_count_is_the_same_for_2_and_12_referrals(desk, django_assert_num_queries, who):
    bsns = valid_bsns(12)
    client = make_client(getattr(desk, who))
    _add_referrals(desk, bsns[:2])
    with CaptureQueriesContext(connection) as few:
        response = client.get(INDEX)
    shown_few = listed_ids(response)

    _add_referrals(desk, bsns[2:])
    with django_assert_num_queries(len(few.captured_queries)):
        response = client.get(INDEX)

    shown_many = listed_ids(response)
    assert len(shown_many) > len(shown_few) >= 1
    assert len(shown_many) == (6 if who == "planner" else 12)


def _add_candidates(desk, count: int):
    for index in range(count):
        location = LocationFactory(
            organisation=desk.other_planner.organisation,
            pc4=["6411", "6413", "6212"][index % 3],
            insurers=["9015"] if index % 2 else [],
            features=["oxygen"],
        )
        CapacityFactory(
            location=location,
            product=desk.capacity.product,
            confirmed_at=timezone.now() - timedelta(hours=30 if index % 3 == 0 else 1),
        )
        CapacityFactory(location=location, product=Product.objects.get(code="elv_laag"))


def test_detail_query_count_is_the_same_for_3_and_15_candidate_locations(desk, searching, django_assert_num_queries):
    client = make_client(desk.coordinator)
    _add_candidates(desk, 3)
    with CaptureQueriesContext(connection) as few:
        response = client.get(detail_url(searching))
    suggested_few = html(response).count('name="capacity"')

    _add_candidates(desk, 12)
    page_cache.region_changed(searching.region_id)  # what the services do; factories bypass them
    with django_assert_num_queries(len(few.captured_queries)):
        response = client.get(detail_url(searching))

    assert suggested_few == 2 + 3
    assert html(response).count('name="capacity"') == 2 + 15


def test_detail_query_count_does_not_grow_with_offers_and_events(desk, searching, django_assert_num_queries):
    client = make_client(desk.coordinator)
    capacity = desk.other_capacity

    def offer_and_decline(times):
        for _ in range(times):
            offer = services.offer_create(referral=searching, capacity=capacity, by=desk.coordinator)
            services.offer_decline(offer=offer, by=desk.other_planner, reason="no_bed")

    offer_and_decline(1)
    with CaptureQueriesContext(connection) as few:
        client.get(detail_url(searching))
    offer_and_decline(5)
    with django_assert_num_queries(len(few.captured_queries)):
        response = client.get(detail_url(searching))
    offers = html(response).split('id="offers-title"')[1].split('id="timeline-title"')[0]
    assert offers.count("No bed after all") == 6


# --- The desk's steps on the page -----------------------------------------------------------


def test_the_coordinator_starts_the_search(desk, submitted):
    page = html(make_client(desk.coordinator).get(detail_url(submitted)))
    assert f'action="/referrals/{submitted.pk}/step/"' in page and 'name="target" value="searching"' in page

    response = make_client(desk.coordinator).post(
        reverse("referrals:step", args=[submitted.pk]), {"target": "searching"}
    )

    assert response.status_code == 302 and response.url == detail_url(submitted)
    submitted.refresh_from_db()
    assert submitted.state == State.SEARCHING
    event = submitted.events.last()
    assert (event.from_state, event.to_state, event.actor) == ("submitted", "searching", desk.coordinator)


def test_the_coordinator_triages_first(desk, submitted):
    make_client(desk.coordinator).post(reverse("referrals:step", args=[submitted.pk]), {"target": "triage"})

    submitted.refresh_from_db()
    assert submitted.state == State.TRIAGE


def test_the_coordinator_sends_an_offer_from_the_suggestions(desk, searching):
    client = make_client(desk.coordinator)
    page = html(client.get(detail_url(searching)))
    assert f'name="capacity" value="{desk.capacity.pk}"' in page
    assert desk.location.name in page

    response = client.post(reverse("referrals:offer_send", args=[searching.pk]), {"capacity": desk.capacity.pk})

    assert response.status_code == 302 and response.url == detail_url(searching)
    offer = Offer.objects.get()
    assert (offer.referral, offer.location, offer.state) == (searching, desk.location, OfferState.OPEN)
    assert capacity_counts(desk.capacity) == (1, 1)
    searching.refresh_from_db()
    assert searching.state == State.OFFERED
    after = html(client.get(detail_url(searching)))
    assert "Offer sent to" in after
    assert f'name="capacity" value="{desk.capacity.pk}"' not in after, "not twice to one location"
    assert f'name="capacity" value="{desk.other_capacity.pk}"' in after, "a parallel offer elsewhere"
    desk.region.max_parallel_offers = 1
    desk.region.save(update_fields=["max_parallel_offers"])
    assert 'name="capacity"' not in html(client.get(detail_url(searching))), "no more than the region allows"


def test_an_offer_for_a_capacity_without_a_free_bed_is_a_conflict(desk, searching):
    desk.capacity.available = 0
    desk.capacity.save()

    response = make_client(desk.coordinator).post(
        reverse("referrals:offer_send", args=[searching.pk]), {"capacity": desk.capacity.pk}
    )

    assert response.status_code == 409
    assert "no free bed" in html(response)
    assert not Offer.objects.exists()
    assert capacity_counts(desk.capacity) == (0, 0)


def test_an_offer_to_another_regions_location_is_not_found(desk, searching):
    elsewhere = CapacityFactory(product=desk.capacity.product)

    response = make_client(desk.coordinator).post(
        reverse("referrals:offer_send", args=[searching.pk]), {"capacity": elsewhere.pk}
    )

    assert response.status_code == 404
    assert not Offer.objects.exists()


def test_an_offer_without_a_location_is_refused(desk, searching):
    response = make_client(desk.coordinator).post(reverse("referrals:offer_send", args=[searching.pk]), {})

    assert response.status_code == 400
    assert "Choose a location" in html(response)
    assert not Offer.objects.exists()


def test_a_gp_may_not_send_offers_when_self_service_is_off(desk, searching):
    page = html(make_client(desk.gp).get(detail_url(searching)))
    assert 'name="capacity"' not in page

    response = make_client(desk.gp).post(
        reverse("referrals:offer_send", args=[searching.pk]), {"capacity": desk.capacity.pk}
    )

    assert response.status_code == 409
    assert not Offer.objects.exists()
    assert capacity_counts(desk.capacity) == (1, 0)


@pytest.mark.parametrize("target", ["accepted", "admitted", "discharged", "offered"])
def test_an_illegal_step_is_a_conflict_with_a_message(desk, submitted, target):
    events = ReferralEvent.objects.count()

    response = make_client(desk.coordinator).post(reverse("referrals:step", args=[submitted.pk]), {"target": target})

    assert response.status_code == 409
    assert "A referral that is submitted cannot become" in html(response)
    submitted.refresh_from_db()
    assert submitted.state == State.SUBMITTED
    assert ReferralEvent.objects.count() == events


def test_a_step_the_role_may_not_take_is_refused(desk, submitted):
    response = make_client(desk.gp).post(reverse("referrals:step", args=[submitted.pk]), {"target": "triage"})

    assert response.status_code == 403
    assert "Your role may not take this step" in html(response)
    submitted.refresh_from_db()
    assert submitted.state == State.SUBMITTED


def test_cancel_without_a_reason_shows_an_error_and_changes_nothing(desk, offer):
    referral = offer.referral
    response = make_client(desk.coordinator).post(
        reverse("referrals:step", args=[referral.pk]), {"target": "cancelled", "reason": "  "}
    )

    assert response.status_code == 400
    assert "Give a reason." in html(response)
    referral.refresh_from_db()
    assert referral.state == State.OFFERED
    offer.refresh_from_db()
    assert offer.state == OfferState.OPEN
    assert capacity_counts(desk.capacity) == (1, 1)


def test_cancel_with_a_reason_closes_the_referral_and_releases_the_bed(desk, offer):
    referral = offer.referral
    response = make_client(desk.gp).post(
        reverse("referrals:step", args=[referral.pk]), {"target": "cancelled", "reason": "Opgeknapt"}
    )

    assert response.status_code == 302
    referral.refresh_from_db()
    assert (referral.state, referral.close_reason) == (State.CANCELLED, "Opgeknapt")
    assert capacity_counts(desk.capacity) == (1, 0)


def test_redirect_needs_a_destination(desk, submitted):
    url = reverse("referrals:step", args=[submitted.pk])
    client = make_client(desk.coordinator)

    refused = client.post(url, {"target": "redirected", "reason": "Wlz-indicatie"})
    assert refused.status_code == 400
    assert "Choose where the patient goes instead." in html(refused)
    submitted.refresh_from_db()
    assert submitted.state == State.SUBMITTED

    done = client.post(url, {"target": "redirected", "reason": "Wlz-indicatie", "redirect_target": "wlz_crisis"})
    assert done.status_code == 302
    submitted.refresh_from_db()
    assert (submitted.state, submitted.redirect_target) == (State.REDIRECTED, "wlz_crisis")


def test_the_timeline_shows_every_step(desk, accepted):
    page = html(make_client(desk.gp).get(detail_url(accepted)))

    timeline = page.split('id="timeline-title"')[1]
    for label in ("Submitted", "Searching a bed", "Offered to a provider", "Bed booked"):
        assert label in timeline
    assert 'id="booking"' in page and desk.location.name in page


# --- The provider's steps on the page -------------------------------------------------------


def accept_url(offer) -> str:
    return reverse("referrals:offer_accept", args=[offer.pk])


def decline_url(offer) -> str:
    return reverse("referrals:offer_decline", args=[offer.pk])


def test_the_planner_sees_the_offer_with_accept_and_decline(desk, offer):
    page = html(make_client(desk.planner).get(detail_url(offer.referral)))

    assert f'action="{accept_url(offer)}"' in page
    assert f'action="{decline_url(offer)}"' in page


def test_the_planner_accepts_and_the_bed_is_booked(desk, offer):
    admission = timezone.now() + timedelta(hours=2)

    response = make_client(desk.planner).post(accept_url(offer), {"admission_at": local_minute(admission)})

    assert response.status_code == 302 and response.url == detail_url(offer.referral)
    offer.refresh_from_db()
    assert (offer.state, offer.answered_by) == (OfferState.ACCEPTED, desk.planner)
    assert local_minute(offer.admission_at) == local_minute(admission)
    offer.referral.refresh_from_db()
    assert offer.referral.state == State.ACCEPTED
    assert capacity_counts(desk.capacity) == (0, 0)


def test_accept_with_an_admission_time_in_the_past_is_refused(desk, offer):
    response = make_client(desk.planner).post(
        accept_url(offer), {"admission_at": local_minute(timezone.now() - timedelta(hours=3))}
    )

    assert response.status_code == 400
    assert "cannot be in the past" in html(response)
    offer.refresh_from_db()
    assert offer.state == OfferState.OPEN


@pytest.mark.parametrize("answer", ["accepted", "declined"])
def test_accepting_an_answered_offer_is_a_conflict_with_a_message(desk, offer, answer):
    if answer == "accepted":
        services.offer_accept(offer=offer, by=desk.planner)
    else:
        services.offer_decline(offer=offer, by=desk.planner, reason="no_physician")
    before = capacity_counts(desk.capacity)

    response = make_client(desk.planner).post(accept_url(offer), {"admission_at": local_minute()})

    assert response.status_code == 409
    assert f"This offer was already {answer}." in html(response)
    assert capacity_counts(desk.capacity) == before
    offer.refresh_from_db()
    assert offer.state == answer


def test_accepting_an_expired_offer_is_a_conflict_with_a_message(desk, offer):
    with time_machine.travel(offer.expires_at + timedelta(minutes=1)):
        response = make_client(desk.planner).post(accept_url(offer), {"admission_at": local_minute()})

    assert response.status_code == 409
    assert "This offer has expired" in html(response)
    offer.refresh_from_db()
    assert offer.state == OfferState.OPEN
    offer.referral.refresh_from_db()
    assert offer.referral.state == State.OFFERED
    assert capacity_counts(desk.capacity) == (1, 1)


def test_decline_with_reason_other_needs_an_explanation(desk, offer):
    response = make_client(desk.planner).post(decline_url(offer), {"reason": "other", "text": ""})

    assert response.status_code == 400
    assert "Explain the reason." in html(response)
    offer.refresh_from_db()
    assert offer.state == OfferState.OPEN
    assert capacity_counts(desk.capacity) == (1, 1)


def test_decline_without_a_reason_is_refused(desk, offer):
    response = make_client(desk.planner).post(decline_url(offer), {"reason": ""})

    assert response.status_code == 400
    offer.refresh_from_db()
    assert offer.state == OfferState.OPEN


def test_the_planner_declines_and_the_desk_searches_again(desk, offer):
    response = make_client(desk.planner).post(decline_url(offer), {"reason": "other", "text": "Geen arts dit weekend"})

    assert response.status_code == 302
    offer.refresh_from_db()
    assert (offer.state, offer.decline_reason, offer.decline_text) == ("declined", "other", "Geen arts dit weekend")
    offer.referral.refresh_from_db()
    assert offer.referral.state == State.SEARCHING
    assert capacity_counts(desk.capacity) == (1, 0)
    assert "Geen arts dit weekend" in html(make_client(desk.coordinator).get(detail_url(offer.referral)))


@pytest.mark.parametrize("url", [accept_url, decline_url])
def test_a_planner_of_another_provider_cannot_answer_the_offer(desk, offer, url):
    response = make_client(desk.other_planner).post(url(offer), {"admission_at": local_minute(), "reason": "no_bed"})

    assert response.status_code == 404
    offer.refresh_from_db()
    assert offer.state == OfferState.OPEN
    assert capacity_counts(desk.capacity) == (1, 1)


@pytest.mark.parametrize("role", [Role.GP, Role.COORDINATOR])
def test_only_provider_staff_answer_offers(desk, offer, role):
    user = desk.gp if role == Role.GP else desk.coordinator

    assert make_client(user).post(accept_url(offer), {"admission_at": local_minute()}).status_code == 403
    offer.refresh_from_db()
    assert offer.state == OfferState.OPEN


def test_the_planner_records_admission_and_discharge(desk, accepted):
    client = make_client(desk.planner)
    page = html(client.get(detail_url(accepted)))
    assert f'action="{reverse("referrals:admit", args=[accepted.pk])}"' in page
    admitted_at = timezone.now() - timedelta(minutes=30)

    admitted = client.post(reverse("referrals:admit", args=[accepted.pk]), {"admitted_at": local_minute(admitted_at)})

    assert admitted.status_code == 302
    accepted.refresh_from_db()
    assert accepted.state == State.ADMITTED
    assert local_minute(accepted.stay.admitted_at) == local_minute(admitted_at)
    assert capacity_counts(desk.capacity) == (0, 0)
    assert f'action="{reverse("referrals:discharge", args=[accepted.pk])}"' in html(client.get(detail_url(accepted)))

    discharged = client.post(
        reverse("referrals:discharge", args=[accepted.pk]), {"discharged_at": local_minute(), "destination": "home"}
    )

    assert discharged.status_code == 302
    accepted.refresh_from_db()
    accepted.stay.refresh_from_db()
    assert accepted.state == State.DISCHARGED
    assert accepted.stay.discharge_destination == "home"
    assert capacity_counts(desk.capacity) == (1, 0)
    assert "Discharged" in html(make_client(desk.gp).get(detail_url(accepted)))


def test_discharge_without_a_destination_is_refused(desk, accepted):
    services.stay_admit(referral=accepted, by=desk.planner, admitted_at=timezone.now() - timedelta(hours=1))

    response = make_client(desk.planner).post(
        reverse("referrals:discharge", args=[accepted.pk]), {"discharged_at": local_minute(), "destination": ""}
    )

    assert response.status_code == 400
    assert 'id="id_destination_error"' in html(response)
    accepted.refresh_from_db()
    assert accepted.state == State.ADMITTED
    assert capacity_counts(desk.capacity) == (0, 0)


def test_discharge_before_admission_is_refused_on_the_page(desk, accepted):
    services.stay_admit(referral=accepted, by=desk.planner, admitted_at=timezone.now() - timedelta(minutes=10))

    response = make_client(desk.planner).post(
        reverse("referrals:discharge", args=[accepted.pk]),
        {"discharged_at": local_minute(timezone.now() - timedelta(hours=2)), "destination": "home"},
    )

    assert response.status_code == 400
    assert "Discharge cannot be before admission." in html(response)
    accepted.refresh_from_db()
    assert accepted.state == State.ADMITTED


def test_admission_twice_is_a_conflict(desk, accepted):
    url = reverse("referrals:admit", args=[accepted.pk])
    client = make_client(desk.planner)
    assert client.post(url, {"admitted_at": local_minute()}).status_code == 302

    response = client.post(url, {"admitted_at": local_minute()})

    assert response.status_code == 409
    accepted.refresh_from_db()
    assert accepted.state == State.ADMITTED


def test_only_the_provider_that_took_the_patient_records_admission(desk, accepted):
    for url_name in ("referrals:admit", "referrals:discharge"):
        response = make_client(desk.other_planner).post(
            reverse(url_name, args=[accepted.pk]), {"admitted_at": local_minute(), "destination": "home"}
        )
        assert response.status_code == 404
    accepted.refresh_from_db()
    assert accepted.state == State.ACCEPTED
