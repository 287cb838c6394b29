"""The periodic jobs and the heavy analyst pages at national scale (issue 19, point 3).

Every job runs in a fresh process of its own, `python -m bench.jobs JOBNAME`, with the same
environment as the benchmark's server, and prints one JSON line: wall seconds of the measured part
only (set-up and checks excluded), its SQL statements (counted with `connection.execute_wrapper`;
an executemany is one), and the process's peak memory (ru_maxrss) and its growth since
`django.setup()`. ru_maxrss is a high-water mark of the whole process, so a fresh process per job
is what makes it that job's figure; tracemalloc would have slowed the jobs down.

Jobs that write (escalations, overviews, reminders, retention) run inside one transaction that
is rolled back afterwards, so the data set stays exactly as generated and `--reuse-data` measures
the same thing next time; a VACUUM ANALYZE of what they wrote follows (outside the measured time),
or the dead rows would skew the plans of what is measured next. The job's own transactions become
savepoints inside it: their `SAVEPOINT`/`RELEASE` statements are counted apart (`savepoints`),
not as queries, and the WAL flush of each commit is not paid. Retention is measured this way too,
not on a copy with real commits: it commits once per batch of 500 patients, so the flushes left
out are under 200 (well under a second), while a copy of the full database takes longer than the
job itself and needs the source database free of connections (the benchmark's server holds
some), and a restore in place would have to bypass the access log's append-only trigger.
Retention's backlog is made honest first: the generator stores every patient closed more than
90 days ago as already pseudonymised, so inside the transaction they get identifiers back.

E-mails that a job queues after commit are sent by running those on-commit callbacks inside the
transaction with Celery eager (the per-delivery send task, inline) and a locmem-like backend that
builds every message and counts it: nothing reaches Redis or a mail server.

The pages are requested with Django's test Client as a coordinator of the focus region, signed
in with the second factor verified (a session as bench.fixtures makes them). The KPI page (with
its "Providers compared" table) and its export over three years, 1,096 days, the longest they
accept (cockpit.periods.MAX_DAYS); the monitoring page (the region beside one insurer's insured,
stays per provider) over 36 months, its longest.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/elvdesk_bench_full SECRET_KEY=x DEBUG=0 \\
        .venv/bin/python -m bench.jobs --all          # every job, each in its own process; JSON
        .venv/bin/python -m bench.jobs overviews      # one job in this process

The benchmark calls `run_jobs` per data set (while no load step runs: the writing jobs hold row
locks for up to half a minute) and puts `budgets` and `markdown` in its report.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess  # nosec B404: runs our own module
import sys
import time
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path

# Importable without Django's settings: the benchmark's side of this module needs no Django.
from django.core.mail.backends.base import BaseEmailBackend

ROOT = Path(__file__).resolve().parent.parent
REQUESTS = 20  # measured requests per page, after WARMUP
WARMUP = 2
OVERVIEW_SUBSCRIBERS = 100  # per region
KPI_DAYS = 1096  # three years, the longest period the KPI page and its export accept (cockpit.periods.MAX_DAYS)
MONITORING_MONTHS = 36  # three years, the longest range of the monitoring page (cockpit.monitoring.MAX_MONTHS)
FHIR_DAYS_AGO = 400  # "a past day": deep in the history, so the counts are rebuilt from CapacityChange
RETENTION_MAX_RUNS = 1000  # a guard: the task is run until it finds nothing more to do
JOB_TIMEOUT = 900


@dataclass(frozen=True)
class Job:
    name: str
    title: str
    budget: str  # as shown in the report
    limit_seconds: float  # the figure `seconds` is compared with this
    limit_peak_mb: float | None = None
    page: bool = False  # seconds is then the p95 of REQUESTS requests and queries those of one request


JOBS = {
    job.name: job
    for job in (
        Job("escalations", "Escalations: one pass over all regions (`update_escalations`)", "≤ 2 s", 2.0),
        Job(
            "overviews",
            f"Daily bed overviews: {OVERVIEW_SUBSCRIBERS} subscribers per region, made and e-mailed",
            "≤ 60 s",
            60.0,
        ),
        Job("reminders", "Stale-count reminders, made and e-mailed", "≤ 10 s", 10.0),
        Job("retention", "Retention: a three-year backlog pseudonymised", "≤ 120 s", 120.0),
        Job("kpi_page", f"KPI page with providers compared, {KPI_DAYS} days", "p95 ≤ 500 ms", 0.5, page=True),
        Job(
            "monitoring_page",
            f"Monitoring page (region vs an insurer, stays per provider), {MONITORING_MONTHS} months",
            "p95 ≤ 500 ms",
            0.5,
            page=True,
        ),
        Job("kpi_export", f"KPI export, XLSX, all tables, {KPI_DAYS} days", "≤ 15 s, ≤ 300 MB", 15.0, 300.0),
        Job("fhir_measure_report", "FHIR MeasureReport of the region for a past day", "p95 ≤ 300 ms", 0.3, page=True),
    )
}

# Why a job costs more on the full data set than on the small one, shown where the ratio is above
# RATIO_LIMIT; written after looking at what grows (SQL per job, EXPLAIN of the slowest queries).
# The full set has 31 regions, the small one 2: the focus region, identical in both, and its
# neighbour. The pages are the focus region's, so their own rows are the same in both sets.
EXPLANATIONS = {
    "escalations": (
        "31 regions vs 2: each region costs the same 7 queries (235 SQL vs 21) plus what it raises; "
        "linear in regions, as it must be."
    ),
    "overviews": (
        "3,100 e-mails vs 200 (100 subscribers × 31 regions vs 2): linear in deliveries, 4 queries each "
        "(the outbox's claim, read, subscription check, sent); the e-mail's table is rendered once per "
        "snapshot and language."
    ),
    "reminders": (
        "1,014 reminders vs 62 (a planner per stale location, 31 regions vs 2): linear in reminders, about 5 "
        "queries each (its own transaction, then the outbox's steps)."
    ),
    "retention": (
        "90,849 patients in the backlog vs 5,531: linear in the backlog, 500 patients per transaction in 11 queries."
    ),
    "kpi_page": (
        "Same rows of the region, but the declines, providers, stays and cross-border tables read the "
        "period's offers and stays of the whole country (the planner prefers one scan of the national table "
        "to ~3,000 index probes): about 75 ms more at 31 regions."
    ),
    "monitoring_page": (
        "Same rows of the region, but the insurer comparison joins the national patients table, 'bed ever "
        "booked' hashes every booked offer of the country (twice), and the stays and declines read national "
        "tables: about 100 ms more at 31 regions."
    ),
    "kpi_export": "The KPI page's queries (see there) and a small workbook; the first request of a fresh process.",
    "fhir_measure_report": (
        "The focus region's 145 bed counts in both, 3 queries through the (bed count, changed at) index: no "
        "growth; a difference is the noise of a 10 ms request."
    ),
}
RATIO_LIMIT = 1.3


# --- measuring (inside the job's process) -----------------------------------------------------


def _maxrss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


class Meter:
    """Wall time and SQL statements of the block it measures (the measured part of a job)."""

    SAVEPOINT = ("SAVEPOINT", "RELEASE SAVEPOINT", "ROLLBACK TO SAVEPOINT")

    def __init__(self):
        self.seconds = 0.0
        self.queries = 0
        self.savepoints = 0

    def __call__(self, execute, sql, params, many, context):
        if sql.lstrip().upper().startswith(self.SAVEPOINT):
            self.savepoints += 1
        else:
            self.queries += 1
        return execute(sql, params, many, context)

    @contextmanager
    def measure(self):
        from django.db import connection

        with connection.execute_wrapper(self):
            started = time.perf_counter()
            try:
                yield self
            finally:
                self.seconds += time.perf_counter() - started


class _Rollback(Exception):
    pass


@contextmanager
def rolled_back():
    """Run the block in one transaction and undo it, whatever it wrote."""
    from django.db import transaction

    try:
        with transaction.atomic():
            yield
            raise _Rollback
    except _Rollback:
        pass


EMAILS = {"sent": 0, "recipients": 0}


class CountingEmailBackend(BaseEmailBackend):
    """Django's locmem backend, but counting instead of keeping: each message is built in full
    (`message.message()`, as locmem does), while holding thousands of them in `mail.outbox` would
    make the peak memory the outbox's (350 MB for the overviews) and not the job's."""

    def send_messages(self, messages):
        for message in messages:
            message.message()
            EMAILS["sent"] += 1
            EMAILS["recipients"] += len(message.recipients())
        return len(messages)


@contextmanager
def sending_inline():
    """E-mails queued after commit are sent here and now: Celery eager (no broker), the locmem
    backend (counting), and the on-commit callbacks of the block run at its end, inside the
    transaction."""
    from django.test import TestCase, override_settings

    from elvdesk.celery import app

    eager = app.conf.task_always_eager
    app.conf.task_always_eager = True
    EMAILS.update(sent=0, recipients=0)
    try:
        with override_settings(EMAIL_BACKEND="bench.jobs.CountingEmailBackend"):
            with TestCase.captureOnCommitCallbacks(execute=True):
                yield
    finally:
        app.conf.task_always_eager = eager


def _emails() -> dict:
    return {"emails": EMAILS["sent"], "recipients": EMAILS["recipients"]}


def vacuum(*models) -> None:
    """After a rolled-back job: VACUUM ANALYZE what it wrote (PostgreSQL), outside the measured
    time. Rolled-back rows are dead rows all the same; left to autovacuum they would bloat the
    tables and skew the plans of whatever the benchmark measures next."""
    from django.db import connection

    if connection.vendor != "postgresql" or connection.in_atomic_block:
        return
    with connection.cursor() as cursor:
        for model in models:
            cursor.execute(f"VACUUM (ANALYZE) {connection.ops.quote_name(model._meta.db_table)}")


def _focus_region():
    from bench import dataset
    from providers.models import Region

    return Region.objects.get(code=f"{dataset.REGION_CODE_PREFIX}{dataset.focus_index(dataset.pc4_chunks()):02d}")


# --- the jobs ---------------------------------------------------------------------------------


def job_escalations(meter: Meter) -> dict:
    from providers.models import DutyOfCareMessage
    from referrals.models import Escalation, Notification
    from referrals.tasks import update_escalations

    with rolled_back():
        escalations, notifications = Escalation.objects.count(), Notification.objects.count()
        with meter.measure():
            result = update_escalations()
        details = {
            **result,
            "escalations_made": Escalation.objects.count() - escalations,
            "notifications_made": Notification.objects.count() - notifications,
        }
    vacuum(Escalation, Notification, DutyOfCareMessage)
    return details


def _subscribe(count: int) -> dict[int, int]:
    """`count` subscribers in every region: its users who may read the overview, and where a
    region has fewer (the tiny test set), extra users made for it. Returns {region id: count}."""
    from django.contrib.auth.hashers import make_password

    from accounts.models import Role, User
    from beds.models import OverviewSubscription
    from beds.overviews import OVERVIEW_ROLES
    from providers.models import Organisation, OrganisationKind, Region

    per_region = {}
    subscriptions = []
    password = make_password(None)
    for region in Region.objects.all():
        users = list(
            User.objects.filter(is_active=True, organisation__region=region, role__in=OVERVIEW_ROLES)
            .exclude(email="")
            .order_by("pk")
            .values_list("pk", flat=True)[:count]
        )
        if len(users) < count:
            desk = Organisation.objects.filter(region=region, kind=OrganisationKind.DESK).first()
            desk = desk or Organisation.objects.filter(region=region).first()
            extra = User.objects.bulk_create(
                [
                    User(
                        username=f"bench-subscriber-{region.pk}-{n}",
                        email=f"bench-subscriber-{region.pk}-{n}@bench.localhost",
                        password=password,
                        organisation=desk,
                        role=Role.COORDINATOR,
                    )
                    for n in range(count - len(users))
                ]
            )
            users += [user.pk for user in extra]
        subscriptions += [OverviewSubscription(user_id=user, region=region) for user in users]
        per_region[region.pk] = len(users)
    OverviewSubscription.objects.bulk_create(subscriptions, ignore_conflicts=True)
    return per_region


def _due_moment() -> datetime:
    """A moment a few minutes after the latest overview slot that has passed (today's or
    yesterday's, by the first region's times), so the job finds every region due."""
    from django.utils import timezone

    from beds.overviews import overview_times, region_timezone
    from providers.models import Region

    zone = region_timezone()
    now = timezone.now().astimezone(zone)
    times = overview_times(Region.objects.order_by("pk").first()) or []
    slots = [
        datetime.combine(now.date() - timedelta(days=back), moment, tzinfo=zone) for back in (0, 1) for moment in times
    ]
    passed = [slot for slot in slots if slot <= now]
    return max(passed) + timedelta(minutes=3)


def job_overviews(meter: Meter) -> dict:
    import time_machine

    from beds.models import BedOverviewSnapshot, OverviewDelivery, OverviewSubscription
    from beds.tasks import create_due_bed_overviews

    with rolled_back():
        subscribers = _subscribe(OVERVIEW_SUBSCRIBERS)
        moment = _due_moment()
        with time_machine.travel(moment, tick=True), meter.measure(), sending_inline():
            created = create_due_bed_overviews()
        deliveries = OverviewDelivery.objects.filter(snapshot__slot__lte=moment, snapshot__created_at__gte=moment)
        details = {
            "regions": len(subscribers),
            "subscribers_per_region": min(subscribers.values(), default=0),
            "snapshots": created,
            "snapshots_in_database": BedOverviewSnapshot.objects.filter(created_at__gte=moment).count(),
            "deliveries": deliveries.count(),
            "deliveries_sent": deliveries.filter(sent_at__isnull=False).count(),
            **_emails(),
            "clock": moment.isoformat(),
        }
    vacuum(OverviewSubscription, BedOverviewSnapshot, OverviewDelivery)
    return details


def job_reminders(meter: Meter) -> dict:
    from beds.models import StaleCountReminder
    from beds.tasks import remind_stale_bed_counts
    from providers.models import ContactProblem

    with rolled_back():
        last = StaleCountReminder.objects.order_by("-pk").values_list("pk", flat=True).first() or 0
        with meter.measure(), sending_inline():
            created = remind_stale_bed_counts()
        made = StaleCountReminder.objects.filter(pk__gt=last)
        details = {
            "reminders": created,
            "reminders_in_database": made.count(),
            "reminders_sent": made.filter(sent_at__isnull=False).count(),
            **_emails(),
        }
    vacuum(StaleCountReminder, ContactProblem)
    return details


def _reset_backlog() -> int:
    """Every patient the generator stored as already pseudonymised (all closed more than 90 days
    ago, over three years) gets identifiers again and waits for retention: a three-year backlog,
    as on the day retention first runs over migrated history. The referrals' free text and the
    typed reasons were never cleared by the generator, so the job has all its work to do."""
    from django.db.models import CharField, Value
    from django.db.models.functions import Cast, Concat, LPad

    from referrals.models import Patient

    return Patient.objects.filter(pseudonymised_at__isnull=False).update(
        # Unique 9-digit numbers starting with 9, unlike the generator's (which start with 1).
        bsn=Concat(Value("9"), LPad(Cast("id", CharField()), 8, Value("0"))),
        name="Bench Backlog",
        date_of_birth=date(1940, 6, 15),
        postcode="6411 AB",
        pseudonymised_at=None,
    )


def job_retention(meter: Meter) -> dict:
    from audit.models import AccessLog
    from referrals.models import Offer, Patient, Referral, ReferralEvent, StayProductChange
    from referrals.tasks import pseudonymise_closed_referrals

    with rolled_back():
        backlog = _reset_backlog()
        pseudonymised = runs = 0
        with meter.measure():
            while runs < RETENTION_MAX_RUNS:
                result = pseudonymise_closed_referrals()
                runs += 1
                pseudonymised += result["pseudonymised"]
                if not result["pseudonymised"]:
                    break
        details = {
            "backlog": backlog,
            "pseudonymised": pseudonymised,
            "task_runs": runs,
            "left_with_identifiers": Patient.objects.filter(
                pseudonymised_at__isnull=True, name="Bench Backlog"
            ).count(),
        }
    vacuum(Patient, Referral, ReferralEvent, Offer, StayProductChange, AccessLog)
    return details


def _percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return 0.0
    k = (len(ordered) - 1) * p
    low = int(k)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (k - low)


@contextmanager
def _signed_in_coordinator():
    """A test Client signed in as a coordinator of the focus region, second factor verified (a
    session made as bench.fixtures makes them), and the user; the session is deleted afterwards."""
    from django.contrib.sessions.models import Session

    from accounts.models import Role, User
    from bench.fixtures import _client_for, _session

    user = User.objects.filter(organisation__region=_focus_region(), role=Role.COORDINATOR, is_active=True)
    user = user.order_by("pk").first()
    session = _session(user)
    try:
        yield _client_for(session), user
    finally:
        Session.objects.filter(session_key=session["sessionid"]).delete()


def _requests(meter: Meter, call, *, expected: int = 200) -> dict:
    """WARMUP unmeasured calls, then REQUESTS measured ones; `seconds` is the p95."""
    for _ in range(WARMUP):
        response = call()
        if response.status_code != expected:
            raise RuntimeError(f"status {response.status_code}: {response.content[:500]!r}")
    times, queries, sizes = [], [], []
    for _ in range(REQUESTS):
        single = Meter()
        with single.measure():
            response = call()
            body = response.getvalue() if response.streaming else response.content
        if response.status_code != expected:
            raise RuntimeError(f"status {response.status_code}: {body[:500]!r}")
        times.append(single.seconds)
        queries.append(single.queries)
        sizes.append(len(body))
    meter.seconds = _percentile(times, 0.95)
    meter.queries = queries[-1]
    return {
        "requests": REQUESTS,
        "p50_ms": round(_percentile(times, 0.5) * 1000, 1),
        "p95_ms": round(_percentile(times, 0.95) * 1000, 1),
        "max_ms": round(max(times) * 1000, 1),
        "queries_per_request": sorted(set(queries)),
        "bytes": sizes[-1],
    }


def _kpi_period() -> str:
    from django.utils import timezone

    today = timezone.localdate()
    return f"from={today - timedelta(days=KPI_DAYS - 1):%Y-%m-%d}&to={today:%Y-%m-%d}"


def job_kpi_page(meter: Meter) -> dict:
    with _signed_in_coordinator() as (client, _user):
        url = f"/cockpit/kpis/?{_kpi_period()}"
        return {"url": url, **_requests(meter, lambda: client.get(url))}


def job_monitoring_page(meter: Meter) -> dict:
    from django.db.models import Count
    from django.utils import timezone

    from cockpit.monitoring import MonthRange
    from referrals.models import Patient

    months = MonthRange.last_months(MONITORING_MONTHS, today=timezone.localdate())
    # The insurer of most of the focus region's patients: the comparison with the most rows.
    insurer = (
        Patient.objects.filter(referrals__region=_focus_region(), insurer__isnull=False)
        .values("insurer__uzovi")
        .annotate(n=Count("id"))
        .order_by("-n", "insurer__uzovi")
        .values_list("insurer__uzovi", flat=True)
        .first()
    )
    with _signed_in_coordinator() as (client, _user):
        url = f"/cockpit/monitoring/?{months.query()}" + (f"&insurer={insurer}" if insurer else "")
        return {"url": url, **_requests(meter, lambda: client.get(url))}


def job_kpi_export(meter: Meter) -> dict:
    with _signed_in_coordinator() as (client, _user):
        url = f"/cockpit/kpis/export/?table=all&format=xlsx&{_kpi_period()}"
        with meter.measure():
            response = client.get(url)
            body = response.getvalue() if response.streaming else response.content
        if response.status_code != 200:
            raise RuntimeError(f"status {response.status_code}: {body[:500]!r}")
        return {"url": url, "bytes": len(body), "content_type": response["Content-Type"]}


def job_fhir_measure_report(meter: Meter) -> dict:
    from django.test import Client
    from django.utils import timezone
    from rest_framework.authtoken.models import Token

    from accounts.models import Role, User

    day = timezone.localdate() - timedelta(days=FHIR_DAYS_AGO)
    user = User.objects.filter(organisation__region=_focus_region(), role=Role.COORDINATOR, is_active=True)
    user = user.order_by("pk").first()
    token, created = Token.objects.get_or_create(user=user)
    client = Client(HTTP_HOST="127.0.0.1", HTTP_AUTHORIZATION=f"Token {token.key}", HTTP_ACCEPT="application/fhir+json")
    url = f"/fhir/r4/MeasureReport?period={day:%Y-%m-%d}"
    try:
        details = {"url": url, **_requests(meter, lambda: client.get(url))}
        bundle = client.get(url).json()
        details["entries"] = len(bundle.get("entry", []))
        details["groups"] = len(bundle["entry"][0]["resource"].get("group", [])) if bundle.get("entry") else 0
    finally:
        if created:
            token.delete()
    return details


RUNNERS = {
    "escalations": job_escalations,
    "overviews": job_overviews,
    "reminders": job_reminders,
    "retention": job_retention,
    "kpi_page": job_kpi_page,
    "monitoring_page": job_monitoring_page,
    "kpi_export": job_kpi_export,
    "fhir_measure_report": job_fhir_measure_report,
}


def measure(name: str) -> dict:
    """Run one job in this process (Django set up) and return its figures."""
    meter = Meter()
    rss_before = _maxrss_mb()
    details = RUNNERS[name](meter)
    peak = _maxrss_mb()
    return {
        "seconds": round(meter.seconds, 4),
        "queries": meter.queries,
        "savepoints": meter.savepoints,
        "peak_mb": round(peak, 1),
        "growth_mb": round(peak - rss_before, 1),
        "details": details,
    }


# --- the benchmark's side (no Django here) ----------------------------------------------------


def run_jobs(env: dict, *, kind: str, log) -> dict:
    """Every job in a fresh process with `env` (the server's environment); {job: figures}. A job
    that fails is reported with its error instead of stopping the benchmark."""
    results = {}
    for name in JOBS:
        started = time.monotonic()
        completed = subprocess.run(  # nosec B603: our own module
            [sys.executable, "-m", "bench.jobs", name],
            cwd=ROOT,
            env={**env, "PYTHONPATH": env.get("PYTHONPATH") or str(ROOT)},
            capture_output=True,
            text=True,
            timeout=JOB_TIMEOUT,
            check=False,
        )
        if completed.returncode != 0:
            results[name] = {"error": completed.stderr[-3000:]}
            log(f"{kind}: job {name} failed: {completed.stderr.strip().splitlines()[-1:]}")
            continue
        results[name] = json.loads(completed.stdout.strip().splitlines()[-1])
        figures = results[name]
        log(
            f"{kind}: job {name}: {figures['seconds']} s, {figures['queries']} SQL, peak {figures['peak_mb']} MB "
            f"(process {time.monotonic() - started:.1f} s)"
        )
    return results


def cost(figures: dict | None) -> float | None:
    """What a job costs, for the ratio full / small: its wall seconds; a page's median, which 20
    requests measure more steadily than their p95."""
    if not figures or "seconds" not in figures:
        return None
    median = figures.get("details", {}).get("p50_ms")
    return median / 1000 if median is not None else figures["seconds"]


def _ratio(full: dict | None, small: dict | None) -> float | None:
    a, b = cost(full), cost(small)
    return round(a / b, 2) if a is not None and b else None


def budgets(results_by_kind: dict[str, dict]) -> list[dict]:
    """Budget rows of the full data set (the national scale the budgets are for)."""
    full = results_by_kind.get("full") or {}
    checks = []
    for name, job in JOBS.items():
        figures = full.get(name)
        if figures is None:
            continue
        label = "p95 (s)" if job.page else "wall (s)"
        if "error" in figures:
            checks.append({"check": f"job {name}: {label}", "value": None, "limit": job.limit_seconds, "ok": False})
            continue
        value = figures["seconds"]
        checks.append(
            {
                "check": f"job {name}: {label}",
                "value": value,
                "limit": job.limit_seconds,
                "ok": value <= job.limit_seconds,
            }
        )
        if job.limit_peak_mb is not None:
            peak = figures["peak_mb"]
            checks.append(
                {
                    "check": f"job {name}: peak memory (MB)",
                    "value": peak,
                    "limit": job.limit_peak_mb,
                    "ok": peak <= job.limit_peak_mb,
                }
            )
    return checks


def markdown(results_by_kind: dict[str, dict]) -> list[str]:
    full, small = results_by_kind.get("full") or {}, results_by_kind.get("small") or {}
    lines = [
        "## Jobs at national scale",
        "",
        "Each job in a fresh process (`python -m bench.jobs JOB`), on the full data set (31 regions) and the small "
        "one (2 regions). Seconds: wall time of the job's own work; for a page the p95 of "
        f"{REQUESTS} requests after {WARMUP} warm-up ones, and its SQL per request. Peak: the process's ru_maxrss "
        "(in brackets its growth after Django was set up). Ratio: the cost full / small (a page's median). Jobs "
        "that write run in a transaction that is rolled back; their e-mails are built and counted, not sent "
        "(bench/jobs.py says why).",
        "",
        "| job | budget | seconds full | SQL | peak MB | seconds small | ratio | budget met | why it grows |",
        "|---|---|--:|--:|--:|--:|--:|---|---|",
    ]
    for name, job in JOBS.items():
        a, b = full.get(name), small.get(name)
        if a is None and b is None:
            continue
        ratio = _ratio(a, b)
        ok = a is not None and "error" not in a and a["seconds"] <= job.limit_seconds
        if ok and job.limit_peak_mb is not None:
            ok = a["peak_mb"] <= job.limit_peak_mb
        explanation = EXPLANATIONS.get(name, "") if ratio is not None and ratio > RATIO_LIMIT else ""
        peak = _cell(a, "peak_mb")
        if a and "growth_mb" in a:
            peak += f" (+{a['growth_mb']})"
        lines.append(
            f"| {job.title} | {job.budget} | {_cell(a, 'seconds')} | {_cell(a, 'queries')} | {peak} | "
            f"{_cell(b, 'seconds')} | {ratio if ratio is not None else '—'} | {'yes' if ok else 'MISSED'} | "
            f"{explanation} |"
        )
    lines.append("")
    return lines


def _cell(figures: dict | None, key: str) -> str:
    if figures is None:
        return "—"
    if "error" in figures:
        return "error"
    return str(figures.get(key, "—"))


# --- command line -----------------------------------------------------------------------------


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.jobs", description=__doc__.split("\n")[0])
    parser.add_argument("job", nargs="?", choices=sorted(JOBS), help="run this job here and print its figures")
    parser.add_argument("--all", action="store_true", help="every job, each in its own process")
    args = parser.parse_args(argv)
    if args.all == bool(args.job):
        parser.error("give one JOBNAME or --all")
    if args.all:
        env = os.environ.copy()
        env.setdefault("DJANGO_SETTINGS_MODULE", "elvdesk.settings")
        results = run_jobs(env, kind="manual", log=lambda message: print(message, file=sys.stderr, flush=True))
        json.dump(results, sys.stdout, indent=2, default=str)
        sys.stdout.write("\n")
        return 0
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "elvdesk.settings")
    import django

    django.setup()
    json.dump(measure(args.job), sys.stdout, default=str)
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    # Run as the module bench.jobs, not as __main__: the e-mail backend, named by its dotted
    # path, must count into this same module's EMAILS.
    from bench.jobs import main as module_main

    sys.exit(module_main())
