"""Production settings pass Django's deployment checklist with zero warnings."""

import os
import secrets
import subprocess
import sys
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parent.parent


def _production_env() -> dict:
    env = {k: v for k, v in os.environ.items() if k not in {"ELVDESK_TESTING", "DEBUG"}}
    env.update(
        DJANGO_SETTINGS_MODULE="elvdesk.settings",
        DEBUG="0",
        SECRET_KEY=secrets.token_urlsafe(64),
        ALLOWED_HOSTS="elv.example.nl",
    )
    return env


def test_management_commands_work_in_a_checkout_without_a_secret_key():
    env = _production_env()
    del env["SECRET_KEY"]
    result = subprocess.run(
        [sys.executable, "manage.py", "makemigrations", "--check", "--dry-run"],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_manage_py_check_deploy_reports_no_warnings():
    result = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=REPO_ROOT,
        env=_production_env(),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


@pytest.mark.parametrize(
    "entry_point",
    [
        "import elvdesk.wsgi",
        "import django; django.setup(); from celery.signals import worker_init; worker_init.send(sender=None)",
        "import django; django.setup(); from celery.signals import beat_init; beat_init.send(sender=None)",
    ],
)
def test_production_refuses_to_start_without_a_secret_key(entry_point):
    env = _production_env()
    del env["SECRET_KEY"]
    result = subprocess.run(
        [sys.executable, "-c", entry_point],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode != 0
    assert "SECRET_KEY" in result.stderr


def test_responses_carry_the_security_headers(client):
    response = client.get("/accounts/login/")
    csp = response["Content-Security-Policy"]
    assert "script-src 'self' 'nonce-" in csp
    assert "'unsafe-inline'" not in csp
    assert "frame-ancestors 'none'" in csp
    assert response["X-Frame-Options"] == "DENY"
    assert response["X-Content-Type-Options"] == "nosniff"
    nonce = csp.split("'nonce-")[1].split("'")[0]
    html = response.content.decode()
    assert "<script" in html and all(f'nonce="{nonce}"' in tag for tag in html.split("<script")[1:])


def test_session_and_csrf_cookies_are_httponly_samesite_and_secure_in_production():
    code = (
        "import django; django.setup(); from django.conf import settings as s; "
        "print(s.SESSION_COOKIE_SECURE, s.CSRF_COOKIE_SECURE, s.SESSION_COOKIE_HTTPONLY, "
        "s.SESSION_COOKIE_SAMESITE, s.SECURE_HSTS_SECONDS > 0, s.X_FRAME_OPTIONS)"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO_ROOT, env=_production_env(), capture_output=True, text=True, timeout=60
    )
    assert result.stdout.split() == ["True", "True", "True", "Lax", "True", "DENY"], result.stderr
