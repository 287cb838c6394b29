"""Hostile input (issue 15): the shapes an outside test sent that answered 500 — a NUL character,
a whole number beyond its column, JSON nested 100,000 deep, a 5,000-character Idempotency-Key, a
3 MB body — and texts beyond their limit, sent to every write endpoint and every search
parameter. Each must answer 4xx in the endpoint's own error shape (the API's error object, an
OperationOutcome, a page or form error) and change no row.

The endpoints come from the URL conf through the authorization table (which fails for a route it
does not list); the fields of the API from its OpenAPI schema, those of the FHIR server from its
CapabilityStatement and the referral Bundle, those of pages from the form the view posts. Every
request runs inside a savepoint that is rolled back, so each starts from the same rows.

The NUL and out-of-range cases fail only on PostgreSQL; run this on it (CI does).
"""

import copy
import json
import re
from datetime import timedelta
from functools import cache

import pytest
from django import forms
from django.apps import apps
from django.db import DatabaseError, connection, transaction
from django.utils import timezone
from django.utils.http import urlencode
from rest_framework.authtoken.models import Token

from accounts.forms import InvitationAcceptForm
from accounts.models import Role, User
from administration.location_forms import ContractForm, LocationForm
from administration.organisation_forms import OrganisationForm
from administration.region_forms import RegionSettingsForm
from administration.user_forms import UserForm
from audit.forms import PatientSearchForm
from audit.models import AccessLog
from beds.forms import CapacityForm, OverviewFilterForm, OverviewSubscriptionForm
from beds.models import Capacity
from cockpit.forms import PlannerForm
from elvdesk.input_limits import MEDICAL_REASON
from interop.fhir.intake import parse_referral_bundle
from interop.fhir.protocol import FhirError
from providers.models import Location, Organisation, Region
from referrals.forms import (
    AdmitForm,
    DischargeForm,
    NoShowForm,
    OfferAcceptForm,
    OfferDeclineForm,
    OfferSendForm,
    OfferStopForm,
    ProductChangeForm,
    ReferralForm,
    StepForm,
)
from tests.interop.test_fhir_referrals import referral_bundle
from tests.referrals.conftest import form_post
from tests.referrals.test_api import referral_json
from tests.security.test_authorization_matrix import EXPECTED, _object_for, _world, all_routes

pytestmark = pytest.mark.django_db

FRESH_BSN = "999999023"  # no live referral yet in the world
NUL_TEXT = "Jan\x00sen"
OVERLONG = "x" * 100_000  # far beyond every text limit, well below the body limit
HUGE_INTS = (100_000_000_000, 10**25)  # beyond PostgreSQL integer, beyond bigint
DEEP = 100_000
LONG_KEY = "k" * 5000
BIG_BODY = 3 * 1024 * 1024
WRITES = ("POST", "PUT", "PATCH")
# Who acts on a route: the first of these its table row allows (the desk can act on the
# offered referral, the planner on the offer and the booking).
ACTORS = (Role.COORDINATOR, Role.PROVIDER_STAFF, Role.GP, Role.TRANSFER_NURSE, Role.ADMIN, Role.ANALYST)
# Rows a refused request may still write: the NEN 7513 log records the refused access, sessions
# and lock-out counters are bookkeeping. Nothing else may change.
UNCHECKED_TABLES = {AccessLog._meta.db_table, "django_session"}


# --- the pages' forms: what a browser posts to each page route ------------------------------


def _now(minutes: int = 0) -> str:
    return (timezone.localtime() + timedelta(minutes=minutes)).strftime("%Y-%m-%dT%H:%M")


def _capacity_form(world) -> dict:
    capacity = Capacity.objects.get(pk=world.objects["capacity"])
    counts = {"total": 10, "available": 5, "expected_24h": 0, "expected_72h": 0, "version": capacity.version}
    return {f"c{capacity.pk}-{name}": value for name, value in counts.items()}


def _capacity_prefix(world) -> str:
    return f"c{world.objects['capacity']}-"


def _organisation_form(world) -> dict:
    """The beheer organisation as its page shows it."""
    organisation = Organisation.objects.get(pk=world.objects["beheer_organisation"])
    return {name: getattr(organisation, name) or "" for name in OrganisationForm.base_fields}


def _new_organisation_form(world) -> dict:
    return {**_organisation_form(world), "name": "Zorggroep Nieuw", "agb_code": "73999999", "ura": "12345678"}


def _location_form(world) -> dict:
    """The beheer location as its page shows it."""
    location = Location.objects.get(pk=world.objects["beheer_location"])
    post = {
        name: getattr(location, name) or ""
        for name in LocationForm.base_fields
        if name not in ("admission_24_7", "specialist_24_7", "features", "contracted_insurers")
    }
    for name in ("admission_24_7", "specialist_24_7"):
        if getattr(location, name):
            post[name] = "on"
    post["features"] = list(location.features.values_list("pk", flat=True))
    post["contracted_insurers"] = list(location.contracted_insurers.values_list("pk", flat=True))
    return post


def _contract_prefix(world) -> str:
    return f"p{world.objects['product']}-"


def _contract_form(world) -> dict:
    # The beheer location does not offer the product yet: version 0.
    return {f"{_contract_prefix(world)}total": 8, f"{_contract_prefix(world)}version": 0}


def _user_form(world) -> dict:
    """The beheer user as its page shows it."""
    user = User.objects.get(pk=world.objects["beheer_user"])
    return {name: getattr(user, name) for name in ("first_name", "last_name", "email", "role", "language")} | {
        "organisation": user.organisation_id
    }


def _invite_form(world) -> dict:
    return {**_user_form(world), "email": "nieuw@example.org", "first_name": "Nina", "last_name": "Nieuw"}


def _region_form(world) -> dict:
    """The region's settings as their page shows them."""
    region = Region.objects.get(organisations__pk=world.objects["beheer_organisation"])
    post = {
        name: getattr(region, name)
        for name in RegionSettingsForm.base_fields
        if name not in ("products", "neighbours", "share_capacity_with_neighbours")
    }
    post["office_hours_start"] = f"{region.office_hours_start:%H:%M}"
    post["office_hours_end"] = f"{region.office_hours_end:%H:%M}"
    post["products"] = list(region.products.values_list("pk", flat=True))
    post["neighbours"] = list(region.neighbours.values_list("pk", flat=True))
    if region.share_capacity_with_neighbours:
        post["share_capacity_with_neighbours"] = "on"
    return post


NEW_PASSWORD = "Vijf-kleine-zeehondjes-2031"


# route -> (form class, or None for a button or a view without a form; a valid post; the form's
# prefix). A valid post with one field spoiled shows that the spoiled field, and nothing else, is
# refused.
PAGE_FORMS = {
    "referrals:new": (ReferralForm, lambda world: form_post(bsn=FRESH_BSN, submit_token="hostile-1")),
    "referrals:advice": (None, lambda world: form_post()),  # advice only: stores nothing
    "referrals:step": (StepForm, lambda world: {"target": "cancelled", "reason": "Patiënt toch thuis"}),
    "referrals:offer_send": (OfferSendForm, lambda world: {"capacity": world.objects["capacity"]}),
    "referrals:admit": (AdmitForm, lambda world: {"admitted_at": _now()}),
    "referrals:discharge": (DischargeForm, lambda world: {"discharged_at": _now(), "destination": "home"}),
    "referrals:no_show": (NoShowForm, lambda world: {"reason": "Niet gekomen"}),
    "referrals:stay_product_change": (ProductChangeForm, lambda world: {"product": "elv_laag", "reason": "Opgeknapt"}),
    "referrals:offer_accept": (OfferAcceptForm, lambda world: {"admission_at": _now(60)}),
    "referrals:offer_decline": (OfferDeclineForm, lambda world: {"reason": "other", "text": "Geen plek"}),
    "referrals:offer_stop": (OfferStopForm, lambda world: {"reason": "Bed nodig voor eigen regio"}),
    "beds:capacity_save": (CapacityForm, _capacity_form, _capacity_prefix),
    "beds:location_confirm": (None, lambda world: {}),
    "beds:overview_subscription": (OverviewSubscriptionForm, lambda world: {"subscribed": "on"}),
    "audit:privacy": (PatientSearchForm, lambda world: {"bsn": FRESH_BSN}),
    "audit:patient_accesses_export": (PatientSearchForm, lambda world: {"bsn": FRESH_BSN}),
    "set_language": (None, lambda world: {"language": "en", "next": "/"}),
    "logout": (None, lambda world: {}),
    # Beheer
    "beheer:organisation_create": (OrganisationForm, _new_organisation_form),
    "beheer:organisation": (OrganisationForm, _organisation_form),
    "beheer:organisation_deactivate": (None, lambda world: {}),
    "beheer:organisation_reactivate": (None, lambda world: {}),
    "beheer:location_create": (LocationForm, lambda world: {**_location_form(world), "name": "Locatie Nieuw"}),
    "beheer:location": (LocationForm, _location_form),
    "beheer:location_deactivate": (None, lambda world: {}),
    "beheer:location_reactivate": (None, lambda world: {}),
    "beheer:location_contract": (ContractForm, _contract_form, _contract_prefix),
    "beheer:user_invite": (UserForm, _invite_form),
    "beheer:user_detail": (UserForm, _user_form),
    "beheer:user_deactivate": (None, lambda world: {}),
    "beheer:user_reactivate": (None, lambda world: {}),
    "beheer:user_invitation_resend": (None, lambda world: {}),
    "beheer:user_second_factor_reset": (None, lambda world: {}),
    "beheer:user_lockout_lift": (None, lambda world: {}),
    "beheer:region": (RegionSettingsForm, _region_form),
    "beheer:contact_problem_resolve": (None, lambda world: {"next": "/beheer/"}),
    "invitation_accept": (
        InvitationAcceptForm,
        lambda world: {"new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD},
    ),
}
# Query parameters of the pages: the overview's filters (the `insurer` case of the report); the
# NUL check does not depend on the name, so one more stands for every other page.
PAGE_QUERY = ("q", *OverviewFilterForm.base_fields)
# Pages with parameters of their own, sent to those pages only: the capacity planner's period and
# what-ifs, the monitoring's months and insurer (numbers and dates they must refuse, not fail on).
PAGE_QUERY_OF = {
    "cockpit:planner": PlannerForm.QUERY_NAMES,
    "cockpit:planner_export": PlannerForm.QUERY_NAMES,
    "cockpit:monitoring": ("from", "to", "insurer"),
    "cockpit:monitoring_export": ("from", "to", "insurer"),
}


def _form_fields(form_class, prefix: str) -> dict[str, object]:
    """Field name as posted -> "text" (free text), "other", or for a whole number its maximum."""
    fields = {}
    for name, field in form_class.base_fields.items():
        kind = "other"
        if type(field) is forms.IntegerField:
            kind = Maximum(field.max_value)
        elif isinstance(field, forms.CharField):  # also an e-mail address
            kind = "text"
        fields[prefix + name] = kind
    return fields


# --- the API's fields from its OpenAPI schema -------------------------------------------------


@cache
def _schema() -> dict:
    from drf_spectacular.generators import SchemaGenerator

    return SchemaGenerator().get_schema(request=None, public=True)


def _resolve(schema: dict, node: dict) -> dict:
    while "$ref" in node:
        node = schema["components"]["schemas"][node["$ref"].rsplit("/", 1)[1]]
    return node


def _schema_operation(path: str, method: str) -> dict:
    schema_path = "/" + re.sub(r"<(?:\w+:)?\w+>", "{id}", path)
    return _schema()["paths"].get(schema_path, {}).get(method.lower(), {})


def _api_fields(path: str, method: str) -> dict[str, str]:
    schema = _schema()
    operation = _schema_operation(path, method)
    content = operation.get("requestBody", {}).get("content", {}).get("application/json")
    if not content:
        return {}
    fields = {}
    for name, prop in _resolve(schema, content["schema"]).get("properties", {}).items():
        prop = _resolve(schema, prop)
        kind = "other"
        if prop.get("type") == "integer":
            kind = Maximum(prop.get("maximum"))
        elif prop.get("type") == "string" and "enum" not in prop and "format" not in prop:
            kind = "text"
        fields[name] = kind
    return fields


def _api_query(path: str) -> list[str]:
    return [p["name"] for p in _schema_operation(path, "GET").get("parameters", []) if p["in"] == "query"]


# Valid bodies for the API's writes (the others get only the schema's fields).
def _api_bases(world) -> dict:
    location = world.objects["location"]
    return {
        "api-referrals": referral_json(bsn=FRESH_BSN),
        "api-capacity": {"total": 10, "available": 5},
        "api-capacity-bulk": {
            "locations": [{"id": location, "capacities": [{"product": "elv_hoog", "total": 10, "available": 5}]}]
        },
        "api-referral-transition": {"to": "cancelled", "reason": "Patiënt toch thuis"},
        "api-referral-no-show": {"reason": "Niet gekomen"},
        "api-referral-product-change": {"product": "elv_laag", "reason": "Opgeknapt"},
        "api-offer-decline": {"reason": "other", "text": "Geen plek"},
        "api-offer-accept": {"admission_at": (timezone.now() + timedelta(hours=1)).isoformat()},
        "fhir:servicerequest-create": referral_bundle(bsn=FRESH_BSN),
    }


# --- whole numbers ----------------------------------------------------------------------------


class Maximum(int):
    """The declared maximum of a whole-number field (0: none declared)."""

    def __new__(cls, value):
        return super().__new__(cls, value or 0)


def too_large(maximum: Maximum) -> list[int]:
    """Numbers the field must refuse: just past its declared maximum, beyond PostgreSQL's
    integer (unless the field is a bigint id that may be that large), beyond any column."""
    numbers = {HUGE_INTS[1]}
    if maximum:
        numbers.add(maximum + 1)
    if not maximum or maximum < HUGE_INTS[0]:
        numbers.add(HUGE_INTS[0])
    return sorted(numbers)


# --- JSON documents ---------------------------------------------------------------------------


def _leaves(value, path=()):
    """(path, value) of every scalar in a JSON document."""
    if isinstance(value, dict):
        for key, child in value.items():
            yield from _leaves(child, (*path, key))
    elif isinstance(value, list):
        for index, child in enumerate(value):
            yield from _leaves(child, (*path, index))
    else:
        yield path, value


def _with(document, path, value):
    changed = copy.deepcopy(document)
    target = changed
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    return changed


FREE_TEXT = ("name", "medical_reason", "notes", "carer_contact")


def _bundle_texts(bundle: dict) -> set[tuple]:
    """The strings of the Bundle that the intake turns into the referral's free text: those
    whose change changes one of those fields."""
    before = parse_referral_bundle(bundle).data
    texts = set()
    for path, value in _leaves(bundle):
        if isinstance(value, str):
            try:
                after = parse_referral_bundle(_with(bundle, path, value + " (changed)")).data
            except FhirError:  # a structural string (resourceType, type)
                continue
            if any(before.get(name) != after.get(name) for name in FREE_TEXT):
                texts.add(path)
    return texts


def _json_variants(base: dict, fields: dict[str, object], *, texts: set[tuple] | None = None):
    """(label, body) pairs: each schema field and each leaf of the valid body spoiled in turn.
    `texts`: the leaves that are free text, when not every string is."""
    targets = {(name,): kind for name, kind in fields.items()}
    for path, value in _leaves(base):
        if isinstance(value, bool):
            kind = "other"
        elif isinstance(value, int):
            kind = Maximum(None)
        elif texts is not None:
            kind = "text" if path in texts else "other"
        else:
            kind = "text" if isinstance(value, str) else "other"
        targets.setdefault(path, kind)
    for path, kind in targets.items():
        label = ".".join(map(str, path))
        yield f"NUL in {label}", _with(base, path, NUL_TEXT)
        if isinstance(kind, Maximum):
            for number in too_large(kind):
                yield f"{number} in {label}", _with(base, path, number)
        if kind == "text":
            yield f"{len(OVERLONG)} characters in {label}", _with(base, path, OVERLONG)


# --- the database before and after ------------------------------------------------------------


def _tables(skip=()) -> list[str]:
    models = apps.get_models(include_auto_created=True)
    tables = {model._meta.db_table for model in models if model._meta.managed and not model._meta.proxy}
    return sorted(tables - UNCHECKED_TABLES - set(skip) - {t for t in tables if t.startswith("axes_")})


def fingerprint(skip=()) -> dict:
    """Per table its row count and (on PostgreSQL) a digest of every row."""
    tables = _tables(skip)
    quote = connection.ops.quote_name
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            parts = [
                f"SELECT %s, count(*), md5(coalesce(string_agg(t::text, '|' ORDER BY t::text), '')) FROM {quote(t)} t"
                for t in tables
            ]
        else:
            parts = [f"SELECT %s, count(*), '' FROM {quote(t)}" for t in tables]
        cursor.execute(" UNION ALL ".join(parts), tables)
        return {table: (count, digest) for table, count, digest in cursor.fetchall()}


# --- sending and judging ----------------------------------------------------------------------


def _channel(path: str) -> str:
    """As elvdesk/input_guard.py decides the shape of an answer: by the path."""
    if path.startswith("api/"):
        return "api"
    return "fhir" if path.startswith("fhir/") else "page"


def _path_of(name: str) -> str:
    return next(path for path, route_name in all_routes() if route_name == name)


class Caller:
    """Sends requests to one route as its actor and checks each answer."""

    def __init__(self, client, world, name: str, method: str):
        self.client, self.world, self.name, self.method = client, world, name, method
        self.route = EXPECTED[(name, method)]
        self.channel = _channel(_path_of(name))
        self.problems: list[str] = []
        role = next((role for role in ACTORS if role in self.route.roles), None)
        pk = _object_for(world, self.route.obj, role or Role.GP) if self.route.obj else None
        from django.urls import reverse

        kwargs = {self.route.kwarg: pk} if pk is not None else {}
        kwargs.update({kwarg: world.objects[kind] for kwarg, kind in self.route.more})
        self.url = reverse(name, kwargs=kwargs)
        self.headers = {"HTTP_ACCEPT_LANGUAGE": "nl"}
        client.raise_request_exception = False  # a 500 is a finding, not the end of the test
        if role is not None:
            user = world.users[(role, "own")]
            if self.channel == "page":
                client.force_login(user)
            else:
                self.headers["HTTP_AUTHORIZATION"] = f"Token {Token.objects.get_or_create(user=user)[0].key}"
        if name == "api-capacity-bulk":
            self.headers["HTTP_IF_MATCH"] = "*"
        self.skip_tables = ("referrals_referraldraft",) if name == "referrals:new" else ()

    def send(self, label: str, *, body=None, content_type=None, query=None, headers=None, strict=True, check=None):
        """One request in a savepoint rolled back afterwards. strict: must be a 4xx (else: any
        answer but 5xx, a 4xx in the channel's shape)."""
        sid = transaction.savepoint()
        try:
            before = fingerprint(self.skip_tables)
            kwargs = {**self.headers, **(headers or {})}
            url = self.url + ("?" + query if query else "")
            if body is None:
                response = self.client.generic(self.method, url, **kwargs)
            else:
                response = self.client.generic(self.method, url, body, content_type=content_type, **kwargs)
            try:
                after = fingerprint(self.skip_tables)
            except DatabaseError as error:  # the request left the transaction broken
                after = {"error": str(error)}
        finally:
            transaction.savepoint_rollback(sid)
        where = f"{self.method} {self.name} — {label}"
        status = response.status_code
        if status >= 500 or (strict and not 400 <= status < 500 and not self._form_error(response)):
            self.problems.append(f"{where}: {status} {response.content[:300]!r}")
            return response
        if status >= 400 and not self._in_shape(response):
            self.problems.append(f"{where}: {status} not in the {self.channel} error shape: {response.content[:300]!r}")
        changed = sorted(table for table in set(before) | set(after) if before.get(table) != after.get(table))
        if changed and (strict or status >= 400):  # an accepted search may mark things read
            self.problems.append(f"{where}: changed {changed}")
        if check is not None and status < 500:
            problem = check(response)
            if problem:
                self.problems.append(f"{where}: {problem}")
        return response

    def _form_error(self, response) -> bool:
        """A page that answers its htmx form with the form again (200) shows the error in it."""
        return self.channel == "page" and response.status_code == 200 and b'role="alert"' in response.content

    def _in_shape(self, response) -> bool:
        content_type = response.get("Content-Type", "")
        if self.channel == "api":
            if not content_type.startswith("application/json"):
                return False
            error = response.json().get("error", {})
            return error.get("status") == response.status_code and bool(error.get("message"))
        if self.channel == "fhir":
            if not content_type.startswith("application/fhir+json"):
                return False
            body = response.json()
            return body.get("resourceType") == "OperationOutcome" and bool(body.get("issue"))
        return content_type.startswith("text/html")


FORM = "application/x-www-form-urlencoded"


WRITE_ROUTES = sorted((name, method) for name, method in EXPECTED if method in WRITES)
READ_ROUTES = sorted((name, method) for name, method in EXPECTED if method == "GET")


def test_every_page_write_route_has_its_form_here():
    pages = {name for name, method in WRITE_ROUTES if _channel(_path_of(name)) == "page"}
    assert pages == set(PAGE_FORMS), "add the form of each page route that accepts a POST to PAGE_FORMS"


BEHEER_FORM_ROUTES = sorted(
    name for name, (form_class, *_) in PAGE_FORMS.items() if form_class and name.startswith(("beheer:", "invitation"))
)


@pytest.mark.parametrize("name", BEHEER_FORM_ROUTES)
def test_the_valid_post_of_a_beheer_form_is_accepted(client, name):
    """Each spoiled post differs from an accepted one in that field alone: a refusal is the field's."""
    world = _world()
    caller = Caller(client, world, name, "POST")
    form_class, base_for, *_ = PAGE_FORMS[name]

    response = caller.send("valid", body=urlencode(base_for(world), doseq=True), content_type=FORM, strict=False)

    assert response.status_code == 302, response.content[:300]


@pytest.mark.parametrize(("name", "method"), WRITE_ROUTES, ids=lambda value: str(value))
def test_a_write_endpoint_refuses_hostile_input_and_stores_nothing(client, name, method):
    world = _world()
    caller = Caller(client, world, name, method)
    path = _path_of(name)

    if caller.channel == "page":
        form_class, base_for, *prefix_for = PAGE_FORMS[name]
        base = base_for(world)
        prefix = prefix_for[0](world) if prefix_for else ""
        # A view without a form still must not take a NUL anywhere.
        fields = _form_fields(form_class, prefix) if form_class else {"note": "other"}
        reports_nul = name == "referrals:new"  # the form shows it (elvdesk/input_guard.form_reports_nul)
        for field, kind in fields.items():
            check = _typed_input_kept(field) if reports_nul else None
            caller.send(
                f"NUL in {field}", body=urlencode({**base, field: NUL_TEXT}, doseq=True), content_type=FORM, check=check
            )
            if isinstance(kind, Maximum):
                for number in too_large(kind):
                    caller.send(
                        f"{number} in {field}", body=urlencode({**base, field: number}, doseq=True), content_type=FORM
                    )
            if kind == "text":
                body = urlencode({**base, field: OVERLONG}, doseq=True)
                caller.send(f"{len(OVERLONG)} characters in {field}", body=body, content_type=FORM)
        caller.send("3 MB body", body=b"a=" + b"x" * BIG_BODY, content_type=FORM)
    else:
        base = _api_bases(world).get(name, {})
        texts = None
        if name == "fhir:servicerequest-create":
            fields, texts = {}, _bundle_texts(base)
        else:
            fields = _api_fields(path, method)
        content_type = "application/fhir+json" if caller.channel == "fhir" else "application/json"
        for label, body in _json_variants(base, fields, texts=texts):
            caller.send(label, body=json.dumps(body), content_type=content_type)
        caller.send("JSON nested 100,000 deep", body="[" * DEEP + "]" * DEEP, content_type=content_type)
        deep_field = json.dumps({**base, "deep": 0}).replace('"deep": 0', '"deep": ' + "[" * DEEP + "]" * DEEP)
        caller.send("JSON nested 100,000 deep in a field", body=deep_field, content_type=content_type)
        caller.send(
            "Idempotency-Key of 5,000 characters",
            body=json.dumps(base),
            content_type=content_type,
            headers={"HTTP_IDEMPOTENCY_KEY": LONG_KEY},
        )
        caller.send("3 MB body", body=json.dumps({"x": "x" * BIG_BODY}), content_type=content_type)
        caller.send("NUL in form data", body="note=a%00b", content_type=FORM)

    assert not caller.problems, "\n".join(caller.problems)


def _typed_input_kept(spoiled: str):
    """The referral form reports the NUL on the page itself: the form comes back (400) with an
    error and with what was typed in the other fields."""

    def check(response):
        if response.status_code != 400 or b'name="bsn"' not in response.content:
            return f"not the form again ({response.status_code})"
        if b"(NUL)" not in response.content:
            return "no error about the NUL"
        kept = "Maria Jansen" if spoiled != "name" else "Gevallen, niet meer mobiel."
        if kept.encode() not in response.content:
            return f"lost what was typed ({kept!r})"
        return None

    return check


@pytest.mark.parametrize("channel", ["api", "fhir", "page"])
def test_every_search_parameter_refuses_nul_and_survives_huge_numbers(client, channel):
    world = _world()
    capability = client.get("/fhir/r4/metadata").json()
    fhir_params = {
        f"fhir:{resource['type'].lower()}-search": [p["name"] for p in resource.get("searchParam", [])]
        for resource in capability["rest"][0]["resource"]
    }
    problems = []
    for name, method in READ_ROUTES:
        if _channel(_path_of(name)) != channel:
            continue
        caller = Caller(client, world, name, method)
        if channel == "api":
            params = ["q", *_api_query(_path_of(name))]
        elif channel == "fhir":
            params = ["q", "_count", "_offset", "_format", *fhir_params.get(name, [])]
        else:
            params = [*PAGE_QUERY, *PAGE_QUERY_OF.get(name, ())]
        for param in params:
            caller.send(f"NUL in {param}", query=f"{param}=a%00b")
            for number in HUGE_INTS:
                caller.send(f"{param}={number}", query=f"{param}={number}", strict=False)
        problems += caller.problems
    assert not problems, "\n".join(problems)


def test_a_fhir_offset_beyond_the_database_range_is_a_400(client):
    world = _world()
    caller = Caller(client, world, "fhir:location-search", "GET")

    response = caller.send("_offset", query="_offset=99999999999999999999")

    assert response.status_code == 400 and not caller.problems, caller.problems


def test_the_referral_form_limits_are_in_the_page(client):
    """The browser stops at the limit too (maxlength), so the user never types past it."""
    world = _world()
    client.force_login(world.users[(Role.GP, "own")])

    page = client.get("/referrals/new/").content.decode()

    assert re.search(rf'<textarea[^>]*name="medical_reason"[^>]*maxlength="{MEDICAL_REASON}"', page) or re.search(
        rf'<textarea[^>]*maxlength="{MEDICAL_REASON}"[^>]*name="medical_reason"', page
    )
