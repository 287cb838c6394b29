"""`make run` serves the portal where its e-mails point: the port it is started on."""

import os
import shutil
import subprocess
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parent.parent


def _dry_run(*arguments: str) -> str:
    """The commands `make run` would execute, without executing them (make -n)."""
    if shutil.which("make") is None:
        pytest.skip("make is not installed")
    environment = {key: value for key, value in os.environ.items() if key not in {"SITE_URL", "HOST", "PORT"}}
    return subprocess.run(  # nosec B603 B607: a fixed command in the repository
        ["make", "--no-print-directory", "-n", "run", *arguments],
        cwd=REPO_ROOT,
        env=environment,
        capture_output=True,
        text=True,
        check=True,
    ).stdout


def _lines_running(output: str, command: str) -> list[str]:
    return [line for line in output.splitlines() if f"manage.py {command}" in line]


def test_links_in_e_mails_follow_the_port_make_run_serves_on():
    output = _dry_run("PORT=8230")
    for command in ("runserver", "run_periodic_jobs"):
        (line,) = _lines_running(output, command)
        assert "SITE_URL=http://127.0.0.1:8230 " in line
    assert _lines_running(output, "runserver")[0].rstrip().endswith("runserver 127.0.0.1:8230")


def test_the_default_port_gives_the_default_site_url():
    (line,) = _lines_running(_dry_run(), "runserver")
    assert "SITE_URL=http://127.0.0.1:8000 " in line


def test_a_site_url_given_to_make_run_wins():
    (line,) = _lines_running(_dry_run("PORT=8230", "SITE_URL=https://elv.example.nl"), "runserver")
    assert "SITE_URL=https://elv.example.nl " in line
