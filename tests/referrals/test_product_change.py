"""Op- of afschaling (issue 17 point 6): an admitted patient's product changes at the same
location. Both bed counts adjust in one transaction, the change is recorded (and shown in the
timeline), and the service, the page and the API refuse what is not possible, changing nothing."""

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse
from django.utils import timezone, translation
from rest_framework.test import APIClient

from accounts.models import Role
from beds.models import Capacity, CapacityChange, ChangeSource
from elvdesk.errors import Conflict, PermissionDenied
from referrals import services
from referrals.models import ReferralEvent, State, StayProductChange
from tests.clients import client_for
from tests.factories import CapacityFactory, RegionFactory, product, user_with_role


@pytest.fixture
def laag(desk):
    """ELV laag at the same location as the booked ELV hoog bed: 4 contracted, 2 free."""
    return CapacityFactory(location=desk.location, product=product("elv_laag"), total=4, available=2)


@pytest.fixture
def admitted(desk, accepted, laag):
    """Admitted on the location's ELV hoog count (booked at accept: 5 contracted, none free)."""
    services.stay_admit(referral=accepted, by=desk.planner, admitted_at=timezone.now())
    accepted.refresh_from_db()
    return accepted


def counts(capacity: Capacity) -> tuple[int, int]:
    capacity.refresh_from_db()
    return capacity.available, capacity.held


def nothing_changed(desk, referral, laag) -> None:
    referral.stay.refresh_from_db()
    assert referral.stay.capacity_id == desk.capacity.pk
    assert counts(desk.capacity) == (0, 0)
    assert counts(laag)[0] == 2
    assert not StayProductChange.objects.exists()
    assert not CapacityChange.objects.filter(source=ChangeSource.PRODUCT_CHANGE).exists()


# --- the service ------------------------------------------------------------------------------


def test_a_product_change_moves_the_bed_to_the_new_count_and_is_recorded(desk, admitted, laag):
    events_before = ReferralEvent.objects.filter(referral=admitted).count()

    change = services.stay_product_change(
        referral=admitted, product=product("elv_laag"), by=desk.planner, reason="Opgeknapt"
    )

    assert (change.from_capacity_id, change.to_capacity_id) == (desk.capacity.pk, laag.pk)
    assert (change.changed_by, change.reason) == (desk.planner, "Opgeknapt")
    assert counts(desk.capacity) == (1, 0)  # the ELV hoog bed is free again
    assert counts(laag) == (1, 0)  # one ELV laag bed fewer
    admitted.stay.refresh_from_db()
    assert admitted.stay.capacity_id == laag.pk
    admitted.refresh_from_db()
    assert admitted.state == State.ADMITTED
    assert admitted.product.code == "elv_hoog"  # what was asked for stays as it was
    assert ReferralEvent.objects.filter(referral=admitted).count() == events_before  # no state change
    sources = CapacityChange.objects.filter(source=ChangeSource.PRODUCT_CHANGE)
    assert sorted(sources.values_list("capacity_id", flat=True)) == sorted([desk.capacity.pk, laag.pk])


def test_changes_back_and_forth_keep_each_one_in_the_history(desk, admitted, laag):
    services.stay_product_change(referral=admitted, product=product("elv_laag"), by=desk.planner)
    services.stay_product_change(referral=admitted, product=product("elv_hoog"), by=desk.coordinator)

    history = list(StayProductChange.objects.filter(stay=admitted.stay).values_list("to_capacity_id", "changed_by"))
    assert history == [(laag.pk, desk.planner.pk), (desk.capacity.pk, desk.coordinator.pk)]
    assert counts(desk.capacity) == (0, 0)
    assert counts(laag) == (2, 0)


def test_the_discharge_after_a_change_frees_the_bed_of_the_new_product(desk, admitted, laag):
    services.stay_product_change(referral=admitted, product=product("elv_laag"), by=desk.planner)

    services.stay_discharge(referral=admitted, by=desk.planner, discharged_at=timezone.now(), destination="home")

    assert counts(laag) == (2, 0)
    assert counts(desk.capacity) == (1, 0)


def test_a_referral_that_is_not_admitted_keeps_its_product(desk, accepted, laag):
    with pytest.raises(Conflict) as refused:
        services.stay_product_change(referral=accepted, product=product("elv_laag"), by=desk.planner)

    assert refused.value.code == "not_admitted"
    assert counts(laag)[0] == 2
    assert not StayProductChange.objects.exists()


def test_a_discharged_stay_keeps_its_product(desk, admitted, laag):
    services.stay_discharge(referral=admitted, by=desk.planner, discharged_at=timezone.now(), destination="home")

    with pytest.raises(Conflict):
        services.stay_product_change(referral=admitted, product=product("elv_laag"), by=desk.planner)

    assert counts(laag)[0] == 2
    assert not StayProductChange.objects.exists()


def test_the_same_product_is_refused_on_the_product(desk, admitted, laag):
    with pytest.raises(ValidationError) as refused:
        services.stay_product_change(referral=admitted, product=product("elv_hoog"), by=desk.planner)

    assert "product" in refused.value.message_dict
    nothing_changed(desk, admitted, laag)


def test_a_product_the_location_has_no_count_for_is_refused_on_the_product(desk, admitted, laag):
    with translation.override("en"), pytest.raises(ValidationError) as refused:
        services.stay_product_change(referral=admitted, product=product("elv_palliatief"), by=desk.planner)

    assert refused.value.message_dict["product"] == ["This location does not offer this product."]
    nothing_changed(desk, admitted, laag)


@pytest.mark.parametrize("held", [0, 2], ids=["none free", "all held by offers"])
def test_without_a_free_bed_on_the_new_count_nothing_changes(desk, admitted, laag, held):
    Capacity.objects.filter(pk=laag.pk).update(available=2 if held else 0, held=held)

    with pytest.raises(Conflict) as refused:
        services.stay_product_change(referral=admitted, product=product("elv_laag"), by=desk.planner)

    assert refused.value.code == "no_free_bed"
    admitted.stay.refresh_from_db()
    assert admitted.stay.capacity_id == desk.capacity.pk
    assert counts(desk.capacity) == (0, 0)
    assert counts(laag) == (2 if held else 0, held)
    assert not StayProductChange.objects.exists()
    assert not CapacityChange.objects.filter(source=ChangeSource.PRODUCT_CHANGE).exists()


def test_only_the_stays_provider_and_the_regions_desk_may_change_the_product(desk, admitted, laag):
    far_desk = user_with_role(Role.COORDINATOR, region=RegionFactory())
    for stranger in (desk.other_planner, desk.gp, far_desk):
        with pytest.raises(PermissionDenied):
            services.stay_product_change(referral=admitted, product=product("elv_laag"), by=stranger)

    nothing_changed(desk, admitted, laag)


# --- the page ---------------------------------------------------------------------------------


def change_url(referral) -> str:
    return reverse("referrals:stay_product_change", args=[referral.pk])


def detail_url(referral) -> str:
    return reverse("referrals:detail", args=[referral.pk])


def test_the_planner_and_the_desk_see_the_form_with_the_locations_other_products(desk, admitted, laag):
    for user in (desk.planner, desk.coordinator):
        page = client_for(user).get(detail_url(admitted)).content.decode()

        assert "Change product (op-/afschaling)" in page
        assert f'action="{change_url(admitted)}"' in page
        assert '<option value="elv_laag">' in page
        assert '<option value="elv_hoog">' not in page  # the product the patient has now
        assert '<option value="elv_palliatief">' not in page  # not at this location


def test_the_referrer_sees_the_current_product_but_no_form(desk, admitted, laag):
    page = client_for(desk.gp).get(detail_url(admitted)).content.decode()

    assert 'id="stay-product">ELV hoog complex<' in page
    assert change_url(admitted) not in page


def test_a_location_with_one_product_shows_no_form(desk, admitted, laag):
    laag.delete()

    page = client_for(desk.planner).get(detail_url(admitted)).content.decode()

    assert change_url(admitted) not in page


def test_the_planner_changes_the_product_on_the_page_and_the_timeline_shows_it(desk, admitted, laag):
    client = client_for(desk.planner)

    response = client.post(change_url(admitted), {"product": "elv_laag", "reason": "Opgeknapt, minder zorg"})

    assert response.status_code == 302
    assert response.url == detail_url(admitted)
    assert counts(laag) == (1, 0)
    assert counts(desk.capacity) == (1, 0)
    page = client.get(detail_url(admitted)).content.decode()
    assert "Product changed to ELV laag complex." in page
    assert 'id="stay-product">ELV laag complex<' in page
    assert "Product changed: ELV hoog complex → ELV laag complex" in page
    assert "Opgeknapt, minder zorg" in page
    # The referrer reads the same history on the referral.
    assert (
        "Product changed: ELV hoog complex → ELV laag complex"
        in client_for(desk.gp).get(detail_url(admitted)).content.decode()
    )


def test_the_desk_changes_the_product_with_htmx_and_gets_a_client_redirect(desk, admitted, laag):
    response = client_for(desk.coordinator, htmx=True).post(change_url(admitted), {"product": "elv_laag"})

    assert response.status_code == 200
    assert response["HX-Redirect"] == detail_url(admitted)
    assert StayProductChange.objects.get().changed_by == desk.coordinator


def test_another_organisation_gets_404_and_nothing_changes(desk, admitted, laag):
    far_desk = user_with_role(Role.COORDINATOR, region=RegionFactory())
    for stranger in (desk.other_planner, far_desk):
        response = client_for(stranger).post(change_url(admitted), {"product": "elv_laag"})

        assert response.status_code == 404
    nothing_changed(desk, admitted, laag)


def test_referrers_may_not_post_the_form(desk, admitted, laag):
    assert client_for(desk.gp).post(change_url(admitted), {"product": "elv_laag"}).status_code == 403
    nothing_changed(desk, admitted, laag)


def test_get_is_not_allowed(desk, admitted):
    assert client_for(desk.planner).get(change_url(admitted)).status_code == 405


@pytest.mark.parametrize(
    ("posted", "message"),
    [
        ({"product": ""}, "This field is required."),
        ({"product": "nonsense"}, "Select a valid choice."),
        ({"product": "elv_palliatief"}, "This location does not offer this product."),
        ({"product": "elv_hoog"}, "The patient already has this product."),
    ],
    ids=["none", "unknown", "not at the location", "the same"],
)
def test_a_bad_product_is_a_400_with_the_error_at_the_field(desk, admitted, laag, posted, message):
    response = client_for(desk.planner).post(change_url(admitted), posted)

    assert response.status_code == 400
    page = response.content.decode()
    assert 'id="id_product_error"' in page
    assert message in page
    nothing_changed(desk, admitted, laag)


def test_without_a_free_bed_the_page_says_so_with_a_409(desk, admitted, laag):
    Capacity.objects.filter(pk=laag.pk).update(available=0)

    response = client_for(desk.planner).post(change_url(admitted), {"product": "elv_laag"})

    assert response.status_code == 409
    assert "There is no free bed left at this location for this product." in response.content.decode()
    assert not StayProductChange.objects.exists()


def test_a_referral_not_yet_admitted_is_refused_with_a_409(desk, accepted, laag):
    response = client_for(desk.planner).post(change_url(accepted), {"product": "elv_laag"})

    assert response.status_code == 409
    assert "The product can only change while the patient is admitted." in response.content.decode()


# --- the API ----------------------------------------------------------------------------------


def api(user) -> APIClient:
    client = APIClient(HTTP_ACCEPT_LANGUAGE="en")
    client.force_authenticate(user)
    return client


def api_url(referral) -> str:
    return f"/api/v1/referrals/{referral.pk}/product-change/"


def test_the_api_changes_the_product_and_answers_with_the_current_one(desk, admitted, laag):
    response = api(desk.planner).post(api_url(admitted), {"product": "elv_laag", "reason": "Opgeknapt"}, format="json")

    assert response.status_code == 200
    assert response.json()["product"] == "elv_laag"
    assert response.json()["referral"] == admitted.pk
    assert counts(laag) == (1, 0)
    assert StayProductChange.objects.get().reason == "Opgeknapt"


def test_the_desk_may_use_the_api_too(desk, admitted, laag):
    response = api(desk.coordinator).post(api_url(admitted), {"product": "elv_laag"}, format="json")

    assert response.status_code == 200


@pytest.mark.parametrize("body", [{}, {"product": "nonsense"}, {"product": "elv_palliatief"}, {"product": "elv_hoog"}])
def test_the_api_refuses_a_bad_product_with_a_field_error(desk, admitted, laag, body):
    response = api(desk.planner).post(api_url(admitted), body, format="json")

    assert response.status_code == 400
    error = response.json()["error"]
    assert (error["status"], error["code"]) == (400, "invalid")
    assert "product" in error["fields"]
    nothing_changed(desk, admitted, laag)


def test_the_api_gives_404_to_another_organisation(desk, admitted, laag):
    far_desk = user_with_role(Role.COORDINATOR, region=RegionFactory())
    for stranger in (desk.other_planner, far_desk):
        response = api(stranger).post(api_url(admitted), {"product": "elv_laag"}, format="json")

        assert response.status_code == 404
        assert response.json()["error"]["status"] == 404
    nothing_changed(desk, admitted, laag)


def test_the_api_answers_409_without_a_free_bed(desk, admitted, laag):
    Capacity.objects.filter(pk=laag.pk).update(available=0)

    response = api(desk.planner).post(api_url(admitted), {"product": "elv_laag"}, format="json")

    assert response.status_code == 409
    assert response.json()["error"]["code"] == "no_free_bed"


def test_the_api_refuses_referrers_with_a_403(desk, admitted, laag):
    response = api(desk.gp).post(api_url(admitted), {"product": "elv_laag"}, format="json")

    assert response.status_code == 403
    nothing_changed(desk, admitted, laag)


def test_the_schema_documents_the_product_change(desk):
    schema = APIClient().get("/api/schema/?format=json").json()

    operation = schema["paths"]["/api/v1/referrals/{id}/product-change/"]["post"]
    assert {"200", "400", "404", "409"} <= set(operation["responses"])
    assert "product" in schema["components"]["schemas"]["StayOutput"]["properties"]
