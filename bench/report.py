"""Turns the raw results of a run into ratios, budget checks, JSON and a Markdown table."""

import importlib
import importlib.util
import json
from pathlib import Path

SCENARIOS = {
    "baseline": "Baseline: `/healthz` (one `SELECT 1` + Redis ping on a kept connection)",
    "floor": "Signed-in floor: `/account/` as a GP (only the base template)",
    "overview": "GP's bed overview (postcode, product, feature, distance)",
    "board": "Coordinator board `/cockpit/`",
    "referral_detail": "Referral detail (searching: with matching)",
    "capacity_update": "The planner's count update (+1/−1, htmx)",
    "referral_submit": "A GP submits the referral form (a new patient each time)",
    "api_locations": "API capacity list `/api/v1/locations/`",
    "api_bulk": "API bulk capacity GET `/api/v1/capacity-bulk/` (a provider's token)",
    "booking": "Offer + accept under contention for the last beds",
}
# Signed-in HTML pages: measured against the floor (what any signed-in page costs).
PAGE_SCENARIOS = ("overview", "board", "referral_detail", "capacity_update", "referral_submit")
BUDGET = {
    # p95 at 8 users on the full data set (ms)
    "p95_ms_at_8": {
        "overview": 150.0,
        "board": 150.0,
        "referral_detail": 150.0,
        "capacity_update": 150.0,
        "referral_submit": 150.0,
        "api_locations": 100.0,
        "api_bulk": 100.0,
    },
    "page_throughput_per_floor_at_8": 0.5,  # every page's req/s ≥ half the floor's
    "floor_throughput_per_baseline_at_8": 0.5,  # the floor's req/s ≥ half the baseline's
    "scaling_ratio": 1.3,
    "booking_p95_ms": 250.0,
    "booking_overbookings": 0,
    "total_seconds": 15 * 60,
}


def _server_cpu(step: dict | None) -> float | None:
    cpu = (step or {}).get("cpu_ms_per_request")
    return cpu["app"] + cpu["db"] if cpu else None


def _steps(results: dict, dataset: str) -> dict[tuple[str, int], dict]:
    return {(s["scenario"], s["users"]): s for s in results["datasets"].get(dataset, {}).get("steps", [])}


def _ratio(step: dict, reference: dict | None) -> float | None:
    return round(step["rps"] / reference["rps"], 3) if reference and reference["rps"] else None


def analyse(results: dict) -> dict:
    """Adds `ratio_to_baseline` and `ratio_to_floor` to every step, the scaling check and the
    budget verdicts."""
    for dataset in results["datasets"].values():
        steps = dataset.get("steps", [])
        baseline = {s["users"]: s for s in steps if s["scenario"] == "baseline"}
        floor = {s["users"]: s for s in steps if s["scenario"] == "floor"}
        for step in steps:
            base = baseline.get(step["users"])
            step["ratio_to_baseline"] = _ratio(step, base)
            step["ratio_to_floor"] = _ratio(step, floor.get(step["users"]))
            # The same ratio from CPU cost per request (server + database), which other work on a
            # shared machine does not distort: what the throughput ratio would be on an idle one.
            cost, base_cost = _server_cpu(step), _server_cpu(base) if base else None
            step["cost_ratio_to_baseline"] = round(base_cost / cost, 3) if cost and base_cost else None
            step["queries_per_request"] = dataset.get("queries", {}).get(step["scenario"], {}).get("queries")
    full, small = _steps(results, "full"), _steps(results, "small")
    scaling = {}
    for scenario in SCENARIOS:
        row = {}
        for users, metric in ((1, "p50_ms"), (1, "mean_ms"), (8, "p50_ms"), (8, "p95_ms")):
            a, b = full.get((scenario, users)), small.get((scenario, users))
            if a and b and b[metric]:
                row[f"{metric}@{users}"] = round(a[metric] / b[metric], 2)
        if row:
            scaling[scenario] = row
    results["scaling"] = scaling
    results["budgets"] = budgets(results)
    return results


def _booking_consistent(check: dict) -> bool:
    return bool(
        check.get("counts_inconsistent") == 0
        and check.get("all_counts_within_bounds")
        and check.get("held_equals_open_offers")
    )


def _jobs_module():
    """bench/jobs.py (the background jobs' benchmark), or None where it does not exist."""
    if importlib.util.find_spec("bench.jobs") is None:
        return None
    return importlib.import_module("bench.jobs")


def _jobs_results(results: dict) -> dict[str, dict]:
    return {name: dataset["jobs"] for name, dataset in results["datasets"].items() if dataset.get("jobs")}


def budgets(results: dict) -> list[dict]:
    full = _steps(results, "full")
    checks = []

    def check(name: str, value, limit, ok: bool):
        checks.append({"check": name, "value": value, "limit": limit, "ok": bool(ok)})

    def booking_checks(name: str, booking: dict):
        overbookings, limit = booking.get("overbookings"), BUDGET["booking_overbookings"]
        check(f"{name}: overbookings", overbookings, limit, overbookings == limit)
        consistent = _booking_consistent(booking)
        check(f"{name}: counts consistent", consistent, True, consistent)

    for scenario, limit in BUDGET["p95_ms_at_8"].items():
        step = full.get((scenario, 8))
        if step:
            check(f"{scenario}: p95 at 8 users (ms)", step["p95_ms"], limit, step["p95_ms"] <= limit)
    share = BUDGET["page_throughput_per_floor_at_8"]
    for scenario in PAGE_SCENARIOS:
        step = full.get((scenario, 8))
        if step:
            ratio = step.get("ratio_to_floor")
            check(f"{scenario}: throughput / floor at 8 users", ratio, share, ratio is not None and ratio >= share)
    floor = full.get(("floor", 8))
    if floor:
        ratio = floor.get("ratio_to_baseline")
        limit = BUDGET["floor_throughput_per_baseline_at_8"]
        check("floor: throughput / baseline at 8 users", ratio, limit, ratio is not None and ratio >= limit)
    for scenario, row in results.get("scaling", {}).items():
        if scenario == "baseline":
            continue
        ratio = row.get("p50_ms@1")
        if ratio is not None:
            limit = BUDGET["scaling_ratio"]
            check(f"{scenario}: median latency full / small (1 user)", ratio, limit, ratio <= limit)
    for (scenario, users), step in sorted(full.items()):
        if scenario == "booking":
            booking_checks(f"booking at {users} users", step.get("booking_check", {}))
            if users == 8:
                limit = BUDGET["booking_p95_ms"]
                check("booking: p95 at 8 users (ms)", step["p95_ms"], limit, step["p95_ms"] <= limit)
    cluster = results["datasets"].get("full", {}).get("cluster")
    if cluster:
        coherence = cluster.get("coherence", {})
        rounds = coherence.get("rounds", 0)
        coherent = coherence.get("coherent", 0)
        check(
            "two app servers: a count changed through one shows at once through the other (rounds)",
            f"{coherent}/{rounds}",
            f"{rounds}/{rounds}",
            rounds > 0 and coherent == rounds,
        )
        booking = cluster.get("booking", {})
        booking_checks(
            f"two app servers: booking at {booking.get('users')} users over both", booking.get("booking_check", {})
        )
        failures = booking.get("failures")
        check("two app servers: failed requests", failures, 0, failures == 0)
    for name, dataset in results["datasets"].items():
        failures = sum(step["failures"] for step in dataset.get("steps", []))
        check(f"{name} data set: failed requests", failures, 0, failures == 0)
    jobs_results = _jobs_results(results)
    if jobs_results:
        jobs = _jobs_module()
        if jobs is not None:
            checks += jobs.budgets(jobs_results)
    total = results.get("seconds")
    if total is not None:
        check("whole benchmark (s)", total, BUDGET["total_seconds"], total <= BUDGET["total_seconds"])
    return checks


def _value(value) -> str:
    return "—" if value is None else str(value)


def _scope(results: dict) -> str:
    settings = results["settings"]
    users = settings.get("users", "1,8,32")
    crowd = settings.get("crowd_scenarios")
    levels = [int(u) for u in str(users).split(",") if u]
    text = f"Concurrency on the full data set: {', '.join(map(str, levels))} users"
    if crowd and any(level > 8 for level in levels):
        text += (
            f"; above 8 users only {', '.join(crowd)} (the references, the pages every user of a region keeps "
            "open, and the race for the last bed), which keeps the whole run under 15 minutes"
        )
    if "small" in results["datasets"]:
        text += f"; the small data set at {settings.get('small_users', '1,8')} users"
    return text + "."


def _booking_table(steps: list[dict]) -> list[str]:
    lines = [
        "Booking under contention (offers to the last beds; each refused offer makes the provider free one "
        "bed, which everybody then races for):",
        "",
        "| users | offers accepted | refused: no free bed | beds freed | overbookings | counts consistent |",
        "|--:|--:|--:|--:|--:|---|",
    ]
    for step in steps:
        check = step.get("booking_check", {})
        lines.append(
            f"| {step['users']} | {check.get('accepted')} | {step.get('outcomes', {}).get('no_free_bed', 0)} | "
            f"{sum(c['freed_during_step'] for c in check.get('capacities', []))} | "
            f"{check.get('overbookings')} | {'yes' if _booking_consistent(check) else 'NO'} |"
        )
    return [*lines, ""]


def _cluster_section(cluster: dict) -> list[str]:
    coherence = cluster.get("coherence", {})
    booking = cluster.get("booking", {})
    check = booking.get("booking_check", {})
    rounds = coherence.get("rounds", 0)
    lines = [
        "## Two app servers (full data set)",
        "",
        f"Two gunicorn instances ({cluster.get('workers_each')} sync workers each) on the same database, Redis "
        "and SECRET_KEY (bench/cluster.py).",
        "",
        f"**Coherence: {coherence.get('coherent')}/{rounds} rounds coherent** (bed overview "
        f"{coherence.get('overview_coherent')}/{rounds}, board {coherence.get('board_coherent')}/{rounds}). Each "
        "round a planner presses + or − on one bed count through one instance (alternating +1/−1 and which "
        "instance writes), after the other instance has served both pages once (so it holds the old ones in the "
        "cache); on the very next request the other instance must show the new state: the GP's bed overview shows "
        "the location's free beds (`<strong class=\"free\">`) equal to the database's, and the coordinator's "
        "board, which shows no counts but the best location to offer, offers that bed count on the card of a "
        "referral preferring its location exactly while it has a free bed.",
        "",
    ]
    details = coherence.get("details", [])
    if details:
        lines += [
            "| round | writes | reads | change | free after | overview shows | board offers the bed | coherent |",
            "|--:|---|---|---|--:|--:|---|---|",
        ]
        for row in details:
            lines.append(
                f"| {row['round']} | {row['writer']} | {row['reader']} | {row['delta']} | {row['free_after']} | "
                f"{_value(row.get('overview_free'))} | {_value(row.get('board_suggests'))} | "
                f"{'yes' if row['coherent'] else 'NO'} |"
            )
        lines.append("")
    if booking:
        lines += [
            f"**Booking through both instances at once** ({booking.get('users')} users, half on each): "
            f"p50 {booking.get('p50_ms')} ms, p95 {booking.get('p95_ms')} ms, {booking.get('rps')} req/s, "
            f"{booking.get('failures')} errors; {check.get('accepted')} offers accepted, "
            f"{booking.get('outcomes', {}).get('no_free_bed', 0)} refused for want of a bed, "
            f"{sum(c['freed_during_step'] for c in check.get('capacities', []))} beds freed; "
            f"**{check.get('overbookings')} overbookings**, counts consistent: "
            f"{'yes' if _booking_consistent(check) else 'NO'}.",
            "",
        ]
    if cluster.get("note"):
        lines += [cluster["note"], ""]
    return lines


def markdown(results: dict) -> str:
    machine = results["machine"]
    settings = results["settings"]
    small = f" ({settings['small_duration']} s on the small data set)" if "small" in results["datasets"] else ""
    lines = [
        f"# Benchmark {results['started_at']}",
        "",
        f"Machine: {machine['cpu_model']}, {machine['nproc']} cores, {machine['memory_gib']} GiB memory, "
        f"{machine['postgresql']}, Redis {machine['redis']}; load average at the start "
        f"{machine['load_average_at_start']}.",
        f"Server: gunicorn {results['server']['workers']} sync workers, DEBUG=0, on 127.0.0.1. "
        f"Load: locust {results['server']['locust']}, closed loop without think time, "
        f"{settings['warmup']} s warm-up then {settings['duration']} s measured per step{small}. "
        f"Whole run: {results.get('seconds')} s.",
        _scope(results),
        "× baseline: req/s over the baseline's (`/healthz`) at the same concurrency; × floor: over the signed-in "
        "floor's (a page with only the base template), which is what any signed-in page costs.",
        "",
        "| scenario | what |",
        "|---|---|",
        *(f"| {name} | {text} |" for name, text in SCENARIOS.items()),
        "",
    ]
    for name, dataset in results["datasets"].items():
        info = dataset.get("dataset", {})
        rows = info.get("rows", {})
        lines += [
            f"## {name} data set (scale {info.get('scale')}: {info.get('regions')} regions, "
            f"{rows.get('locations')} locations, {rows.get('bed counts')} bed counts, {rows.get('users')} users, "
            f"{rows.get('referrals')} referrals, {rows.get('referral events')} events, {rows.get('offers')} offers, "
            f"{rows.get('stays')} stays; generated in {info.get('seconds')} s)",
            "",
            "| scenario | users | p50 ms | p95 ms | p99 ms | req/s | errors | SQL/request | × baseline | × floor "
            "| CPU ms/request (app + db) | × baseline by CPU |",
            "|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|",
        ]
        for step in dataset.get("steps", []):
            cpu = step.get("cpu_ms_per_request")
            cost = f"{cpu['app']} + {cpu['db']}" if cpu else "—"
            lines.append(
                f"| {step['scenario']} | {step['users']} | {step['p50_ms']} | {step['p95_ms']} | {step['p99_ms']} | "
                f"{step['rps']} | {step['failures']} | {_value(step.get('queries_per_request'))} | "
                f"{_value(step.get('ratio_to_baseline'))} | {_value(step.get('ratio_to_floor'))} | {cost} | "
                f"{_value(step.get('cost_ratio_to_baseline'))} |"
            )
        lines.append("")
        bookings = [s for s in dataset.get("steps", []) if s["scenario"] == "booking"]
        if bookings:
            lines += _booking_table(bookings)
        if dataset.get("cluster"):
            lines += _cluster_section(dataset["cluster"])
    if results.get("scaling"):
        lines += [
            "## Scaling: latency full / small data set",
            "",
            "| scenario | median, 1 user | mean, 1 user | median, 8 users | p95, 8 users |",
            "|---|--:|--:|--:|--:|",
        ]
        for scenario, row in results["scaling"].items():
            lines.append(
                f"| {scenario} | {row.get('p50_ms@1', '—')} | {row.get('mean_ms@1', '—')} | "
                f"{row.get('p50_ms@8', '—')} | {row.get('p95_ms@8', '—')} |"
            )
        lines.append("")
    jobs_results = _jobs_results(results)
    if jobs_results:
        jobs = _jobs_module()
        if jobs is not None:
            lines += jobs.markdown(jobs_results)
            if lines[-1] != "":
                lines.append("")
    lines += ["## Budgets", "", "| check | value | limit | |", "|---|--:|--:|---|"]
    for check in results.get("budgets", []):
        lines.append(
            f"| {check['check']} | {check['value']} | {check['limit']} | {'ok' if check['ok'] else 'MISSED'} |"
        )
    lines.append("")
    return "\n".join(lines)


def write(results: dict, directory: Path) -> tuple[Path, Path]:
    directory.mkdir(parents=True, exist_ok=True)
    stamp = results["started_at"].replace(":", "").replace("-", "")
    text = json.dumps(results, indent=2, default=str)
    path = directory / f"{stamp}.json"
    path.write_text(text, encoding="utf-8")
    (directory / "latest.json").write_text(text, encoding="utf-8")
    md = directory / "latest.md"
    md.write_text(markdown(results), encoding="utf-8")
    return path, md
