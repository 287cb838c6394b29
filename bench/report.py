"""Turns the raw results of a run into ratios, budget checks, JSON and a Markdown table."""

import json
from pathlib import Path

SCENARIOS = {
    "baseline": "Baseline: `/healthz` (one `SELECT 1` + Redis ping)",
    "overview": "GP's bed overview (postcode, product, feature, distance)",
    "board": "Coordinator board `/cockpit/`",
    "referral_detail": "Referral detail (searching: with matching)",
    "capacity_update": "Provider capacity update (+1/−1, htmx)",
    "api_locations": "API capacity list `/api/v1/locations/`",
    "booking": "Offer + accept under contention for the last beds",
}
PAGES = ("overview", "board", "referral_detail", "capacity_update", "api_locations", "booking")
BUDGETED_PAGES = ("overview", "board", "referral_detail")
BUDGET = {
    "page_p95_ms_at_8": 150.0,
    "page_throughput_share_at_8": 0.30,
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


def analyse(results: dict) -> dict:
    """Adds `ratio_to_baseline` to every step, the scaling check and the budget verdicts."""
    for dataset in results["datasets"].values():
        steps = dataset.get("steps", [])
        baseline = {s["users"]: s for s in steps if s["scenario"] == "baseline"}
        for step in steps:
            base = baseline.get(step["users"])
            step["ratio_to_baseline"] = round(step["rps"] / base["rps"], 3) if base and base["rps"] else None
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


def budgets(results: dict) -> list[dict]:
    full = _steps(results, "full")
    checks = []

    def check(name: str, value, limit, ok: bool):
        checks.append({"check": name, "value": value, "limit": limit, "ok": bool(ok)})

    for page in BUDGETED_PAGES:
        step = full.get((page, 8))
        if step:
            check(f"{page}: p95 at 8 users (ms)", step["p95_ms"], BUDGET["page_p95_ms_at_8"], step["p95_ms"] <= 150)
            share = step.get("ratio_to_baseline")
            check(f"{page}: throughput / baseline at 8 users", share, 0.30, share is not None and share >= 0.30)
    for scenario, row in results.get("scaling", {}).items():
        if scenario == "baseline":
            continue
        ratio = row.get("p50_ms@1")
        if ratio is not None:
            check(f"{scenario}: median latency full / small (1 user)", ratio, 1.3, ratio <= 1.3)
    for (scenario, users), step in sorted(full.items()):
        if scenario == "booking":
            booking = step.get("booking_check", {})
            check(
                f"booking at {users} users: overbookings",
                booking.get("overbookings"),
                0,
                booking.get("overbookings") == 0,
            )
            consistent = (
                booking.get("counts_inconsistent") == 0
                and booking.get("all_counts_within_bounds")
                and booking.get("held_equals_open_offers")
            )
            check(f"booking at {users} users: counts consistent", bool(consistent), True, consistent)
            if users == 8:
                check("booking: p95 at 8 users (ms)", step["p95_ms"], 250, step["p95_ms"] <= 250)
    for name, dataset in results["datasets"].items():
        failures = sum(step["failures"] for step in dataset.get("steps", []))
        check(f"{name} data set: failed requests", failures, 0, failures == 0)
    total = results.get("seconds")
    if total is not None:
        check("whole benchmark (s)", total, BUDGET["total_seconds"], total <= BUDGET["total_seconds"])
    return checks


def markdown(results: dict) -> str:
    machine = results["machine"]
    lines = [
        f"# Benchmark {results['started_at']}",
        "",
        f"Machine: {machine['cpu_model']}, {machine['nproc']} cores, {machine['memory_gib']} GiB memory, "
        f"{machine['postgresql']}, Redis {machine['redis']}; load average at the start "
        f"{machine['load_average_at_start']}.",
        f"Server: gunicorn {results['server']['workers']} sync workers, DEBUG=0, on 127.0.0.1. "
        f"Load: locust {results['server']['locust']}, closed loop without think time, "
        f"{results['settings']['warmup']} s warm-up then {results['settings']['duration']} s measured per step "
        f"({results['settings']['small_duration']} s on the small data set). Whole run: {results.get('seconds')} s.",
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
            "| scenario | users | p50 ms | p95 ms | p99 ms | req/s | errors | SQL/request | × baseline "
            "| CPU ms/request (app + db) | × baseline by CPU |",
            "|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|",
        ]
        for step in dataset.get("steps", []):
            ratio = step.get("ratio_to_baseline")
            queries = step.get("queries_per_request")
            cpu = step.get("cpu_ms_per_request")
            cost = f"{cpu['app']} + {cpu['db']}" if cpu else "—"
            cost_ratio = step.get("cost_ratio_to_baseline")
            lines.append(
                f"| {step['scenario']} | {step['users']} | {step['p50_ms']} | {step['p95_ms']} | {step['p99_ms']} | "
                f"{step['rps']} | {step['failures']} | {queries if queries is not None else '—'} | "
                f"{ratio if ratio is not None else '—'} | {cost} | {cost_ratio if cost_ratio is not None else '—'} |"
            )
        lines.append("")
        bookings = [s for s in dataset.get("steps", []) if s["scenario"] == "booking"]
        if bookings:
            lines += [
                "Booking under contention (offers to the last beds; each refused offer makes the provider free one "
                "bed, which everybody then races for):",
                "",
                "| users | offers accepted | refused: no free bed | beds freed | overbookings | counts consistent |",
                "|--:|--:|--:|--:|--:|---|",
            ]
            for step in bookings:
                check = step.get("booking_check", {})
                consistent = (
                    check.get("counts_inconsistent") == 0
                    and check.get("all_counts_within_bounds")
                    and check.get("held_equals_open_offers")
                )
                lines.append(
                    f"| {step['users']} | {check.get('accepted')} | {step.get('outcomes', {}).get('no_free_bed', 0)} | "
                    f"{sum(c['freed_during_step'] for c in check.get('capacities', []))} | "
                    f"{check.get('overbookings')} | {'yes' if consistent else 'NO'} |"
                )
            lines.append("")
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
