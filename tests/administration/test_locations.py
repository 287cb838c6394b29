"""Beheer › Locations: adding one to a care provider, its page (edit, contracted beds per
product, history), deactivating and reactivating. Administrators change, coordinators read,
others are refused; another region's location does not exist."""

import pytest
from django.urls import reverse

from accounts.models import Role
from audit.models import ChangeRecord
from beds.models import Capacity, CapacityChange, ChangeSource
from beds.services import capacity_update
from providers import services
from providers.models import Feature, Location, Product
from tests.clients import client_for
from tests.factories import (
    CapacityFactory,
    DeskFactory,
    GpPracticeFactory,
    LocationFactory,
    ProviderFactory,
    RegionFactory,
    product,
    user_with_role,
)
from tests.providers.bookings import open_offer_at

pytestmark = pytest.mark.django_db

REFUSED_ROLES = [Role.GP, Role.TRANSFER_NURSE, Role.PROVIDER_STAFF, Role.ANALYST]


@pytest.fixture
def region():
    return RegionFactory(
        code="zuid-limburg", name="Zuid-Limburg", products=Product.objects.filter(code__in=["elv_laag", "elv_hoog"])
    )


@pytest.fixture
def desk(region):
    return DeskFactory(region=region)


@pytest.fixture
def admin(desk):
    return user_with_role(Role.ADMIN, desk, username="beheer")


@pytest.fixture
def coordinator(desk):
    return user_with_role(Role.COORDINATOR, desk, username="coordinator")


@pytest.fixture
def provider(region):
    return ProviderFactory(region=region, name="Zorggroep Maasheuvel")


@pytest.fixture
def location(provider):
    return LocationFactory(organisation=provider, name="De Schacht", pc4="6411")


@pytest.fixture
def foreign_location(db):
    return LocationFactory(organisation=ProviderFactory(region=RegionFactory(code="midden")), name="Roermond")


def page(location) -> str:
    return reverse("beheer:location", args=[location.pk])


def create_url(organisation) -> str:
    return reverse("beheer:location_create", args=[organisation.pk])


def contract_url(location, code: str) -> str:
    return reverse("beheer:location_contract", args=[location.pk, product(code).pk])


def contract_post(code: str, total, version) -> dict:
    prefix = f"p{product(code).pk}"
    return {f"{prefix}-total": total, f"{prefix}-version": version}


def location_post(**overrides) -> dict:
    """The location form as a browser posts it (checkboxes as "on", left out when unticked)."""
    data = {
        "name": "Huize Welten",
        "street": "Weltertuinstraat 5",
        "postcode": "6419 ab",
        "city": "Heerlen",
        "phone_24_7": "045-5776677",
        "phone_office": "",
        "admission_24_7": "on",
        "treating_physician": "gp",
        "referral_procedure": "",
    }
    data.update(overrides)
    return {key: value for key, value in data.items() if value is not None}


# --- Adding a location ----------------------------------------------------------------------


def test_adding_a_location_leads_to_its_contracted_beds(admin, provider):
    client = client_for(admin)
    form = client.get(create_url(provider)).context["form"]
    assert form["admission_24_7"].value() is True  # ticked at first: one click less for most

    response = client.post(
        create_url(provider), location_post(features=[Feature.objects.get(code="oxygen").pk]), follow=True
    )

    location = Location.objects.get(name="Huize Welten")
    assert response.redirect_chain == [(f"{page(location)}#contracts", 302)]
    assert (location.organisation, location.postcode, location.phone_24_7) == (provider, "6419 AB", "045 577 6677")
    assert location.latitude is not None and location.admission_24_7
    assert "Now set its contracted beds per product." in response.content.decode()
    assert [c.product.code for c in response.context["contracts"]] == ["elv_laag", "elv_hoog"]
    assert ChangeRecord.objects.get(object_type="location", object_id=location.pk).action == "create"


def test_an_unknown_postcode_is_shown_in_dutch_on_the_postcode_and_nothing_is_saved(admin, provider):
    response = client_for(admin, "nl").post(create_url(provider), location_post(postcode="6000 AA"))

    assert response.status_code == 400
    assert response.context["form"].errors["postcode"] == ["Postcodegebied 6000 is onbekend. Controleer de postcode."]
    assert 'value="Huize Welten"' in response.content.decode()
    assert not Location.objects.exists()


def test_missing_and_bad_fields_each_get_their_message(admin, provider):
    response = client_for(admin).post(
        create_url(provider), location_post(name="", phone_24_7="12", postcode="64111", admission_24_7=None)
    )

    assert response.status_code == 400
    errors = response.context["form"].errors
    assert {"name", "phone_24_7", "postcode"} <= set(errors)
    assert not Location.objects.exists()


def test_admission_hours_are_checked(admin, provider):
    response = client_for(admin).post(
        create_url(provider), location_post(admission_24_7=None, admission_from="20:00", admission_until="08:00")
    )

    assert response.status_code == 400
    assert response.context["form"].errors["admission_until"] == ["Admission until must be later than admission from."]
    assert 'value="20:00"' in response.content.decode()
    assert not Location.objects.exists()


def test_a_location_is_added_only_to_a_care_provider_of_the_region(admin, region, foreign_location):
    practice = GpPracticeFactory(region=region)
    client = client_for(admin)

    assert client.get(create_url(practice)).status_code == 404
    assert client.post(create_url(foreign_location.organisation), location_post()).status_code == 404
    assert not Location.objects.filter(name="Huize Welten").exists()


def test_an_inactive_provider_gets_no_new_location(admin, provider):
    services.organisation_deactivate(organisation=provider, by=admin)

    response = client_for(admin).post(create_url(provider), location_post())

    assert response.status_code == 400
    assert "Reactivate the organisation before adding a location." in response.content.decode()
    assert not Location.objects.exists()


@pytest.mark.parametrize("role", [Role.COORDINATOR, *REFUSED_ROLES])
def test_only_administrators_add_locations(role, region, provider):
    client = client_for(user_with_role(role, region=region))

    assert client.get(create_url(provider)).status_code == 403
    assert client.post(create_url(provider), location_post()).status_code == 403
    assert not Location.objects.exists()


# --- The location's page --------------------------------------------------------------------


def test_the_page_shows_a_contract_form_per_product_of_the_region(admin, location):
    CapacityFactory(location=location, product=product("elv_hoog"), total=10, available=3)

    response = client_for(admin).get(page(location))

    html = response.content.decode()
    assert response.status_code == 200
    assert f'action="{contract_url(location, "elv_laag")}"' in html
    assert f'action="{contract_url(location, "elv_hoog")}"' in html
    assert f'id="id_p{product("elv_hoog").pk}-total"' in html
    assert "Not offered at this location yet." in html
    assert f'action="{page(location)}"' in html
    assert f"{reverse('beheer:user_invite')}?organisation={location.organisation_id}" in html


def test_coordinators_read_the_page_without_forms_or_buttons(coordinator, location):
    CapacityFactory(location=location, product=product("elv_hoog"), total=10, available=3)

    response = client_for(coordinator).get(page(location))

    html = response.content.decode()
    assert response.status_code == 200
    assert "De Schacht" in html and "Contracted 10 · free 3" in html
    assert "/contracts/" not in html and f'action="{page(location)}"' not in html
    assert reverse("beheer:location_deactivate", args=[location.pk]) not in html
    assert reverse("beheer:user_invite") not in html


@pytest.mark.parametrize("role", REFUSED_ROLES)
def test_other_roles_are_refused(role, region, location):
    client = client_for(user_with_role(role, region=region))

    assert client.get(page(location)).status_code == 403
    assert client.post(contract_url(location, "elv_hoog"), contract_post("elv_hoog", 5, 0)).status_code == 403
    assert not Capacity.objects.exists()


def test_another_regions_location_is_not_found(admin, coordinator, foreign_location):
    client = client_for(admin)

    assert client_for(coordinator).get(page(foreign_location)).status_code == 404
    assert client.get(page(foreign_location)).status_code == 404
    assert client.post(page(foreign_location), location_post()).status_code == 404
    assert client.post(contract_url(foreign_location, "elv_hoog"), contract_post("elv_hoog", 5, 0)).status_code == 404
    assert client.post(reverse("beheer:location_deactivate", args=[foreign_location.pk])).status_code == 404
    assert client.post(reverse("beheer:location_reactivate", args=[foreign_location.pk])).status_code == 404
    assert not Capacity.objects.exists() and Location.objects.get(pk=foreign_location.pk).is_active


def test_the_page_costs_the_same_queries_with_more_counts_features_and_history(
    admin, location, django_assert_num_queries
):
    def count_queries():
        client = client_for(admin)
        # session, user, second factor, location (organisation), its features and insurers,
        # bed counts, the region's products, history; the form's features and insurers
        with django_assert_num_queries(11):
            assert client.get(page(location)).status_code == 200

    CapacityFactory(location=location, product=product("elv_laag"))
    count_queries()
    CapacityFactory(location=location, product=product("elv_hoog"))
    location.features.set(Feature.objects.all())
    services.location_update(location=location, by=admin, data={"city": "Kerkrade"})
    services.location_update(location=location, by=admin, data={"city": "Brunssum"})
    count_queries()


def test_editing_saves_and_records_the_change(admin, location):
    response = client_for(admin).post(
        page(location), location_post(name="De Schacht", postcode="6411 AB", phone_office="045 400 1234")
    )

    assert response.status_code == 302 and response["Location"] == page(location)
    location.refresh_from_db()
    assert (location.street, location.phone_office) == ("Weltertuinstraat 5", "045 400 1234")
    record = ChangeRecord.objects.get(object_type="location", object_id=location.pk)
    assert record.action == "update" and record.after["phone_office"] == "045 400 1234"


def test_bad_input_when_editing_keeps_what_was_typed_and_saves_nothing(admin, location):
    response = client_for(admin).post(page(location), location_post(name="Nieuwe naam", admission_24_7=None))

    assert response.status_code == 400
    html = response.content.decode()
    assert "Tick “admission 24/7”, or enter both admission times." in html
    assert 'value="Nieuwe naam"' in html
    assert Location.objects.get(pk=location.pk).name == "De Schacht"


def test_coordinators_cannot_edit(coordinator, location):
    assert client_for(coordinator).post(page(location), location_post()).status_code == 403
    assert Location.objects.get(pk=location.pk).name == "De Schacht"


# --- Contracted beds ------------------------------------------------------------------------


def test_setting_a_new_products_total_creates_its_count_for_the_planner(admin, location):
    response = client_for(admin).post(contract_url(location, "elv_laag"), contract_post("elv_laag", 6, 0), follow=True)

    assert response.redirect_chain == [(f"{page(location)}#contracts", 302)]
    capacity = Capacity.objects.get(location=location, product=product("elv_laag"))
    assert (capacity.total, capacity.available, capacity.confirmed_at) == (6, 0, None)
    assert CapacityChange.objects.get(capacity=capacity).source == ChangeSource.ADMIN
    assert "Contracted beds of ELV laag complex at De Schacht: 6." in response.content.decode()
    history = response.context["changes"]
    assert [(c.action, c.after) for c in history] == [("contract", {"ELV laag complex": 6})]


def test_changing_a_total_keeps_the_occupied_beds(admin, location):
    capacity = CapacityFactory(location=location, product=product("elv_hoog"), total=10, available=3, held=1)

    response = client_for(admin).post(
        contract_url(location, "elv_hoog"), contract_post("elv_hoog", 12, capacity.version)
    )

    assert response.status_code == 302
    capacity.refresh_from_db()
    assert (capacity.total, capacity.available, capacity.held) == (12, 5, 1)


def test_a_total_below_what_is_occupied_is_refused_on_the_field(admin, location):
    capacity = CapacityFactory(location=location, product=product("elv_hoog"), total=10, available=3, held=1)

    response = client_for(admin).post(
        contract_url(location, "elv_hoog"), contract_post("elv_hoog", 5, capacity.version)
    )

    assert response.status_code == 400
    html = response.content.decode()
    assert "7 beds are occupied and 1 is held by an offer: the contracted total cannot be lower than 8." in html
    assert f'name="p{product("elv_hoog").pk}-total" value="5"' in html
    assert Capacity.objects.get(pk=capacity.pk).total == 10


@pytest.mark.parametrize("total", ["-1", "drie", "", "100000"])
def test_a_total_that_is_no_count_is_refused(admin, location, total):
    response = client_for(admin).post(contract_url(location, "elv_laag"), contract_post("elv_laag", total, 0))

    assert response.status_code == 400
    assert response.context["contracts"][0].form.errors["total"]
    assert not Capacity.objects.exists()


def test_a_total_based_on_an_old_page_is_a_conflict_that_a_second_save_resolves(admin, location):
    capacity = CapacityFactory(location=location, product=product("elv_hoog"), total=10, available=3)
    seen = capacity.version
    planner = user_with_role(Role.PROVIDER_STAFF, location.organisation)
    capacity_update(capacity_id=capacity.pk, by=planner, counts={"available": 2})
    client = client_for(admin)

    response = client.post(contract_url(location, "elv_hoog"), contract_post("elv_hoog", 12, seen))

    assert response.status_code == 409
    html = response.content.decode()
    assert "changed by someone else in the meantime" in html and "Now stored: contracted 10, free 2" in html
    form = next(c.form for c in response.context["contracts"] if c.product.code == "elv_hoog")
    assert form["version"].value() == str(seen + 1)
    assert Capacity.objects.get(pk=capacity.pk).total == 10

    again = client.post(contract_url(location, "elv_hoog"), contract_post("elv_hoog", 12, form["version"].value()))

    assert again.status_code == 302
    assert Capacity.objects.get(pk=capacity.pk).total == 12


def test_a_product_the_region_does_not_offer_is_not_found(admin, location):
    response = client_for(admin).post(contract_url(location, "grz"), contract_post("grz", 3, 0))

    assert response.status_code == 404
    assert not Capacity.objects.exists()


def test_contracts_take_only_post_and_only_from_administrators(admin, coordinator, location):
    url = contract_url(location, "elv_hoog")

    assert client_for(admin).get(url).status_code == 405
    assert client_for(coordinator).post(url, contract_post("elv_hoog", 4, 0)).status_code == 403
    assert not Capacity.objects.exists()


# --- Deactivating and reactivating ----------------------------------------------------------


def test_deactivating_and_reactivating_a_location(admin, location):
    client = client_for(admin)

    response = client.post(reverse("beheer:location_deactivate", args=[location.pk]), follow=True)
    assert "De Schacht has been deactivated." in response.content.decode()
    assert not Location.objects.get(pk=location.pk).is_active

    response = client.post(reverse("beheer:location_reactivate", args=[location.pk]), follow=True)
    assert "De Schacht is active again." in response.content.decode()
    assert Location.objects.get(pk=location.pk).is_active
    assert [c.action for c in response.context["changes"]] == ["activate", "deactivate"]


def test_deactivating_is_refused_while_a_patient_has_an_offer_here(admin, location):
    open_offer_at(location)

    response = client_for(admin).post(reverse("beheer:location_deactivate", args=[location.pk]))

    assert response.status_code == 400
    assert "De Schacht cannot be deactivated: 1 patient has an open offer" in response.content.decode()
    assert Location.objects.get(pk=location.pk).is_active


def test_reactivating_is_refused_while_the_organisation_is_inactive(admin, location, provider):
    services.organisation_deactivate(organisation=provider, by=admin)
    client = client_for(admin)

    assert reverse("beheer:location_reactivate", args=[location.pk]) not in client.get(page(location)).content.decode()
    response = client.post(reverse("beheer:location_reactivate", args=[location.pk]))

    assert response.status_code == 400
    assert "Zorggroep Maasheuvel is inactive: reactivate the organisation first." in response.content.decode()
    assert not Location.objects.get(pk=location.pk).is_active


@pytest.mark.parametrize("name", ["beheer:location_deactivate", "beheer:location_reactivate"])
def test_status_changes_take_only_post_and_only_from_administrators(name, admin, coordinator, location):
    url = reverse(name, args=[location.pk])

    assert client_for(admin).get(url).status_code == 405
    assert client_for(coordinator).post(url).status_code == 403
    assert Location.objects.get(pk=location.pk).is_active
