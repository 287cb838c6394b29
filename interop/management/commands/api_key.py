"""Create, list and revoke the API keys of provider systems.

    python manage.py api_key create --organisation 73730002 --name "ECD production"
    python manage.py api_key list [--organisation 73730002]
    python manage.py api_key revoke <prefix>

`--organisation` takes the AGB code or the id. The full key is printed once, at creation; only
its SHA-256 is stored.
"""

from django.core.management.base import BaseCommand, CommandError

from interop.models import ApiKey
from interop.services import api_key_create, api_key_revoke
from providers.models import Organisation


def _organisation(value: str) -> Organisation:
    organisation = Organisation.objects.filter(agb_code=value).first()
    if organisation is None and value.isdigit():
        organisation = Organisation.objects.filter(pk=int(value)).first()
    if organisation is None:
        raise CommandError(f"No organisation with AGB code or id {value!r}.")
    return organisation


class Command(BaseCommand):
    help = "Create, list or revoke API keys of provider systems (Authorization: Api-Key <prefix>.<secret>)."

    def add_arguments(self, parser):
        commands = parser.add_subparsers(dest="action", required=True)
        create = commands.add_parser("create", help="Create a key and print it (once).")
        create.add_argument("--organisation", required=True, help="AGB code or id of the organisation")
        create.add_argument("--name", required=True, help="Which system uses it, e.g. 'ECD production'")
        listing = commands.add_parser("list", help="List keys (never their secrets).")
        listing.add_argument("--organisation", help="AGB code or id of the organisation")
        revoke = commands.add_parser("revoke", help="Revoke a key at once.")
        revoke.add_argument("prefix", help="The part of the key before the dot")

    def handle(self, *args, action: str, **options):
        getattr(self, f"_{action}")(**options)

    def _create(self, *, organisation: str, name: str, **options):
        api_key, full_key = api_key_create(organisation=_organisation(organisation), name=name)
        self.stderr.write(
            f"Created API key {api_key.prefix} for {api_key.organisation.name}. Store it now: it is not shown again.",
        )
        self.stdout.write(full_key)

    def _list(self, *, organisation: str | None = None, **options):
        keys = ApiKey.objects.select_related("organisation").order_by("organisation__name", "created_at")
        if organisation:
            keys = keys.filter(organisation=_organisation(organisation))
        for key in keys:
            state = f"revoked {key.revoked_at:%Y-%m-%d %H:%M}" if key.revoked_at else "active"
            used = f"{key.last_used_at:%Y-%m-%d %H:%M}" if key.last_used_at else "never"
            self.stdout.write(f"{key.prefix}  {key.organisation.name}  {key.name}  {state}  last used {used}")

    def _revoke(self, *, prefix: str, **options):
        api_key = ApiKey.objects.filter(prefix=prefix).first()
        if api_key is None:
            raise CommandError(f"No API key with prefix {prefix!r}.")
        api_key_revoke(api_key=api_key)
        self.stdout.write(f"Revoked {api_key.prefix} ({api_key.name}, {api_key.organisation.name}).")
