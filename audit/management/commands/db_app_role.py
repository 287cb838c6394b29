from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from audit.db_roles import app_role_setup, connect_as_owner, grant_statements


class Command(BaseCommand):
    help = (
        "Create the application's database role (the user of DATABASE_URL) if missing and grant it what the app "
        "needs, with only SELECT and INSERT on the access log. Runs as the owner of MIGRATE_DATABASE_URL; run it "
        "after every migrate. --sql prints the grants for a DBA instead."
    )
    # Tests name a throw-away role; an installation always uses DATABASE_URL's user and password.
    stealth_options = ("role", "password")

    def add_arguments(self, parser):
        parser.add_argument("--sql", action="store_true", help="Print the GRANT statements instead of running them.")

    def handle(self, *args, sql: bool = False, **options):
        app = settings.DATABASES["default"]
        role, password = options.get("role") or app["USER"], options.get("password") or app["PASSWORD"]
        if not role:
            raise CommandError("DATABASE_URL names no user: nothing to set up.")
        if sql:
            self.stdout.write(f"-- CREATE ROLE {role} LOGIN PASSWORD '…';  (once, as a role with CREATEROLE)")
            for statement in grant_statements(role=role, database=app["NAME"], schema="public"):
                self.stdout.write(statement + ";")
            return
        try:
            connect_as_owner()
            with transaction.atomic():
                done = app_role_setup(role=role, password=password)
        except ImproperlyConfigured as error:
            raise CommandError(str(error)) from error
        for line in done:
            self.stdout.write(line)
