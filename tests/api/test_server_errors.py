"""An unexpected error answers in the shape of its channel: the API's error object under
/api/, the static 500 page elsewhere (FHIR: tests/interop/test_fhir_errors.py)."""

import pytest
from django.test import Client

from elvdesk import api_root
from elvdesk import views as elvdesk_views

pytestmark = pytest.mark.django_db


def _broken(*args, **kwargs):
    raise RuntimeError("a bug")


def test_an_unexpected_api_error_answers_500_in_the_api_error_shape(monkeypatch):
    monkeypatch.setattr(api_root.ApiRootApi, "get", _broken)
    client = Client(raise_request_exception=False, headers={"Accept-Language": "en"})

    response = client.get("/api/v1/")

    assert response.status_code == 500
    assert response["Content-Type"] == "application/json"
    error = response.json()["error"]
    assert (error["status"], error["code"]) == (500, "server_error")
    assert "a bug" not in response.content.decode()


def test_an_unexpected_page_error_shows_the_static_500_page(monkeypatch, django_user_model):
    monkeypatch.setattr(elvdesk_views, "redirect", _broken)
    client = Client(raise_request_exception=False)
    client.force_login(django_user_model.objects.create_user("someone", password="x" * 12))

    response = client.get("/")

    assert response.status_code == 500
    assert response["Content-Type"].startswith("text/html")
    assert "a bug" not in response.content.decode()
