"""Suite-wide test infrastructure: the CI guard and the Chromium browser fixtures.

Model factories live in tests/factories.py; app-specific fixtures in the conftest files of the
subfolders.

- With CI=true the session fails at once unless it runs on PostgreSQL and a Redis that answers:
  CI must never pass on the embedded SQLite default by accident.
- `browser` gives a headless Debian Chromium driven by Playwright's sync API (no browser download),
  one per session; `new_page` opens a fresh context per user and keeps a trace and screenshots
  of failed tests under test-artifacts/failures/. Outside CI a machine without /usr/bin/chromium
  skips browser tests with the reason; in CI it fails. Use it with pytest-django's `live_server`
  and `@pytest.mark.django_db(transaction=True, ...)`.
- `redis_url` and `real_cache` give a test the real Redis (skipped without one, failing in CI);
  everything else runs with in-process Celery and an in-memory cache (elvdesk/settings_test.py).
"""

import os
import re
import subprocess
import time
from datetime import datetime
from pathlib import Path

import pytest
import time_machine

REPO_ROOT = Path(__file__).resolve().parent.parent
ARTIFACTS_DIR = REPO_ROOT / "test-artifacts"
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-dev-shm-usage"]


def in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() in {"1", "true", "yes", "on"}


# --- The clock ------------------------------------------------------------------------------

# Every test starts at this moment, whenever the suite runs: a Wednesday at 10:00 in Amsterdam
# (office hours; the desk's own demo default lets referrers offer only outside them). The clock
# ticks from there, so a test sees time pass as usual. A test about another moment travels there
# itself (time_machine.travel, nested inside this one). In the future, so cookies the server
# sets for a year are not already expired in the real browser of the browser tests.
DEFAULT_START = "2031-03-12T10:00:00+01:00"


def pytest_addoption(parser):
    parser.addoption(
        "--start-clock",
        default=DEFAULT_START,
        help=f"ISO moment at which every test starts (default {DEFAULT_START}); try another to see "
        "that no test depends on the time of day, e.g. --start-clock=2031-03-15T23:59:58+01:00",
    )


def pytest_report_header(config):
    from django.conf import settings
    from django.db import connection

    redis_url = settings.TEST_REDIS_URL or "none (tests marked redis skip)"
    return [
        f"elvdesk: database {connection.vendor}, Redis for the real-Redis tests {redis_url}, "
        f"CI={'yes' if in_ci() else 'no'}; the app under test: Celery eager, cache in memory",
        f"elvdesk: every test starts at {config.getoption('start_clock')} (ticking)",
    ]


@pytest.fixture(autouse=True)
def _fixed_clock(request):
    """Start the test at the session's fixed moment; time ticks on from there."""
    start = datetime.fromisoformat(request.config.getoption("start_clock"))
    with time_machine.travel(start, tick=True):
        yield


# --- Reference data -------------------------------------------------------------------------


def _reload_reference_data(sender, **kwargs):
    if sender.name == "providers":
        from django.apps import apps

        from providers.reference_data import load_reference_data

        load_reference_data(apps)


@pytest.fixture(scope="session", autouse=True)
def _reference_data_survives_every_flush():
    """A transactional test (`transaction=True`, the live server, real threads) ends with a flush
    of every table, which also empties the reference tables of the data migration (products,
    features, insurers, 4,000 PC4 centroids). Django then sends post_migrate; this reloads them
    in a few bulk inserts (about 0.1 s). The alternative, serialized_rollback, deserialises and
    saves every row one by one before each such test (2-3 s a test)."""
    from django.db.models.signals import post_migrate

    post_migrate.connect(_reload_reference_data, dispatch_uid="tests-reference-data")
    yield
    post_migrate.disconnect(dispatch_uid="tests-reference-data")


TRUNCATE_GUARDS = (  # (table, trigger): audit/migrations/0003 and 0005
    ("audit_accesslog", "audit_accesslog_no_truncate"),
    ("audit_changerecord", "audit_changerecord_no_truncate"),
)


@pytest.fixture(scope="session", autouse=True)
def _flush_lifts_the_append_only_truncate_guards():
    """A transactional test ends with a flush: one TRUNCATE of every table, which the guard
    triggers of the access log and the change history refuse on PostgreSQL. The flush runs in
    one transaction as the tables' owner, so the guards are lifted around that statement only
    and are back when it commits."""
    from django.db.backends.postgresql.operations import DatabaseOperations

    original = DatabaseOperations.sql_flush

    def sql_flush(self, style, tables, **kwargs):
        statements = original(self, style, tables, **kwargs)
        guards = [(table, trigger) for table, trigger in TRUNCATE_GUARDS if table in tables]
        if not guards or not statements:
            return statements
        return [
            *(f"ALTER TABLE {table} DISABLE TRIGGER {trigger}" for table, trigger in guards),
            *statements,
            *(f"ALTER TABLE {table} ENABLE TRIGGER {trigger}" for table, trigger in guards),
        ]

    DatabaseOperations.sql_flush = sql_flush
    yield
    DatabaseOperations.sql_flush = original


# --- CI guard -------------------------------------------------------------------------------


def _ci_environment_problems() -> list[str]:
    from django.conf import settings
    from django.db import connection

    problems = []
    if connection.vendor != "postgresql":
        problems.append(
            f"the database is {connection.vendor!r}, not PostgreSQL "
            "(set DATABASE_URL=postgres://postgres@127.0.0.1:5432/elvdesk)"
        )
    if not settings.TEST_REDIS_URL:
        problems.append("REDIS_URL is not set (set REDIS_URL=redis://127.0.0.1:6379/0)")
    else:
        import redis

        try:
            redis.Redis.from_url(settings.TEST_REDIS_URL, socket_connect_timeout=2, socket_timeout=2).ping()
        except redis.RedisError as error:
            problems.append(f"Redis at {settings.TEST_REDIS_URL} does not answer a ping ({error})")
    return problems


def pytest_sessionstart(session):
    """In CI, stop the whole session with a clear message instead of passing on the wrong backends."""
    if not in_ci():
        return
    problems = _ci_environment_problems()
    if problems:
        message = "CI=true, but the test session is not on PostgreSQL and Redis:\n  - " + "\n  - ".join(problems)
        pytest.exit(message, returncode=pytest.ExitCode.TESTS_FAILED)


# --- Real Redis -----------------------------------------------------------------------------


def _required_in_ci(reason: str):
    """Outside CI a test whose real component is missing is skipped with the reason; in CI it fails."""
    if in_ci():
        pytest.fail(f"{reason} (required in CI)", pytrace=False)
    pytest.skip(reason)


@pytest.fixture
def redis_url(settings) -> str:
    """The URL of the real Redis (REDIS_URL of the environment) for a test that needs it.

    Without one the test is skipped with the reason (and fails in CI)."""
    if not settings.TEST_REDIS_URL:
        _required_in_ci("needs a real Redis: set REDIS_URL=redis://127.0.0.1:6379/0 (CI sets it)")
    return settings.TEST_REDIS_URL


@pytest.fixture
def real_cache(settings, redis_url):
    """The application's cache on the real Redis for one test, under a key prefix of its own.

    Only that prefix's keys are deleted afterwards: the database is shared with whatever else
    uses this Redis (a broker, another run), so it is never flushed."""
    import uuid

    import redis

    prefix = f"elvdesk-test-{uuid.uuid4().hex[:12]}"
    # The production backend (elvdesk/redis_cache.py) with its timeouts, on the real server.
    settings.CACHES = {"default": {**settings.REDIS_CACHE, "LOCATION": redis_url, "KEY_PREFIX": prefix}}
    yield
    client = redis.Redis.from_url(redis_url)
    for key in client.scan_iter(match=f"{prefix}:*", count=500):
        client.delete(key)
    client.close()


@pytest.fixture(params=["memory", pytest.param("redis", marks=pytest.mark.redis)])
def each_cache(request) -> str:
    """Run the test once with the in-memory cache and once with the real Redis cache (what
    production uses: pickling, key length and timeouts are Redis's)."""
    if request.param == "redis":
        request.getfixturevalue("real_cache")
    return request.param


# --- Browser --------------------------------------------------------------------------------


def pytest_collection_modifyitems(config, items):
    """Every test that uses the `browser` fixture carries the `browser` marker (`-m "not browser"`)."""
    for item in items:
        if "browser" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.browser)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item, call):
    """Keep each phase's report on the test item, so fixtures can tell a failed test at teardown."""
    report = yield
    setattr(item, f"report_{report.when}", report)
    return report


def _failed(request) -> bool:
    return any(getattr(getattr(request.node, f"report_{when}", None), "failed", False) for when in ("setup", "call"))


def _launch_chromium(profile: Path, log: Path) -> tuple[subprocess.Popen, str]:
    """Start headless Chromium with the DevTools protocol on a free loopback port; return the
    process and the address to connect to. Chromium writes the port it took to DevToolsActivePort."""
    process = subprocess.Popen(
        [
            str(CHROMIUM),
            "--headless",
            *CHROMIUM_ARGS,
            "--remote-debugging-address=127.0.0.1",
            "--remote-debugging-port=0",
            f"--user-data-dir={profile}",
            "--no-first-run",
            "--no-default-browser-check",
            "about:blank",
        ],
        stdin=subprocess.DEVNULL,
        stdout=log.open("ab"),
        stderr=subprocess.STDOUT,
    )
    port_file = profile / "DevToolsActivePort"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and process.poll() is None:
        lines = port_file.read_text().split() if port_file.exists() else []
        if lines:
            return process, f"http://127.0.0.1:{lines[0]}"
        time.sleep(0.05)
    process.kill()
    raise RuntimeError(f"Chromium did not open its DevTools port within 30 s; see {log}")


@pytest.fixture(scope="session")
def _chromium_endpoint(tmp_path_factory):
    """One headless Debian Chromium for the whole session; each browser test connects to it.

    It runs as a plain process, not under a session-long Playwright: Playwright's sync API keeps
    an asyncio loop running in this thread while it is started, and Django then treats every
    later test as async code (and asgiref hands out other database connections). So Playwright
    runs per browser test and connects over the DevTools protocol. A Chromium that died is
    started again for the next test: a crash costs one test, not all that follow."""
    if not CHROMIUM.exists():
        _required_in_ci(f"Chromium not found at {CHROMIUM} (apt-get install chromium chromium-driver)")
    running: dict = {}

    def endpoint() -> str:
        process = running.get("process")
        if process is None or process.poll() is not None:
            ARTIFACTS_DIR.mkdir(exist_ok=True)
            profile = tmp_path_factory.mktemp("chromium-profile")
            running["process"], running["endpoint"] = _launch_chromium(profile, ARTIFACTS_DIR / "chromium.log")
        return running["endpoint"]

    yield endpoint
    process = running.get("process")
    if process is not None and process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()


@pytest.fixture
def browser(monkeypatch, _chromium_endpoint):
    """The session's Chromium, driven by Playwright's sync API for this test.

    Playwright's sync API runs an asyncio event loop in this thread, which makes Django refuse
    ORM calls from the test body; DJANGO_ALLOW_ASYNC_UNSAFE is Django's documented switch for
    exactly this case. It is set only while a browser test runs."""
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _required_in_ci("the playwright package is not installed (make install)")
    from django.db import connections

    endpoint = _chromium_endpoint()
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    with sync_playwright() as playwright:
        chromium = playwright.chromium.connect_over_cdp(endpoint)
        try:
            yield chromium
        finally:
            chromium.close()  # closes this test's contexts and disconnects; Chromium goes on
            # While Playwright's loop runs, asgiref keeps this thread's database connections in
            # a context variable, apart from the ones pytest-django closes. Close them here, or
            # PostgreSQL refuses to drop the test database ("being accessed by other users").
            connections.close_all()


@pytest.fixture
def new_page(request, browser, live_server):
    """Open a page in a fresh browser context (own cookies, so one context is one user).

    `page = new_page()`; the contexts are closed after the test. Dutch is the browser language,
    as for the desk's users; pass `locale="en-GB"` for English. Every context records a
    Playwright trace; when the test fails, the trace and a screenshot of each open page are kept
    under test-artifacts/failures/ (open a trace with `.venv/bin/playwright show-trace FILE`).
    """
    contexts = []

    def _new_page(locale: str = "nl-NL", **context_options):
        # A phone-sized page passes its own viewport (with is_mobile, has_touch).
        context_options.setdefault("viewport", {"width": 1280, "height": 900})
        context = browser.new_context(base_url=live_server.url, locale=locale, **context_options)
        context.set_default_timeout(10_000)
        context.tracing.start(screenshots=True, snapshots=True)
        contexts.append(context)
        return context.new_page()

    yield _new_page
    failed = _failed(request)
    failures = ARTIFACTS_DIR / "failures"
    name = _file_name(request.node.nodeid)
    for number, context in enumerate(contexts, start=1):
        try:
            if failed:
                failures.mkdir(parents=True, exist_ok=True)
                for page_number, page in enumerate(context.pages, start=1):
                    page.screenshot(path=str(failures / f"{name}-{number}-{page_number}.png"), full_page=True)
                context.tracing.stop(path=str(failures / f"{name}-{number}-trace.zip"))
            else:
                context.tracing.stop()
            context.close()
        except Exception as error:  # a crashed browser must not hide the test's own failure
            print(f"closing browser context {number} of {request.node.nodeid}: {error}")


def login(page, username: str, password: str, *, next_path: str | None = None) -> None:
    """Log in through the real login form; `page` must have a base_url (see `new_page`)."""
    from django.urls import reverse

    url = reverse("login") + (f"?next={next_path}" if next_path else "")
    page.goto(url)
    page.fill("#id_username", username)
    page.fill("#id_password", password)
    # Wait for the next document, not for every image and script of it: later steps wait for
    # what they need themselves (Playwright's locators wait).
    with page.expect_navigation(wait_until="domcontentloaded"):
        page.click("button.primary")
    if "/accounts/login" in page.url:
        raise AssertionError(f"login as {username!r} failed; still on {page.url}")
    if "/two-factor/verify" in page.url:
        page.fill("#id_token", current_totp(username))
        with page.expect_navigation(wait_until="domcontentloaded"):
            page.click("button.primary")
        if "/two-factor/" in page.url:
            raise AssertionError(f"second factor for {username!r} refused; still on {page.url}")


def current_totp(username: str) -> str:
    """The authenticator code a user's phone would show now. A code is accepted once per
    30-second step, so the device forgets the last used step (test-only) to allow a second login."""
    from django_otp.oath import totp
    from django_otp.plugins.otp_totp.models import TOTPDevice

    device = TOTPDevice.objects.get(user__username=username, confirmed=True)
    TOTPDevice.objects.filter(pk=device.pk).update(last_t=-1, throttling_failure_count=0)
    return f"{totp(device.bin_key, step=device.step, t0=device.t0, digits=device.digits):0{device.digits}d}"


def _file_name(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "-", text).strip("-")


def screenshot(page, name: str, *, full_page: bool = True) -> Path:
    """Save a PNG of the page to test-artifacts/ at the repository root and return its path."""
    ARTIFACTS_DIR.mkdir(exist_ok=True)
    safe = _file_name(name) or "page"
    path = ARTIFACTS_DIR / f"{safe}.png"
    page.screenshot(path=str(path), full_page=full_page)
    return path


# --- Two-factor sessions --------------------------------------------------------------------


def verified_session_for(client, user) -> None:
    """Mark the client's session as having passed the second factor, as the real login flow
    does after a correct authenticator code (tests/accounts/test_two_factor.py drives that flow)."""
    from django_otp import DEVICE_ID_SESSION_KEY
    from django_otp.plugins.otp_totp.models import TOTPDevice

    device = TOTPDevice.objects.filter(user=user, confirmed=True).first() or TOTPDevice.objects.create(
        user=user, name="test authenticator", confirmed=True
    )
    session = client.session
    session[DEVICE_ID_SESSION_KEY] = device.persistent_id
    session["last_activity"] = int(time.time())  # as the first request after login sets it
    session.save()


@pytest.fixture(autouse=True)
def _force_login_passes_the_second_factor(monkeypatch):
    """`client.force_login(user)` stands for a completed login, so it includes the second factor."""
    from django.test import Client

    original = Client.force_login

    def force_login(self, user, backend=None):
        original(self, user, backend="accounts.backends.ModelBackendWithOrganisation")
        verified_session_for(self, user)

    monkeypatch.setattr(Client, "force_login", force_login)


@pytest.fixture(autouse=True)
def _fresh_cache():
    """Every test starts with an empty cache (this process's memory; see `real_cache` for Redis)."""
    from django.core.cache import cache

    cache.clear()
    yield


@pytest.fixture(autouse=True)
def _default_language():
    """Every test starts in the portal's default language (Dutch). A request through the test client
    leaves its language active in the thread; without this a test reading English messages passed
    or failed depending on which test ran before it (pytest-randomly)."""
    from django.utils import translation

    translation.deactivate()
    yield
    translation.deactivate()


@pytest.fixture(autouse=True)
def _page_cache_bumps_inside_test_transactions(monkeypatch):
    """A test's own transaction is rolled back, never committed, so the region generation's
    bump-after-commit (elvdesk/page_cache.py) would never run and a page rendered again in the same
    test would come from the cache: inside that outer transaction the bump runs at once instead.
    Transactional tests (threads, two app servers) commit for real and keep the real order."""
    from django.db import connection

    from elvdesk import page_cache

    real = page_cache._after_commit

    def after_commit(bump):
        blocks = connection.atomic_blocks
        if blocks and getattr(blocks[0], "_from_testcase", False):
            bump()
        else:
            real(bump)

    monkeypatch.setattr(page_cache, "_after_commit", after_commit)


@pytest.fixture(autouse=True)
def _celery_join_flag_reset():
    """Celery keeps "a task is running, so result.get() would block" in one process-wide flag:
    an eager task sets it and puts back the value it found. Two threads running eager tasks at
    once (a concurrency test, the live server of a browser test) can leave it set for good, and a
    later test's `.delay().get()` then fails with "Never call result.get() within a task!" —
    depending on the order the tests ran in. Every test starts with it cleared."""
    from celery._state import _set_task_join_will_block

    _set_task_join_will_block(False)
    yield
