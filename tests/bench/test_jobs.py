"""The benchmark's jobs (bench/jobs.py) measured in-process on a tiny generated data set: each
reports its figures and did its work, and the writing ones leave the data as it was. No timing
here: `make bench` measures at national scale."""

import pytest

from beds.models import BedOverviewSnapshot, OverviewSubscription, StaleCountReminder
from bench import dataset, jobs
from referrals.models import Escalation, Patient


@pytest.fixture
def tiny(monkeypatch):
    summary = dataset.generate(scale=0.001, seed=7, log=lambda *args: None)
    monkeypatch.setattr(jobs, "REQUESTS", 3)
    monkeypatch.setattr(jobs, "WARMUP", 1)
    return summary


def figures_of(name: str) -> dict:
    figures = jobs.measure(name)
    assert figures["seconds"] > 0
    assert figures["queries"] > 0
    assert figures["peak_mb"] > 0
    return figures


@pytest.mark.django_db
def test_escalations_pass_runs_and_is_rolled_back(tiny):
    figures = figures_of("escalations")

    assert set(figures["details"]) >= {"raised", "resolved", "escalations_made"}
    assert figures["details"]["escalations_made"] == figures["details"]["raised"]
    assert not Escalation.objects.exists()


@pytest.mark.django_db
def test_overviews_go_to_a_hundred_subscribers_per_region_and_are_sent(tiny):
    details = figures_of("overviews")["details"]

    assert details["regions"] == tiny["regions"] == 1
    assert details["subscribers_per_region"] == jobs.OVERVIEW_SUBSCRIBERS == 100
    assert details["snapshots"] == 1
    assert details["deliveries"] == details["deliveries_sent"] == details["emails"] == 100
    # Rolled back: subscriptions, snapshots and the users made for them are gone again.
    assert not OverviewSubscription.objects.exists()
    assert not BedOverviewSnapshot.objects.exists()


@pytest.mark.django_db
def test_stale_reminders_are_made_and_sent(tiny):
    details = figures_of("reminders")["details"]

    assert details["reminders"] > 0
    assert details["reminders"] == details["reminders_in_database"] == details["reminders_sent"] == details["emails"]
    assert not StaleCountReminder.objects.exists()


@pytest.mark.django_db
def test_retention_pseudonymises_the_whole_backlog(tiny):
    pseudonymised_before = list(Patient.objects.filter(pseudonymised_at__isnull=False).values_list("pk", "name"))

    details = figures_of("retention")["details"]

    assert details["backlog"] == len(pseudonymised_before) > 0
    assert details["pseudonymised"] >= details["backlog"]
    assert details["left_with_identifiers"] == 0
    # Rolled back: the generated patients are as they were.
    assert list(Patient.objects.filter(pseudonymised_at__isnull=False).values_list("pk", "name")) == (
        pseudonymised_before
    )


@pytest.mark.django_db
@pytest.mark.parametrize("name", ["kpi_page", "monitoring_page", "fhir_measure_report"])
def test_pages_answer_and_report_their_p95(tiny, name):
    figures = figures_of(name)

    details = figures["details"]
    assert details["requests"] == 3
    assert figures["seconds"] == pytest.approx(details["p95_ms"] / 1000, abs=0.001)
    assert details["bytes"] > 0


@pytest.mark.django_db
def test_fhir_measure_report_describes_the_region(tiny):
    assert figures_of("fhir_measure_report")["details"]["entries"] == 1


@pytest.mark.django_db
def test_kpi_export_is_a_workbook(tiny):
    details = figures_of("kpi_export")["details"]

    assert details["content_type"] == "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    assert details["bytes"] > 1000


def test_report_has_budget_rows_and_a_table_with_explanations():
    figures = {"seconds": 3.0, "queries": 10, "savepoints": 0, "peak_mb": 90.0, "growth_mb": 5.0, "details": {}}
    results = {
        "full": {name: dict(figures) for name in jobs.JOBS},
        "small": {name: {**figures, "seconds": 1.0} for name in jobs.JOBS},
    }

    rows = jobs.budgets(results)
    lines = jobs.markdown(results)

    escalations = next(row for row in rows if row["check"].startswith("job escalations"))
    assert escalations == {"check": "job escalations: wall (s)", "value": 3.0, "limit": 2.0, "ok": False}
    assert any(row["check"] == "job kpi_export: peak memory (MB)" and row["ok"] for row in rows)
    assert lines[0] == "## Jobs at national scale"
    retention = next(line for line in lines if line.startswith("| Retention"))
    # Ratio 3.0 > 1.3: the row carries the job's explanation.
    assert "| 3.0 |" in retention and jobs.EXPLANATIONS["retention"] in retention
    assert all(jobs.EXPLANATIONS[name] for name in jobs.JOBS)
