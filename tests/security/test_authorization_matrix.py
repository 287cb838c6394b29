"""Every URL pattern and API route × every role × own vs other organisation × page / htmx / API,
against the expected table below. A route missing from the table fails the test, so a new page
cannot ship without deciding who may use it.

Expectations per call:
- anonymous: pages redirect to the login page, the API answers 401;
- a role not in `roles`: 403;
- a role in `roles`, on its own organisation's object: anything but 401/403/404/405/5xx (an
  empty POST may well answer 400 — the point is that the door opens);
- a role in `roles`, from another organisation (or region), on that same object: 404, so the
  API and pages never reveal that a foreign object exists.
"""

from dataclasses import dataclass, field
from datetime import timedelta

import pytest
from django.urls import URLPattern, URLResolver, get_resolver, reverse
from django.utils import timezone
from rest_framework.authtoken.models import Token

from accounts import services as accounts_services
from accounts.invitations import invitation_token
from accounts.models import Invitation, Role
from beds.models import StaleCountReminder
from beds.overviews import overview_snapshot_create
from beds.reminders import stale_reminder_token
from providers.models import ContactProblem, ContactProblemKind, Product
from referrals import services
from tests.factories import CapacityFactory, LocationFactory, ProviderFactory, RegionFactory, user_with_role
from tests.referrals.conftest import OTHER_BSN, VALID_BSN, referral_input

pytestmark = pytest.mark.django_db

GP, NURSE, PROVIDER, DESK, ADMIN, ANALYST = (
    Role.GP,
    Role.TRANSFER_NURSE,
    Role.PROVIDER_STAFF,
    Role.COORDINATOR,
    Role.ADMIN,
    Role.ANALYST,
)
ALL_ROLES = (GP, NURSE, PROVIDER, DESK, ADMIN, ANALYST)
REFERRERS = {GP, NURSE}
SEES_REFERRALS = {GP, NURSE, PROVIDER, DESK}
FINDS_BEDS = {GP, NURSE, DESK, ADMIN}
EVERYONE = set(ALL_ROLES)
# Capacity resources are read region-wide; the "other" organisation of these roles is in the same
# region (see _world), so it sees the object too.
SAME_REGION = frozenset({GP, NURSE, PROVIDER})


@dataclass(frozen=True)
class Route:
    method: str
    roles: set = field(default_factory=set)
    obj: str | None = None  # what <pk> is: referral, booked_referral, offer, capacity, location, patient
    channel: str = "page"  # page, api, public (no login needed), login (any signed-in user)
    global_roles: frozenset = frozenset()  # roles that see every organisation's objects
    kwarg: str = "pk"  # the URL argument the object goes into
    more: tuple = ()  # further (URL argument, object kind) pairs


EXPECTED: dict[tuple[str, str], Route] = {
    # public and account pages
    ("healthz", "GET"): Route("GET", channel="public"),
    ("set_language", "POST"): Route("POST", channel="public"),
    ("login", "GET"): Route("GET", channel="public"),
    ("logout", "POST"): Route("POST", channel="public"),
    ("api-schema", "GET"): Route("GET", channel="public"),
    ("api-docs", "GET"): Route("GET", channel="public"),
    ("api-root", "GET"): Route("GET", channel="public"),
    ("home", "GET"): Route("GET", EVERYONE, channel="login"),
    ("account", "GET"): Route("GET", EVERYONE, channel="login"),
    ("two_factor_setup", "GET"): Route("GET", EVERYONE, channel="login"),
    ("two_factor_verify", "GET"): Route("GET", EVERYONE, channel="login"),
    ("two_factor_recovery_codes", "GET"): Route("GET", EVERYONE, channel="login"),
    ("referrals:notifications", "GET"): Route("GET", EVERYONE, channel="login"),
    # beds
    ("beds:overview", "GET"): Route("GET", FINDS_BEDS),
    ("beds:my_beds", "GET"): Route("GET", {PROVIDER}),
    ("beds:capacity_save", "POST"): Route("POST", {PROVIDER}, obj="capacity"),
    ("beds:location_confirm", "POST"): Route("POST", {PROVIDER}, obj="location"),
    # referrals
    ("referrals:index", "GET"): Route("GET", SEES_REFERRALS),
    ("referrals:new", "GET"): Route("GET", REFERRERS),
    ("referrals:new", "POST"): Route("POST", REFERRERS),
    ("referrals:advice", "POST"): Route("POST", REFERRERS),
    ("referrals:detail", "GET"): Route("GET", SEES_REFERRALS, obj="referral"),
    ("referrals:step", "POST"): Route("POST", {DESK, GP, NURSE}, obj="referral"),
    ("referrals:offer_send", "POST"): Route("POST", {DESK, GP, NURSE}, obj="referral"),
    ("referrals:admit", "POST"): Route("POST", {PROVIDER}, obj="booked_referral"),
    ("referrals:discharge", "POST"): Route("POST", {PROVIDER}, obj="booked_referral"),
    ("referrals:no_show", "POST"): Route("POST", {PROVIDER, DESK}, obj="booked_referral"),
    # op-/afschaling: the booking's provider or the region's desk
    ("referrals:stay_product_change", "POST"): Route("POST", {PROVIDER, DESK}, obj="booked_referral"),
    ("referrals:offer_accept", "POST"): Route("POST", {PROVIDER}, obj="offer"),
    ("referrals:offer_decline", "POST"): Route("POST", {PROVIDER}, obj="offer"),
    # Cross-region placements (issue 18): the referral's own desk looks next door; the desk of the
    # region where an offer's bed is may stop it (404 for an offer elsewhere).
    ("referrals:neighbour_beds", "GET"): Route("GET", {DESK}, obj="referral"),
    ("referrals:offer_stop", "POST"): Route("POST", {DESK}, obj="offer"),
    # daily bed overviews (counts only): everyone of the region; the "klopt nog" link: its signed
    # token is the authorisation; escalations show referrals (desk only)
    ("beds:overview_snapshots", "GET"): Route("GET", EVERYONE),
    ("beds:overview_snapshot", "GET"): Route("GET", EVERYONE, obj="snapshot", global_roles=SAME_REGION),
    ("beds:overview_snapshot_csv", "GET"): Route("GET", EVERYONE, obj="snapshot", global_roles=SAME_REGION),
    ("beds:overview_subscription", "GET"): Route("GET", EVERYONE),
    ("beds:overview_subscription", "POST"): Route("POST", EVERYONE),
    ("beds:reminder_confirm", "GET"): Route("GET", channel="public", obj="reminder_token", kwarg="token"),
    # (its POST works once, so a table walk cannot repeat it: tests/beds/test_stale_reminders.py covers it)
    ("referrals:escalations", "GET"): Route("GET", {DESK}),
    # the planned discharges of the coming days: the desk its region, a transfer nurse her hospital's
    ("referrals:klikmoment", "GET"): Route("GET", {DESK, NURSE}),
    # cockpit: the board shows patients (desk only); capacity and KPIs are aggregates (also analysts)
    ("cockpit:board", "GET"): Route("GET", {DESK}),
    ("cockpit:capacity", "GET"): Route("GET", {DESK, ANALYST}),
    ("cockpit:kpis", "GET"): Route("GET", {DESK, ANALYST}),
    ("cockpit:kpi_export", "GET"): Route("GET", {DESK, ANALYST}),
    ("cockpit:referral_export", "GET"): Route("GET", {DESK, ANALYST}),
    # monitoring per insurer: suppressed aggregates of the user's own region (cockpit/monitoring.py)
    ("cockpit:monitoring", "GET"): Route("GET", {DESK, ANALYST}),
    ("cockpit:monitoring_export", "GET"): Route("GET", {DESK, ANALYST}),
    # the capacity planner: aggregates of the user's own region (cockpit/planner.py)
    ("cockpit:planner", "GET"): Route("GET", {DESK, ANALYST}),
    ("cockpit:planner_export", "GET"): Route("GET", {DESK, ANALYST}),
    # privacy (NEN 7513): the desk answers a patient's question, starting from the posted BSN
    # (audit/views.py); no patient id in any URL. Other regions: tests/audit/test_privacy.py.
    ("audit:privacy", "GET"): Route("GET", {DESK}),
    ("audit:privacy", "POST"): Route("POST", {DESK}),
    ("audit:patient_accesses_export", "POST"): Route("POST", {DESK}),
    # API v1
    ("api-locations", "GET"): Route("GET", FINDS_BEDS | {PROVIDER}, channel="api"),
    ("api-capacity", "GET"): Route("GET", {PROVIDER}, obj="capacity", channel="api"),
    ("api-capacity", "PATCH"): Route("PATCH", {PROVIDER}, obj="capacity", channel="api"),
    ("api-referrals", "GET"): Route("GET", SEES_REFERRALS, channel="api"),
    ("api-referrals", "POST"): Route("POST", REFERRERS, channel="api"),
    ("api-referral", "GET"): Route("GET", SEES_REFERRALS, obj="referral", channel="api"),
    ("api-referral-transition", "POST"): Route("POST", {DESK, GP, NURSE}, obj="referral", channel="api"),
    ("api-referral-matches", "GET"): Route("GET", {DESK, GP, NURSE}, obj="referral", channel="api"),
    ("api-referral-offers", "POST"): Route("POST", {DESK, GP, NURSE}, obj="referral", channel="api"),
    ("api-referral-admission", "POST"): Route("POST", {PROVIDER}, obj="booked_referral", channel="api"),
    ("api-referral-discharge", "POST"): Route("POST", {PROVIDER}, obj="booked_referral", channel="api"),
    ("api-referral-no-show", "POST"): Route("POST", {PROVIDER, DESK}, obj="booked_referral", channel="api"),
    ("api-referral-product-change", "POST"): Route("POST", {PROVIDER, DESK}, obj="booked_referral", channel="api"),
    ("api-offers", "GET"): Route("GET", SEES_REFERRALS, channel="api"),
    ("api-offer-accept", "POST"): Route("POST", {PROVIDER}, obj="offer", channel="api"),
    ("api-offer-decline", "POST"): Route("POST", {PROVIDER}, obj="offer", channel="api"),
    ("api-capacity-bulk", "GET"): Route("GET", {PROVIDER}, channel="api"),
    ("api-capacity-bulk", "PUT"): Route("PUT", {PROVIDER}, channel="api"),
    ("api-planner", "GET"): Route("GET", {DESK, ANALYST}, channel="api"),
    # FHIR R4 (interop): capacity resources for every role of the region, referrals as the API
    ("fhir:metadata", "GET"): Route("GET", channel="public"),
    ("fhir:codesystem-search", "GET"): Route("GET", channel="public"),
    ("fhir:codesystem", "GET"): Route("GET", channel="public", obj="code_system"),
    ("fhir:organization-search", "GET"): Route("GET", EVERYONE, channel="api"),
    ("fhir:organization", "GET"): Route("GET", EVERYONE, obj="organisation", channel="api", global_roles=SAME_REGION),
    ("fhir:location-search", "GET"): Route("GET", EVERYONE, channel="api"),
    ("fhir:location", "GET"): Route("GET", EVERYONE, obj="location", channel="api", global_roles=SAME_REGION),
    ("fhir:healthcareservice-search", "GET"): Route("GET", EVERYONE, channel="api"),
    ("fhir:healthcareservice", "GET"): Route("GET", EVERYONE, obj="capacity", channel="api", global_roles=SAME_REGION),
    ("fhir:measurereport-search", "GET"): Route("GET", EVERYONE, channel="api"),
    ("fhir:measurereport", "GET"): Route("GET", EVERYONE, obj="region_report", channel="api", global_roles=SAME_REGION),
    ("fhir:servicerequest-create", "POST"): Route("POST", REFERRERS, channel="api"),
    ("fhir:servicerequest", "GET"): Route("GET", SEES_REFERRALS, obj="referral", channel="api"),
    ("fhir:task-search", "GET"): Route("GET", SEES_REFERRALS, channel="api"),
    ("fhir:task", "GET"): Route("GET", SEES_REFERRALS, obj="referral", channel="api"),
}

# Beheer (administration/access.py): readers see, the administrator changes; objects of another
# region are 404. The objects are a provider, location and user made for Beheer only (see _world),
# so deactivating them does not lock out the users the table walks with.
BEHEER_READERS = {DESK, ADMIN}
BEHEER_WRITERS = {ADMIN}
EXPECTED |= {
    ("beheer:index", "GET"): Route("GET", BEHEER_READERS),
    ("beheer:organisations", "GET"): Route("GET", BEHEER_READERS),
    ("beheer:organisation_create", "GET"): Route("GET", BEHEER_WRITERS),
    ("beheer:organisation_create", "POST"): Route("POST", BEHEER_WRITERS),
    ("beheer:organisation", "GET"): Route("GET", BEHEER_READERS, obj="beheer_organisation"),
    ("beheer:organisation", "POST"): Route("POST", BEHEER_WRITERS, obj="beheer_organisation"),
    ("beheer:organisation_deactivate", "POST"): Route("POST", BEHEER_WRITERS, obj="beheer_organisation"),
    ("beheer:organisation_reactivate", "POST"): Route("POST", BEHEER_WRITERS, obj="beheer_organisation"),
    ("beheer:location_create", "GET"): Route("GET", BEHEER_WRITERS, obj="beheer_organisation"),
    ("beheer:location_create", "POST"): Route("POST", BEHEER_WRITERS, obj="beheer_organisation"),
    ("beheer:location", "GET"): Route("GET", BEHEER_READERS, obj="beheer_location"),
    ("beheer:location", "POST"): Route("POST", BEHEER_WRITERS, obj="beheer_location"),
    ("beheer:location_deactivate", "POST"): Route("POST", BEHEER_WRITERS, obj="beheer_location"),
    ("beheer:location_reactivate", "POST"): Route("POST", BEHEER_WRITERS, obj="beheer_location"),
    ("beheer:location_contract", "POST"): Route(
        "POST", BEHEER_WRITERS, obj="beheer_location", more=(("product_pk", "product"),)
    ),
    ("beheer:users", "GET"): Route("GET", BEHEER_READERS),
    ("beheer:user_invite", "GET"): Route("GET", BEHEER_WRITERS),
    ("beheer:user_invite", "POST"): Route("POST", BEHEER_WRITERS),
    ("beheer:user_detail", "GET"): Route("GET", BEHEER_READERS, obj="beheer_user"),
    ("beheer:user_detail", "POST"): Route("POST", BEHEER_WRITERS, obj="beheer_user"),
    ("beheer:user_deactivate", "POST"): Route("POST", BEHEER_WRITERS, obj="beheer_user"),
    ("beheer:user_reactivate", "POST"): Route("POST", BEHEER_WRITERS, obj="beheer_user"),
    ("beheer:user_invitation_resend", "POST"): Route("POST", BEHEER_WRITERS, obj="beheer_user"),
    ("beheer:user_second_factor_reset", "POST"): Route("POST", BEHEER_WRITERS, obj="beheer_user"),
    ("beheer:user_lockout_lift", "POST"): Route("POST", BEHEER_WRITERS, obj="beheer_user"),
    ("beheer:region", "GET"): Route("GET", BEHEER_READERS),
    ("beheer:region", "POST"): Route("POST", BEHEER_WRITERS),
    ("beheer:history", "GET"): Route("GET", BEHEER_READERS),
    ("beheer:history_export", "GET"): Route("GET", BEHEER_READERS),
    # "Handled" on a problem the desk must see (providers/contact_problems.py): the desk's too
    ("beheer:contact_problem_resolve", "POST"): Route("POST", BEHEER_READERS, obj="contact_problem"),
    # the invitation link: its signed token is the authorisation (accounts/invitations.py)
    ("invitation_accept", "GET"): Route("GET", channel="public", obj="invitation_token", kwarg="token"),
    ("invitation_accept", "POST"): Route("POST", channel="public", obj="invitation_token", kwarg="token"),
    # the social map: no patient data, for everyone who finds or offers beds
    ("providers:social_map", "GET"): Route("GET", {GP, NURSE, PROVIDER, DESK, ADMIN}),
}

# Django's admin has its own gate (active superusers, elvdesk/admin_site.py), tested in
# tests/accounts/test_admin.py.
SKIPPED_PREFIXES = ("admin/",)


def _walk(patterns, prefix="", namespace=None):
    for pattern in patterns:
        if isinstance(pattern, URLResolver):
            if str(pattern.pattern).startswith(SKIPPED_PREFIXES):
                continue
            yield from _walk(pattern.url_patterns, prefix + str(pattern.pattern), pattern.namespace or namespace)
        elif isinstance(pattern, URLPattern):
            name = f"{namespace}:{pattern.name}" if namespace and pattern.name else pattern.name
            yield prefix + str(pattern.pattern), name


def all_routes() -> list[tuple[str, str]]:
    return list(_walk(get_resolver().url_patterns))


def test_every_route_is_in_the_authorization_table():
    named = {name for _, name in all_routes()}
    unnamed = [path for path, name in all_routes() if name is None]
    missing = sorted(named - {name for name, _ in EXPECTED})
    assert not unnamed, f"give these routes a name and a row in EXPECTED: {unnamed}"
    assert not missing, f"decide who may use these routes and add them to EXPECTED: {missing}"
    stale = sorted({name for name, _ in EXPECTED} - named)
    assert not stale, f"EXPECTED lists routes that no longer exist: {stale}"


# --- the world: two regions, two organisations of every kind ----------------------------------


@dataclass
class World:
    users: dict  # (role, "own" | "other") -> user
    objects: dict  # obj kind -> pk


def _world() -> World:
    region, far_region = RegionFactory(self_service_offers="never"), RegionFactory(self_service_offers="never")
    users = {}
    for role in ALL_ROLES:
        users[(role, "own")] = user_with_role(role, region=region)
        # The other organisation of the same kind: same region for referrers and providers (a
        # neighbour practice or provider), another region for the region-wide desk.
        other_region = far_region if role in (DESK, ADMIN, ANALYST) else region
        users[(role, "other")] = user_with_role(role, region=other_region)
    planner = users[(PROVIDER, "own")]
    location = LocationFactory(organisation=planner.organisation, insurers=["9015"])
    hoog = Product.objects.get(code="elv_hoog")
    capacity = CapacityFactory(location=location, product=hoog, total=10, available=5)
    desk = users[(DESK, "own")]

    def referral_by(user, bsn, *, offer: bool, accept: bool = False):
        data = referral_input(bsn=bsn, origin="home" if user.role == GP else "ward")
        referral, _ = services.referral_submit(by=user, data=data)
        services.referral_step(referral=referral, target="searching", by=desk)
        if offer:
            made = services.offer_create(referral=referral, capacity=capacity, by=desk)
            if accept:
                services.offer_accept(offer=made, by=planner)
            return referral, made
        return referral, None

    referral, offer = referral_by(users[(GP, "own")], VALID_BSN, offer=True)
    snapshot, _ = overview_snapshot_create(region_id=region.pk, slot=timezone.now())
    reminder = StaleCountReminder.objects.create(
        location=location, user=planner, nonce="matrix", expires_at=timezone.now() + timedelta(hours=1)
    )
    booked, _ = referral_by(users[(NURSE, "own")], OTHER_BSN, offer=True, accept=True)
    beheer_organisation = ProviderFactory(region=region)
    beheer_location = LocationFactory(organisation=beheer_organisation)
    beheer_user = user_with_role(GP, region=region)
    contact_problem = ContactProblem.objects.create(
        region=region, location=beheer_location, kind=ContactProblemKind.REMINDER_UNHEARD
    )
    invited = accounts_services.user_invite(
        by=users[(ADMIN, "own")],
        email="invited@example.org",
        first_name="Ina",
        last_name="Vited",
        role=PROVIDER,
        organisation=beheer_organisation,
        language="nl",
    )
    return World(
        users=users,
        objects={
            "referral": referral.pk,
            "booked_referral": booked.pk,
            "offer": offer.pk,
            "capacity": capacity.pk,
            "location": location.pk,
            "patient": referral.patient_id,
            "snapshot": snapshot.pk,
            "reminder_token": stale_reminder_token(reminder),
            "organisation": planner.organisation_id,
            "region_report": f"region-{region.pk}",
            "code_system": "bed-capacity",
            "beheer_organisation": beheer_organisation.pk,
            "beheer_location": beheer_location.pk,
            "beheer_user": beheer_user.pk,
            "invitation_token": invitation_token(Invitation.objects.get(user=invited)),
            "product": hoog.pk,
            "contact_problem": contact_problem.pk,
        },
    )


def _object_for(world: World, obj: str, role: str) -> int:
    """The object a role's own organisation is entitled to: the nurse's referral for the nurse."""
    if obj == "referral" and role == NURSE:
        return world.objects["booked_referral"]
    return world.objects[obj]


def _call(client, route: Route, name: str, pk, *, htmx: bool, token: str | None, world_objects=None):
    kwargs = {route.kwarg: pk} if pk is not None else {}
    kwargs.update({kwarg: (world_objects or {})[kind] for kwarg, kind in route.more})
    url = reverse(name, kwargs=kwargs)
    headers = {"HTTP_ACCEPT_LANGUAGE": "en"}
    if htmx:
        headers["HTTP_HX_REQUEST"] = "true"
    if token:
        headers["HTTP_AUTHORIZATION"] = f"Token {token}"
    method = getattr(client, route.method.lower())
    if route.method in ("POST", "PATCH"):
        return (
            method(url, {}, content_type="application/json", **headers)
            if route.channel == "api"
            else method(url, {}, **headers)
        )
    return method(url, **headers)


def _variants(route: Route):
    if route.channel == "api":
        return [("api", False)]
    return [("page", False), ("htmx", True)]


REJECTED = {401, 403, 404, 405}


@pytest.mark.parametrize(("name", "method"), sorted(EXPECTED), ids=lambda value: str(value))
def test_route_answers_each_role_as_the_table_says(name, method, client):
    route = EXPECTED[(name, method)]
    world = _world()
    problems = []

    def check(label, response, expect):
        ok = expect(response.status_code)
        if not ok:
            problems.append(f"{label}: got {response.status_code}")

    for variant, htmx in _variants(route):
        pk = _object_for(world, route.obj, GP) if route.obj else None
        # anonymous
        client.logout()
        response = _call(client, route, name, pk, htmx=htmx, token=None, world_objects=world.objects)
        if route.channel == "public":
            check(f"{variant} anonymous", response, lambda s: s < 400 or s == 400)
            continue
        if route.channel == "api":
            check(f"{variant} anonymous", response, lambda s: s == 401)
        else:
            check(f"{variant} anonymous", response, lambda s: s == 302)
        for role in ALL_ROLES:
            pk = _object_for(world, route.obj, role) if route.obj else None
            for side in ("other", "own"):  # own last: an allowed call may change the object
                user = world.users[(role, side)]
                if route.channel == "api":
                    token = Token.objects.get_or_create(user=user)[0].key
                    client.logout()
                else:
                    token = None
                    client.force_login(user)
                response = _call(client, route, name, pk, htmx=htmx, token=token, world_objects=world.objects)
                label = f"{variant} {role} ({side})"
                if role not in route.roles:
                    check(label, response, lambda s: s == 403)
                elif side == "other" and route.obj and role not in route.global_roles:
                    check(label, response, lambda s: s == 404)
                else:
                    check(label, response, lambda s: s not in REJECTED and s < 500)
    assert not problems, f"{name} {method}:\n  " + "\n  ".join(problems)
