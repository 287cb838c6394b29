"""The Django side of the benchmark: signed-in sessions and tokens for the virtual users, the
referrals and beds each scenario works on, the booking step's set-up and check, and the
in-process pass that counts SQL queries per request.

`python -m bench.fixtures COMMAND [ARGS]` (with the same environment as the server, so sessions
are signed with the same SECRET_KEY) prints JSON on stdout. Commands: generate, prepare,
booking-setup, booking-check, queries.
"""

import argparse
import json
import os
import sys
import time
from datetime import datetime, timedelta

import django

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "elvdesk.settings")
django.setup()

from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY  # noqa: E402
from django.contrib.sessions.backends.db import SessionStore  # noqa: E402
from django.db import connection, transaction  # noqa: E402
from django.db.models import Count, F, Q  # noqa: E402
from django.test import Client  # noqa: E402
from django.test.utils import CaptureQueriesContext  # noqa: E402
from django.utils import timezone  # noqa: E402
from django.utils.crypto import get_random_string  # noqa: E402
from django_otp import DEVICE_ID_SESSION_KEY  # noqa: E402
from django_otp.plugins.otp_totp.models import TOTPDevice  # noqa: E402
from rest_framework.authtoken.models import Token  # noqa: E402

from accounts.middleware import IdleTimeoutMiddleware  # noqa: E402
from accounts.models import Role, User  # noqa: E402
from beds.models import Capacity, CapacityChange  # noqa: E402
from bench import dataset  # noqa: E402
from providers.models import Product, Region  # noqa: E402
from referrals.models import Offer, Patient, Referral, ReferralEvent, State  # noqa: E402

OVERVIEW_URL = "/beds/?product=elv_hoog&postcode=6411+AB&max_km=50&features=oxygen"
API_URL = "/api/v1/locations/?product=elv_hoog&postcode=6411"
BOARD_URL = "/cockpit/"
SESSIONS_PER_ROLE = 32
DETAIL_REFERRALS = 20  # referrals searching a bed in the focus region: a busy moment at the desk
BOOKING_CAPACITIES = 3  # the few locations that still have a bed
MODEL_BACKEND = "accounts.backends.ModelBackendWithOrganisation"


def _session(user: User) -> dict:
    """A signed-in session with the second factor verified, as after a real login."""
    device = TOTPDevice.objects.filter(user=user, confirmed=True).first()
    store = SessionStore()
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
        "board_url": BOARD_URL,
        "gp_sessions": [_session(user) for user in gps],
        "gp_tokens": [_token(user) for user in gps],
        "coordinator_sessions": [_session(user) for user in coordinators],
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


def cmd_booking_setup(args) -> dict:
    """The last beds: a few bed counts of the neighbour region get exactly one free bed (room to
    free more), and a fresh batch of referrals waits for a bed there."""
    _focus, region = _focus_regions()
    hoog = Product.objects.get(code="elv_hoog")
    coordinators = _users(region, Role.COORDINATOR)
    capacities = _booking_capacities(region)
    targets = []
    with transaction.atomic():
        for capacity in Capacity.objects.select_for_update().filter(pk__in=[c.pk for c in capacities]):
            capacity.available = capacity.held + 1
            capacity.total = capacity.available + 5000  # room for the discharges recorded during the step
            capacity.save(update_fields=["available", "total"])
    for capacity in _booking_capacities(region):
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
    referrals = _searching_referrals(region, count=args.referrals, product=hoog, tag=args.tag)
    return {
        "booking_region": region.code,
        "booking_targets": targets,
        "booking_coordinator_tokens": [_token(user) for user in coordinators],
        "booking_referrals": referrals,
        "started_at": timezone.now().isoformat(),
    }


def cmd_booking_check(args) -> dict:
    """Overbookings (beds taken beyond the beds that were free) and the consistency of counts."""
    with open(args.setup, encoding="utf-8") as handle:
        setup = json.load(handle)
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
    result = {
        "baseline": _count(lambda: _client_for(None).get("/healthz")),
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
    }
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
        "booking-setup": cmd_booking_setup,
        "booking-check": cmd_booking_check,
        "queries": cmd_queries,
        "rows": cmd_rows,
    }[args.command]
    json.dump(handler(args), sys.stdout, default=str)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
