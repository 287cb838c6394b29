"""Every route that shows or changes patient data leaves an access-log row (NEN 7513), and
every route is classified: either it is audited, or it is listed here as showing none."""

import re

import pytest
from django.urls import resolve
from rest_framework.authtoken.models import Token

from audit.models import AccessLog
from audit.trail import AUDITED_ATTRIBUTE, AuditedApiMixin
from tests.security.test_authorization_matrix import ALL_ROLES, EXPECTED, _call, _object_for, _world, all_routes

pytestmark = pytest.mark.django_db

# Routes that show no patient data (bed counts, accounts, notifications that carry only a
# referral number, decision support on ticked boxes that stores nothing).
NO_PATIENT_DATA = {
    "home",
    "account",
    "healthz",
    "set_language",
    "login",
    "logout",
    "two_factor_setup",
    "two_factor_verify",
    "two_factor_recovery_codes",
    "api-schema",
    "api-docs",
    "api-root",
    "beds:overview",
    "beds:my_beds",
    "beds:capacity_save",
    "beds:location_confirm",
    "referrals:advice",
    "referrals:notifications",
    "beds:overview_snapshots",
    "beds:overview_snapshot",
    "beds:overview_snapshot_csv",
    "beds:overview_subscription",
    "beds:reminder_confirm",
    "cockpit:capacity",
    "cockpit:kpis",
    "cockpit:kpi_export",
    "cockpit:monitoring",
    "cockpit:monitoring_export",
    "cockpit:planner",
    "cockpit:planner_export",
    "api-planner",
    "api-locations",
    "api-capacity",
    "api-capacity-bulk",
    "fhir:metadata",
    "fhir:codesystem-search",
    "fhir:codesystem",
    "fhir:organization-search",
    "fhir:organization",
    "fhir:location-search",
    "fhir:location",
    "fhir:healthcareservice-search",
    "fhir:healthcareservice",
    "fhir:measurereport-search",
    "fhir:measurereport",
    # Beheer and the social map: organisations, locations, accounts and settings, no patients
    "invitation_accept",
    "providers:social_map",
    *(name for name, _ in EXPECTED if name.startswith("beheer:")),
}


def _is_audited(name: str) -> bool:
    callback = resolve(_some_url(name)).func
    view_class = getattr(callback, "view_class", None) or getattr(callback, "cls", None)
    return bool(getattr(callback, AUDITED_ATTRIBUTE, None)) or (
        view_class is not None and issubclass(view_class, AuditedApiMixin)
    )


PATHS = {name: path for path, name in all_routes()}


def _some_url(name: str) -> str:
    """A URL of the route with sample values for its parameters (ints as 1, others as "x")."""
    path = re.sub(r"<int:\w+>", "1", PATHS[name])
    return "/" + re.sub(r"<(?:\w+:)?\w+>", "x", path)


def _audits_method(name: str, method: str) -> bool:
    callback = resolve(_some_url(name)).func
    methods = getattr(callback, "audit_methods", None)
    return methods is None or method in methods


def test_every_route_is_either_audited_or_declared_free_of_patient_data():
    unclassified = sorted(name for _, name in all_routes() if name not in NO_PATIENT_DATA and not _is_audited(name))
    assert not unclassified, f"audit these routes (audit.trail) or add them to NO_PATIENT_DATA: {unclassified}"
    wrongly_listed = sorted(name for name in NO_PATIENT_DATA if _is_audited(name))
    assert not wrongly_listed, f"audited routes listed as free of patient data: {wrongly_listed}"


AUDITED_ROUTES = sorted(
    (name, method) for name, method in EXPECTED if name not in NO_PATIENT_DATA and _audits_method(name, method)
)


def _allowed_caller(route, client):
    """(role, user, object id, API token) of a user of the route's own organisation allowed to
    call it; a page user is signed in on `client`."""
    world = _world()
    role = next(role for role in ALL_ROLES if role in route.roles)
    user = world.users[(role, "own")]
    pk = _object_for(world, route.obj, role) if route.obj else None
    token = None
    if route.channel == "api":
        token = Token.objects.get_or_create(user=user)[0].key
    else:
        client.force_login(user)
    return role, user, pk, token


@pytest.mark.parametrize(("name", "method"), AUDITED_ROUTES, ids=str)
def test_each_patient_data_route_leaves_a_log_row_for_an_allowed_user(name, method, client):
    route = EXPECTED[(name, method)]
    role, user, pk, token = _allowed_caller(route, client)
    before = AccessLog.objects.count()
    response = _call(client, route, name, pk, htmx=False, token=token)
    rows = AccessLog.objects.order_by("id")[before:]
    assert rows, f"{name} {method} answered {response.status_code} and logged nothing"
    assert all(row.user_id == user.pk and row.role == role for row in rows)


# Every method of a patient-data route, also those that log nothing (an empty form): the audit
# wrappers mark the response `no-store` (audit.trail.no_store), so browsers and proxies keep no copy.
PATIENT_DATA_ROUTES = sorted((name, method) for name, method in EXPECTED if name not in NO_PATIENT_DATA)


@pytest.mark.parametrize(("name", "method"), PATIENT_DATA_ROUTES, ids=str)
def test_each_patient_data_route_answers_no_store(name, method, client):
    route = EXPECTED[(name, method)]
    _role, _user, pk, token = _allowed_caller(route, client)
    for htmx in (False, True) if route.channel != "api" else (False,):
        response = _call(client, route, name, pk, htmx=htmx, token=token)
        assert "no-store" in response.get("Cache-Control", ""), f"{name} {method} answered {response.status_code}"
