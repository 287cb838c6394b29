"""`make bench`: the whole benchmark in one command.

1. Two PostgreSQL databases, dropped and made anew: `<name>_bench_full` (scale 1: 31 regions) and
   `<name>_bench_small` (scale 1/20), where <name> is the database of DATABASE_URL (default
   `elvdesk` on postgres@127.0.0.1:5432). Redis: REDIS_URL, default redis://127.0.0.1:6379/8.
2. Per data set: gunicorn with production settings on 127.0.0.1, the sessions and targets of
   the virtual users, an in-process pass counting SQL queries per request, then every scenario
   at 1 and 8 concurrent users and the scenarios that matter under a crowd (--crowd-scenarios)
   at 32 (1 and 8 on the small set), each step time-bounded.
3. On the full set, two app servers on the same database and Redis (bench/cluster.py): a bed
   count changed through one is shown by the other at once, and booking through both at once
   overbooks nothing.
4. Per data set, after its HTTP steps: the background jobs (bench/jobs.py), unless --skip-jobs.
5. bench/results/<timestamp>.json, latest.json and latest.md.

Options: `python -m bench.run --help`.
"""

import argparse
import importlib
import importlib.util
import json
import os
import platform
import secrets
import subprocess  # nosec B404: runs our own commands
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from bench import cluster, report
from bench.server import Server

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"
SCENARIOS = (
    "baseline",
    "floor",
    "overview",
    "board",
    "referral_detail",
    "capacity_update",
    "referral_submit",
    "api_locations",
    "api_bulk",
    "booking",
)
# Every run reports these: the ratios of the others are taken against them.
REFERENCE_SCENARIOS = ("baseline", "floor")
# Above 8 users only these run (each step costs ~18 s; the whole run must stay under 15 minutes):
# the references, the pages every user of a region looks at all day, and the race for the last bed.
CROWD_SCENARIOS = ("baseline", "floor", "overview", "board", "booking")
DEFAULT_DATABASE_URL = "postgres://postgres@127.0.0.1:5432/elvdesk"
DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/8"
PYTHON = sys.executable


def log(message: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def database_urls(base: str) -> dict[str, str]:
    parts = urlsplit(base)
    if not parts.scheme.startswith("postgres"):
        raise SystemExit("make bench needs PostgreSQL: set DATABASE_URL=postgres://… (or leave it unset).")
    name = parts.path.lstrip("/") or "elvdesk"
    return {kind: urlunsplit(parts._replace(path=f"/{name}_bench_{kind}")) for kind in ("full", "small")} | {
        "maintenance": urlunsplit(parts._replace(path="/postgres"))
    }


def server_env(database_url: str, redis_url: str, secret_key: str) -> dict:
    env = {key: value for key, value in os.environ.items() if not key.startswith(("DJANGO_", "ELVDESK_"))}
    env.update(
        DJANGO_SETTINGS_MODULE="elvdesk.settings",
        DATABASE_URL=database_url,
        REDIS_URL=redis_url,
        DEBUG="0",
        SECRET_KEY=secret_key,
        ALLOWED_HOSTS="127.0.0.1",
        # Plain http on loopback: no TLS redirect, cookies without the Secure flag.
        SECURE_SSL_REDIRECT="0",
        SECURE_COOKIES="0",
        LOG_LEVEL="WARNING",
        PYTHONPATH=str(ROOT),
    )
    return env


def run_json(command: list[str], env: dict, *, timeout: float = 600) -> dict:
    completed = subprocess.run(  # nosec B603: our own commands
        command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout, check=False
    )
    if completed.returncode != 0:
        raise RuntimeError(f"{' '.join(command)} failed:\n{completed.stderr[-3000:]}")
    return json.loads(completed.stdout.strip().splitlines()[-1])


def run(command: list[str], env: dict, *, timeout: float = 900) -> None:
    completed = subprocess.run(  # nosec B603
        command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout, check=False
    )
    if completed.returncode != 0:
        raise RuntimeError(f"{' '.join(command)} failed:\n{completed.stdout[-2000:]}\n{completed.stderr[-3000:]}")


def fixtures(command: list[str], env: dict) -> dict:
    return run_json([PYTHON, "-m", "bench.fixtures", *command], env)


def recreate_database(maintenance_url: str, url: str, *, template: str | None = None) -> None:
    import psycopg

    name = urlsplit(url).path.lstrip("/")
    with psycopg.connect(maintenance_url, autocommit=True) as connection:
        connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        suffix = f' TEMPLATE "{template}"' if template else ""
        connection.execute(f'CREATE DATABASE "{name}"{suffix}')


def collectstatic_if_needed(env: dict) -> float:
    """Production settings serve hashed, compressed static files (WhiteNoise), which needs
    collectstatic; it is slow (Brotli), so it runs only when a source is newer than the manifest."""
    manifest = ROOT / "staticfiles" / "staticfiles.json"
    sources = [ROOT / "static", ROOT / "requirements" / "bench.txt"]
    newest = max(
        (path.stat().st_mtime for source in sources if source.exists() for path in [source, *source.rglob("*")]),
        default=0,
    )
    if manifest.exists() and manifest.stat().st_mtime >= newest:
        return 0.0
    started = time.monotonic()
    log("collectstatic (production static files) …")
    run([PYTHON, "manage.py", "collectstatic", "--noinput", "--verbosity", "0"], env)
    return time.monotonic() - started


def machine_info(database_url: str, redis_url: str) -> dict:
    import psycopg
    import redis

    cpu_model = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu_model = line.split(":", 1)[1].strip()
                break
        memory_kib = int(
            next(line for line in Path("/proc/meminfo").read_text().splitlines() if "MemTotal" in line).split()[1]
        )
    except (OSError, StopIteration, ValueError):
        memory_kib = 0
    with psycopg.connect(database_url, autocommit=True) as connection:
        postgres = connection.execute("SHOW server_version").fetchone()[0]
    try:
        redis_version = redis.Redis.from_url(redis_url).info("server")["redis_version"]
    except redis.RedisError:
        redis_version = "unreachable"
    return {
        "cpu_model": cpu_model,
        "nproc": os.cpu_count(),
        "memory_gib": round(memory_kib / 1024 / 1024, 1),
        "postgresql": f"PostgreSQL {postgres}",
        "redis": redis_version,
        "python": platform.python_version(),
        "load_average_at_start": [round(value, 2) for value in os.getloadavg()],
    }


def load_step(
    *,
    scenario: str,
    users: int,
    hosts: list[str],
    app_pids: list[int],
    database: str,
    data: dict,
    warmup: float,
    duration: float,
) -> dict:
    step = {
        "scenario": scenario,
        "users": users,
        "host": hosts[0],
        "hosts": hosts,
        "data": data,
        "warmup": warmup,
        "duration": duration,
        "app_pids": app_pids,
        "database": database,
    }
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False, prefix="bench-step-") as handle:
        json.dump(step, handle)
    try:
        return run_json([PYTHON, "-m", "bench.load", handle.name], os.environ.copy(), timeout=duration + warmup + 120)
    finally:
        os.unlink(handle.name)


def _with_file(data: dict, prefix: str, use):
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False, prefix=prefix) as handle:
        json.dump(data, handle)
    try:
        return use(handle.name)
    finally:
        os.unlink(handle.name)


def bench_dataset(
    name: str, *, env: dict, port: int, workers: int, users: list[int], warmup: float, duration: float, args
) -> dict:
    result: dict = {"steps": []}
    log_path = Path(tempfile.gettempdir()) / f"bench-gunicorn-{name}.log"
    database = urlsplit(env["DATABASE_URL"]).path.lstrip("/")
    with Server(env=env, port=port, workers=workers, log_path=log_path) as server:
        log(f"{name}: gunicorn on {server.url} ({workers} workers); preparing sessions and targets")
        fixture = fixtures(["prepare"], env)
        result["board_open_referrals"] = fixture["board_open_referrals"]
        result["queries"] = _with_file(
            fixture, "bench-fixture-", lambda path: fixtures(["queries", "--fixture", path], env)
        )
        log(
            f"{name}: SQL queries per request: "
            + ", ".join(f"{k} {v['queries']}" for k, v in result["queries"].items())
        )
        for count in users:
            scenarios = args.scenarios if count <= 8 else [s for s in args.scenarios if s in args.crowd_scenarios]
            for scenario in scenarios:
                data = fixture
                setup = None
                if scenario == "booking":
                    referrals = max(600, 120 * count)
                    setup = fixtures(["booking-setup", "--referrals", str(referrals), "--tag", f"{name}-{count}"], env)
                    data = {**fixture, **setup}
                elif scenario == "referral_submit":
                    # Enough new patients for the step at ~100 submissions a second.
                    bsns = int(100 * (warmup + duration) + 200)
                    data = {**fixture, **fixtures(["submit-setup", "--count", str(bsns)], env)}
                step = load_step(
                    scenario=scenario,
                    users=count,
                    hosts=[server.url],
                    app_pids=server.worker_pids(),
                    database=database,
                    data=data,
                    warmup=warmup,
                    duration=duration,
                )
                if setup is not None:
                    step["booking_check"] = _with_file(
                        setup, "bench-booking-", lambda path: fixtures(["booking-check", "--setup", path], env)
                    )
                result["steps"].append(step)
                extra = ""
                if "booking_check" in step:
                    extra = f", overbookings {step['booking_check']['overbookings']}"
                cpu = step["cpu_ms_per_request"]
                log(
                    f"{name}: {scenario:16s} {count:2d} users: p50 {step['p50_ms']} ms, p95 {step['p95_ms']} ms, "
                    f"{step['rps']} req/s, {step['failures']} errors, CPU/request app {cpu['app']} ms "
                    f"db {cpu['db']} ms{extra}"
                )
                if step.get("error_samples"):
                    log(f"{name}: {scenario} errors, e.g. {step['error_samples'][0]}")
    return result


def bench_cluster(*, env: dict, port: int, workers: int, warmup: float, duration: float) -> dict:
    """Two app servers on the full set (bench/cluster.py): coherence and booking through both."""
    return cluster.run(
        env=env,
        first_port=port,
        workers=workers,
        users=8,
        warmup=warmup,
        duration=duration,
        fixtures=lambda command: fixtures(command, env),
        load_step=load_step,
        log=log,
        log_dir=Path(tempfile.gettempdir()),
    )


def bench_jobs(env: dict, kind: str) -> dict | None:
    """The background jobs of one data set (bench/jobs.py, written beside this benchmark); None
    while that module does not exist yet."""
    if importlib.util.find_spec("bench.jobs") is None:
        log(f"{kind}: bench/jobs.py not found: no jobs benchmark")
        return None
    jobs = importlib.import_module("bench.jobs")
    return jobs.run_jobs(env, kind=kind, log=log)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.run", description=__doc__.split("\n")[0])
    parser.add_argument("--users", default="1,8,32", help="concurrency levels on the full data set")
    parser.add_argument("--small-users", default="1,8", help="concurrency levels on the 1/20 data set")
    parser.add_argument("--duration", type=float, default=10.0, help="measured seconds per step (full)")
    parser.add_argument("--small-duration", type=float, default=6.0, help="measured seconds per step (small)")
    parser.add_argument("--warmup", type=float, default=2.0, help="unmeasured seconds before each step")
    parser.add_argument("--workers", type=int, default=3, help="gunicorn sync workers (3, as in the production image)")
    parser.add_argument("--port", type=int, default=8800, help="first port (8800–8899 are the benchmark's)")
    parser.add_argument("--scenarios", default=",".join(SCENARIOS))
    parser.add_argument(
        "--crowd-scenarios",
        default=",".join(CROWD_SCENARIOS),
        help="the scenarios that also run above 8 users (the others run at 1 and 8 only)",
    )
    parser.add_argument("--skip-small", action="store_true", help="no scaling check")
    parser.add_argument("--skip-cluster", action="store_true", help="no two-server steps")
    parser.add_argument("--skip-jobs", action="store_true", help="no background-jobs benchmark (bench/jobs.py)")
    parser.add_argument(
        "--results", type=Path, default=RESULTS, help="where the JSON and Markdown go (default bench/results)"
    )
    parser.add_argument("--reuse-data", action="store_true", help="keep the generated databases of a previous run")
    args = parser.parse_args(argv)
    args.scenarios = [s for s in args.scenarios.split(",") if s]
    args.crowd_scenarios = [s for s in args.crowd_scenarios.split(",") if s]
    unknown = sorted(set(args.scenarios + args.crowd_scenarios) - set(SCENARIOS))
    if unknown:
        parser.error(f"unknown scenarios: {', '.join(unknown)} (known: {', '.join(SCENARIOS)})")
    for reference in reversed(REFERENCE_SCENARIOS):
        if reference not in args.scenarios:
            args.scenarios.insert(0, reference)

    started = time.monotonic()
    started_at = datetime.now(UTC).replace(microsecond=0).isoformat()
    urls = database_urls(os.environ.get("DATABASE_URL") or DEFAULT_DATABASE_URL)
    redis_url = os.environ.get("REDIS_URL") or DEFAULT_REDIS_URL
    secret_key = secrets.token_urlsafe(50)
    kinds = ["full"] if args.skip_small else ["full", "small"]
    scales = {"full": 1.0, "small": 0.05}
    envs = {kind: server_env(urls[kind], redis_url, secret_key) for kind in kinds}

    machine = machine_info(urls["maintenance"], redis_url)
    log(
        f"machine: {machine['cpu_model']}, {machine['nproc']} cores, {machine['memory_gib']} GiB, "
        f"{machine['postgresql']}"
    )
    static_seconds = collectstatic_if_needed(envs["full"])

    datasets: dict[str, dict] = {kind: {} for kind in kinds}
    if not args.reuse_data:
        # Migrate one empty database and copy it as the template of the other (faster than migrating twice).
        first = kinds[-1]
        recreate_database(urls["maintenance"], urls[first])
        log(f"migrating {urlsplit(urls[first]).path.lstrip('/')} …")
        run([PYTHON, "manage.py", "migrate", "--noinput", "--verbosity", "0"], envs[first])
        for kind in kinds:
            if kind != first:
                recreate_database(urls["maintenance"], urls[kind], template=urlsplit(urls[first]).path.lstrip("/"))
        for kind in kinds:
            log(f"generating the {kind} data set (scale {scales[kind]}) …")
            summary = fixtures(["generate", "--scale", str(scales[kind])], envs[kind])
            bad = {key: value for key, value in summary["consistency"].items() if value}
            if bad:
                raise SystemExit(f"the generated data set is inconsistent: {bad}")
            datasets[kind]["dataset"] = summary
            log(
                f"{kind}: {summary['rows']['referrals']} referrals, {summary['rows']['locations']} locations "
                f"in {summary['seconds']} s"
            )

    locust_version = run_json(
        [PYTHON, "-c", "import json, locust; print(json.dumps(locust.__version__))"], os.environ.copy()
    )
    for index, kind in enumerate(kinds):
        users = [int(u) for u in (args.users if kind == "full" else args.small_users).split(",") if u]
        duration = args.duration if kind == "full" else args.small_duration
        datasets[kind].update(
            bench_dataset(
                kind,
                env=envs[kind],
                port=args.port + index,
                workers=args.workers,
                users=users,
                warmup=args.warmup,
                duration=duration,
                args=args,
            )
        )
        if kind == "full" and not args.skip_cluster:
            datasets[kind]["cluster"] = bench_cluster(
                env=envs[kind], port=args.port + 10, workers=args.workers, warmup=args.warmup, duration=duration
            )
        if not args.skip_jobs:
            jobs_result = bench_jobs(envs[kind], kind)
            if jobs_result is not None:
                datasets[kind]["jobs"] = jobs_result

    results = {
        "started_at": started_at,
        "seconds": round(time.monotonic() - started, 1),
        "machine": machine,
        "server": {"workers": args.workers, "worker_class": "sync", "locust": locust_version},
        "settings": {
            "users": args.users,
            "small_users": args.small_users,
            "crowd_scenarios": args.crowd_scenarios,
            "warmup": args.warmup,
            "duration": args.duration,
            "small_duration": args.small_duration,
            "collectstatic_seconds": round(static_seconds, 1),
            "redis_url": redis_url,
            "databases": {kind: urlsplit(urls[kind]).path.lstrip("/") for kind in kinds},
        },
        "datasets": datasets,
    }
    report.analyse(results)
    json_path, md_path = report.write(results, args.results)
    print(md_path.read_text(encoding="utf-8"))
    log(f"results: {json_path}, {md_path} ({results['seconds']} s)")
    missed = [check["check"] for check in results["budgets"] if not check["ok"]]
    if missed:
        log("budgets missed: " + "; ".join(missed))
    return 0


if __name__ == "__main__":
    sys.exit(main())
