"""`make simulate` / `python -m simulate`: one run on a throw-away SQLite database, written as
JSON and Markdown to simulate/results/ (see simulate/README.md)."""

import argparse
import os
import shutil
import sys
import time
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "results"


def _per_product(value):
    """product=value pairs, e.g. elv_laag=40,elv_hoog=60 → {"elv_laag": 40, "elv_hoog": 60}."""

    def parse(text: str) -> dict:
        pairs = (item.split("=", 1) for item in text.split(",") if item.strip())
        return {code.strip(): value(number) for code, number in pairs}

    return parse


def main(argv=None) -> int:
    from simulate.scenario import Scenario

    defaults = Scenario()
    parser = argparse.ArgumentParser(prog="python -m simulate", description=__doc__)
    parser.add_argument("--seed", type=int, default=defaults.seed)
    parser.add_argument("--days", type=int, default=defaults.days, help="days with arrivals (default: a quarter)")
    parser.add_argument("--population", type=int, default=defaults.population)
    parser.add_argument("--start", default=defaults.start, help="local start, e.g. 2027-01-04T00:00 (a Monday)")
    parser.add_argument("--beds", type=_per_product(int), default={}, help="contracted beds, e.g. elv_laag=40")
    parser.add_argument("--mix", type=_per_product(float), default=None, help="product mix, e.g. elv_hoog=1")
    parser.add_argument("--mean-stay-days", type=float, default=defaults.mean_length_of_stay_days)
    parser.add_argument("--jobs-every", type=int, default=None, help="minutes between escalation and proposal passes")
    parser.add_argument("--target", type=float, default=defaults.beds_target, help="planner target sizing the beds")
    parser.add_argument("--patience", type=float, default=defaults.patience_hours, help="hours before placed elsewhere")
    parser.add_argument("--idealised", action="store_true", help="the Erlang model: 24/7, no declines, no transport")
    parser.add_argument("--name", default="", help="file name of the results (default: seed-<seed>-<days>d)")
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    scenario = Scenario(
        seed=args.seed,
        days=args.days,
        population=args.population,
        start=args.start,
        beds=args.beds,
        beds_target=args.target,
        patience_hours=args.patience,
        idealised=args.idealised,
        product_mix=args.mix or defaults.product_mix,
        mean_length_of_stay_days=args.mean_stay_days,
        escalations_every_minutes=args.jobs_every or defaults.escalations_every_minutes,
        proposals_every_minutes=args.jobs_every or defaults.proposals_every_minutes,
    )

    # Always the simulator's own settings: a new SQLite file, never a database that holds anything.
    os.environ["DJANGO_SETTINGS_MODULE"] = "elvdesk.settings_simulate"
    import django

    django.setup()
    from django.conf import settings
    from django.core.management import call_command

    from simulate.report import as_markdown, write_report
    from simulate.run import simulate

    try:
        call_command("migrate", verbosity=0, interactive=False)
        began = time.monotonic()
        report = simulate(scenario)
        name = args.name or f"seed-{scenario.seed}-{scenario.days}d" + ("-idealised" if scenario.idealised else "")
        json_path, md_path = write_report(report, args.out, name)
        print(as_markdown(report))
        print(f"Written {json_path} and {md_path} ({time.monotonic() - began:.0f} s).", file=sys.stderr)
    finally:
        shutil.rmtree(settings.SIMULATE_DIRECTORY, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
