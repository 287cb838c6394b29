"""Two PostgreSQL roles, so the application cannot rewrite or empty its own access log and
the change history of the functional administration (Beheer).

- The owner (MIGRATE_DATABASE_URL) owns every table and runs `migrate` and `db_app_role`.
- The application role (DATABASE_URL, e.g. `elvdesk_app`) runs web, worker and beat: CONNECT,
  USAGE on the schema, SELECT/INSERT/UPDATE/DELETE on every table and USAGE/SELECT on every
  sequence, but on the append-only tables (`audit_accesslog`, `audit_changerecord`) only SELECT
  and INSERT. Not owning them, it cannot TRUNCATE them, nor ALTER them (disable their guard
  triggers) or DROP them. Default privileges give it the same on tables the owner creates later;
  running `db_app_role` after every `migrate` (docker-compose.yml does) puts those tables back to
  SELECT and INSERT should a migration rebuild them.

The triggers (audit/migrations/0002, 0003, 0005) refuse UPDATE, DELETE and TRUNCATE even for the
owner, against mistakes; only the role split holds against a compromised application.
"""

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db import DEFAULT_DB_ALIAS, connections

from audit.models import AccessLog, ChangeRecord

# What the owner's URL must share with the application's: the same database, another role.
SAME_DATABASE = ("ENGINE", "NAME", "HOST", "PORT")
# History that the application may add to and read, never change or remove.
APPEND_ONLY_MODELS = (AccessLog, ChangeRecord)


def connect_as_owner(alias: str = DEFAULT_DB_ALIAS) -> bool:
    """Let this process's `alias` connection log in as the owner of MIGRATE_DATABASE_URL (for
    `migrate` and `db_app_role`; nothing else runs as the owner). False when that is not set."""
    owner = settings.MIGRATE_DATABASE
    if not owner or alias != DEFAULT_DB_ALIAS:
        return False
    connection = connections[alias]
    app = connection.settings_dict
    differs = [key for key in SAME_DATABASE if str(owner.get(key) or "") != str(app.get(key) or "")]
    if differs:
        raise ImproperlyConfigured(
            f"MIGRATE_DATABASE_URL must name the same database as DATABASE_URL (it differs in {', '.join(differs)})."
        )
    connection.close()
    # A new dict: the old one is settings.DATABASES["default"], which still names the app role.
    connection.settings_dict = {**app, "USER": owner["USER"], "PASSWORD": owner["PASSWORD"]}
    return True


def quote(name: str) -> str:
    """A PostgreSQL identifier, quoted (inner quotes doubled)."""
    return '"' + name.replace('"', '""') + '"'


def grant_statements(*, role: str, database: str, schema: str) -> list[str]:
    """The privileges of the application role; safe to run again."""
    role, database, schema = quote(role), quote(database), quote(schema)
    tables = f"ALL TABLES IN SCHEMA {schema}"
    append_only = [quote(model._meta.db_table) for model in APPEND_ONLY_MODELS]
    return [
        f"GRANT CONNECT ON DATABASE {database} TO {role}",
        f"GRANT USAGE ON SCHEMA {schema} TO {role}",
        f"GRANT SELECT, INSERT, UPDATE, DELETE ON {tables} TO {role}",
        f"REVOKE TRUNCATE, REFERENCES, TRIGGER ON {tables} FROM {role}",
        f"GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA {schema} TO {role}",
        *(f"REVOKE ALL ON {table} FROM {role}" for table in append_only),
        *(f"GRANT SELECT, INSERT ON {table} TO {role}" for table in append_only),
        f"ALTER DEFAULT PRIVILEGES IN SCHEMA {schema} GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO {role}",
        f"ALTER DEFAULT PRIVILEGES IN SCHEMA {schema} GRANT USAGE, SELECT ON SEQUENCES TO {role}",
    ]


def app_role_setup(*, role: str, password: str | None, alias: str = DEFAULT_DB_ALIAS) -> list[str]:
    """Create the application role if it does not exist (LOGIN with `password`) and grant its
    privileges, connected as the owner. Returns what was done, for the command to print."""
    connection = connections[alias]
    if connection.vendor != "postgresql":
        raise ImproperlyConfigured("The application role exists on PostgreSQL only.")
    done = []
    with connection.cursor() as cursor:
        cursor.execute("SELECT current_user, current_database(), current_schema()")
        owner, database, schema = cursor.fetchone()
        if role == owner:
            raise ImproperlyConfigured(
                f"DATABASE_URL logs in as {role}, the tables' owner: set DATABASE_URL to the application role "
                "and MIGRATE_DATABASE_URL to the owner."
            )
        cursor.execute(
            "SELECT rolsuper, pg_has_role(%s, %s, 'MEMBER') FROM pg_roles WHERE rolname = %s", [role, owner, role]
        )
        found = cursor.fetchone()
        if found is None:
            if not password:
                raise ImproperlyConfigured(f"Role {role} does not exist and DATABASE_URL gives it no password.")
            # On the driver's own cursor: Django's query log (DEBUG) must not see the password.
            cursor.cursor.execute(
                f"CREATE ROLE {quote(role)} LOGIN PASSWORD %s NOSUPERUSER NOCREATEDB NOCREATEROLE NOINHERIT",
                [password],
            )
            done.append(f"created role {role}")
        elif any(found):
            raise ImproperlyConfigured(f"Role {role} is a superuser or a member of {owner}: it could empty the log.")
        for statement in grant_statements(role=role, database=database, schema=schema):
            cursor.execute(statement)
        done.append(
            f"granted {role} its privileges in {database}.{schema} (access log and change history: SELECT, INSERT)"
        )
    return done
