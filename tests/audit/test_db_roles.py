"""The access log and the Beheer change history cannot be emptied by the application: TRUNCATE
is refused like UPDATE and DELETE, and the application's own database role (audit/db_roles.py,
`manage.py db_app_role`) may only INSERT and SELECT on them, not TRUNCATE them nor touch their
guard triggers."""

import io
import uuid
from datetime import UTC, datetime

import psycopg
import pytest
from django.core.exceptions import ImproperlyConfigured
from django.core.management import call_command
from django.db import connection, transaction
from django.db.utils import DatabaseError

from audit.models import AccessLog, ChangeRecord

pytestmark = pytest.mark.postgres


@pytest.fixture(autouse=True)
def _postgresql_only():
    # In CI (CI=true) the session refuses to start on anything but PostgreSQL (tests/conftest.py).
    if connection.vendor != "postgresql":
        pytest.skip("the guard trigger and database roles exist on PostgreSQL only")


def _log_row() -> None:
    AccessLog.objects.append(
        [
            {
                "at": datetime(2031, 3, 12, 9, 0, tzinfo=UTC),
                "user_id": None,
                "user_name": "test",
                "role": "",
                "organisation_id": None,
                "organisation_name": "",
                "on_behalf_of": "",
                "action": "read",
                "channel": "page",
                "patient_id": 1,
                "referral_id": 1,
                "outcome": "ok",
                "subject_user_id": None,
                "source_address": None,
                "path": "/referrals/1/",
            }
        ]
    )


def _change_row() -> ChangeRecord:
    return ChangeRecord.objects.create(
        by_name="beheer", object_type="region", object_id=1, object_name="Zuid-Limburg", action="update"
    )


@pytest.mark.django_db
def test_the_database_refuses_to_truncate_the_log_even_for_its_owner():
    _log_row()
    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("TRUNCATE audit_accesslog")
    assert AccessLog.objects.count() == 1


@pytest.mark.django_db
def test_the_database_refuses_to_truncate_the_change_history_even_for_its_owner():
    _change_row()
    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("TRUNCATE audit_changerecord")
    assert ChangeRecord.objects.count() == 1


@pytest.fixture
def app_role():
    """A throw-away application role made by the same command an installation runs, dropped
    afterwards (roles belong to the whole PostgreSQL cluster, not to the test database)."""
    role, password = f"elvdesk_app_test_{uuid.uuid4().hex[:8]}", uuid.uuid4().hex
    call_command("db_app_role", role=role, password=password, stdout=io.StringIO())
    yield role, password
    with connection.cursor() as cursor:
        cursor.execute(f'DROP OWNED BY "{role}"')
        cursor.execute(f'DROP ROLE "{role}"')


def _connect_as(role: str, password: str) -> psycopg.Connection:
    settings = connection.settings_dict
    return psycopg.connect(
        host=settings["HOST"] or None,
        port=settings["PORT"] or None,
        dbname=connection.settings_dict["NAME"],
        user=role,
        password=password,
        autocommit=True,
    )


@pytest.mark.django_db(transaction=True)
def test_the_application_role_can_add_and_read_the_log_but_never_change_or_empty_it(app_role):
    _log_row()
    role, password = app_role
    refused = [
        "UPDATE audit_accesslog SET user_name = 'x'",
        "DELETE FROM audit_accesslog",
        "TRUNCATE audit_accesslog",
        "ALTER TABLE audit_accesslog DISABLE TRIGGER audit_accesslog_append_only",
        "ALTER TABLE audit_accesslog DISABLE TRIGGER ALL",
        "DROP TRIGGER audit_accesslog_no_truncate ON audit_accesslog",
        "DROP TABLE audit_accesslog",
    ]
    with _connect_as(role, password) as app:
        app.execute(
            "INSERT INTO audit_accesslog (at, user_name, role, organisation_name, on_behalf_of, action, channel, "
            "outcome, path) VALUES (now(), 'app', '', '', '', 'read', 'page', 'ok', '/')"
        )
        assert app.execute("SELECT count(*) FROM audit_accesslog").fetchone() == (2,)
        for statement in refused:
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                app.execute(statement)
        # The rest of the application's tables stay fully usable.
        app.execute("UPDATE providers_product SET name = name WHERE false")
        app.execute("DELETE FROM referrals_referraldraft WHERE false")
    assert AccessLog.objects.count() == 2


@pytest.mark.django_db(transaction=True)
def test_the_application_role_can_add_and_read_the_change_history_but_never_change_or_empty_it(app_role):
    _change_row()
    role, password = app_role
    refused = [
        "UPDATE audit_changerecord SET by_name = 'x'",
        "DELETE FROM audit_changerecord",
        "TRUNCATE audit_changerecord",
        "ALTER TABLE audit_changerecord DISABLE TRIGGER audit_changerecord_append_only",
        "ALTER TABLE audit_changerecord DISABLE TRIGGER ALL",
        "DROP TRIGGER audit_changerecord_no_truncate ON audit_changerecord",
        "DROP TABLE audit_changerecord",
    ]
    with _connect_as(role, password) as app:
        app.execute(
            "INSERT INTO audit_changerecord (at, by_name, object_type, object_id, object_name, action, before, after) "
            "VALUES (now(), 'app', 'region', 1, 'Zuid-Limburg', 'update', '{}', '{}')"
        )
        assert app.execute("SELECT count(*) FROM audit_changerecord").fetchone() == (2,)
        for statement in refused:
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                app.execute(statement)
    assert ChangeRecord.objects.count() == 2


@pytest.mark.django_db(transaction=True)
def test_running_the_command_again_keeps_the_log_read_and_insert_only(app_role):
    role, password = app_role
    with connection.cursor() as cursor:
        for table in ("audit_accesslog", "audit_changerecord"):
            cursor.execute(f'GRANT ALL ON {table} TO "{role}"')  # a mistake, or a rebuilt table
    call_command("db_app_role", role=role, password=password, stdout=io.StringIO())
    with connection.cursor() as cursor:
        for table in ("audit_accesslog", "audit_changerecord"):
            cursor.execute(
                "SELECT privilege_type FROM information_schema.role_table_grants "
                "WHERE grantee = %s AND table_name = %s ORDER BY 1",
                [role, table],
            )
            assert [row[0] for row in cursor.fetchall()] == ["INSERT", "SELECT"], table


@pytest.mark.django_db
def test_the_owner_itself_is_refused_as_application_role():
    from django.core.management.base import CommandError

    with pytest.raises(CommandError, match="owner"):
        call_command("db_app_role", role=connection.settings_dict["USER"] or "postgres", stdout=io.StringIO())


class _Connection:
    def __init__(self, **settings_dict):
        self.settings_dict, self.closed = settings_dict, False

    def close(self):
        self.closed = True


def _urls(app: str, owner: str | None):
    import dj_database_url

    return dj_database_url.parse(app), dj_database_url.parse(owner) if owner else None


def test_migrate_logs_in_as_the_owner_of_the_same_database(monkeypatch, settings):
    from audit import db_roles

    app, owner = _urls("postgres://elvdesk_app:a@db:5432/elvdesk", "postgres://elvdesk:o@db:5432/elvdesk")
    default = _Connection(**app)
    monkeypatch.setattr(db_roles, "connections", {"default": default})
    settings.MIGRATE_DATABASE = owner
    assert db_roles.connect_as_owner() is True
    assert default.closed and (default.settings_dict["USER"], default.settings_dict["PASSWORD"]) == ("elvdesk", "o")
    assert app["USER"] == "elvdesk_app"  # settings.DATABASES keeps naming the app role

    settings.MIGRATE_DATABASE = _urls("postgres://x:y@db:5432/elvdesk", "postgres://elvdesk:o@db:5432/other")[1]
    with pytest.raises(ImproperlyConfigured, match="NAME"):
        db_roles.connect_as_owner()
    settings.MIGRATE_DATABASE = None
    assert db_roles.connect_as_owner() is False
