from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django_otp.plugins.otp_totp.models import TOTPDevice

from accounts.twofactor import totp_secret_base32
from providers.demo import DEMO_PASSWORD, seed_demo_region


class Command(BaseCommand):
    help = (
        "Create the South-Limburg-like demo region with one user per role and a planner for every provider."
        " Safe to run twice."
    )

    def add_arguments(self, parser):
        parser.add_argument("--force", action="store_true", help="Seed even though DEBUG is off.")

    def handle(self, *args, force: bool = False, **options):
        if not settings.DEBUG and not force:
            raise CommandError("Refusing to seed demo data with DEBUG off; pass --force if you really mean it.")
        result = seed_demo_region()
        self.stdout.write(self.style.SUCCESS(f"Demo region {result['region'].name}: {result['locations']} locations."))
        self.stdout.write(f"Demo users (password {DEMO_PASSWORD}; authenticator secret for the second step):")
        for user in result["users"]:
            device = TOTPDevice.objects.filter(user=user, confirmed=True).first()
            secret = totp_secret_base32(device) if device else "(no second factor: no patient data)"
            self.stdout.write(f"  {user.username:<19} {user.role:<15} {secret}  {user.organisation}")
        self.stdout.write("Current codes: python manage.py demo_totp USERNAME")
