"""On PostgreSQL the access log also refuses TRUNCATE (0002 guards UPDATE and DELETE, which
TRUNCATE does not fire). A statement-level trigger: TRUNCATE has no rows.

This stops a mistake or an injected statement of a process connected as the table's owner; the
owner can still disable or drop triggers. The real barrier is running the web and worker
processes as a role that may only INSERT and SELECT on the log (`manage.py db_app_role`,
docs/architecture.md §2.6). The test suite's flush lifts this trigger for its own TRUNCATE
(tests/conftest.py).
"""

from django.db import migrations

FORWARD = """
CREATE TRIGGER audit_accesslog_no_truncate
    BEFORE TRUNCATE ON audit_accesslog
    FOR EACH STATEMENT EXECUTE FUNCTION audit_accesslog_append_only();
"""

BACKWARD = "DROP TRIGGER IF EXISTS audit_accesslog_no_truncate ON audit_accesslog;"


def forward(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(FORWARD, params=None)


def backward(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(BACKWARD, params=None)


class Migration(migrations.Migration):
    dependencies = [("audit", "0002_append_only_guard")]

    operations = [migrations.RunPython(forward, backward)]
