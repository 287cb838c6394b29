"""API fuzzing: schemathesis generates requests from /api/schema/ for every /api/v1/ operation,
as each API role in turn, and checks every response:

- no 5xx (not_a_server_error);
- the status code is documented, the body matches its documented schema, the content type too;
- invalid data (negative generation, and the coverage phase's boundary and missing-field cases)
  is rejected with a 4xx; valid data is not refused with a 400 where the schema allows it;
- a call without the token is refused (ignored_auth), an undocumented method answers 405.

The Django application runs in-process through its WSGI entry point, in the test's thread and
transaction, on the seeded demo region of tests/api/conftest.py. Generation is deterministic and
bounded (MAX_EXAMPLES per operation and mode), so a failure reproduces and the suite stays fast.
"""

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

from elvdesk.wsgi import application
from tests.api.conftest import API_ROLES

MAX_EXAMPLES = 25
API_PATHS = r"^/api/v1/"

CONFIG = schemathesis.Config.from_dict(
    {
        "generation": {"mode": "all", "max-examples": MAX_EXAMPLES, "deterministic": True, "database": "none"},
        "phases": {"stateful": {"enabled": False}},
        "suppress-health-check": ["too_slow", "filter_too_much", "data_too_large"],
    }
)

schema = schemathesis.openapi.from_wsgi("/api/schema/", application, config=CONFIG).include(path_regex=API_PATHS)

# Primary keys of the rows the running test seeded, by the first path segment after /api/v1/.
EXISTING_IDS: dict[str, list[int]] = {}


@schema.hook
def before_generate_path_parameters(context, strategy):
    """Half of the generated `id`s are rows that exist (of the caller's and other organisations),
    so the fuzzer reaches the code behind the 404."""
    ids = EXISTING_IDS.get(context.operation.path.removeprefix("/api/v1/").split("/")[0])
    if not ids:
        return strategy
    return st.one_of(strategy, st.fixed_dictionaries({"id": st.sampled_from(ids)}))


@pytest.fixture(params=API_ROLES)
def role(request):
    return request.param


@schema.parametrize()
# The role and the seeded region are shared by all examples of one test on purpose.
@settings(deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_api_operation_holds_to_its_schema(case, role, fuzz_region):
    EXISTING_IDS.clear()
    EXISTING_IDS.update(fuzz_region.ids)
    case.call_and_validate(headers={"Authorization": f"Token {fuzz_region.tokens[role]}"})
