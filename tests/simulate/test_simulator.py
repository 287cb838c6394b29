"""The region simulator (simulate/): a short smoke run, reproducibility, and the capacity planner's
Erlang loss formula against the simulated share of patients who find no free bed."""

import json
import subprocess  # nosec B404: runs this project's own simulator
import sys
from pathlib import Path

import pytest

from cockpit.erlang import erlang_b
from simulate.figures import NATIONAL_POPULATION, NATIONAL_USERS_PER_YEAR
from simulate.run import simulate
from simulate.scenario import Scenario

ROOT = Path(__file__).resolve().parents[2]


def _population_for(arrivals_per_day: float) -> int:
    return round(arrivals_per_day * 365 * NATIONAL_POPULATION / NATIONAL_USERS_PER_YEAR)


def _run_simulate(tmp_path, name: str, *options: str) -> dict:
    """`python -m simulate` as `make simulate` runs it: its own throw-away database each time."""
    command = [sys.executable, "-m", "simulate", *options, "--out", str(tmp_path), "--name", name]
    subprocess.run(command, cwd=ROOT, check=True, capture_output=True, timeout=600)  # noqa: S603
    return json.loads((tmp_path / f"{name}.json").read_text())


def test_the_same_seed_gives_the_same_report(tmp_path):
    options = ("--seed", "11", "--days", "1", "--population", "2000000", "--patience", "12")
    first = _run_simulate(tmp_path, "first", *options)
    second = _run_simulate(tmp_path, "second", *options)

    assert first == second
    figures = first["figures"]
    assert figures["referrals"] > 0
    for name in ("median_minutes_to_bed", "p90_minutes_to_bed", "placed_within_24h", "offers_per_placement"):
        assert figures[name] is not None, name
    assert set(figures["products"]) == {"elv_laag", "elv_hoog", "elv_palliatief"}
    assert first["scenario"]["seed"] == 11
    assert (tmp_path / "first.md").read_text().startswith("# Region simulation — seed 11")


def test_the_simulated_share_without_a_free_bed_matches_the_erlang_loss_formula(tmp_path):
    # 2 erlangs on 5 beds (the formula: 3.67%): 2 arrivals an hour staying an hour on average,
    # in the Erlang model (admission at any hour, no declines, constant arrival rate, a patient
    # without a free bed leaves at once). A low load makes the arrivals nearly independent, so
    # about a thousand of them pin the share to well within the two percentage points.
    options = ["--seed", "2026", "--days", "20", "--population", str(_population_for(2 * 24))]
    options += ["--mix", "elv_hoog=1", "--mean-stay-days", str(1 / 24), "--beds", "elv_hoog=5"]
    options += ["--patience", "0", "--idealised", "--jobs-every", "360"]

    row = _run_simulate(tmp_path, "erlang", *options)["figures"]["products"]["elv_hoog"]

    assert row["erlang_loss_formula"] == round(erlang_b(2, 5), 4) == 0.0367
    assert row["referrals"] > 800
    assert abs(row["no_free_bed_on_arrival"] - row["erlang_loss_formula"]) <= 0.02


@pytest.mark.django_db
def test_the_simulation_runs_on_the_suites_database_too():
    # The services as the suite's database runs them (PostgreSQL in CI): one busy day.
    report = simulate(Scenario(days=1, seed=5, population=2_000_000, patience_hours=6))

    assert report["figures"]["placed"] > 0
    assert report["figures"]["products"]["elv_hoog"]["referrals"] > 0
