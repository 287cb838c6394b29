"""API fuzzing: schemathesis generates requests from /api/schema/ for every /api/v1/ operation,
as each API role in turn, and checks every response:

- no 5xx (not_a_server_error);
- the status code is documented, the body matches its documented schema, the content type too;
- invalid data (negative generation, and the coverage phase's boundary and missing-field cases)
  is rejected with a 4xx (negative_data_rejection); schema-valid data is not refused with a 400
  (positive_data_acceptance), except for the fields listed in DATA_DEPENDENT_FIELDS;
- a call without the token, or with a wrong one, is refused (ignored_auth); an undocumented
  method answers 405 (unsupported_method).

The operations come from the schema at run time, so a new /api/v1/ route is fuzzed without
touching this file. The Django application runs in-process through its WSGI entry point, in the
test's thread and so in the test's transaction, on the seeded region of tests/api/conftest.py.
Generation is deterministic and bounded (MAX_EXAMPLES per operation and mode): a failure
reproduces, and the whole run stays short.

The schema is loaded when the module is collected (it needs no database) and the roles are
pytest parameters; schemathesis' `from_fixture` loader is not used because it breaks on
pytest >= 9.2 (it sets `node._nodeid`, which pytest no longer has).
"""

import json
import re
from types import SimpleNamespace

import pytest
import schemathesis
from django.urls import resolve
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from schemathesis.checks import not_a_server_error
from schemathesis.core import NOT_SET
from schemathesis.generation.hypothesis.builder import ApiOperationMark
from schemathesis.openapi.checks import RejectedPositiveData
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from accounts.models import User
from elvdesk.wsgi import application
from tests.api.conftest import API_ROLES

MAX_EXAMPLES = 20
API_PATHS = r"^/api/v1/"

# Fields whose validity JSON Schema cannot express, per operation: codes that live in the database,
# the BSN check digit, dates relative to today or to earlier events, rules between fields, and
# what fits the caller's role. A schema-valid request refused with a 400 naming only these fields
# is correct; a 400 naming any other field fails the test (the schema should have said so).
DATA_DEPENDENT_FIELDS = {
    # product / insurer / feature codes from the database; a postcode must be a known area, and
    # max_km needs a postcode.
    "GET /api/v1/locations/": {"product", "insurer", "features", "postcode"},
    # BSN check digit, known postcode area and codes; birth date in the past and plausible,
    # planned date not in the past and required for planned urgency; consent must be given; the
    # origin must fit the referrer's role.
    "POST /api/v1/referrals/": {
        "bsn",
        "postcode",
        "insurer",
        "product",
        "care_needs",
        "date_of_birth",
        "planned_date",
        "consent",
        "origin",
    },
    # At least one count; free and held beds cannot exceed the contracted total.
    "PATCH /api/v1/capacities/{id}/": {"non_field_errors", "total", "available", "expected_24h", "expected_72h"},
    # Cancelling or redirecting needs a reason, redirecting a target.
    "POST /api/v1/referrals/{id}/transitions/": {"reason", "redirect_target"},
    # Declining for "other" needs a text.
    "POST /api/v1/offers/{id}/decline/": {"text"},
    # The capacity must offer the referral's product in its region.
    "POST /api/v1/referrals/{id}/offers/": {"capacity"},
    # Times relative to now and to the offer / the admission.
    "POST /api/v1/offers/{id}/accept/": {"admission_at"},
    "POST /api/v1/referrals/{id}/admission/": {"admitted_at"},
    "POST /api/v1/referrals/{id}/discharge/": {"discharged_at"},
    # A product code from the database, one the stay's location has and the patient has not yet.
    "POST /api/v1/referrals/{id}/product-change/": {"product"},
    # The planner: a period within the last 731 days up to today, both dates or neither; the
    # what-if beds name locations of the caller's region and products it offers.
    "GET /api/v1/planner/": {"from", "to", "beds"},
}

CONFIG = schemathesis.Config.from_dict(
    {
        # NUL characters are refused anywhere in a request, also in a property the API does not
        # know (README, "Bad input"; tests/security/test_hostile_input.py shows it), so a body with
        # one is not valid data: no NUL in the generated positive cases.
        "generation": {
            "mode": "all",
            "max-examples": MAX_EXAMPLES,
            "deterministic": True,
            "database": "none",
            "allow-x00": False,
        },
        "phases": {"stateful": {"enabled": False}},
        # 428 Precondition Required is the right answer to a missing If-Match (RFC 6585).
        "checks": {"missing_required_header": {"expected-statuses": [400, 401, 403, 406, 415, 422, 428]}},
        "suppress-health-check": ["too_slow", "filter_too_much", "data_too_large"],
    }
)

pytestmark = pytest.mark.fuzz

schema = schemathesis.openapi.from_wsgi("/api/schema/", application, config=CONFIG).include(path_regex=API_PATHS)

# Primary keys of the rows the running test seeded, by the first path segment after /api/v1/.
EXISTING_IDS: dict[str, list[int]] = {}


@schema.hook
def before_generate_path_parameters(context, strategy):
    """Half of the generated `id`s are rows that exist (of the caller's and other organisations),
    so the fuzzer reaches the code behind the 404."""
    ids = EXISTING_IDS.get(context.operation.path.removeprefix("/api/v1/").split("/")[0])
    if not ids or "{id}" not in context.operation.path:
        return strategy
    return st.one_of(strategy, st.fixed_dictionaries({"id": st.sampled_from(ids)}))


@schema.hook
def before_generate_body(context, strategy):
    """An offer names a capacity: half of the time one that exists."""
    if context.operation.path != "/api/v1/referrals/{id}/offers/":
        return strategy
    existing = st.tuples(strategy, st.sampled_from(EXISTING_IDS["capacities"])).map(
        lambda pair: {**pair[0], "capacity": pair[1]} if isinstance(pair[0], dict) else pair[0]
    )
    return st.one_of(strategy, existing)


@schema.hook
def filter_case(context, case):
    """A form or multipart body can only carry an object; anything else (a bare `true`) reaches
    Django as an empty form, and an input whose fields are all optional rightly accepts that."""
    return case.body is NOT_SET or isinstance(case.body, dict) or case.media_type == "application/json"


@schema.hook
def filter_failure(context, failure, case, response):
    """Keep every failure except a 400 for valid input that names only data-dependent fields."""
    if not isinstance(failure, RejectedPositiveData) or response.status_code != 400:
        return True
    allowed = DATA_DEPENDENT_FIELDS.get(f"{case.operation.method.upper()} {case.operation.path}", set())
    try:
        fields = set(json.loads(response.content)["error"]["fields"])
    except (ValueError, KeyError, TypeError):
        return True
    return not fields <= allowed


@pytest.fixture
def existing_ids(fuzz_region):
    """Set before Hypothesis builds the first example: the hooks above read it on every draw."""
    EXISTING_IDS.update(fuzz_region.ids)
    yield
    EXISTING_IDS.clear()


def admitted_roles(operation) -> list[str]:
    """The API roles the operation's view lets past its permission classes. Only these get the
    full fuzz run; the others are refused before any input is read (see the test below)."""
    view_class = resolve(re.sub(r"\{[^}]+\}", "1", operation.path)).func.view_class
    view = view_class()
    admitted = []
    for role in API_ROLES:
        request = SimpleNamespace(user=User(role=role, organisation_id=1), method=operation.method.upper())
        try:
            if all(permission.has_permission(request, view) for permission in view.get_permissions()):
                admitted.append(role)
        except Exception:  # a permission that needs more than a role: fuzz it to be sure
            admitted.append(role)
    return admitted


def operations() -> list:
    return [result.ok() for result in schema.get_all_operations()]


def pytest_generate_tests(metafunc):
    """Each operation's fuzz test runs once per role its view admits."""
    operation = ApiOperationMark.get(metafunc.definition.obj)
    if "role" in metafunc.fixturenames and operation is not None:
        metafunc.parametrize("role", admitted_roles(operation))


SCHEMA_CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]


def probe(operation, token: str):
    """One call with an empty body for an object that does not exist, checked against the schema.
    A role the operation refuses gets 403 (roles are checked before any input is read); a role it
    admits gets 400 or 404."""
    case = operation.Case(
        path_parameters={"id": 0} if "{id}" in operation.path else {},
        body={} if operation.body else NOT_SET,
        media_type="application/json" if operation.body else None,
    )
    return case.call_and_validate(headers={"Authorization": f"Token {token}"}, checks=SCHEMA_CHECKS)


@pytest.fixture
def admitted_role(request, role, fuzz_region):
    """A view may refuse a role inside the method (POST /referrals/ is for referrers only): then
    every generated request would only get the same 403 again, so the run stops at the probe."""
    operation = ApiOperationMark.get(request.node.obj)
    if probe(operation, fuzz_region.tokens[role]).status_code == 403:
        pytest.skip(f"{operation.label} refuses {role}: its 403 matches the schema")
    return role


@schema.parametrize()
# The role and the seeded region are shared by all examples of one test on purpose.
@settings(deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_api_operation_holds_to_its_schema(case, admitted_role, fuzz_region, existing_ids):
    case.call_and_validate(headers={"Authorization": f"Token {fuzz_region.tokens[admitted_role]}"})


def test_roles_an_operation_refuses_get_a_documented_403(fuzz_region):
    refused = [
        (operation, role) for operation in operations() for role in API_ROLES if role not in admitted_roles(operation)
    ]
    assert refused, "every role may use every operation? Then admitted_roles() is wrong."
    for operation, role in refused:
        response = probe(operation, fuzz_region.tokens[role])
        assert response.status_code == 403, f"{operation.label} as {role}: {response.status_code}"
