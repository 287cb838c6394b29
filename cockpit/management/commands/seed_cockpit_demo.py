from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from cockpit.demo import seed_cockpit_demo


class Command(BaseCommand):
    help = "Add 30 days of invented bed-count history and referrals to the demo region (after seed_demo)."

    def add_arguments(self, parser):
        parser.add_argument("--force", action="store_true", help="Seed even though DEBUG is off.")

    def handle(self, *args, force: bool = False, **options):
        if not settings.DEBUG and not force:
            raise CommandError("Refusing to seed demo data with DEBUG off; pass --force if you really mean it.")
        result = seed_cockpit_demo()
        self.stdout.write(self.style.SUCCESS(f"Cockpit demo: {result['created']} referrals added."))
