"""Bed counts edited in the Django admin go through beds.services like every other change: row
lock, version bump, one history row with source "admin"; a count changed since the admin opened
the page is not overwritten."""

import pytest
from django.contrib.auth.models import Permission
from django.test import Client
from django.urls import reverse

from accounts.models import Role
from beds.models import Capacity, CapacityChange, ChangeSource
from beds.services import capacity_hold, capacity_update
from tests.factories import CapacityFactory, LocationFactory, product, user_with_role

pytestmark = pytest.mark.django_db


@pytest.fixture
def superuser(django_user_model):
    return django_user_model.objects.create_superuser("root", "root@example.org", "Root-ELV-2026!")


@pytest.fixture
def admin_client_en(superuser):
    client = Client(headers={"Accept-Language": "en"})
    client.force_login(superuser)
    return client


def change_url(capacity) -> str:
    return reverse("admin:beds_capacity_change", args=[capacity.pk])


def posted(capacity, **counts) -> dict:
    data = {
        "total": capacity.total,
        "available": capacity.available,
        "expected_24h": capacity.expected_24h,
        "expected_72h": capacity.expected_72h,
        "seen_version": capacity.version,
    }
    data.update(counts)
    return data


def test_an_admin_edit_writes_a_history_row_and_bumps_the_version(admin_client_en, superuser):
    capacity = CapacityFactory(total=10, available=3)
    version = capacity.version

    response = admin_client_en.post(change_url(capacity), posted(capacity, total=12, available=5))

    assert response.status_code == 302
    capacity.refresh_from_db()
    assert (capacity.total, capacity.available, capacity.version) == (12, 5, version + 1)
    change = CapacityChange.objects.get(capacity=capacity)
    assert (change.source, change.changed_by) == (ChangeSource.ADMIN, superuser)
    assert (change.before["total"], change.after["total"], change.after["available"]) == (10, 12, 5)


def test_saving_without_a_change_writes_nothing(admin_client_en):
    capacity = CapacityFactory()
    version = capacity.version

    assert admin_client_en.post(change_url(capacity), posted(capacity)).status_code == 302

    capacity.refresh_from_db()
    assert capacity.version == version
    assert not CapacityChange.objects.exists()


def test_an_admin_edit_does_not_overwrite_a_count_changed_since_the_page_was_opened(admin_client_en):
    capacity = CapacityFactory(total=10, available=3)
    seen = posted(capacity, total=11)  # the admin's page, opened now
    planner = user_with_role(Role.PROVIDER_STAFF, capacity.location.organisation)
    capacity_update(capacity_id=capacity.pk, by=planner, counts={"available": 2})

    response = admin_client_en.post(change_url(capacity), seen, follow=True)

    assert "changed by someone else" in response.content.decode()
    capacity.refresh_from_db()
    assert (capacity.total, capacity.available) == (10, 2)
    assert list(CapacityChange.objects.values_list("source", flat=True)) == [ChangeSource.WEB]


def test_an_admin_edit_below_the_held_beds_is_refused(admin_client_en):
    capacity = CapacityFactory(total=10, available=3)
    capacity_hold(capacity_id=capacity.pk, by=None)
    capacity_hold(capacity_id=capacity.pk, by=None)
    capacity.refresh_from_db()

    response = admin_client_en.post(change_url(capacity), posted(capacity, available=1))

    assert response.status_code == 200  # the form again, with the error
    capacity.refresh_from_db()
    assert (capacity.available, capacity.held) == (3, 2)
    assert not CapacityChange.objects.filter(source=ChangeSource.ADMIN).exists()


def test_a_count_added_in_the_admin_starts_its_history(admin_client_en, superuser):
    location = LocationFactory()
    hoog = product("elv_hoog")

    response = admin_client_en.post(
        reverse("admin:beds_capacity_add"),
        {
            "location": location.pk,
            "product": hoog.pk,
            "total": 6,
            "available": 4,
            "expected_24h": 0,
            "expected_72h": 1,
        },
    )

    assert response.status_code == 302
    capacity = Capacity.objects.get(location=location, product=hoog)
    assert (capacity.total, capacity.available, capacity.expected_72h) == (6, 4, 1)
    change = CapacityChange.objects.get(capacity=capacity)
    assert (change.source, change.changed_by, change.before["total"], change.after["total"]) == (
        ChangeSource.ADMIN,
        superuser,
        0,
        6,
    )


def test_location_and_product_of_a_count_cannot_be_changed_in_the_admin(admin_client_en):
    capacity = CapacityFactory()
    location_id, elsewhere = capacity.location_id, LocationFactory()

    admin_client_en.post(change_url(capacity), {**posted(capacity, total=11), "location": elsewhere.pk})

    capacity.refresh_from_db()
    assert (capacity.location_id, capacity.total) == (location_id, 11)


def test_staff_with_the_capacity_permission_but_no_superuser_status_cannot_edit_counts():
    """Only developers (active superusers) use the admin; everyone else changes counts where the
    history and the checks are: My beds, and Beheer for contracted totals."""
    capacity = CapacityFactory(total=10, available=3)
    staff = user_with_role(Role.ADMIN, is_staff=True)
    staff.user_permissions.add(*Permission.objects.filter(codename__in=["view_capacity", "change_capacity"]))
    client = Client()
    client.force_login(staff)

    response = client.post(change_url(capacity), posted(capacity, total=12))

    assert response.status_code == 302 and response["Location"].startswith(reverse("admin:login"))
    capacity.refresh_from_db()
    assert capacity.total == 10
    assert not CapacityChange.objects.exists()
