"""/account/: who is signed in (and the benchmark's signed-in floor, README "Performance")."""

import pytest
from django.test import Client
from django.urls import reverse

from accounts.models import Role
from tests.accounts.test_two_factor import _password_login
from tests.clients import client_for
from tests.factories import user_with_role

pytestmark = pytest.mark.django_db

ACCOUNT = reverse("account")


def test_the_page_shows_who_is_signed_in_for_which_organisation_and_role():
    gp = user_with_role(Role.GP, first_name="Anna", last_name="de Vries")
    html = client_for(gp).get(ACCOUNT).content.decode()

    assert "<h1>Your account</h1>" in html
    assert "Anna de Vries" in html and gp.username in html
    assert "General practitioner" in html or gp.get_role_display() in html
    assert str(gp.organisation) in html


def test_the_page_is_in_dutch_by_default():
    html = client_for(user_with_role(Role.COORDINATOR), language="nl").get(ACCOUNT).content.decode()
    assert "<h1>Uw account</h1>" in html and "Gebruikersnaam" in html


def test_anonymous_visitors_are_sent_to_the_login():
    response = Client().get(ACCOUNT)
    assert response.status_code == 302 and response.url.startswith(reverse("login"))


def test_only_get_is_allowed():
    assert client_for(user_with_role(Role.GP)).post(ACCOUNT).status_code == 405


def test_the_second_factor_comes_first():
    """The floor pays for the second-factor check like every page: without it, no account page."""
    client = Client()
    gp = user_with_role(Role.GP)
    _password_login(client, gp)
    response = client.get(ACCOUNT)
    assert response.status_code == 302 and "/accounts/two-factor/" in response.url
