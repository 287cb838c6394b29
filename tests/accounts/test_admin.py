"""Django admin for every model of the foundation: lists, add forms and change forms open."""

import pytest
from django.contrib import admin
from django.contrib.auth.models import Permission
from django.test import Client
from django.urls import reverse

from accounts.models import Role
from beds.models import CapacityChange
from beds.services import capacity_update
from tests.factories import CapacityFactory, user_with_role

pytestmark = pytest.mark.django_db

FOUNDATION_APPS = {"accounts", "providers", "beds"}
EXPECTED_MODELS = {
    "accounts.user",
    "providers.region",
    "providers.organisation",
    "providers.location",
    "providers.product",
    "providers.feature",
    "providers.insurer",
    "providers.postcodearea",
    "beds.capacity",
    "beds.capacitychange",
}


def foundation_models():
    return [model for model in admin.site._registry if model._meta.app_label in FOUNDATION_APPS]


@pytest.fixture
def admin_client_en(django_user_model):
    superuser = django_user_model.objects.create_superuser("root", "root@example.org", "Root-ELV-2026!")
    client = Client(headers={"Accept-Language": "en"})
    client.force_login(superuser)
    return client


def test_every_foundation_model_is_in_the_admin():
    assert {model._meta.label_lower for model in foundation_models()} >= EXPECTED_MODELS


def test_every_admin_list_add_and_change_page_opens(admin_client_en):
    capacity = CapacityFactory()
    planner = user_with_role(Role.PROVIDER_STAFF, capacity.location.organisation)
    capacity_update(capacity_id=capacity.pk, by=planner, counts={"available": 4})

    for model in foundation_models():
        opts = model._meta
        changelist = admin_client_en.get(reverse(f"admin:{opts.app_label}_{opts.model_name}_changelist"))
        assert changelist.status_code == 200, opts.label
        obj = model._default_manager.first()
        if obj is not None:
            change = admin_client_en.get(reverse(f"admin:{opts.app_label}_{opts.model_name}_change", args=[obj.pk]))
            assert change.status_code == 200, opts.label


def test_the_capacity_history_cannot_be_edited_in_the_admin(admin_client_en):
    capacity = CapacityFactory()
    capacity_update(capacity_id=capacity.pk, by=None, counts={"available": 4})
    change = CapacityChange.objects.get()

    assert admin_client_en.get(reverse("admin:beds_capacitychange_add")).status_code == 403
    assert (
        admin_client_en.post(reverse("admin:beds_capacitychange_delete", args=[change.pk]), {"post": "yes"}).status_code
        == 403
    )
    assert CapacityChange.objects.filter(pk=change.pk).exists()


def test_users_without_staff_status_cannot_open_the_admin():
    client = Client()
    client.force_login(user_with_role(Role.ADMIN))

    assert client.get(reverse("admin:index")).status_code == 302


@pytest.mark.parametrize(
    "user_kwargs",
    [
        pytest.param({"role": Role.COORDINATOR, "is_staff": True}, id="staff without superuser status"),
        pytest.param({"role": Role.ADMIN, "is_staff": True, "username": "beheer"}, id="functional administrator"),
    ],
)
def test_only_superusers_may_open_the_admin(user_kwargs):
    """The admin is the developers' tool; the region's people work in Beheer (/beheer/)."""
    role = user_kwargs.pop("role")
    user = user_with_role(role, **user_kwargs)
    user.user_permissions.add(*Permission.objects.filter(content_type__app_label="providers"))
    client = Client(headers={"Accept-Language": "en"})
    client.force_login(user)

    for url in (reverse("admin:index"), reverse("admin:providers_region_changelist")):
        response = client.get(url)
        assert response.status_code == 302, url
        assert response["Location"].startswith(reverse("admin:login"))
    refusal = client.get(reverse("admin:login"))
    assert refusal.status_code == 200
    assert "not authorized to access this page" in refusal.content.decode()


def test_an_inactive_superuser_cannot_open_the_admin(django_user_model):
    superuser = django_user_model.objects.create_superuser("root", "root@example.org", "Root-ELV-2026!")
    client = Client()
    client.force_login(superuser)
    django_user_model.objects.filter(pk=superuser.pk).update(is_active=False)

    assert client.get(reverse("admin:index")).status_code == 302


def test_the_admin_says_what_it_is(admin_client_en):
    html = admin_client_en.get(reverse("admin:index")).content.decode()

    assert "ELV bed desk: technical administration" in html
    assert "Technical administration (developers only)" in html


def test_the_admin_is_dutch_by_default(django_user_model):
    superuser = django_user_model.objects.create_superuser("root", "root@example.org", "Root-ELV-2026!")
    client = Client()
    client.force_login(superuser)

    html = client.get(reverse("admin:providers_region_changelist")).content.decode()

    # Django's own admin texts and our model names, in Dutch.
    assert "Selecteer regio om te wijzigen" in html
