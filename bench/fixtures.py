"""The Django side of the benchmark: signed-in sessions and tokens for the virtual users, the
referrals and beds each scenario works on, the booking step's set-up and check, and the
in-process pass that counts SQL queries per request.

`python -m bench.fixtures COMMAND [ARGS]` (with the same environment as the server, so sessions
are signed with the same SECRET_KEY) prints JSON on stdout. Commands: generate, prepare,
submit-setup, booking-setup, booking-check, coherence (two app servers, bench/cluster.py), queries.
"""

import argparse
import json
import os
import sys
import time
from datetime import datetime, timedelta
from importlib import import_module

import django

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "elvdesk.settings")
django.setup()

from django.conf import settings  # noqa: E402
from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY  # noqa: E402
from django.db import connection, transaction  # noqa: E402
from django.db.models import Count, F, Q  # noqa: E402
from django.test import Client  # noqa: E402
from django.test.utils import CaptureQueriesContext  # noqa: E402
from django.utils import timezone  # noqa: E402
from django.utils.crypto import get_random_string  # noqa: E402
from django_otp import DEVICE_ID_SESSION_KEY  # noqa: E402
from django_otp.plugins.otp_totp.models import TOTPDevice  # noqa: E402
from rest_framework.authtoken.models import Token  # noqa: E402
from stdnum.nl import bsn as nl_bsn  # noqa: E402

from accounts.middleware import IdleTimeoutMiddleware  # noqa: E402
from accounts.models import Role, User  # noqa: E402
from beds import services as bed_services  # noqa: E402
from beds.models import Capacity, CapacityChange  # noqa: E402
from bench import dataset  # noqa: E402
from providers.models import Insurer, Location, Product, Region  # noqa: E402
from referrals.models import Offer, Patient, Referral, ReferralEvent, State  # noqa: E402

OVERVIEW_URL = "/beds/?product=elv_hoog&postcode=6411+AB&max_km=50&features=oxygen"
API_URL = "/api/v1/locations/?product=elv_hoog&postcode=6411"
API_BULK_URL = "/api/v1/capacity-bulk/"
BOARD_URL = "/cockpit/"
# The signed-in floor: a page with the base template and nothing else, so what every signed-in
# page pays (session, user, second factor, idle timeout, navigation, base template) and no more.
FLOOR_URL = "/account/"
SUBMIT_URL = "/referrals/new/"
# BSNs of the referrals the benchmark submits: 9 digits starting with 7, continuing after the
# highest one already in the database. The generator's patients start with 1; bench/jobs.py gives
# its retention backlog 9 and the patient's id.
SUBMIT_BSN_FIRST = 70_000_000
SUBMIT_BSN_LAST = "799999999"
SESSIONS_PER_ROLE = 32
DETAIL_REFERRALS = 20  # referrals searching a bed in the focus region: a busy moment at the desk
BOOKING_CAPACITIES = 3  # the few locations that still have a bed
MODEL_BACKEND = "accounts.backends.ModelBackendWithOrganisation"


def _session(user: User) -> dict:
    """A signed-in session with the second factor verified, as after a real login (in the session
    store the settings configure, so the app servers find it)."""
    device = TOTPDevice.objects.filter(user=user, confirmed=True).first()
    store = import_module(settings.SESSION_ENGINE).SessionStore()
    store[SESSION_KEY] = str(user.pk)
    store[BACKEND_SESSION_KEY] = MODEL_BACKEND
    store[HASH_SESSION_KEY] = user.get_session_auth_hash()
    if device is not None:
        store[DEVICE_ID_SESSION_KEY] = device.persistent_id
    store[IdleTimeoutMiddleware.SESSION_KEY] = int(time.time())
    store.create()
    return {"user": user.username, "sessionid": store.session_key, "csrftoken": get_random_string(32)}


def _token(user: User) -> str:
    return Token.objects.get_or_create(user=user)[0].key


def _users(region: Region, role: str, limit: int = SESSIONS_PER_ROLE) -> list[User]:
    return list(User.objects.filter(organisation__region=region, role=role).order_by("pk")[:limit])


def _focus_regions() -> tuple[Region, Region]:
    """The focus region (holding PC4 6411) and a neighbour (where the booking step runs)."""
    chunks = dataset.pc4_chunks()
    index = dataset.focus_index(chunks)
    focus = Region.objects.get(code=f"{dataset.REGION_CODE_PREFIX}{index:02d}")
    neighbour = focus.neighbours.order_by("code").first()
    return focus, neighbour


def _searching_referrals(region: Region, *, count: int, product: Product, tag: str) -> list[int]:
    """Referrals waiting for a bed (submitted → triage → searching), made directly in bulk."""
    if count <= 0:
        return []
    now = timezone.now()
    referrer = User.objects.filter(organisation__region=region, role=Role.GP).order_by("pk").first()
    coordinator = User.objects.filter(organisation__region=region, role=Role.COORDINATOR).order_by("pk").first()
    postcodes = list(
        region.organisations.filter(kind="provider").values_list("locations__postcode", flat=True)[:50]
    ) or ["6411 AB"]
    with transaction.atomic():
        patients = Patient.objects.bulk_create(
            [Patient(name=f"Bench {tag} {n}", sex="F", postcode=postcodes[n % len(postcodes)]) for n in range(count)]
        )
        created = now - timedelta(minutes=40)
        referrals = Referral.objects.bulk_create(
            [
                Referral(
                    patient=patient,
                    region=region,
                    organisation_id=referrer.organisation_id,
                    referred_by=referrer,
                    origin="home",
                    product=product,
                    urgency="today",
                    wakeful_eye=True,
                    unplannable_nursing=True,
                    medical_reason="Benchmark: waiting for a bed.",
                    consent=True,
                    state=State.SEARCHING,
                    created_at=created,
                    state_changed_at=created + timedelta(minutes=20),
                )
                for patient in patients
            ]
        )
        events = []
        for referral in referrals:
            events += [
                ReferralEvent(referral=referral, from_state=State.DRAFT, to_state=State.SUBMITTED, actor=referrer),
                ReferralEvent(referral=referral, from_state=State.SUBMITTED, to_state=State.TRIAGE, actor=coordinator),
                ReferralEvent(referral=referral, from_state=State.TRIAGE, to_state=State.SEARCHING, actor=coordinator),
            ]
        ReferralEvent.objects.bulk_create(events)
    return [referral.pk for referral in referrals]


# --- commands ----------------------------------------------------------------------------------


def cmd_generate(args) -> dict:
    summary = dataset.generate(scale=args.scale, seed=args.seed)
    summary["consistency"] = dataset.check_consistency()
    return summary


def cmd_prepare(args) -> dict:
    """Sessions, tokens and targets of every scenario except booking (see booking-setup)."""
    focus, neighbour = _focus_regions()
    hoog = Product.objects.get(code="elv_hoog")
    gps = _users(focus, Role.GP)
    coordinators = _users(focus, Role.COORDINATOR)
    planners = {
        user.organisation_id: user for user in User.objects.filter(organisation__region=focus, role=Role.PROVIDER_STAFF)
    }
    # Each virtual user changes its own bed count, +1 then −1, so it never crosses a limit.
    capacities = list(
        Capacity.objects.filter(location__organisation__region=focus, available__lt=F("total"))
        .select_related("location")
        .order_by("pk")[:SESSIONS_PER_ROLE]
    )
    planner_sessions = {}
    targets = []
    for capacity in capacities:
        org = capacity.location.organisation_id
        if org not in planner_sessions:
            planner_sessions[org] = _session(planners[org])
        targets.append({"capacity": capacity.pk, "session": planner_sessions[org]})
    detail = _searching_referrals(focus, count=DETAIL_REFERRALS, product=hoog, tag="detail")
    # A spare referral and bed for the query-count pass of the booking requests.
    spare_referral = _searching_referrals(neighbour, count=1, product=hoog, tag="queries")[0]
    return {
        "focus_region": focus.code,
        "booking_region": neighbour.code,
        "overview_url": OVERVIEW_URL,
        "api_url": API_URL,
        "api_bulk_url": API_BULK_URL,
        "board_url": BOARD_URL,
        "floor_url": FLOOR_URL,
        "submit_url": SUBMIT_URL,
        "gp_sessions": [_session(user) for user in gps],
        "gp_tokens": [_token(user) for user in gps],
        "coordinator_sessions": [_session(user) for user in coordinators],
        # The bulk API: one planner's token per provider organisation of the focus region.
        "planner_tokens": [_token(user) for user in list(planners.values())[:SESSIONS_PER_ROLE]],
        "detail_referrals": detail,
        "capacity_targets": targets,
        "spare_referral": spare_referral,
        "board_open_referrals": Referral.objects.filter(
            region=focus, state__in=[State.SUBMITTED, State.TRIAGE, State.SEARCHING, State.OFFERED, State.ACCEPTED]
        ).count(),
    }


def _booking_capacities(region: Region) -> list[Capacity]:
    return list(
        Capacity.objects.filter(location__organisation__region=region, product__code="elv_hoog")
        .select_related("location")
        .order_by("pk")[:BOOKING_CAPACITIES]
    )


def _database_now() -> datetime:
    """The database's clock: the app servers' writes are compared with it (a test process may
    run on a travelling clock of its own)."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT statement_timestamp()")
        return cursor.fetchone()[0]


def booking_setup(region: Region, *, referrals: int, tag: str, capacities: list[Capacity] | None = None) -> dict:
    """The last beds: a few bed counts of `region` get exactly one free bed (room to free more),
    and a fresh batch of referrals waits for a bed there."""
    hoog = Product.objects.get(code="elv_hoog")
    coordinators = _users(region, Role.COORDINATOR)
    chosen = [c.pk for c in (capacities if capacities is not None else _booking_capacities(region))]
    targets = []
    with transaction.atomic():
        for capacity in Capacity.objects.select_for_update().filter(pk__in=chosen):
            capacity.available = capacity.held + 1
            capacity.total = capacity.available + 5000  # room for the discharges recorded during the step
            capacity.save(update_fields=["available", "total"])
    for capacity in Capacity.objects.filter(pk__in=chosen).select_related("location").order_by("pk"):
        planner = User.objects.filter(
            organisation_id=capacity.location.organisation_id, role=Role.PROVIDER_STAFF
        ).first()
        targets.append(
            {
                "capacity": capacity.pk,
                "provider_token": _token(planner),
                "session": _session(planner),
                "available": capacity.available,
                "held": capacity.held,
            }
        )
    waiting = _searching_referrals(region, count=referrals, product=hoog, tag=tag)
    return {
        "booking_region": region.code,
        "booking_targets": targets,
        "booking_coordinator_tokens": [_token(user) for user in coordinators],
        "booking_referrals": waiting,
        "started_at": _database_now().isoformat(),
    }


def cmd_booking_setup(args) -> dict:
    _focus, region = _focus_regions()
    return booking_setup(region, referrals=args.referrals, tag=args.tag)


def booking_check(setup: dict) -> dict:
    """Overbookings (beds taken beyond the beds that were free) and the consistency of counts."""
    referral_ids = setup["booking_referrals"]
    started = datetime.fromisoformat(setup["started_at"])
    rows = []
    overbooked = 0
    inconsistent = 0
    for target in setup["booking_targets"]:
        capacity = Capacity.objects.get(pk=target["capacity"])
        offers = Offer.objects.filter(capacity=capacity, referral_id__in=referral_ids)
        accepted = offers.filter(state="accepted").count()
        still_open = offers.filter(state="open").count()
        freed = CapacityChange.objects.filter(capacity=capacity, changed_at__gte=started, source="web").count()
        free_beds = target["available"] - target["held"] + freed  # beds that could be given out
        taken = accepted + still_open
        over = max(0, taken - free_beds)
        overbooked += over
        expected_available = target["available"] + freed - accepted
        expected_held = target["held"] + still_open
        ok = capacity.available == expected_available and capacity.held == expected_held
        inconsistent += 0 if ok else 1
        rows.append(
            {
                "capacity": capacity.pk,
                "free_at_start": target["available"] - target["held"],
                "freed_during_step": freed,
                "accepted": accepted,
                "open_offers_left": still_open,
                "available": capacity.available,
                "held": capacity.held,
                "total": capacity.total,
                "expected_available": expected_available,
                "expected_held": expected_held,
                "overbooked": over,
            }
        )
    consistency = dataset.check_consistency()
    return {
        "overbookings": overbooked,
        "counts_inconsistent": inconsistent,
        "accepted": sum(row["accepted"] for row in rows),
        "capacities": rows,
        "all_counts_within_bounds": consistency["counts_out_of_bounds"] == 0,
        "held_equals_open_offers": consistency["held_not_open_offers"] == 0,
        "consistency": consistency,
    }


def cmd_booking_check(args) -> dict:
    with open(args.setup, encoding="utf-8") as handle:
        return booking_check(json.load(handle))


# --- referral_submit ---------------------------------------------------------------------------


def fresh_bsns(count: int) -> list[str]:
    """`count` valid BSNs that no patient has yet (each submission a new patient: at most one
    live referral per patient)."""
    highest = (
        Patient.objects.filter(bsn__gte=f"{SUBMIT_BSN_FIRST:08d}0", bsn__lte=SUBMIT_BSN_LAST)
        .order_by("-bsn")
        .values_list("bsn", flat=True)
        .first()
    )
    number = int(highest[:8]) if highest else SUBMIT_BSN_FIRST
    found = []
    while len(found) < count:
        number += 1
        candidate = dataset._bsn(number)
        if candidate is not None and nl_bsn.is_valid(candidate):
            found.append(candidate)
    taken = set(Patient.objects.filter(bsn__in=found).values_list("bsn", flat=True))
    return [bsn for bsn in found if bsn not in taken]


def submit_form(region: Region) -> dict:
    """The referral form as a GP's browser posts it, but for the BSN, name and submit token."""
    product = region.products.filter(code="elv_hoog").first() or region.products.order_by("pk").first()
    postcode = (
        Location.objects.filter(organisation__region=region, is_active=True)
        .order_by("pk")
        .values_list("postcode", flat=True)
        .first()
    ) or "6411 AB"
    return {
        "date_of_birth": "1938-04-02",
        "sex": "F",
        "postcode": postcode,
        "insurer": Insurer.objects.order_by("uzovi").values_list("uzovi", flat=True).first(),
        "origin": "home",
        "product": product.code,
        "urgency": "today",
        "wakeful_eye": "on",
        "needs_elderly_care_specialist": "on",
        "medical_reason": "Benchmark: gevallen, niet meer mobiel.",
        "consent": "on",
        "action": "submit",
    }


def cmd_submit_setup(args) -> dict:
    focus, _neighbour = _focus_regions()
    return {"submit_bsns": fresh_bsns(args.count), "submit_form": submit_form(focus)}


# --- two app servers: coherence (bench/cluster.py) -------------------------------------------


def coherence_setup(region: Region) -> dict:
    """A bed count X at an active 24/7 location L of `region` with a planner, with no free bed,
    and a referral R that waits for a bed, prefers L and asks X's product, made the most urgent of
    the region (so its card is on the board): R's card suggests X exactly while X has a free bed.
    The last step goes through the service the pages' caches follow (capacity_adjust), so nothing
    set up here directly is hidden by a cached page."""
    planners = User.objects.filter(organisation__region=region, role=Role.PROVIDER_STAFF, is_active=True)
    candidates = (
        Capacity.objects.filter(
            location__organisation__region=region,
            location__organisation__in=planners.values("organisation"),
            location__is_active=True,
            product__in=region.products.all(),
        )
        .select_related("location", "product")
        .order_by("-location__admission_24_7", "pk")
    )
    capacity = candidates.filter(product__code="elv_hoog").first() or candidates.first()
    if capacity is None:
        raise SystemExit(f"coherence: region {region.code} has no bed count at a location with a planner")
    location = capacity.location
    if not location.admission_24_7:
        Location.objects.filter(pk=location.pk).update(admission_24_7=True)
    planner = planners.filter(organisation_id=location.organisation_id).order_by("pk").first()
    with transaction.atomic():
        locked = Capacity.objects.select_for_update().get(pk=capacity.pk)
        locked.available = locked.held + 1  # one free bed, taken back below through the service
        locked.total = max(locked.total, locked.available + 5)
        locked.save(update_fields=["available", "total"])
    referral_id = _searching_referrals(region, count=1, product=capacity.product, tag="coherence")[0]
    referral = Referral.objects.select_related("patient").get(pk=referral_id)
    Patient.objects.filter(pk=referral.patient_id).update(postcode=location.postcode)
    # Older than every other referral waiting in the region (also those of earlier runs on a
    # kept data set), so its card is the first of its column.
    oldest = (
        Referral.objects.filter(region=region, state=State.SEARCHING)
        .exclude(pk=referral_id)
        .order_by("created_at")
        .values_list("created_at", flat=True)
        .first()
    )
    long_ago = min(oldest or timezone.now(), timezone.now()) - timedelta(days=1)
    Referral.objects.filter(pk=referral_id).update(
        preferred_location=location, created_at=long_ago, state_changed_at=long_ago
    )
    bed_services.capacity_adjust(capacity_id=capacity.pk, by=planner, field="available", delta=-1)
    gp = _users(region, Role.GP, limit=1)[0]
    coordinator = _users(region, Role.COORDINATOR, limit=1)[0]
    return {
        "capacity": capacity.pk,
        "location": location.pk,
        "product_name": capacity.product.name,
        "referral": referral_id,
        "overview_url": f"/beds/?product={capacity.product.code}",
        "board_url": BOARD_URL,
        "planner": _session(planner),
        "gp": _session(gp),
        "coordinator": _session(coordinator),
    }


def capacity_free(capacity_id: int) -> int:
    return Capacity.objects.get(pk=capacity_id).free


def cmd_coherence(args) -> dict:
    from bench import cluster

    focus, _neighbour = _focus_regions()
    target = coherence_setup(focus)
    return cluster.coherence(args.hosts.split(","), target, rounds=args.rounds, free=capacity_free)


def _client_for(session: dict | None) -> Client:
    client = Client(HTTP_HOST="127.0.0.1")
    if session:
        client.cookies["sessionid"] = session["sessionid"]
        client.cookies["csrftoken"] = session["csrftoken"]
    return client


def _count(call, repeat: int = 3) -> dict:
    """Queries of the last of `repeat` calls (warm: caches and connection set up) and of the first."""
    counts, statuses = [], []
    for _ in range(repeat):
        with CaptureQueriesContext(connection) as captured:
            response = call()
        counts.append(len(captured.captured_queries))
        statuses.append(response.status_code)
    return {"queries": counts[-1], "queries_first": counts[0], "status": statuses[-1]}


def cmd_queries(args) -> dict:
    """SQL queries per request of every scenario, measured in-process with the same sessions."""
    with open(args.fixture, encoding="utf-8") as handle:
        fixture = json.load(handle)
    gp = fixture["gp_sessions"][0]
    coordinator = fixture["coordinator_sessions"][0]
    target = fixture["capacity_targets"][0]
    planner_token = fixture["planner_tokens"][0]
    result = {
        "baseline": _count(lambda: _client_for(None).get("/healthz")),
        "floor": _count(lambda: _client_for(gp).get(fixture["floor_url"])),
        "overview": _count(lambda: _client_for(gp).get(fixture["overview_url"])),
        "board": _count(lambda: _client_for(coordinator).get(fixture["board_url"])),
        "referral_detail": _count(
            lambda: _client_for(coordinator).get(f"/referrals/{fixture['detail_referrals'][0]}/")
        ),
        "api_locations": _count(
            lambda: Client(HTTP_HOST="127.0.0.1").get(
                fixture["api_url"], HTTP_AUTHORIZATION=f"Token {fixture['gp_tokens'][0]}"
            )
        ),
        "api_bulk": _count(
            lambda: Client(HTTP_HOST="127.0.0.1").get(
                fixture["api_bulk_url"], HTTP_AUTHORIZATION=f"Token {planner_token}"
            )
        ),
    }
    # Submitting a referral: each a new patient (repeat 2: the second is warm).
    focus = Region.objects.get(code=fixture["focus_region"])
    form = submit_form(focus)
    bsns = iter(fresh_bsns(2))

    def submit():
        bsn = next(bsns)
        data = {**form, "bsn": bsn, "name": f"Bench Queries {bsn}", "submit_token": f"queries-{bsn}"}
        return _client_for(gp).post(fixture["submit_url"], data)

    result["referral_submit"] = _count(submit, repeat=2)
    deltas = iter(["+1", "-1"] * 3)
    result["capacity_update"] = _count(
        lambda: _client_for(target["session"]).post(
            f"/beds/capacity/{target['capacity']}/", {"adjust": f"available:{next(deltas)}"}, HTTP_HX_REQUEST="true"
        ),
        repeat=2,
    )
    # Booking: one offer and its acceptance on a spare referral and bed of the booking region.
    _focus, region = _focus_regions()
    capacity = (
        Capacity.objects.filter(location__organisation__region=region, product__code="elv_hoog")
        .exclude(pk__in=[c.pk for c in _booking_capacities(region)])
        .order_by("pk")
        .first()
    )
    Capacity.objects.filter(pk=capacity.pk).update(total=F("total") + 1, available=F("available") + 1)
    coordinator_token = _token(_users(region, Role.COORDINATOR)[0])
    planner = User.objects.filter(organisation_id=capacity.location.organisation_id, role=Role.PROVIDER_STAFF).first()
    planner_token = _token(planner)
    api = Client(HTTP_HOST="127.0.0.1")
    with CaptureQueriesContext(connection) as captured:
        response = api.post(
            f"/api/v1/referrals/{fixture['spare_referral']}/offers/",
            {"capacity": capacity.pk},
            content_type="application/json",
            HTTP_AUTHORIZATION=f"Token {coordinator_token}",
        )
    offer_queries, offer_status = len(captured.captured_queries), response.status_code
    offer_id = response.json().get("id")
    with CaptureQueriesContext(connection) as captured:
        response = api.post(
            f"/api/v1/offers/{offer_id}/accept/",
            {},
            content_type="application/json",
            HTTP_AUTHORIZATION=f"Token {planner_token}",
        )
    result["booking"] = {
        "queries": offer_queries + len(captured.captured_queries),
        "offer_queries": offer_queries,
        "offer_status": offer_status,
        "accept_queries": len(captured.captured_queries),
        "accept_status": response.status_code,
        "status": response.status_code,
    }
    return result


def cmd_rows(args) -> dict:
    counts = {
        "regions": Region.objects.count(),
        "locations": Capacity.objects.values("location").distinct().count(),
        "capacities": Capacity.objects.count(),
        "users": User.objects.count(),
        "referrals": Referral.objects.count(),
        "open_offers": Offer.objects.filter(state="open").count(),
    }
    counts["referrals_per_state"] = dict(
        Referral.objects.values_list("state").annotate(n=Count("id")).order_by().values_list("state", "n")
    )
    counts["capacities_over_limits"] = Capacity.objects.filter(~Q(held__lte=F("available"))).count()
    return counts


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.fixtures")
    commands = parser.add_subparsers(dest="command", required=True)
    generate = commands.add_parser("generate")
    generate.add_argument("--scale", type=float, default=1.0)
    generate.add_argument("--seed", type=int, default=2026)
    commands.add_parser("prepare")
    submit = commands.add_parser("submit-setup")
    submit.add_argument("--count", type=int, default=1500)
    coherence = commands.add_parser("coherence")
    coherence.add_argument("--hosts", required=True, help="the two app servers' URLs, comma-separated")
    coherence.add_argument("--rounds", type=int, default=20)
    setup = commands.add_parser("booking-setup")
    setup.add_argument("--referrals", type=int, default=2500)
    setup.add_argument("--tag", default="booking")
    check = commands.add_parser("booking-check")
    check.add_argument("--setup", required=True)
    queries = commands.add_parser("queries")
    queries.add_argument("--fixture", required=True)
    commands.add_parser("rows")
    args = parser.parse_args(argv)
    handler = {
        "generate": cmd_generate,
        "prepare": cmd_prepare,
        "submit-setup": cmd_submit_setup,
        "coherence": cmd_coherence,
        "booking-setup": cmd_booking_setup,
        "booking-check": cmd_booking_check,
        "queries": cmd_queries,
        "rows": cmd_rows,
    }[args.command]
    json.dump(handler(args), sys.stdout, default=str)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
