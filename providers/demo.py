"""A South-Limburg-like demo region. Names are invented; postcodes are real PC4 areas.

Used by `manage.py seed_demo`; every step is an upsert, so seeding twice changes nothing.
"""

import hashlib
import random
from datetime import time, timedelta

from django.db import transaction
from django.utils import timezone
from django_otp.plugins.otp_totp.models import TOTPDevice

from accounts.models import Role, User
from accounts.twofactor import two_factor_required
from beds.models import Capacity
from providers.models import (
    Feature,
    Insurer,
    Location,
    Organisation,
    OrganisationKind,
    PostcodeArea,
    Product,
    Region,
)

# A published demo password; seed_demo refuses to run with DEBUG off.
DEMO_PASSWORD = "Demo-ELV-2026!"  # nosec B105

# (organisation, AGB, [(location, street, postcode, city)])
PROVIDERS = [
    (
        "Zorggroep Maasheuvel",
        "73730001",
        [
            ("Maasheuvel Sint Pieter", "Luikerweg 12", "6212 AB", "Maastricht"),
            ("Maasheuvel Randwyck", "Oranjeplein 40", "6221 CK", "Maastricht"),
            ("Maasheuvel Heer", "Heerderweg 101", "6229 AA", "Maastricht"),
        ],
    ),
    (
        "Mijnstreek Zorg",
        "73730002",
        [
            ("De Schacht", "Akerstraat 88", "6411 HD", "Heerlen"),
            ("Huize Welten", "Weltertuynstraat 3", "6413 AB", "Heerlen"),
            ("Hoensbroek Kasteelpark", "Kasteelplein 5", "6431 EJ", "Hoensbroek"),
        ],
    ),
    (
        "Heuvelland Verpleging",
        "73730003",
        [
            ("De Geulhof", "Plenkertstraat 20", "6301 GM", "Valkenburg"),
            ("Gulperberg Zorg", "Rijksweg 14", "6271 AE", "Gulpen"),
            ("Huis Vaalserberg", "Maastrichterlaan 60", "6291 EN", "Vaals"),
        ],
    ),
    (
        "Stichting Westelijke Mijnstreek Zorg",
        "73730004",
        [
            ("Sittard Ciborium", "Rijksweg Zuid 22", "6131 AL", "Sittard"),
            ("Geleen Glanerbrook", "Glanerbrook 4", "6161 NW", "Geleen"),
            ("Stein Maaskant", "Heerweg 30", "6171 BM", "Stein"),
        ],
    ),
    (
        "Parkstad Verpleeghuizen",
        "73730005",
        [
            ("Kerkrade Rolduc Zicht", "Heyendallaan 55", "6461 BA", "Kerkrade"),
            ("Brunssum Schutterspark", "Prinses Irenestraat 12", "6441 GA", "Brunssum"),
            ("Landgraaf Op de Kamp", "Hoogveld 8", "6371 AA", "Landgraaf"),
        ],
    ),
    (
        "Zorgcentrum Meerssen",
        "73730006",
        [
            ("Meerssen Proosdij", "Proosdijweg 4", "6231 EA", "Meerssen"),
            ("Beek Maasterras", "Stationsstraat 90", "6191 BJ", "Beek"),
        ],
    ),
    (
        "Hospice en Zorg Zuid",
        "73730007",
        [
            ("Hospice De Lindenhof", "Lindenlaan 2", "6367 HA", "Voerendaal"),
            ("Hospice Simpelveld", "Irmstraat 21", "6369 VL", "Simpelveld"),
        ],
    ),
    (
        "Zorggroep Eijsden-Margraten",
        "73730008",
        [
            ("Eijsden Breust", "Breusterstraat 35", "6245 EH", "Eijsden"),
            ("Margraten Bemelen", "Rijksweg 55", "6269 AD", "Margraten"),
        ],
    ),
    (
        "Zorgnetwerk Vrieheide",
        "73730009",
        [
            ("Nuth Vrieheide", "Stationstraat 18", "6361 BE", "Nuth"),
            ("Heerlen Meezenbroek", "Schaesbergerweg 120", "6415 AB", "Heerlen"),
            ("Kerkrade Hambos", "Hambos 1", "6466 AA", "Kerkrade"),
        ],
    ),
    (
        "Stichting Born-Elsloo Zorg",
        "73730010",
        [
            ("Born Maasboulevard", "Dorpsstraat 11", "6121 CA", "Born"),
            ("Elsloo Kasteelhof", "Maasberg 2", "6181 GV", "Elsloo"),
        ],
    ),
    (
        "Thuis in Schinveld",
        "73730011",
        [
            ("Schinveld Brunssummerheide", "Heidestraat 7", "6443 AA", "Brunssum"),
            ("Landgraaf Nieuwenhagen", "Dorpstraat 50", "6373 AA", "Landgraaf"),
        ],
    ),
]

NEIGHBOUR_PROVIDERS = [
    (
        "Zorggroep Midden-Limburg",
        "73730021",
        [
            ("Roermond Maasnielderbeek", "Maasnielderweg 2", "6041 AA", "Roermond"),
            ("Echt Pepinusbrug", "Bosstraat 10", "6101 AA", "Echt"),
            ("Swalmen Asselt", "Rijksweg 3", "6071 AA", "Swalmen"),
        ],
    ),
]

USERS = [
    ("huisarts", "Anna", "de Vries", Role.GP, "gp"),
    ("transfer", "Bram", "Janssen", Role.TRANSFER_NURSE, "hospital"),
    ("planner", "Claire", "Smeets", Role.PROVIDER_STAFF, "provider"),
    ("planner2", "Daan", "Hermans", Role.PROVIDER_STAFF, "provider2"),
    ("coordinator", "Eva", "Bemelmans", Role.COORDINATOR, "desk"),
    ("beheer", "Frank", "Lemmens", Role.ADMIN, "desk"),
    ("analist", "Gwen", "Peters", Role.ANALYST, "insurer"),
]

ELV_PRODUCTS = ["elv_laag", "elv_hoog", "elv_palliatief"]


def _organisation(region, kind, name, agb=None, **extra):
    organisation, _ = Organisation.objects.update_or_create(
        region=region, name=name, defaults={"kind": kind, "agb_code": agb, **extra}
    )
    return organisation


def _location(organisation, name, street, postcode, city, rng, features, insurers):
    area = PostcodeArea.objects.get(pc4=postcode[:4])
    all_day = rng.random() < 0.6
    location, _ = Location.objects.update_or_create(
        organisation=organisation,
        name=name,
        defaults={
            "street": street,
            "postcode": postcode,
            "city": city,
            "latitude": area.latitude,
            "longitude": area.longitude,
            "phone_24_7": f"045 {rng.randint(500, 599)} {rng.randint(1000, 9999)}",
            "admission_24_7": all_day,
            "admission_from": None if all_day else time(8, 0),
            "admission_until": None if all_day else time(20, 0),
            "specialist_24_7": rng.random() < 0.5,
        },
    )
    location.features.set(rng.sample(features, k=rng.randint(1, 4)))
    location.contracted_insurers.set(rng.sample(insurers, k=rng.randint(4, len(insurers))))
    return location


def _capacities(location, products, rng, now, *, hospice: bool):
    wanted = (
        [p for p in products if p.code == "elv_palliatief"] if hospice else rng.sample(products, k=rng.randint(2, 3))
    )
    for product in wanted:
        total = rng.randint(4, 16)
        available = rng.randint(0, min(total, 4))
        stale = rng.random() < 0.2
        confirmed_at = now - (timedelta(hours=rng.randint(13, 60)) if stale else timedelta(minutes=rng.randint(5, 600)))
        Capacity.objects.get_or_create(
            location=location,
            product=product,
            defaults={
                "total": total,
                "available": available,
                "expected_24h": rng.randint(0, 2),
                "expected_72h": rng.randint(0, 3),
                "confirmed_at": confirmed_at,
            },
        )


def _region_with_providers(code, name, providers, rng, products, features, insurers, now):
    region, _ = Region.objects.update_or_create(code=code, defaults={"name": name})
    region.products.set(Product.objects.all())
    organisations = []
    for org_name, agb, locations in providers:
        organisation = _organisation(region, OrganisationKind.PROVIDER, org_name, agb)
        organisations.append(organisation)
        for loc_name, street, postcode, city in locations:
            location = _location(organisation, loc_name, street, postcode, city, rng, features, insurers)
            _capacities(location, products, rng, now, hospice=loc_name.startswith("Hospice"))
    return region, organisations


def demo_totp_key(username: str) -> str:
    """A fixed, published authenticator secret per demo user: demo data only."""
    return hashlib.sha1(f"elvdesk-demo-totp-{username}".encode(), usedforsecurity=False).hexdigest()


def _demo_authenticator(user: User) -> TOTPDevice:
    device, _ = TOTPDevice.objects.update_or_create(
        user=user, name="demo authenticator", defaults={"key": demo_totp_key(user.username), "confirmed": True}
    )
    return device


@transaction.atomic
def seed_demo_region() -> dict:
    # Reproducible demo figures, not a secret.
    rng = random.Random(2026)  # nosec B311
    now = timezone.now()
    products = list(Product.objects.filter(code__in=ELV_PRODUCTS))
    features = list(Feature.objects.all())
    insurers = list(Insurer.objects.all())
    region, provider_orgs = _region_with_providers(
        "zuid-limburg", "Zuid-Limburg", PROVIDERS, rng, products, features, insurers, now
    )
    neighbour, _ = _region_with_providers(
        "midden-limburg", "Midden-Limburg", NEIGHBOUR_PROVIDERS, rng, products, features, insurers, now
    )
    region.neighbours.add(neighbour)
    organisations = {
        "provider": provider_orgs[1],
        "provider2": provider_orgs[0],
        "gp": _organisation(region, OrganisationKind.GP_PRACTICE, "Huisartsenpraktijk De Linde", "01010001"),
        "hospital": _organisation(region, OrganisationKind.HOSPITAL, "Ziekenhuis Parkstad-Zuid", "06010001"),
        "desk": _organisation(region, OrganisationKind.DESK, "Regioloket ELV Zuid-Limburg", None),
        "insurer": _organisation(region, OrganisationKind.INSURER, "Zorgverzekeraar Zuid (analyse)", None),
    }
    users = []
    for username, first, last, role, org_key in USERS:
        user, created = User.objects.get_or_create(
            username=username,
            defaults={
                "first_name": first,
                "last_name": last,
                "role": role,
                "organisation": organisations[org_key],
                "email": f"{username}@demo.elvdesk.localhost",
            },
        )
        if created:
            user.set_password(DEMO_PASSWORD)
            user.save(update_fields=["password"])
        if two_factor_required(user):
            _demo_authenticator(user)
        users.append(user)
    return {"region": region, "users": users, "locations": Location.objects.filter(organisation__region=region).count()}
