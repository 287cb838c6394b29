"""docker-compose.yml, Dockerfile and .env.example stay true to the project's real entry points.

No Docker engine runs on the development and CI machines, so compose is checked by reading it:
the services exist, their commands name importable entry points, and every environment variable
they set is one that elvdesk/settings.py actually reads (and .env.example documents).
"""

import ast
import importlib
import re
import shlex
from pathlib import Path
from urllib.parse import urlparse

import pytest
import yaml

REPO_ROOT = Path(__file__).resolve().parent.parent
SETTINGS_FILE = REPO_ROOT / "elvdesk" / "settings.py"
SERVICES = {"web", "worker", "beat", "postgres", "redis"}
APP_SERVICES = {"web", "worker", "beat"}
# Read by Django / manage.py / wsgi.py / celery.py rather than by settings.py itself.
FRAMEWORK_VARIABLES = {"DJANGO_SETTINGS_MODULE"}


def settings_variables() -> set[str]:
    """Names of the environment variables elvdesk/settings.py reads.

    Found in the source: os.environ.get("X"), os.getenv("X"), os.environ["X"] and the settings'
    own helpers called with a literal name (_env_bool("X", ...), _env_list("X", ...)).
    """
    tree = ast.parse(SETTINGS_FILE.read_text())
    names = set()

    def literal(node):
        return node.value if isinstance(node, ast.Constant) and isinstance(node.value, str) else None

    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and node.args and literal(node.args[0]):
            func = ast.unparse(node.func)
            if func in {"os.environ.get", "os.getenv", "os.environ.setdefault"} or re.fullmatch(r"_env\w*", func):
                names.add(literal(node.args[0]))
        elif isinstance(node, ast.Subscript) and ast.unparse(node.value) == "os.environ" and literal(node.slice):
            names.add(literal(node.slice))
    return names


def env_example_variables() -> set[str]:
    """Names listed in .env.example, as `NAME=value` or commented out as `# NAME=value`."""
    pattern = re.compile(r"^#?\s*([A-Z][A-Z0-9_]*)=")
    return {m.group(1) for line in (REPO_ROOT / ".env.example").read_text().splitlines() if (m := pattern.match(line))}


@pytest.fixture(scope="module")
def compose() -> dict:
    return yaml.safe_load((REPO_ROOT / "docker-compose.yml").read_text())


def command_words(service: dict) -> list[str]:
    command = service.get("command")
    if command is None:
        return []
    if isinstance(command, str):
        return shlex.split(command)
    words = []
    for part in command:  # a list; "sh -c '<script>'" keeps the script as one item
        words.extend(shlex.split(part) if " " in part else [part])
    return words


def environment_names(service: dict) -> set[str]:
    environment = service.get("environment") or {}
    if isinstance(environment, dict):
        return set(environment)
    return {item.split("=", 1)[0] for item in environment}


def test_settings_reads_the_documented_core_variables():
    """Guards the parser above: if it found nothing, the other checks would pass vacuously."""
    assert {"DATABASE_URL", "REDIS_URL", "SECRET_KEY", "ALLOWED_HOSTS", "DEBUG", "EMAIL_HOST"} <= settings_variables()


def test_compose_has_the_five_services(compose):
    assert SERVICES <= set(compose["services"])
    assert compose["services"]["postgres"]["image"].startswith("postgres:15")
    assert compose["services"]["redis"]["image"].startswith("redis:7")


def test_app_services_are_built_from_this_project(compose):
    for name in APP_SERVICES:
        service = compose["services"][name]
        assert service.get("build") in (".", {"context": "."}), f"{name} is not built from the project"
        assert service["environment"]["DEBUG"] in ("0", 0, False), f"{name} must run with DEBUG off"
        assert "postgres" in service["depends_on"] and "redis" in service["depends_on"]
    assert (REPO_ROOT / "Dockerfile").exists()


def test_web_collects_static_and_serves_the_real_wsgi_application(compose):
    words = command_words(compose["services"]["web"])
    script = " ".join(words)
    assert "gunicorn" in words
    assert script.index("collectstatic") < script.index("gunicorn")
    target = words[words.index("gunicorn") + 1]
    assert target == "elvdesk.wsgi:application"
    module_name, attribute = target.split(":")
    application = getattr(importlib.import_module(module_name), attribute)
    assert callable(application)
    assert compose["services"]["web"]["ports"] == ["8000:8000"]


@pytest.mark.parametrize("name, subcommand", [("worker", "worker"), ("beat", "beat")])
def test_celery_services_use_the_project_celery_app(compose, name, subcommand):
    from celery import Celery
    from celery.app.utils import find_app

    import elvdesk.celery

    words = command_words(compose["services"][name])
    assert words[:4] == ["celery", "-A", "elvdesk", subcommand], words
    assert isinstance(elvdesk.celery.app, Celery)
    # What `celery -A elvdesk` resolves to is the project's app, configured from Django settings.
    assert find_app("elvdesk") is elvdesk.celery.app


def test_every_beat_task_is_a_registered_task():
    """Beat must not schedule a task name the worker does not know."""
    from django.conf import settings

    from elvdesk.celery import app

    app.loader.import_default_modules()
    scheduled = {entry["task"] for entry in settings.CELERY_BEAT_SCHEDULE.values()}
    assert scheduled, "the beat schedule is empty"
    assert scheduled <= set(app.tasks), f"unknown tasks in CELERY_BEAT_SCHEDULE: {scheduled - set(app.tasks)}"


def test_migrations_run_once_as_the_owner_and_the_app_as_its_own_role(compose):
    """audit/db_roles.py: the app's role may only INSERT and SELECT on the access log."""
    migrate = compose["services"]["migrate"]
    script = " ".join(command_words(migrate))
    assert script.index("manage.py migrate") < script.index("manage.py db_app_role")
    assert migrate["restart"] == "no"
    owner = urlparse(migrate["environment"]["MIGRATE_DATABASE_URL"])
    app = urlparse(migrate["environment"]["DATABASE_URL"])
    assert (owner.hostname, owner.path) == (app.hostname, app.path) and owner.username != app.username
    for name in APP_SERVICES:
        service = compose["services"][name]
        assert "migrate" not in command_words(service), f"{name} must not migrate (it is not the owner)"
        assert "MIGRATE_DATABASE_URL" not in service["environment"], f"{name} must not know the owner's password"
        assert service["environment"]["DATABASE_URL"] == migrate["environment"]["DATABASE_URL"]
        assert service["depends_on"]["migrate"] == {"condition": "service_completed_successfully"}


def test_compose_sets_only_variables_that_settings_reads(compose):
    known = settings_variables() | FRAMEWORK_VARIABLES
    for name in (*APP_SERVICES, "migrate"):
        unknown = environment_names(compose["services"][name]) - known
        assert not unknown, f"{name} sets variables settings.py never reads: {sorted(unknown)}"


def test_compose_points_the_app_at_its_own_postgres_and_redis(compose):
    for name in APP_SERVICES:
        environment = compose["services"][name]["environment"]
        database_url = environment["DATABASE_URL"]
        assert database_url.startswith("postgres://") and "@postgres:5432/" in database_url, database_url
        assert environment["REDIS_URL"].startswith("redis://redis:6379/")
        assert environment["SECRET_KEY"], f"{name} has no SECRET_KEY"


def test_env_example_lists_every_variable_settings_reads():
    missing = settings_variables() - env_example_variables()
    assert not missing, f".env.example does not mention: {sorted(missing)}"


def test_env_example_lists_no_variable_settings_ignores():
    stray = env_example_variables() - settings_variables() - FRAMEWORK_VARIABLES
    assert not stray, f".env.example lists variables settings.py never reads: {sorted(stray)}"
