"""Suite-wide test infrastructure: the CI guard and the Chromium browser fixtures.

Model factories live in tests/factories.py; app-specific fixtures in the conftest files of the
subfolders.

- With CI=true the session fails at once unless it runs on PostgreSQL and a Redis that answers:
  CI must never pass on the embedded SQLite default by accident.
- `browser` gives a headless Debian Chromium driven by Playwright's sync API (no browser download).
  Outside CI a machine without /usr/bin/chromium skips browser tests with the reason; in CI it fails.
  Use it with pytest-django's `live_server` and `@pytest.mark.django_db(transaction=True, ...)`.
"""

import os
import re
import time
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parent.parent
ARTIFACTS_DIR = REPO_ROOT / "test-artifacts"
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking"]


def in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() in {"1", "true", "yes", "on"}


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
    if not settings.REDIS_URL:
        problems.append("REDIS_URL is not set (set REDIS_URL=redis://127.0.0.1:6379/0)")
    else:
        import redis

        try:
            redis.Redis.from_url(settings.REDIS_URL, socket_connect_timeout=2, socket_timeout=2).ping()
        except redis.RedisError as error:
            problems.append(f"Redis at {settings.REDIS_URL} does not answer a ping ({error})")
    return problems


def pytest_sessionstart(session):
    """In CI, stop the whole session with a clear message instead of passing on the wrong backends."""
    if not in_ci():
        return
    problems = _ci_environment_problems()
    if problems:
        message = "CI=true, but the test session is not on PostgreSQL and Redis:\n  - " + "\n  - ".join(problems)
        pytest.exit(message, returncode=pytest.ExitCode.TESTS_FAILED)


def pytest_report_header(config):
    from django.conf import settings
    from django.db import connection

    broker = settings.REDIS_URL or "none (Celery tasks run in-process)"
    return [f"elvdesk: database {connection.vendor}, Redis {broker}, CI={'yes' if in_ci() else 'no'}"]


def pytest_collection_modifyitems(config, items):
    """Every test that uses the `browser` fixture carries the `browser` marker (`-m "not browser"`)."""
    for item in items:
        if "browser" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.browser)


# --- Browser --------------------------------------------------------------------------------


def _missing_browser(reason: str):
    if in_ci():
        pytest.fail(f"{reason} (browser tests are required in CI)", pytrace=False)
    pytest.skip(reason)


@pytest.fixture
def browser(monkeypatch):
    """A headless Debian Chromium (Playwright sync API), closed after the test.

    Playwright's sync API runs an asyncio event loop in this thread, which makes Django refuse ORM
    calls from the test body; DJANGO_ALLOW_ASYNC_UNSAFE is Django's documented switch for exactly
    this case. It is set only while a browser test runs.
    """
    if not CHROMIUM.exists():
        _missing_browser(f"Chromium not found at {CHROMIUM} (apt-get install chromium chromium-driver)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _missing_browser("the playwright package is not installed (pip install -e '.[dev]')")

    from django.db import connections

    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS)
        try:
            yield chromium
        finally:
            chromium.close()
            # While Playwright's loop runs, asgiref keeps this thread's database connections in a
            # context variable, apart from the ones pytest-django closes. Close them here, or
            # PostgreSQL refuses to drop the test database ("being accessed by other users").
            connections.close_all()


@pytest.fixture
def new_page(browser, live_server):
    """Open a page in a fresh browser context (own cookies, so one context is one user).

    `page = new_page()`; the contexts are closed after the test. Dutch is the browser language,
    as for the desk's users; pass `locale="en-GB"` for English.
    """
    contexts = []

    def _new_page(locale: str = "nl-NL", **context_options):
        # A phone-sized page passes its own viewport (with is_mobile, has_touch).
        context_options.setdefault("viewport", {"width": 1280, "height": 900})
        context = browser.new_context(base_url=live_server.url, locale=locale, **context_options)
        context.set_default_timeout(10_000)
        contexts.append(context)
        return context.new_page()

    yield _new_page
    for context in contexts:
        context.close()


def login(page, username: str, password: str, *, next_path: str | None = None) -> None:
    """Log in through the real login form; `page` must have a base_url (see `new_page`)."""
    from django.urls import reverse

    url = reverse("login") + (f"?next={next_path}" if next_path else "")
    page.goto(url)
    page.fill("#id_username", username)
    page.fill("#id_password", password)
    with page.expect_navigation():
        page.click("button.primary")
    if "/accounts/login" in page.url:
        raise AssertionError(f"login as {username!r} failed; still on {page.url}")
    if "/two-factor/verify" in page.url:
        page.fill("#id_token", current_totp(username))
        with page.expect_navigation():
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


def screenshot(page, name: str, *, full_page: bool = True) -> Path:
    """Save a PNG of the page to test-artifacts/ at the repository root and return its path."""
    ARTIFACTS_DIR.mkdir(exist_ok=True)
    safe = re.sub(r"[^A-Za-z0-9_.-]+", "-", name).strip("-") or "page"
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
    """With REDIS_URL set (CI) the cache is a shared Redis: start every test with it empty."""
    from django.core.cache import cache

    cache.clear()
    yield
