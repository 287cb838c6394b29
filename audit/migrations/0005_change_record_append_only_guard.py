"""On PostgreSQL the database itself refuses UPDATE, DELETE and TRUNCATE on the Beheer change
history, as on the access log (0002, 0003): who changed what in the functional administration
must not be rewritten by a bug or a manual query. The application's own role may only SELECT and
INSERT on it (audit/db_roles.py). The test suite's flush lifts the TRUNCATE guard for its own
TRUNCATE (tests/conftest.py)."""

from django.db import migrations

FORWARD = """
CREATE OR REPLACE FUNCTION audit_changerecord_append_only() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION 'audit_changerecord is append-only (% refused)', TG_OP;
END;
$$ LANGUAGE plpgsql;
CREATE TRIGGER audit_changerecord_append_only
    BEFORE UPDATE OR DELETE ON audit_changerecord
    FOR EACH ROW EXECUTE FUNCTION audit_changerecord_append_only();
CREATE TRIGGER audit_changerecord_no_truncate
    BEFORE TRUNCATE ON audit_changerecord
    FOR EACH STATEMENT EXECUTE FUNCTION audit_changerecord_append_only();
"""

BACKWARD = """
DROP TRIGGER IF EXISTS audit_changerecord_no_truncate ON audit_changerecord;
DROP TRIGGER IF EXISTS audit_changerecord_append_only ON audit_changerecord;
DROP FUNCTION IF EXISTS audit_changerecord_append_only();
"""


def forward(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(FORWARD, params=None)


def backward(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(BACKWARD, params=None)


class Migration(migrations.Migration):
    dependencies = [("audit", "0004_change_record_subject_user")]

    operations = [migrations.RunPython(forward, backward)]
