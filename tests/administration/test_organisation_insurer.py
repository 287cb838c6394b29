"""Beheer: an insurer organisation names the UZOVI insurer it represents and its duty-of-care
(zorgplicht) contact; other kinds have neither."""

import pytest
from django.urls import reverse

from providers.models import Insurer, Organisation, OrganisationKind
from tests.administration.test_organisations import CREATE, admin, desk, detail, new_provider, region  # noqa: F401
from tests.clients import client_for
from tests.factories import InsurerOrganisationFactory

pytestmark = pytest.mark.django_db


def _insurer_data(**overrides) -> dict:
    data = {
        "kind": "insurer",
        "name": "CZ regio Zuid-Limburg",
        "agb_code": "",
        "insurer": "",
        "duty_of_care_email": "zorgplicht@cz.example.org",
    }
    return new_provider(**{**data, **overrides})


def test_an_insurer_organisation_must_name_its_insurer(admin):  # noqa: F811
    response = client_for(admin).post(CREATE, _insurer_data())
    assert response.status_code == 400
    assert "Choose the insurer this organisation represents." in response.content.decode()
    assert not Organisation.objects.filter(kind=OrganisationKind.INSURER, name="CZ regio Zuid-Limburg").exists()


def test_an_insurer_organisation_is_created_and_edited_with_its_insurer_and_contact(admin, region):  # noqa: F811
    cz = Insurer.objects.get(uzovi="9015")
    response = client_for(admin).post(CREATE, _insurer_data(insurer=cz.pk))
    assert response.status_code == 302
    organisation = Organisation.objects.get(name="CZ regio Zuid-Limburg")
    assert (organisation.insurer, organisation.duty_of_care_email) == (cz, "zorgplicht@cz.example.org")
    page = client_for(admin).get(detail(organisation)).content.decode()
    assert 'name="insurer"' in page and "zorgplicht@cz.example.org" in page
    vgz = Insurer.objects.get(uzovi="7095")
    data = _insurer_data(insurer=vgz.pk, duty_of_care_email="")
    data.pop("kind")
    response = client_for(admin).post(detail(organisation), {**data, "kind": "insurer"})
    organisation.refresh_from_db()
    assert (organisation.insurer, organisation.duty_of_care_email) == (vgz, "")
    response = client_for(admin).post(detail(organisation), {**data, "kind": "insurer", "insurer": ""})
    assert "Choose the insurer this organisation represents." in response.content.decode()


def test_other_kinds_have_no_insurer_fields(admin, region):  # noqa: F811
    response = client_for(admin).post(
        CREATE, new_provider(insurer=Insurer.objects.get(uzovi="9015").pk, duty_of_care_email="x@example.org")
    )
    assert response.status_code == 302
    provider = Organisation.objects.get(name="Mijnstreek Zorg")
    assert provider.insurer is None and provider.duty_of_care_email == ""
    assert 'name="insurer"' not in client_for(admin).get(detail(provider)).content.decode()


def test_the_list_of_the_region_is_not_affected(admin, region):  # noqa: F811
    InsurerOrganisationFactory(region=region, insurer=Insurer.objects.get(uzovi="9015"))
    assert client_for(admin).get(reverse("beheer:organisations")).status_code == 200
