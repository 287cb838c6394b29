"""Beheer › Organisations: the list, adding one, its page (edit, locations, users, history),
deactivating and reactivating. Administrators change, coordinators read, others are refused;
another region's organisation does not exist."""

import pytest
from django.urls import reverse

from accounts.models import Role
from audit.models import ChangeRecord
from providers.models import Location, Organisation, OrganisationKind
from tests.clients import client_for
from tests.factories import (
    DeskFactory,
    GpPracticeFactory,
    HospitalFactory,
    LocationFactory,
    ProviderFactory,
    RegionFactory,
    user_with_role,
)
from tests.providers.bookings import open_offer_at

pytestmark = pytest.mark.django_db

LIST = reverse("beheer:organisations")
CREATE = reverse("beheer:organisation_create")
REFUSED_ROLES = [Role.GP, Role.TRANSFER_NURSE, Role.PROVIDER_STAFF, Role.ANALYST]


@pytest.fixture
def region():
    return RegionFactory(code="zuid-limburg", name="Zuid-Limburg")


@pytest.fixture
def desk(region):
    return DeskFactory(region=region, name="Regioloket Zuid-Limburg")


@pytest.fixture
def admin(desk):
    return user_with_role(Role.ADMIN, desk, username="beheer")


@pytest.fixture
def coordinator(desk):
    return user_with_role(Role.COORDINATOR, desk, username="coordinator")


@pytest.fixture
def provider(region):
    return ProviderFactory(region=region, name="Zorggroep Maasheuvel", agb_code="73730001", city="Heerlen")


@pytest.fixture
def foreign(db):
    return ProviderFactory(region=RegionFactory(code="midden"), name="Roerdal Zorg")


def detail(organisation) -> str:
    return reverse("beheer:organisation", args=[organisation.pk])


def new_provider(**overrides) -> dict:
    data = {
        "kind": "provider",
        "name": "Mijnstreek Zorg",
        "agb_code": "73730002",
        "ura": "",
        "street": "Markt 1",
        "postcode": "6411 AB",
        "city": "Heerlen",
        "phone": "045 577 6677",
        "email": "info@mijnstreek.example",
    }
    data.update(overrides)
    return data


# --- The list -------------------------------------------------------------------------------


def test_the_list_shows_the_regions_organisations_with_their_active_locations(admin, provider, foreign, region):
    LocationFactory(organisation=provider)
    LocationFactory(organisation=provider)
    LocationFactory(organisation=provider, is_active=False)
    GpPracticeFactory(region=region, name="Huisartsenpraktijk De Linde")

    response = client_for(admin).get(LIST)

    assert response.status_code == 200
    page = list(response.context["page"])
    assert [o.name for o in page] == ["Huisartsenpraktijk De Linde", "Regioloket Zuid-Limburg", "Zorggroep Maasheuvel"]
    assert page[2].active_locations == 2
    assert "Roerdal Zorg" not in response.content.decode()
    assert CREATE in response.content.decode()


def test_the_list_filters_by_kind_status_and_search(admin, provider, region):
    GpPracticeFactory(region=region, name="Huisartsenpraktijk De Linde", city="Sittard")
    HospitalFactory(region=region, name="Zuyderland", is_active=False)
    LocationFactory(organisation=ProviderFactory(region=region, name="Hof van Valkenburg"), city="Valkenburg")

    def names(**query):
        return [o.name for o in client_for(admin).get(LIST, query).context["page"]]

    assert names(kind="gp_practice") == ["Huisartsenpraktijk De Linde"]
    assert names(status="inactive") == ["Zuyderland"]
    assert names(q="maasheuvel") == ["Zorggroep Maasheuvel"]
    assert names(q="7373") == ["Zorggroep Maasheuvel"]
    assert names(q="sittard") == ["Huisartsenpraktijk De Linde"]
    assert names(q="valkenburg") == ["Hof van Valkenburg"]  # a location's city


def test_a_bad_filter_is_reported_not_applied(admin, provider):
    response = client_for(admin).get(LIST, {"kind": "castle"})

    assert response.status_code == 400
    assert "Zorggroep Maasheuvel" in response.content.decode()


def test_the_list_answers_htmx_with_only_the_list(admin, provider):
    response = client_for(admin).get(LIST, {"q": "maas"}, headers={"HX-Request": "true"})

    html = response.content.decode()
    assert html.lstrip().startswith('<section id="organisation-list">')


def test_the_list_costs_the_same_queries_for_2_and_6_organisations(admin, region, django_assert_num_queries):
    def count_queries(n):
        while Organisation.objects.filter(region=region, kind=OrganisationKind.PROVIDER).count() < n:
            LocationFactory(organisation=ProviderFactory(region=region))
        client = client_for(admin)
        # session, user (with organisation and region), second factor, organisations and their count
        with django_assert_num_queries(5):
            assert client.get(LIST).status_code == 200

    count_queries(2)
    count_queries(6)


def test_coordinators_read_the_list_without_the_add_button(coordinator, provider):
    response = client_for(coordinator).get(LIST)

    assert response.status_code == 200
    assert "Zorggroep Maasheuvel" in response.content.decode()
    assert CREATE not in response.content.decode()


@pytest.mark.parametrize("role", REFUSED_ROLES)
def test_other_roles_are_refused(role, region, provider):
    user = user_with_role(role, region=region)
    client = client_for(user)

    assert client.get(LIST).status_code == 403
    assert client.get(detail(provider)).status_code == 403
    assert client.post(CREATE, new_provider()).status_code == 403


def test_anonymous_visitors_are_sent_to_login(provider):
    response = client_for().get(detail(provider))

    assert response.status_code == 302 and reverse("login") in response["Location"]


def test_the_list_takes_no_post(admin):
    assert client_for(admin).post(LIST).status_code == 405


# --- Adding an organisation -----------------------------------------------------------------


def test_adding_a_provider_leads_to_its_page_with_the_next_step(admin, region):
    client = client_for(admin)
    assert client.get(CREATE).status_code == 200

    response = client.post(CREATE, new_provider(agb_code="7373 0002", phone="0455776677"), follow=True)

    organisation = Organisation.objects.get(name="Mijnstreek Zorg")
    assert response.redirect_chain == [(detail(organisation), 302)]
    assert (organisation.region, organisation.agb_code, organisation.phone) == (region, "73730002", "045 577 6677")
    html = response.content.decode()
    assert "Now add its first location." in html
    assert reverse("beheer:location_create", args=[organisation.pk]) in html
    assert ChangeRecord.objects.get(object_type="organisation", object_id=organisation.pk).action == "create"


def test_the_add_form_proposes_a_care_provider(admin):
    form = client_for(admin).get(CREATE).context["form"]

    assert form["kind"].value() == OrganisationKind.PROVIDER
    assert "desk" not in dict(form.fields["kind"].choices)


def test_a_bad_agb_code_is_shown_in_dutch_and_nothing_is_saved(admin):
    response = client_for(admin, "nl").post(CREATE, new_provider(agb_code="1234", name="Mijnstreek"))

    assert response.status_code == 400
    html = response.content.decode()
    assert "Een AGB-code bestaat uit precies 8 cijfers." in html
    assert 'value="Mijnstreek"' in html and 'value="1234"' in html
    assert not Organisation.objects.filter(name="Mijnstreek").exists()


def test_an_agb_code_in_use_names_its_organisation(admin, provider):
    response = client_for(admin).post(CREATE, new_provider(agb_code="73730001"))

    assert response.status_code == 400
    assert "AGB code 73730001 already belongs to Zorggroep Maasheuvel." in response.content.decode()
    assert not Organisation.objects.filter(name="Mijnstreek Zorg").exists()


def test_a_bad_postcode_and_phone_are_shown_on_their_fields(admin):
    response = client_for(admin, "nl").post(CREATE, new_provider(postcode="64111", phone="123"))

    assert response.status_code == 400
    form = response.context["form"]
    assert set(form.errors) == {"postcode", "phone"}
    assert "Vul een geldige Nederlandse postcode in" in response.content.decode()


def test_a_desk_cannot_be_added(admin):
    response = client_for(admin).post(CREATE, new_provider(kind="desk"))

    assert response.status_code == 400
    assert not Organisation.objects.filter(name="Mijnstreek Zorg").exists()


def test_coordinators_cannot_add_organisations(coordinator):
    client = client_for(coordinator)

    assert client.get(CREATE).status_code == 403
    assert client.post(CREATE, new_provider()).status_code == 403
    assert not Organisation.objects.filter(name="Mijnstreek Zorg").exists()


# --- The organisation's page ----------------------------------------------------------------


def test_the_page_shows_locations_users_and_history_and_the_edit_form(admin, provider):
    location = LocationFactory(organisation=provider, name="De Schacht")
    planner = user_with_role(Role.PROVIDER_STAFF, provider, first_name="Petra", last_name="Planner")
    client = client_for(admin)
    client.post(detail(provider), new_provider(name="Zorggroep Maasheuvel", agb_code="73730001", city="Kerkrade"))

    response = client.get(detail(provider))

    html = response.content.decode()
    assert response.status_code == 200
    assert reverse("beheer:location", args=[location.pk]) in html
    assert reverse("beheer:location_create", args=[provider.pk]) in html
    assert "Petra Planner" in html and "Provider planner" in html
    assert reverse("beheer:user_detail", args=[planner.pk]) in html
    assert f"{reverse('beheer:user_invite')}?organisation={provider.pk}" in html
    assert f'action="{detail(provider)}"' in html
    assert [change.action for change in response.context["changes"]] == ["update"]


def test_coordinators_read_the_page_without_forms_or_buttons(coordinator, provider):
    LocationFactory(organisation=provider)

    response = client_for(coordinator).get(detail(provider))

    html = response.content.decode()
    assert response.status_code == 200
    assert "Zorggroep Maasheuvel" in html and "73730001" in html
    assert f'action="{detail(provider)}"' not in html
    assert reverse("beheer:organisation_deactivate", args=[provider.pk]) not in html
    assert reverse("beheer:location_create", args=[provider.pk]) not in html
    assert reverse("beheer:user_invite") not in html
    assert response.context["form"] is None


def test_the_page_costs_the_same_queries_for_2_and_6_locations_and_users(admin, provider, django_assert_num_queries):
    def count_queries(n):
        for _ in range(n - Location.objects.filter(organisation=provider).count()):
            LocationFactory(organisation=provider)
            user_with_role(Role.PROVIDER_STAFF, provider)
        client = client_for(admin)
        # session, user, second factor, organisation, locations, users with their states, history
        with django_assert_num_queries(7):
            assert client.get(detail(provider)).status_code == 200

    count_queries(2)
    count_queries(6)


def test_another_regions_organisation_is_not_found(admin, coordinator, foreign):
    assert client_for(coordinator).get(detail(foreign)).status_code == 404
    client = client_for(admin)
    assert client.get(detail(foreign)).status_code == 404
    assert client.post(detail(foreign), new_provider()).status_code == 404
    assert client.post(reverse("beheer:organisation_deactivate", args=[foreign.pk])).status_code == 404
    assert client.post(reverse("beheer:organisation_reactivate", args=[foreign.pk])).status_code == 404
    assert Organisation.objects.get(pk=foreign.pk).is_active


def test_editing_saves_and_records_the_change(admin, provider):
    response = client_for(admin).post(
        detail(provider), new_provider(name="Zorggroep Maasheuvel", agb_code="73730001", ura="12345678")
    )

    assert response.status_code == 302 and response["Location"] == detail(provider)
    provider.refresh_from_db()
    assert (provider.ura, provider.street) == ("12345678", "Markt 1")
    record = ChangeRecord.objects.get(object_type="organisation", object_id=provider.pk)
    assert record.after["ura"] == "12345678"


def test_bad_input_when_editing_keeps_what_was_typed_and_saves_nothing(admin, provider):
    response = client_for(admin).post(detail(provider), new_provider(name="Nieuwe naam", ura="12"))

    assert response.status_code == 400
    html = response.content.decode()
    assert "A URA number has exactly 8 digits." in html
    assert 'value="Nieuwe naam"' in html
    assert Organisation.objects.get(pk=provider.pk).name == "Zorggroep Maasheuvel"
    assert not ChangeRecord.objects.exists()


def test_the_desk_is_edited_without_a_kind_and_cannot_be_deactivated(admin, desk):
    client = client_for(admin)
    page = client.get(detail(desk))
    assert "kind" not in page.context["form"].fields
    assert reverse("beheer:organisation_deactivate", args=[desk.pk]) not in page.content.decode()

    response = client.post(detail(desk), {"name": "Regioloket ELV Zuid-Limburg", "phone": "045 577 6677"})

    assert response.status_code == 302
    desk.refresh_from_db()
    assert (desk.name, desk.kind) == ("Regioloket ELV Zuid-Limburg", OrganisationKind.DESK)
    assert client.post(reverse("beheer:organisation_deactivate", args=[desk.pk])).status_code == 400


def test_coordinators_cannot_edit(coordinator, provider):
    response = client_for(coordinator).post(detail(provider), new_provider(name="Gehackt"))

    assert response.status_code == 403
    assert Organisation.objects.get(pk=provider.pk).name == "Zorggroep Maasheuvel"


# --- Deactivating and reactivating ----------------------------------------------------------


def test_deactivating_takes_its_locations_along_and_says_so(admin, provider):
    LocationFactory(organisation=provider)
    LocationFactory(organisation=provider)

    response = client_for(admin).post(reverse("beheer:organisation_deactivate", args=[provider.pk]), follow=True)

    assert response.redirect_chain == [(detail(provider), 302)]
    assert "Zorggroep Maasheuvel has been deactivated, with its 2 active locations." in response.content.decode()
    assert not Organisation.objects.get(pk=provider.pk).is_active
    assert not Location.objects.filter(organisation=provider, is_active=True).exists()
    assert reverse("beheer:organisation_reactivate", args=[provider.pk]) in response.content.decode()


def test_deactivating_is_refused_with_the_reason_while_a_patient_has_an_offer(admin, provider):
    open_offer_at(LocationFactory(organisation=provider))

    response = client_for(admin).post(reverse("beheer:organisation_deactivate", args=[provider.pk]))

    assert response.status_code == 400
    assert "1 patient has an open offer or a booked bed there" in response.content.decode()
    assert Organisation.objects.get(pk=provider.pk).is_active


def test_reactivating_leaves_the_locations_to_the_administrator(admin, provider):
    location = LocationFactory(organisation=provider)
    client = client_for(admin)
    client.post(reverse("beheer:organisation_deactivate", args=[provider.pk]))

    response = client.post(reverse("beheer:organisation_reactivate", args=[provider.pk]), follow=True)

    assert "Its locations stay inactive until you reactivate each of them." in response.content.decode()
    assert Organisation.objects.get(pk=provider.pk).is_active
    assert not Location.objects.get(pk=location.pk).is_active


@pytest.mark.parametrize("name", ["beheer:organisation_deactivate", "beheer:organisation_reactivate"])
def test_status_changes_take_only_post_and_only_from_administrators(name, admin, coordinator, provider):
    url = reverse(name, args=[provider.pk])

    assert client_for(admin).get(url).status_code == 405
    assert client_for(coordinator).post(url).status_code == 403
    assert Organisation.objects.get(pk=provider.pk).is_active
