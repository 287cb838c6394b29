"""A South-Limburg-like demo region. Names, people, addresses, phone numbers, AGB and URA codes
are invented; postcodes are real PC4 areas.

Used by `manage.py seed_demo`. Seeding twice creates nothing new and overwrites nothing: a row
that exists keeps its values (what a planner or the functional administrator changed survives
`make run`); only fields still empty are filled in, so data seeded by an older version gets the
newer fields.
"""

import hashlib
import random
from datetime import time, timedelta

from django.contrib.auth.hashers import make_password
from django.db import transaction
from django.utils import timezone
from django.utils.text import slugify
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
    TreatingPhysician,
)
from providers.phones import normalise_dutch_phone

# A published demo password; seed_demo refuses to run with DEBUG off.
DEMO_PASSWORD = "Demo-ELV-2026!"  # nosec B105

# The regional desks' numbers: valid Dutch numbers in the areas' own ranges, made up for the demo
# (not the number of any real desk). Shown on every page for referrers ("Regioloket: 045 …").
DESK_PHONES = {"zuid-limburg": "045 799 0045", "midden-limburg": "0475 799 000"}

# (organisation, AGB, URA or "" where the demo does not know it, head office (street, postcode,
# city), [(location, street, postcode, city)])
PROVIDERS = [
    (
        "Zorggroep Maasheuvel",
        "73730001",
        "90730001",
        ("Kapoenstraat 5", "6211 KV", "Maastricht"),
        [
            ("Maasheuvel Sint Pieter", "Luikerweg 12", "6212 AB", "Maastricht"),
            ("Maasheuvel Randwyck", "Oranjeplein 40", "6221 CK", "Maastricht"),
            ("Maasheuvel Heer", "Heerderweg 101", "6229 AA", "Maastricht"),
        ],
    ),
    (
        "Mijnstreek Zorg",
        "73730002",
        "90730002",
        ("Geleenstraat 30", "6411 HR", "Heerlen"),
        [
            ("De Schacht", "Akerstraat 88", "6411 HD", "Heerlen"),
            ("Huize Welten", "Weltertuynstraat 3", "6413 AB", "Heerlen"),
            ("Hoensbroek Kasteelpark", "Kasteelplein 5", "6431 EJ", "Hoensbroek"),
        ],
    ),
    (
        "Heuvelland Verpleging",
        "73730003",
        "",
        ("Grotestraat 2", "6301 CX", "Valkenburg"),
        [
            ("De Geulhof", "Plenkertstraat 20", "6301 GM", "Valkenburg"),
            ("Gulperberg Zorg", "Rijksweg 14", "6271 AE", "Gulpen"),
            ("Huis Vaalserberg", "Maastrichterlaan 60", "6291 EN", "Vaals"),
        ],
    ),
    (
        "Stichting Westelijke Mijnstreek Zorg",
        "73730004",
        "90730004",
        ("Markt 8", "6131 EK", "Sittard"),
        [
            ("Sittard Ciborium", "Rijksweg Zuid 22", "6131 AL", "Sittard"),
            ("Geleen Glanerbrook", "Glanerbrook 4", "6161 NW", "Geleen"),
            ("Stein Maaskant", "Heerweg 30", "6171 BM", "Stein"),
        ],
    ),
    (
        "Parkstad Verpleeghuizen",
        "73730005",
        "",
        ("Hoofdstraat 20", "6461 CV", "Kerkrade"),
        [
            ("Kerkrade Rolduc Zicht", "Heyendallaan 55", "6461 BA", "Kerkrade"),
            ("Brunssum Schutterspark", "Prinses Irenestraat 12", "6441 GA", "Brunssum"),
            ("Landgraaf Op de Kamp", "Hoogveld 8", "6371 AA", "Landgraaf"),
        ],
    ),
    (
        "Zorgcentrum Meerssen",
        "73730006",
        "90730006",
        ("Markt 1", "6231 LR", "Meerssen"),
        [
            ("Meerssen Proosdij", "Proosdijweg 4", "6231 EA", "Meerssen"),
            ("Beek Maasterras", "Stationsstraat 90", "6191 BJ", "Beek"),
        ],
    ),
    (
        "Hospice en Zorg Zuid",
        "73730007",
        "",
        ("Hoofdstraat 40", "6367 AC", "Voerendaal"),
        [
            ("Hospice De Lindenhof", "Lindenlaan 2", "6367 HA", "Voerendaal"),
            ("Hospice Simpelveld", "Irmstraat 21", "6369 VL", "Simpelveld"),
        ],
    ),
    (
        "Zorggroep Eijsden-Margraten",
        "73730008",
        "90730008",
        ("Diepstraat 3", "6245 BJ", "Eijsden"),
        [
            ("Eijsden Breust", "Breusterstraat 35", "6245 EH", "Eijsden"),
            ("Margraten Bemelen", "Rijksweg 55", "6269 AD", "Margraten"),
        ],
    ),
    (
        "Zorgnetwerk Vrieheide",
        "73730009",
        "",
        ("Steenweg 6", "6361 CK", "Nuth"),
        [
            ("Nuth Vrieheide", "Stationstraat 18", "6361 BE", "Nuth"),
            ("Heerlen Meezenbroek", "Schaesbergerweg 120", "6415 AB", "Heerlen"),
            ("Kerkrade Hambos", "Hambos 1", "6466 AA", "Kerkrade"),
        ],
    ),
    (
        "Stichting Born-Elsloo Zorg",
        "73730010",
        "90730010",
        ("Kerkstraat 12", "6121 LD", "Born"),
        [
            ("Born Maasboulevard", "Dorpsstraat 11", "6121 CA", "Born"),
            ("Elsloo Kasteelhof", "Maasberg 2", "6181 GV", "Elsloo"),
        ],
    ),
    (
        "Thuis in Schinveld",
        "73730011",
        "",
        ("Kerkstraat 30", "6451 BA", "Schinveld"),
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
        "90730021",
        ("Markt 20", "6041 EM", "Roermond"),
        [
            ("Roermond Maasnielderbeek", "Maasnielderweg 2", "6041 AA", "Roermond"),
            ("Echt Pepinusbrug", "Bosstraat 10", "6101 AA", "Echt"),
            ("Swalmen Asselt", "Rijksweg 3", "6071 AA", "Swalmen"),
        ],
    ),
]

# (username, first name, last name, role, organisation): "gp", "hospital", "desk", "insurer" or a
# provider's name. Every provider organisation has a planner, so offers and stale-count reminders
# reach somebody (tests/providers/test_seed_demo.py checks it). The README lists these users.
USERS = [
    ("huisarts", "Anna", "de Vries", Role.GP, "gp"),
    ("transfer", "Bram", "Janssen", Role.TRANSFER_NURSE, "hospital"),
    ("planner", "Claire", "Smeets", Role.PROVIDER_STAFF, "Mijnstreek Zorg"),
    ("planner2", "Daan", "Hermans", Role.PROVIDER_STAFF, "Zorggroep Maasheuvel"),
    ("coordinator", "Eva", "Bemelmans", Role.COORDINATOR, "desk"),
    ("beheer", "Frank", "Lemmens", Role.ADMIN, "desk"),
    ("analist", "Gwen", "Peters", Role.ANALYST, "insurer"),
    ("planner-heuvelland", "Hanna", "Kusters", Role.PROVIDER_STAFF, "Heuvelland Verpleging"),
    ("planner-westelijk", "Ivo", "Dassen", Role.PROVIDER_STAFF, "Stichting Westelijke Mijnstreek Zorg"),
    ("planner-parkstad", "Joyce", "Frijns", Role.PROVIDER_STAFF, "Parkstad Verpleeghuizen"),
    ("planner-meerssen", "Koen", "Ramakers", Role.PROVIDER_STAFF, "Zorgcentrum Meerssen"),
    ("planner-hospice", "Lotte", "Vaessen", Role.PROVIDER_STAFF, "Hospice en Zorg Zuid"),
    ("planner-eijsden", "Maarten", "Bosch", Role.PROVIDER_STAFF, "Zorggroep Eijsden-Margraten"),
    ("planner-vrieheide", "Nina", "Houben", Role.PROVIDER_STAFF, "Zorgnetwerk Vrieheide"),
    ("planner-born", "Olaf", "Coumans", Role.PROVIDER_STAFF, "Stichting Born-Elsloo Zorg"),
    ("planner-schinveld", "Petra", "Wetzels", Role.PROVIDER_STAFF, "Thuis in Schinveld"),
    ("planner-midden", "Quinten", "Geurts", Role.PROVIDER_STAFF, "Zorggroep Midden-Limburg"),
]

ELV_PRODUCTS = ["elv_laag", "elv_hoog", "elv_palliatief"]

# The telephone area code of each demo place (043 Maastricht, 045 Heerlen, 046 Sittard, 0475 Roermond).
AREA_CODES = {
    **dict.fromkeys(["Maastricht", "Valkenburg", "Gulpen", "Vaals", "Meerssen", "Eijsden", "Margraten"], "043"),
    **dict.fromkeys(["Sittard", "Geleen", "Stein", "Beek", "Born", "Elsloo"], "046"),
    **dict.fromkeys(["Roermond", "Echt", "Swalmen"], "0475"),
}

REFERRAL_PROCEDURES = {
    "hospice": (
        "Bel voor een opname altijd eerst de hospicecoördinator via het 24/7-nummer. De eigen huisarts "
        "blijft behandelaar; de levensverwachting is korter dan drie maanden. Stuur het medicatieoverzicht "
        "en de laatste brief mee."
    ),
    TreatingPhysician.ELDERLY_CARE_SPECIALIST: (
        "Verwijs via het regioloket. De specialist ouderengeneeskunde van de locatie neemt de behandeling "
        "over bij opname en belt de verwijzer bij vragen terug. Buiten kantoortijd overlegt u via het "
        "24/7-nummer met de dienstdoende verpleegkundige."
    ),
    TreatingPhysician.GP: (
        "Verwijs via het regioloket met het medicatieoverzicht en een recente brief. De eigen huisarts "
        "blijft behandelaar; overleg vooraf of de huisarts visites in de locatie kan doen. Opname buiten "
        "kantoortijd alleen na telefonisch overleg."
    ),
}


def _details_rng(name: str) -> random.Random:
    """Demo figures of one organisation or location that do not disturb the shared sequence (which
    decides the bed counts): the same every run."""
    # Demo figures, not a secret.
    return random.Random(f"elvdesk-demo-{name}")  # nosec B311


def _demo_phone(city: str, rng: random.Random) -> str:
    """A valid Dutch number in the place's own area code, in the stored notation."""
    area = AREA_CODES.get(city, "045")
    subscriber = str(rng.randint(2, 9)) + "".join(str(rng.randint(0, 9)) for _ in range(9 - len(area)))
    return normalise_dutch_phone(area + subscriber)


DEMO_INSURER_UZOVI = "9015"  # CZ, the largest insurer in Zuid-Limburg


def _fill_in(model, lookup: dict, values: dict):
    """Create the row with `values`; of a row that exists, fill in only the fields still empty.
    Returns (row, created)."""
    row, created = model.objects.get_or_create(**lookup, defaults=values)
    if not created:
        missing = [
            name for name, value in values.items() if value not in ("", None) and getattr(row, name) in ("", None)
        ]
        for name in missing:
            setattr(row, name, values[name])
        if missing:
            row.save(update_fields=missing)
    return row, created


def _organisation(region, kind, name, agb=None, **extra):
    """An organisation, found by its AGB code where it has one (unique; survives a renaming)."""
    lookup = {"agb_code": agb} if agb else {"region": region, "name": name}
    organisation, _ = _fill_in(Organisation, lookup, {"region": region, "kind": kind, "name": name, **extra})
    return organisation


def _provider_details(name, ura, head_office) -> dict:
    street, postcode, city = head_office
    return {
        "ura": ura,
        "street": street,
        "postcode": postcode,
        "city": city,
        "phone": _demo_phone(city, _details_rng(name)),
        "email": f"zorgbemiddeling@{slugify(name)}.demo.elvdesk.localhost",
    }


def _location(organisation, name, street, postcode, city, rng, features, insurers):
    area = PostcodeArea.objects.get(pc4=postcode[:4])
    # Drawn from `rng` in this order whether the location exists or not, so the bed counts drawn
    # after them are the same in every run.
    all_day = rng.random() < 0.6
    phone_24_7 = f"045 {rng.randint(500, 599)} {rng.randint(1000, 9999)}"
    specialist_24_7 = rng.random() < 0.5
    chosen_features = rng.sample(features, k=rng.randint(1, 4))
    chosen_insurers = rng.sample(insurers, k=rng.randint(4, len(insurers)))
    details = _details_rng(name)
    hospice = name.startswith("Hospice")
    physician = TreatingPhysician.GP if hospice or details.random() < 0.5 else TreatingPhysician.ELDERLY_CARE_SPECIALIST
    location, created = _fill_in(
        Location,
        {"organisation": organisation, "name": name},
        {
            "street": street,
            "postcode": postcode,
            "city": city,
            "latitude": area.latitude,
            "longitude": area.longitude,
            "phone_24_7": phone_24_7,
            "phone_office": _demo_phone(city, details),
            "treating_physician": physician,
            "referral_procedure": REFERRAL_PROCEDURES["hospice" if hospice else physician],
            "admission_24_7": all_day,
            "admission_from": None if all_day else time(8, 0),
            "admission_until": None if all_day else time(20, 0),
            "specialist_24_7": specialist_24_7,
        },
    )
    if created:
        location.features.set(chosen_features)
        location.contracted_insurers.set(chosen_insurers)
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
    region, created = _fill_in(Region, {"code": code}, {"name": name, "desk_phone": DESK_PHONES[code]})
    if created:
        region.products.set(Product.objects.all())
    organisations = {}  # by the demo's name, whatever the organisation is called now
    for org_name, agb, ura, head_office, locations in providers:
        details = _provider_details(org_name, ura, head_office)
        organisation = _organisation(region, OrganisationKind.PROVIDER, org_name, agb, **details)
        organisations[org_name] = organisation
        for loc_name, street, postcode, city in locations:
            location = _location(organisation, loc_name, street, postcode, city, rng, features, insurers)
            _capacities(location, products, rng, now, hospice=loc_name.startswith("Hospice"))
    return region, organisations, created


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
    region, provider_orgs, region_created = _region_with_providers(
        "zuid-limburg", "Zuid-Limburg", PROVIDERS, rng, products, features, insurers, now
    )
    neighbour, neighbour_orgs, _ = _region_with_providers(
        "midden-limburg", "Midden-Limburg", NEIGHBOUR_PROVIDERS, rng, products, features, insurers, now
    )
    if region_created:
        region.neighbours.add(neighbour)
    organisations = {
        **provider_orgs,
        **neighbour_orgs,
        "gp": _organisation(
            region,
            OrganisationKind.GP_PRACTICE,
            "Huisartsenpraktijk De Linde",
            "01010001",
            street="Lindeplein 3",
            postcode="6417 BC",
            city="Heerlen",
            phone="045 799 1101",
            email="praktijk@huisartsenpraktijk-de-linde.demo.elvdesk.localhost",
        ),
        "hospital": _organisation(
            region,
            OrganisationKind.HOSPITAL,
            "Ziekenhuis Parkstad-Zuid",
            "06010001",
            ura="90010601",
            street="Ziekenhuisweg 1",
            postcode="6419 PC",
            city="Heerlen",
            phone="045 799 2000",
            email="transferpunt@ziekenhuis-parkstad-zuid.demo.elvdesk.localhost",
        ),
        "desk": _organisation(
            region,
            OrganisationKind.DESK,
            "Regioloket ELV Zuid-Limburg",
            None,
            street="Akerstraat 1",
            postcode="6411 GZ",
            city="Heerlen",
            phone=DESK_PHONES["zuid-limburg"],
            email="regioloket@demo.elvdesk.localhost",
        ),
        # The analyst "analist" works for this insurer organisation: it represents DEMO_INSURER_UZOVI
        # (the insurer most demo patients of cockpit/demo.py have), so the monitoring page shows
        # its insured beside the region, and waiting_long escalations of its insured go to the
        # duty-of-care address (zorgplicht).
        "insurer": _organisation(
            region,
            OrganisationKind.INSURER,
            "Zorgverzekeraar Zuid (analyse)",
            None,
            insurer=Insurer.objects.filter(uzovi=DEMO_INSURER_UZOVI).first(),
            duty_of_care_email="zorgplicht@zorgverzekeraar-zuid.demo.elvdesk.localhost",
        ),
    }
    users = []
    password = None  # hashed once, for every user created now: hashing is slow on purpose
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
            password = password or make_password(DEMO_PASSWORD)
            user.password = password
            user.save(update_fields=["password"])
        if two_factor_required(user):
            _demo_authenticator(user)
        users.append(user)
    return {"region": region, "users": users, "locations": Location.objects.filter(organisation__region=region).count()}
