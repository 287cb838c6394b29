"""The Beheer change history is append-only: the application cannot change or delete a row, and
on PostgreSQL the database itself refuses it (audit/migrations/0005), as for the access log."""

import pytest
from django.db import connection, transaction
from django.db.utils import DatabaseError

from accounts.models import Role
from audit.changes import change_record
from audit.models import ChangeRecord
from tests.factories import RegionFactory, user_with_role

pytestmark = pytest.mark.django_db


@pytest.fixture
def change():
    region = RegionFactory()
    return change_record(
        by=user_with_role(Role.ADMIN, region=region),
        region_id=region.pk,
        object_type="region",
        object_id=region.pk,
        object_name=region.name,
        action="update",
        before={"stale_after_hours": 12},
        after={"stale_after_hours": 6},
    )


def test_the_history_cannot_be_changed_or_deleted_through_the_application(change):
    with pytest.raises(PermissionError):
        ChangeRecord.objects.update(by_name="someone else")
    with pytest.raises(PermissionError):
        ChangeRecord.objects.all().delete()
    assert ChangeRecord.objects.get().by_name == change.by_name


@pytest.mark.postgres
@pytest.mark.parametrize(
    "statement",
    ["UPDATE audit_changerecord SET by_name = 'x'", "DELETE FROM audit_changerecord", "TRUNCATE audit_changerecord"],
)
def test_the_database_itself_refuses_to_rewrite_the_history_on_postgresql(change, statement):
    if connection.vendor != "postgresql":
        pytest.skip("the trigger guard exists on PostgreSQL only")
    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(statement)
    assert ChangeRecord.objects.get().after == {"stale_after_hours": 6}


@pytest.mark.postgres
def test_saving_a_loaded_row_again_is_refused_too(change):
    if connection.vendor != "postgresql":
        pytest.skip("the trigger guard exists on PostgreSQL only")
    change.by_name = "someone else"
    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
        change.save()
