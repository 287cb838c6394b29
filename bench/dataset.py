"""A national data set for the benchmark, generated fast.

At scale 1: 31 regions (contiguous ranges of the real PC4 table, so distances are real), ~1,500
locations, ~4,500 bed counts, ~3,000 users and three years of referrals (~100,000) with their
timeline events, offers, stays, notifications, bed-count history and access log.

Every region is generated from its own seed, so a region looks exactly the same whatever the
scale: scale 1/20 generates the focus region (the one holding PC4 6411, Heerlen) and its
neighbour with the same content as in the full set, which is what the scaling check compares.
Below one region (the test's scale 0.001) the one region is thinned instead.

Rows go in with PostgreSQL's COPY (psycopg) and explicit ids; on other databases (the SQLite
test run) with bulk_create. The result obeys the same rules as data made through the services:
`0 <= held <= available <= total`, `held` equals the open offers of each bed count, a bed
count's booked and occupied beds fit in its total, at most one live referral per patient.
"""

from __future__ import annotations

import json
import random
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from datetime import time as dtime

from django.contrib.auth.hashers import make_password
from django.core.management.color import no_style
from django.db import connection, models, transaction
from django.utils import timezone
from django_otp.plugins.otp_totp.models import TOTPDevice

from accounts.models import Role, User
from audit.models import AccessLog
from beds.models import Capacity, CapacityChange
from providers.models import Feature, Insurer, Location, Organisation, OrganisationKind, PostcodeArea, Product, Region
from referrals.models import Notification, Offer, Patient, Referral, ReferralEvent, State, Stay

REGION_COUNT = 31
LOCATIONS_PER_REGION = 48  # 31 × 48 ≈ 1,500
REFERRALS_PER_REGION = 3226  # 31 × 3,226 ≈ 100,000
HISTORY_DAYS = 3 * 365
CHANGES_PER_CAPACITY = 40  # a sample of each bed count's history
FOCUS_PC4 = "6411"
ELV_PRODUCTS = ("elv_laag", "elv_hoog", "elv_palliatief")
REGION_CODE_PREFIX = "bench-"

FIRST_NAMES = (
    "Anna Bram Claire Daan Eva Frank Gwen Hans Ingrid Jan Karin Lucas Maria Noor Otto Petra Ruud Sanne Tom "
    "Ursula Vera Wim Yvonne Zeger Els Gert Henk Joke Kees Lies Mien Piet Riet Sjaak Truus Wies Bep Cor Dirk Fien"
).split()
LAST_NAMES = (
    "de Vries|Jansen|Bakker|Visser|Smit|Meijer|de Boer|Mulder|de Groot|Bos|Vos|Peters|Hendriks|van Leeuwen|Dekker|"
    "Brouwer|de Wit|Dijkstra|Smeets|Janssen|Hermans|Lemmens|Bemelmans|Willems|Maas|Schreurs|Vermeulen|Claessens|"
    "Kuipers|van Dijk|Goossens|Wouters|Coenen|Houben|Frissen|Ramakers|Vliegen|Pluijmen|Debets|Ummels"
).split("|")
TOWNS = (
    "Heerlen Maastricht Sittard Venlo Roermond Eindhoven Tilburg Breda Utrecht Zwolle Deventer Arnhem Nijmegen "
    "Leiden Delft Gouda Alkmaar Hoorn Haarlem Assen Emmen Groningen Leeuwarden Sneek Middelburg Goes Almere Lelystad "
    "Amersfoort Apeldoorn Enschede Hengelo Oss Helmond Weert Kerkrade Zeist Hilversum Dordrecht Schiedam"
).split()
STREETS = "Dorpsstraat Kerkstraat Molenweg Schoolstraat Stationsweg Julianastraat Beatrixlaan Parklaan Rijksweg".split()
LETTERS = "ABCDEGHJKLMNPRSTVWXZ"

PASSWORD_PLACEHOLDER = "bench-users-log-in-through-prepared-sessions"  # nosec B105 (bench data only)


# --- writing rows ----------------------------------------------------------------------------


class Table:
    """Rows of one model, buffered; written with COPY (PostgreSQL) or bulk_create."""

    def __init__(self, writer: Writer, model: type[models.Model], fields: tuple[str, ...]):
        self.writer, self.model, self.fields = writer, model, fields
        concrete = [f for f in model._meta.concrete_fields]
        given = set(fields)
        self.rest = [f for f in concrete if f.attname not in given and not (f.primary_key and f.attname == "id")]
        self.rest_values = tuple(f.get_default() for f in self.rest)
        self.all_fields = [*fields, *(f.attname for f in self.rest)]
        self.columns = [model._meta.get_field(name).column for name in self.all_fields]
        json_fields = {f.attname for f in concrete if isinstance(f, models.JSONField)}
        self.json_positions = [i for i, name in enumerate(self.all_fields) if name in json_fields]
        self.rows: list[tuple] = []
        self.count = 0

    def add(self, *values) -> None:
        self.rows.append(values)
        if len(self.rows) >= 50_000:
            self.flush()

    def flush(self) -> None:
        if not self.rows:
            return
        rows, self.rows = self.rows, []
        self.count += len(rows)
        rest = self.rest_values
        if self.writer.postgres:
            from psycopg.types.json import Jsonb

            table = connection.ops.quote_name(self.model._meta.db_table)
            columns = ", ".join(connection.ops.quote_name(c) for c in self.columns)
            with connection.cursor() as cursor:
                with cursor.cursor.copy(f"COPY {table} ({columns}) FROM STDIN") as copy:  # noqa: S608
                    positions = self.json_positions
                    for row in rows:
                        full = row + rest
                        if positions:
                            full = list(full)
                            for i in positions:
                                full[i] = Jsonb(full[i])
                        copy.write_row(full)
        else:
            names = self.all_fields
            self.model.objects.bulk_create(
                [self.model(**dict(zip(names, row + rest, strict=True))) for row in rows], batch_size=500
            )


class Writer:
    def __init__(self):
        self.postgres = connection.vendor == "postgresql"
        self.tables: dict[str, Table] = {}
        self.order: list[str] = []

    def table(self, key: str, model, fields: tuple[str, ...]) -> Table:
        if key not in self.tables:
            self.tables[key] = Table(self, model, fields)
            self.order.append(key)
        return self.tables[key]

    def flush(self) -> None:
        for key in self.order:
            self.tables[key].flush()

    def counts(self) -> dict[str, int]:
        totals: Counter = Counter()
        for key in self.order:
            totals[key] += self.tables[key].count
        return dict(totals)

    def reset_sequences(self) -> None:
        models_ = {t.model for t in self.tables.values()}
        statements = connection.ops.sequence_reset_sql(no_style(), list(models_))
        with connection.cursor() as cursor:
            for sql in statements:
                cursor.execute(sql)


class Ids:
    """Explicit primary keys, continuing after what the tables already hold."""

    def __init__(self):
        self.next: dict[type, int] = {}

    def __call__(self, model) -> int:
        if model not in self.next:
            self.next[model] = (model.objects.aggregate(m=models.Max("pk"))["m"] or 0) + 1
        value = self.next[model]
        self.next[model] = value + 1
        return value


# --- the plan --------------------------------------------------------------------------------


@dataclass
class Plan:
    scale: float
    region_indexes: list[int]
    density: float  # 1.0, or less when even one region is too much (tests)


def pc4_chunks() -> list[list[tuple[str, float, float]]]:
    """The real PC4 table in 31 contiguous ranges (Dutch postcodes run roughly by geography)."""
    areas = list(PostcodeArea.objects.order_by("pc4").values_list("pc4", "latitude", "longitude"))
    if len(areas) < REGION_COUNT:
        raise RuntimeError("The PC4 table is empty: run the migrations first (providers 0002 loads it).")
    size = len(areas) / REGION_COUNT
    return [areas[round(i * size) : round((i + 1) * size)] for i in range(REGION_COUNT)]


def focus_index(chunks) -> int:
    for index, chunk in enumerate(chunks):
        if chunk[0][0] <= FOCUS_PC4 <= chunk[-1][0]:
            return index
    raise RuntimeError(f"PC4 {FOCUS_PC4} is not in the PC4 table.")


def make_plan(scale: float, chunks) -> Plan:
    wanted = REGION_COUNT * scale
    count = max(1, min(REGION_COUNT, round(wanted)))
    density = min(1.0, wanted) if count == 1 else 1.0
    focus = focus_index(chunks)
    # The focus region first, then its neighbours outwards, so every scale shares the focus region.
    order = [focus]
    step = 1
    while len(order) < REGION_COUNT:
        for candidate in (focus + step, focus - step):
            if 0 <= candidate < REGION_COUNT and len(order) < REGION_COUNT:
                order.append(candidate)
        step += 1
    return Plan(scale=scale, region_indexes=sorted(order[:count]), density=density)


# --- helpers ---------------------------------------------------------------------------------


def _bsn(n: int) -> str | None:
    """A BSN that passes the eleven test, from a running number (None when n has no check digit)."""
    digits = [int(c) for c in f"{n:08d}"]
    total = sum(d * w for d, w in zip(digits, range(9, 1, -1), strict=True))
    check = total % 11
    if check == 10:
        return None
    return f"{n:08d}{check}"


def _postcode(rng: random.Random, pc4: str) -> str:
    return f"{pc4} {rng.choice(LETTERS)}{rng.choice(LETTERS)}"


def _name(rng: random.Random) -> tuple[str, str]:
    return rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)


@dataclass
class RegionData:
    index: int
    region_id: int
    rng: random.Random
    areas: list[tuple[str, float, float]]
    gps: list[tuple[int, int]] = field(default_factory=list)  # (user id, organisation id)
    nurses: list[tuple[int, int]] = field(default_factory=list)
    coordinators: list[int] = field(default_factory=list)
    planners: dict[int, list[int]] = field(default_factory=dict)  # organisation id -> user ids
    capacities: dict[int, list[dict]] = field(default_factory=dict)  # product id -> capacity dicts
    all_capacities: list[dict] = field(default_factory=list)
    users: dict[int, tuple[str, str, int]] = field(default_factory=dict)  # id -> (username, role, org)
    org_names: dict[int, str] = field(default_factory=dict)


class Generator:
    def __init__(self, *, seed: int, now: datetime, log=print):
        self.seed, self.now, self.log = seed, now, log
        self.w = Writer()
        self.ids = Ids()
        self.products = {p.code: p.pk for p in Product.objects.all()}
        self.features = list(Feature.objects.values_list("pk", flat=True))
        self.insurers = list(Insurer.objects.values_list("pk", flat=True))
        self.password = make_password(PASSWORD_PLACEHOLDER)
        self.agb = 10_000_000
        self.bsn_counter = 10_000_000
        self._tables()

    def _tables(self) -> None:
        w = self.w
        self.t_region = w.table("regions", Region, ("id", "code", "name"))
        self.t_region_products = w.table("region products", Region.products.through, ("region_id", "product_id"))
        self.t_neighbours = w.table("region neighbours", Region.neighbours.through, ("from_region_id", "to_region_id"))
        self.t_org = w.table(
            "organisations", Organisation, ("id", "region_id", "kind", "name", "agb_code", "email", "phone")
        )
        self.t_user = w.table(
            "users",
            User,
            (
                "id",
                "password",
                "username",
                "first_name",
                "last_name",
                "email",
                "date_joined",
                "organisation_id",
                "role",
                "is_superuser",
                "is_staff",
                "is_active",
            ),
        )
        self.t_device = w.table(
            "authenticators", TOTPDevice, ("user_id", "name", "confirmed", "key", "created_at", "last_used_at")
        )
        self.t_location = w.table(
            "locations",
            Location,
            (
                "id",
                "organisation_id",
                "name",
                "street",
                "postcode",
                "city",
                "latitude",
                "longitude",
                "phone_24_7",
                "admission_24_7",
                "admission_from",
                "admission_until",
                "specialist_24_7",
                "is_active",
            ),
        )
        self.t_loc_features = w.table("location features", Location.features.through, ("location_id", "feature_id"))
        self.t_loc_insurers = w.table(
            "location insurers", Location.contracted_insurers.through, ("location_id", "insurer_id")
        )
        self.t_capacity = w.table(
            "bed counts",
            Capacity,
            (
                "id",
                "location_id",
                "product_id",
                "total",
                "available",
                "held",
                "expected_24h",
                "expected_72h",
                "confirmed_at",
                "confirmed_by_id",
                "version",
            ),
        )
        self.t_change = w.table(
            "bed count changes",
            CapacityChange,
            ("capacity_id", "changed_at", "changed_by_id", "source", "before", "after"),
        )
        self.t_patient = w.table(
            "patients",
            Patient,
            ("id", "bsn", "name", "date_of_birth", "sex", "postcode", "insurer_id", "pseudonymised_at"),
        )
        self.t_referral = w.table(
            "referrals",
            Referral,
            (
                "id",
                "patient_id",
                "region_id",
                "organisation_id",
                "referred_by_id",
                "origin",
                "product_id",
                "urgency",
                "planned_date",
                "wakeful_eye",
                "unplannable_nursing",
                "adl_taken_over",
                "life_expectancy_short",
                "medical_reason",
                "consent",
                "state",
                "redirect_target",
                "close_reason",
                "created_at",
                "state_changed_at",
            ),
        )
        self.t_care_needs = w.table("referral care needs", Referral.care_needs.through, ("referral_id", "feature_id"))
        self.t_event = w.table(
            "referral events", ReferralEvent, ("referral_id", "from_state", "to_state", "actor_id", "at", "reason")
        )
        self.t_offer = w.table(
            "offers",
            Offer,
            (
                "id",
                "referral_id",
                "capacity_id",
                "location_id",
                "product_id",
                "created_by_id",
                "created_at",
                "expires_at",
                "state",
                "answered_at",
                "answered_by_id",
                "decline_reason",
                "admission_at",
            ),
        )
        self.t_stay = w.table(
            "stays",
            Stay,
            ("referral_id", "location_id", "capacity_id", "admitted_at", "discharged_at", "discharge_destination"),
        )
        self.t_notification = w.table(
            "notifications", Notification, ("user_id", "referral_id", "kind", "created_at", "read_at", "sent_at")
        )
        self.t_access = w.table(
            "access log",
            AccessLog,
            (
                "at",
                "user_id",
                "user_name",
                "role",
                "organisation_id",
                "organisation_name",
                "action",
                "channel",
                "patient_id",
                "referral_id",
                "outcome",
                "source_address",
                "path",
            ),
        )

    # --- structure ---------------------------------------------------------------------------

    def _organisation(self, rd: RegionData, kind: str, name: str, *, agb: bool) -> int:
        org_id = self.ids(Organisation)
        code = None
        if agb:
            self.agb += 1
            code = f"{self.agb:08d}"
        slug = f"org{org_id}"
        self.t_org.add(org_id, rd.region_id, kind, name, code, f"info@{slug}.bench.localhost", "045 555 0000")
        rd.org_names[org_id] = name
        return org_id

    def _user(self, rd: RegionData, role: str, org_id: int, label: str) -> int:
        rng = rd.rng
        user_id = self.ids(User)
        first, last = _name(rng)
        username = f"{label}-{rd.index:02d}-{user_id}"
        joined = self.now - timedelta(days=rng.randint(30, HISTORY_DAYS))
        self.t_user.add(
            user_id,
            self.password,
            username,
            first,
            last,
            f"{username}@bench.localhost",
            joined,
            org_id,
            role,
            False,
            False,
            True,
        )
        if role != Role.ANALYST:
            self.t_device.add(user_id, "authenticator", True, f"{rng.getrandbits(160):040x}", joined, None)
        rd.users[user_id] = (username, role, org_id)
        return user_id

    def region(self, index: int, areas, density: float) -> RegionData:
        rng = random.Random(f"{self.seed}-{index}")  # nosec B311: bench data, not secrets
        rd = RegionData(index=index, region_id=self.ids(Region), rng=rng, areas=areas)
        first, last = areas[0][0], areas[-1][0]
        self.t_region.add(rd.region_id, f"{REGION_CODE_PREFIX}{index:02d}", f"Regio {first}–{last}")
        for product_id in self.products.values():
            self.t_region_products.add(rd.region_id, product_id)
        scaled = lambda n, low=1: max(low, round(n * density))  # noqa: E731

        desk = self._organisation(rd, OrganisationKind.DESK, f"Regioloket ELV {first}–{last}", agb=False)
        rd.coordinators = [self._user(rd, Role.COORDINATOR, desk, "coordinator") for _ in range(scaled(3))]
        self._user(rd, Role.ADMIN, desk, "admin")
        insurer_org = self._organisation(rd, OrganisationKind.INSURER, f"Zorgverzekeraar regio {index}", agb=False)
        self._user(rd, Role.ANALYST, insurer_org, "analyst")
        for n in range(scaled(50)):
            practice = self._organisation(rd, OrganisationKind.GP_PRACTICE, f"Huisartsenpraktijk {n + 1}", agb=True)
            for _ in range(rng.choice((1, 1, 2, 2, 2))):
                rd.gps.append((self._user(rd, Role.GP, practice, "gp"), practice))
        for n in range(scaled(3)):
            hospital = self._organisation(rd, OrganisationKind.HOSPITAL, f"Ziekenhuis {areas[0][0]}-{n + 1}", agb=True)
            for _ in range(3):
                rd.nurses.append((self._user(rd, Role.TRANSFER_NURSE, hospital, "transfer"), hospital))

        target = scaled(rng.randint(LOCATIONS_PER_REGION - 8, LOCATIONS_PER_REGION + 8), low=3)
        made = 0
        provider_no = 0
        while made < target:
            provider_no += 1
            org_id = self._organisation(rd, OrganisationKind.PROVIDER, f"Zorggroep {first}-{provider_no}", agb=True)
            rd.planners[org_id] = [
                self._user(rd, Role.PROVIDER_STAFF, org_id, "planner") for _ in range(rng.choice((1, 1, 2)))
            ]
            for _ in range(min(target - made, rng.randint(2, 6))):
                self._location(rd, org_id, made)
                made += 1
        return rd

    def _location(self, rd: RegionData, org_id: int, number: int) -> None:
        rng = rd.rng
        pc4, lat, lon = rng.choice(rd.areas)
        location_id = self.ids(Location)
        hospice = rng.random() < 0.05
        all_day = rng.random() < 0.6
        town = rng.choice(TOWNS)
        name = f"{'Hospice' if hospice else 'Zorgcentrum'} {town} {number + 1}"
        self.t_location.add(
            location_id,
            org_id,
            name,
            f"{rng.choice(STREETS)} {rng.randint(1, 200)}",
            _postcode(rng, pc4),
            town,
            lat,
            lon,
            f"0{rng.randint(10, 99)} {rng.randint(100, 999)} {rng.randint(1000, 9999)}",
            all_day,
            None if all_day else dtime(8, 0),
            None if all_day else dtime(20, 0),
            rng.random() < 0.5,
            True,
        )
        for feature in rng.sample(self.features, k=rng.randint(1, 4)):
            self.t_loc_features.add(location_id, feature)
        for insurer in rng.sample(self.insurers, k=rng.randint(min(4, len(self.insurers)), len(self.insurers))):
            self.t_loc_insurers.add(location_id, insurer)
        if hospice:
            codes = ["elv_palliatief"]
        else:
            roll = rng.random()
            codes = list(ELV_PRODUCTS) if roll < 0.88 else ["elv_laag", "elv_hoog"]
            if rng.random() < 0.15 and "grz" in self.products:
                codes.append("grz")
        for code in codes:
            capacity = {
                "id": self.ids(Capacity),
                "location_id": location_id,
                "product_id": self.products[code],
                "org_id": org_id,
                "all_day": all_day,
                "held": 0,
                "booked": 0,  # accepted, not yet admitted
                "occupied": 0,  # admitted, not yet discharged
            }
            rd.capacities.setdefault(capacity["product_id"], []).append(capacity)
            rd.all_capacities.append(capacity)

    # --- history -----------------------------------------------------------------------------

    def referrals(self, rd: RegionData, density: float) -> None:
        rng = rd.rng
        now = self.now
        count = max(3, round(REFERRALS_PER_REGION * density * rng.uniform(0.85, 1.15)))
        start = now - timedelta(days=HISTORY_DAYS)
        span = (now - start).total_seconds()
        moments = sorted(start + timedelta(seconds=rng.random() * span) for _ in range(count))
        product_weights = [
            (self.products["elv_laag"], 45),
            (self.products["elv_hoog"], 40),
            (self.products["elv_palliatief"], 15),
        ]
        product_ids = [p for p, _ in product_weights]
        weights = [w for _, w in product_weights]
        for created in moments:
            self._referral(rd, created, rng.choices(product_ids, weights)[0])

    def _patient(self, rd: RegionData, closed_long_ago: bool, when: datetime) -> int:
        rng = rd.rng
        patient_id = self.ids(Patient)
        bsn = None
        while bsn is None:
            self.bsn_counter += 1
            bsn = _bsn(self.bsn_counter)
        first, last = _name(rng)
        if closed_long_ago:
            self.t_patient.add(patient_id, None, "", None, rng.choice("FMX"), "", None, when)
        else:
            pc4 = rng.choice(rd.areas)[0]
            born = date(rng.randint(1922, 1962), rng.randint(1, 12), rng.randint(1, 28))
            self.t_patient.add(
                patient_id,
                bsn,
                f"{first} {last}",
                born,
                rng.choice("FFM"),
                _postcode(rng, pc4),
                rng.choice(self.insurers) if self.insurers else None,
                None,
            )
        return patient_id

    def _referral(self, rd: RegionData, created: datetime, product_id: int) -> None:
        rng = rd.rng
        now = self.now
        from_home = rng.random() < 0.6
        referrer, org = rng.choice(rd.gps if from_home or not rd.nurses else rd.nurses)
        coordinator = rng.choice(rd.coordinators)
        events: list[tuple[str, str, int | None, datetime, str]] = []
        offers: list[dict] = []
        stay = None
        t = created

        def step(source, target, actor, at, reason=""):
            events.append((source, target, actor, at, reason))

        step(State.DRAFT, State.SUBMITTED, referrer, t)
        close = ""
        redirect = ""
        roll = rng.random()
        t += timedelta(minutes=rng.uniform(2, 45))
        if roll < 0.04:
            step(State.SUBMITTED, State.CANCELLED, referrer, t, "Patient herstelt thuis.")
            close = "Patient herstelt thuis."
        else:
            step(State.SUBMITTED, State.TRIAGE, coordinator, t)
            t += timedelta(minutes=rng.uniform(1, 30))
            if roll < 0.12:
                redirect = rng.choice(["hospital", "wlz_crisis", "respijtzorg", "grz"])
                close = "Past beter bij een andere zorgvorm."
                step(State.TRIAGE, State.REDIRECTED, coordinator, t, close)
            else:
                step(State.TRIAGE, State.SEARCHING, coordinator, t)
                accepted = None
                for attempt in range(3):
                    t += timedelta(minutes=min(rng.expovariate(1 / 120), 72 * 60))
                    capacity = rng.choice(rd.capacities.get(product_id) or rd.all_capacities)
                    offer = {
                        "id": self.ids(Offer),
                        "capacity": capacity,
                        "created_at": t,
                        "expires_at": t + timedelta(minutes=30),
                        "state": "open",
                        "answered_at": None,
                        "answered_by": None,
                        "decline_reason": "",
                        "admission_at": None,
                    }
                    offers.append(offer)
                    step(State.SEARCHING, State.OFFERED, coordinator, t)
                    answer = t + timedelta(minutes=rng.uniform(3, 40))
                    planner = rng.choice(rd.planners[capacity["org_id"]])
                    outcome = rng.random()
                    if outcome < 0.18 and attempt < 2:
                        offer.update(state="declined", answered_at=answer, answered_by=planner, decline_reason="no_bed")
                        step(State.OFFERED, State.SEARCHING, planner, answer, "Geen bed meer")
                        t = answer
                    elif outcome < 0.22 and attempt < 2:
                        offer.update(state="expired", answered_at=offer["expires_at"])
                        step(State.OFFERED, State.SEARCHING, None, offer["expires_at"], "Niet op tijd beantwoord.")
                        t = offer["expires_at"]
                    else:
                        admission = answer + timedelta(hours=rng.uniform(1, 20))
                        offer.update(state="accepted", answered_at=answer, answered_by=planner, admission_at=admission)
                        step(State.OFFERED, State.ACCEPTED, planner, answer)
                        accepted = (offer, planner, admission)
                        break
                if accepted is not None:
                    offer, planner, admitted = accepted
                    step(State.ACCEPTED, State.ADMITTED, planner, admitted)
                    length = min(90.0, max(2.0, rng.lognormvariate(3.0, 0.5)))  # median 20 days
                    discharged = admitted + timedelta(days=length)
                    step(State.ADMITTED, State.DISCHARGED, planner, discharged)
                    stay = {"capacity": offer["capacity"], "admitted_at": admitted, "discharged_at": discharged}

        # Cut the story at "now": what has not happened yet is not there.
        events = [e for e in events if e[3] <= now]
        offers = [o for o in offers if o["created_at"] <= now]
        for offer in offers:
            if offer["answered_at"] is not None and offer["answered_at"] > now:
                offer.update(state="open", answered_at=None, answered_by=None, decline_reason="", admission_at=None)
        state = events[-1][1]
        if stay is not None:
            if stay["admitted_at"] > now:
                stay = None
            elif stay["discharged_at"] > now:
                stay["discharged_at"] = None
        # An open offer holds a bed, an accepted one books it; refuse (drop) the rare offer that
        # would not fit, and a stay occupies a bed until discharge.
        open_offer = next((o for o in offers if o["state"] == "open"), None)
        if open_offer is not None:
            open_offer["capacity"]["held"] += 1
            if open_offer["expires_at"] <= now:
                # Expiry runs every minute: long-expired open offers do not exist.
                open_offer["expires_at"] = now + timedelta(minutes=rd.rng.uniform(1, 29))
        if state == State.ACCEPTED:
            next(o for o in offers if o["state"] == "accepted")["capacity"]["booked"] += 1
        if stay is not None and stay["discharged_at"] is None:
            stay["capacity"]["occupied"] += 1

        closed = state in (State.DISCHARGED, State.CANCELLED, State.REDIRECTED)
        last_at = events[-1][3]
        pseudonymised = closed and last_at < now - timedelta(days=90)
        patient_id = self._patient(rd, pseudonymised, last_at + timedelta(days=90))
        referral_id = self.ids(Referral)
        urgency = rng.choice(("today", "today", "within_24h", "planned"))
        self.t_referral.add(
            referral_id,
            patient_id,
            rd.region_id,
            org,
            referrer,
            "home" if from_home else rng.choice(("ward", "emergency")),
            product_id,
            urgency,
            (created + timedelta(days=rng.randint(1, 5))).date() if urgency == "planned" else None,
            rng.random() < 0.7,
            rng.random() < 0.6,
            rng.random() < 0.5,
            rng.random() < 0.15,
            "Tijdelijk niet thuis te verzorgen na een val; mobiliteit sterk verminderd.",
            True,
            state,
            redirect,
            close,
            created,
            last_at,
        )
        if rng.random() < 0.4:
            for feature in rng.sample(self.features, k=rng.randint(1, 2)):
                self.t_care_needs.add(referral_id, feature)
        for source, target, actor, at, reason in events:
            self.t_event.add(referral_id, source, target, actor, at, reason)
        for offer in offers:
            capacity = offer["capacity"]
            self.t_offer.add(
                offer["id"],
                referral_id,
                capacity["id"],
                capacity["location_id"],
                capacity["product_id"],
                coordinator,
                offer["created_at"],
                offer["expires_at"],
                offer["state"],
                offer["answered_at"],
                offer["answered_by"],
                offer["decline_reason"],
                offer["admission_at"],
            )
        if stay is not None:
            capacity = stay["capacity"]
            self.t_stay.add(
                referral_id,
                capacity["location_id"],
                capacity["id"],
                stay["admitted_at"],
                stay["discharged_at"],
                rng.choice(("home", "home_district_nursing", "wlz_institution", "deceased"))
                if stay["discharged_at"]
                else "",
            )
        # In-app notifications (read and mailed unless very recent) and the access log.
        seen = created + timedelta(minutes=5)
        recent = now - timedelta(hours=12)
        self.t_notification.add(
            coordinator, referral_id, "referral_submitted", created, seen if created < recent else None, seen
        )
        for offer in offers:
            planner = rng.choice(rd.planners[offer["capacity"]["org_id"]])
            at = offer["created_at"]
            self.t_notification.add(planner, referral_id, "offer_received", at, at if at < recent else None, at)
        self._log(rd, referrer, "create", created, patient_id, referral_id, "/referrals/new/")
        self._log(rd, coordinator, "read", seen, patient_id, referral_id, f"/referrals/{referral_id}/")
        for offer in offers:
            if offer["answered_by"]:
                path = f"/referrals/{referral_id}/"
                self._log(rd, offer["answered_by"], "read", offer["answered_at"], patient_id, referral_id, path)

    def _log(self, rd: RegionData, user_id: int, action: str, at, patient_id: int, referral_id: int, path: str):
        username, role, org_id = rd.users[user_id]
        self.t_access.add(
            at,
            user_id,
            username,
            role,
            org_id,
            rd.org_names[org_id],
            action,
            "page",
            patient_id,
            referral_id,
            "ok",
            "10.0.0.1",
            path,
        )

    def capacities(self, rd: RegionData) -> None:
        """Bed counts that agree with the history: held = open offers; booked and occupied beds
        fit in the total; the rest is free or used by patients from outside the desk."""
        rng = rd.rng
        now = self.now
        for capacity in rd.all_capacities:
            used = capacity["booked"] + capacity["occupied"]
            total = max(rng.randint(4, 18), used + capacity["held"] + rng.randint(0, 2))
            room = total - used
            available = rng.randint(capacity["held"], max(capacity["held"], min(room, capacity["held"] + 4)))
            stale = rng.random() < 0.2
            confirmed = now - (
                timedelta(hours=rng.uniform(13, 72)) if stale else timedelta(minutes=rng.uniform(5, 600))
            )
            planner = rng.choice(rd.planners[capacity["org_id"]])
            self.t_capacity.add(
                capacity["id"],
                capacity["location_id"],
                capacity["product_id"],
                total,
                available,
                capacity["held"],
                rng.randint(0, 2),
                rng.randint(0, 3),
                confirmed,
                planner,
                CHANGES_PER_CAPACITY + 1,
            )
            moments = sorted(now - timedelta(days=rng.random() * HISTORY_DAYS) for _ in range(CHANGES_PER_CAPACITY))
            for moment in moments:
                free = rng.randint(0, total)
                before = {"total": total, "available": free, "held": 0, "expected_24h": 0, "expected_72h": 1}
                after = {**before, "available": max(0, free - 1)}
                self.t_change.add(capacity["id"], moment, planner, "web", before, after)

    def neighbours(self, region_ids: dict[int, int]) -> None:
        for index, region_id in region_ids.items():
            for other in (index - 1, index + 1):
                if other in region_ids:
                    self.t_neighbours.add(region_id, region_ids[other])


def generate(*, scale: float = 1.0, seed: int = 2026, now: datetime | None = None, log=print) -> dict:
    """Generate the data set into the current (migrated, empty of bench data) database."""
    started = time.monotonic()
    now = now or timezone.now().astimezone(UTC)
    chunks = pc4_chunks()
    plan = make_plan(scale, chunks)
    gen = Generator(seed=seed, now=now, log=log)
    region_ids: dict[int, int] = {}
    with transaction.atomic():
        # Checking foreign keys row by row costs more than the COPY itself: drop them during the
        # load and add them back afterwards, which validates each one with a single join.
        foreign_keys = _drop_foreign_keys(gen.w) if gen.w.postgres else []
        indexes = _drop_plain_indexes(gen.w) if gen.w.postgres else []
        for index in plan.region_indexes:
            rd = gen.region(index, chunks[index], plan.density)
            region_ids[index] = rd.region_id
            gen.referrals(rd, plan.density)
            gen.capacities(rd)
            gen.w.flush()
        gen.neighbours(region_ids)
        gen.w.flush()
        if gen.w.postgres:
            gen.w.reset_sequences()
            _create_indexes(indexes)
            _add_foreign_keys(foreign_keys)
    with connection.cursor() as cursor:
        if gen.w.postgres:
            cursor.execute("ANALYZE")
    focus = focus_index(chunks)
    return {
        "scale": scale,
        "seed": seed,
        "regions": len(plan.region_indexes),
        "focus_region_code": f"{REGION_CODE_PREFIX}{focus:02d}",
        "rows": gen.w.counts(),
        "seconds": round(time.monotonic() - started, 1),
        "generated_at": now.isoformat(),
    }


BIG_MODELS = (ReferralEvent, AccessLog, Notification, CapacityChange, Offer, Stay, Referral, Patient)


def _drop_foreign_keys(writer: Writer) -> list[tuple[str, str, str]]:
    tables = sorted({table.model._meta.db_table for table in writer.tables.values()})
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT conrelid::regclass::text, conname, pg_get_constraintdef(oid) FROM pg_constraint "
            "WHERE contype = 'f' AND conrelid::regclass::text = ANY(%s)",
            [tables],
        )
        keys = cursor.fetchall()
        for table, name, _definition in keys:
            cursor.execute(f'ALTER TABLE {table} DROP CONSTRAINT "{name}"')
    return keys


def _drop_plain_indexes(writer: Writer) -> list[str]:
    """Secondary indexes (not primary keys or unique constraints) of the big tables: built once
    after the load instead of row by row."""
    tables = sorted({t.model._meta.db_table for t in writer.tables.values() if t.model in BIG_MODELS})
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT i.indexrelid::regclass::text, pg_get_indexdef(i.indexrelid) FROM pg_index i "
            "WHERE i.indrelid::regclass::text = ANY(%s) AND NOT i.indisprimary AND NOT i.indisunique",
            [tables],
        )
        indexes = cursor.fetchall()
        for name, _definition in indexes:
            cursor.execute(f"DROP INDEX {name}")
    return [definition for _name, definition in indexes]


def _create_indexes(definitions: list[str]) -> None:
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL maintenance_work_mem = '256MB'")
        for definition in definitions:
            cursor.execute(definition)


def _add_foreign_keys(keys: list[tuple[str, str, str]]) -> None:
    with connection.cursor() as cursor:
        for table, name, definition in keys:
            cursor.execute(f'ALTER TABLE {table} ADD CONSTRAINT "{name}" {definition}')


def check_consistency() -> dict:
    """The rules the data must obey, as counts of violations (all 0 when consistent)."""
    open_held = Offer.objects.filter(state="open").values("capacity_id").annotate(n=models.Count("id")).order_by()
    held_by_capacity = defaultdict(int, {row["capacity_id"]: row["n"] for row in open_held})
    wrong_held = sum(1 for c in Capacity.objects.only("id", "held") if c.held != held_by_capacity[c.id])
    return {
        "counts_out_of_bounds": Capacity.objects.exclude(
            held__gte=0, held__lte=models.F("available"), available__lte=models.F("total")
        ).count(),
        "held_not_open_offers": wrong_held,
        "two_open_offers": Offer.objects.filter(state="open")
        .values("referral_id")
        .annotate(n=models.Count("id"))
        .filter(n__gt=1)
        .count(),
        "two_live_referrals": Referral.objects.filter(
            state__in=[State.SUBMITTED, State.TRIAGE, State.SEARCHING, State.OFFERED, State.ACCEPTED, State.ADMITTED]
        )
        .values("patient_id")
        .annotate(n=models.Count("id"))
        .filter(n__gt=1)
        .count(),
        "stays_without_acceptance": Stay.objects.exclude(referral__offers__state="accepted").count(),
    }


def dumps(summary: dict) -> str:
    return json.dumps(summary, indent=2, default=str)
