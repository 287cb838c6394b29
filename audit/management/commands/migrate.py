from django.core.management.commands import migrate

from audit.db_roles import connect_as_owner


class Command(migrate.Command):
    """Django's migrate, logged in as the schema owner when MIGRATE_DATABASE_URL is set (the
    application's own role may not create or alter tables, audit/db_roles.py). Everything a
    migration does, data migrations included, then runs as the owner."""

    help = migrate.Command.help + " Runs as the owner of MIGRATE_DATABASE_URL when that is set."

    def handle(self, *args, **options):
        connect_as_owner(options["database"])
        return super().handle(*args, **options)
