"""Where a scenario's time goes: the same requests as the benchmark, in-process, under cProfile.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/elvdesk_bench_full SECRET_KEY=x DEBUG=0 \
        .venv/bin/python -m bench.profile board --repeat 50

Needs a data set made by `make bench` (the databases are kept after a run). Prints the mean wall
time per request and the functions with the most cumulative time. `--fixture FILE` reuses the
sessions of an earlier `python -m bench.fixtures prepare` instead of making new ones.
"""

import argparse
import cProfile
import json
import pstats
import sys
import time

from bench import fixtures

PAGES = {
    "overview": lambda f: (f["gp_sessions"][0], f["overview_url"]),
    "board": lambda f: (f["coordinator_sessions"][0], f["board_url"]),
    "referral_detail": lambda f: (f["coordinator_sessions"][0], f"/referrals/{f['detail_referrals'][0]}/"),
}


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.profile")
    parser.add_argument("scenario", choices=sorted(PAGES))
    parser.add_argument("--repeat", type=int, default=30)
    parser.add_argument("--top", type=int, default=35)
    parser.add_argument("--sort", default="cumulative")
    parser.add_argument("--fixture")
    args = parser.parse_args(argv)
    if args.fixture:
        with open(args.fixture, encoding="utf-8") as handle:
            fixture = json.load(handle)
    else:
        fixture = fixtures.cmd_prepare(args)
    session, url = PAGES[args.scenario](fixture)
    client = fixtures._client_for(session)
    for _ in range(3):  # warm: caches, connection, templates
        assert client.get(url).status_code == 200  # nosec B101: a developer tool
    profiler = cProfile.Profile()
    started = time.perf_counter()
    profiler.enable()
    for _ in range(args.repeat):
        client.get(url)
    profiler.disable()
    elapsed = (time.perf_counter() - started) / args.repeat * 1000
    print(f"{args.scenario}: {elapsed:.1f} ms per request in-process (under the profiler)", file=sys.stderr)
    pstats.Stats(profiler, stream=sys.stdout).sort_stats(args.sort).print_stats(args.top)


if __name__ == "__main__":
    main()
