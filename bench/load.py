"""The load generator: one step (one scenario at one concurrency) with locust as a library.

Run by bench/run.py in its own process, because locust monkey-patches the standard library
with gevent: `python -m bench.load STEP.json` prints the step's result as JSON on stdout.

Every virtual user sends its next request as soon as the previous one answered (no think time),
so N users keep N requests in flight: a closed loop that measures the server's capacity at that
concurrency. Latencies are recorded exactly (not locust's rounded buckets) after a warm-up.

A step with `hosts` (two app servers, bench/cluster.py) splits its virtual users evenly over them.
"""

from gevent import monkey

monkey.patch_all()

import itertools  # noqa: E402
import json  # noqa: E402
import os  # noqa: E402
import random  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from collections import defaultdict  # noqa: E402

import gevent  # noqa: E402
from locust import FastHttpUser, constant, events, task  # noqa: E402
from locust.env import Environment  # noqa: E402


class Recorder:
    def __init__(self):
        self.on = False
        self.latencies: dict[str, list[float]] = defaultdict(list)
        self.failures: dict[str, int] = defaultdict(int)
        self.samples: list[str] = []
        self.outcomes: dict[str, int] = defaultdict(int)

    def request(self, request_type, name, response_time, response_length, exception=None, **kwargs):
        if not self.on:
            return
        self.latencies[name].append(response_time)
        if exception is not None:
            self.failures[name] += 1
            if len(self.samples) < 8:
                self.samples.append(f"{name}: {exception}"[:300])

    def outcome(self, key: str) -> None:
        self.outcomes[key] += 1  # the whole step, warm-up included: compared with the database


RECORDER = Recorder()


def percentile(values: list[float], p: float) -> float:
    """Linear interpolation between closest ranks (numpy's default)."""
    if not values:
        return 0.0
    ordered = sorted(values)
    position = (len(ordered) - 1) * p
    low = int(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def summarise(latencies: list[float], failures: int, seconds: float) -> dict:
    return {
        "requests": len(latencies),
        "failures": failures,
        "rps": round(len(latencies) / seconds, 1) if seconds else 0.0,
        "p50_ms": round(percentile(latencies, 0.50), 1),
        "p95_ms": round(percentile(latencies, 0.95), 1),
        "p99_ms": round(percentile(latencies, 0.99), 1),
        "mean_ms": round(sum(latencies) / len(latencies), 1) if latencies else 0.0,
        "max_ms": round(max(latencies), 1) if latencies else 0.0,
    }


def _check(response, expected: tuple[int, ...]) -> None:
    if response.status_code not in expected:
        response.failure(f"HTTP {response.status_code}: {response.text[:160]!r}")
    else:
        response.success()


class ScenarioUser(FastHttpUser):
    """A virtual user running one scenario (`scenario`, a `do_<scenario>` method) on `data`."""

    abstract = True
    wait_time = constant(0)
    network_timeout = 60.0
    connection_timeout = 60.0
    scenario = ""
    data: dict = {}
    numbers = itertools.count()

    def on_start(self):
        self.number = next(self.numbers)
        self.rng = random.Random(self.number)  # nosec B311: load pattern, not a secret
        self.flip = 1

    def session_headers(self, session: dict, **extra) -> dict:
        cookie = f"sessionid={session['sessionid']}; csrftoken={session['csrftoken']}"
        return {"Cookie": cookie, **extra}

    def pick(self, key: str):
        """This virtual user's own item of a list of the data (a session, a token)."""
        items = self.data[key]
        return items[self.number % len(items)]

    def pick_session(self, key: str) -> dict:
        return self.pick(key)

    @task
    def scenario_task(self):
        getattr(self, f"do_{self.scenario}")()

    # --- scenarios -----------------------------------------------------------------------

    def do_baseline(self):
        with self.client.get("/healthz", name="healthz", catch_response=True) as r:
            _check(r, (200,))

    def _page(self, name: str, url: str, session_key: str):
        headers = self.session_headers(self.pick_session(session_key))
        with self.client.get(url, name=name, headers=headers, allow_redirects=False, catch_response=True) as r:
            _check(r, (200,))

    def do_floor(self):
        """The signed-in floor: a page with only the base template, as a signed-in GP."""
        self._page("floor", self.data["floor_url"], "gp_sessions")

    def do_overview(self):
        self._page("overview", self.data["overview_url"], "gp_sessions")

    def do_board(self):
        self._page("board", self.data["board_url"], "coordinator_sessions")

    def do_referral_detail(self):
        referral = self.rng.choice(self.data["detail_referrals"])
        self._page("referral detail", f"/referrals/{referral}/", "coordinator_sessions")

    def do_capacity_update(self):
        target = self.data["capacity_targets"][self.number % len(self.data["capacity_targets"])]
        session = target["session"]
        delta = "+1" if self.flip > 0 else "-1"
        self.flip = -self.flip
        body = {"adjust": f"available:{delta}", "csrfmiddlewaretoken": session["csrftoken"]}
        headers = self.session_headers(session, **{"HX-Request": "true"})
        url = f"/beds/capacity/{target['capacity']}/"
        with self.client.post(url, data=body, headers=headers, name="capacity update", catch_response=True) as r:
            _check(r, (200,))
            if r.status_code == 200 and "errorlist" in r.text:
                r.failure("refused: " + r.text[:160])

    def do_api_locations(self):
        token = self.data["gp_tokens"][self.number % len(self.data["gp_tokens"])]
        headers = {"Authorization": f"Token {token}"}
        with self.client.get(self.data["api_url"], name="api locations", headers=headers, catch_response=True) as r:
            _check(r, (200,))

    def do_api_bulk(self):
        """A provider system reads all bed counts of its organisation (with its planner's token)."""
        token = self.data["planner_tokens"][self.number % len(self.data["planner_tokens"])]
        headers = {"Authorization": f"Token {token}"}
        with self.client.get(self.data["api_bulk_url"], name="api bulk", headers=headers, catch_response=True) as r:
            _check(r, (200,))

    def do_referral_submit(self):
        """A GP submits the referral form for a new patient (a fresh BSN each time, so the rule of
        one live referral per patient never refuses it): a redirect to the new referral."""
        bsns = self.data["submit_bsns"]
        if not bsns:
            RECORDER.outcome("out_of_bsns")
            gevent.sleep(0.05)
            return
        bsn = bsns.pop()
        session = self.pick_session("gp_sessions")
        body = {
            **self.data["submit_form"],
            "bsn": bsn,
            "name": f"Bench Submit {bsn}",
            "submit_token": f"bench-{bsn}",
            "csrfmiddlewaretoken": session["csrftoken"],
        }
        headers = self.session_headers(session)
        url = self.data["submit_url"]
        with self.client.post(
            url, data=body, headers=headers, name="referral submit", allow_redirects=False, catch_response=True
        ) as r:
            location = r.headers.get("Location") or r.headers.get("HX-Redirect") or ""
            if r.status_code == 302 and location.startswith("/referrals/"):
                r.success()
                RECORDER.outcome("submitted")
            else:
                r.failure(f"HTTP {r.status_code} {location!r}: {r.text[:160]!r}")

    def do_booking(self):
        """A coordinator offers the next waiting referral a bed at one of the few locations
        that have beds left; the provider accepts at once. When there is no free bed left (409)
        the provider of that location records a discharge (+1 free), which everybody then
        races for: contention for the last bed all through the step."""
        pool = self.data["booking_referrals"]
        if not pool:
            gevent.sleep(0.05)
            return
        referral = pool.pop()
        target = self.rng.choice(self.data["booking_targets"])
        coordinators = self.data["booking_coordinator_tokens"]
        coordinator = coordinators[self.number % len(coordinators)]
        with self.client.post(
            f"/api/v1/referrals/{referral}/offers/",
            json={"capacity": target["capacity"]},
            headers={"Authorization": f"Token {coordinator}"},
            name="offer",
            catch_response=True,
        ) as r:
            if r.status_code == 201:
                r.success()
                offer = r.json()["id"]
            elif r.status_code == 409 and '"no_free_bed"' in r.text:
                r.success()
                offer = None
            else:
                r.failure(f"HTTP {r.status_code}: {r.text[:160]!r}")
                return
        if offer is None:
            RECORDER.outcome("no_free_bed")
            pool.insert(0, referral)
            session = target["session"]
            body = {"adjust": "available:+1", "csrfmiddlewaretoken": session["csrftoken"]}
            headers = self.session_headers(session, **{"HX-Request": "true"})
            with self.client.post(
                f"/beds/capacity/{target['capacity']}/",
                data=body,
                headers=headers,
                name="free a bed",
                catch_response=True,
            ) as r:
                _check(r, (200,))
                if r.status_code == 200 and "errorlist" in r.text:
                    r.failure("refused: " + r.text[:160])
                elif r.status_code == 200:
                    RECORDER.outcome("freed")
            return
        RECORDER.outcome("offered")
        with self.client.post(
            f"/api/v1/offers/{offer}/accept/",
            json={},
            headers={"Authorization": f"Token {target['provider_token']}"},
            name="accept",
            catch_response=True,
        ) as r:
            _check(r, (200,))
            if r.status_code == 200:
                RECORDER.outcome("accepted")


def make_user_classes(step: dict) -> list:
    """One user class per app server (`hosts`, else `host`), equal weights: with two servers
    the virtual users are split over both (bench/cluster.py). They share one data set (one pool
    of referrals, BSNs) and one numbering of the virtual users."""
    shared = {"scenario": step["scenario"], "data": step["data"], "numbers": itertools.count()}
    hosts = step.get("hosts") or [step["host"]]
    return [
        type(f"BenchUser{index}", (ScenarioUser,), {**shared, "host": host, "weight": 1, "abstract": False})
        for index, host in enumerate(hosts)
    ]


CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def _cpu_seconds(pid: int) -> float:
    """User + system CPU of one process (0 when it is gone)."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as handle:
            fields = handle.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS
    except (OSError, IndexError, ValueError):
        return 0.0


def _database_backends(database: str) -> list[int]:
    """PostgreSQL backends serving the benchmark's database (their title names it)."""
    pids = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/cmdline", "rb") as handle:
                    title = handle.read().decode(errors="replace")
            except OSError:
                continue
            if title.startswith("postgres:") and f" {database} " in title:
                pids.append(int(entry))
    return pids


class CpuMeter:
    """CPU seconds spent by the app server's workers, the database backends and this load
    generator during the measured window: a cost per request that a busy machine does not distort
    the way it distorts latencies."""

    def __init__(self, app_pids: list[int], database: str | None):
        self.app_pids, self.database = app_pids, database

    def _read(self) -> dict:
        backends = _database_backends(self.database) if self.database else []
        return {
            "app": {pid: _cpu_seconds(pid) for pid in self.app_pids},
            "db": {pid: _cpu_seconds(pid) for pid in backends},
            "load": time.process_time(),
        }

    def start(self) -> None:
        self.before = self._read()

    def stop(self) -> dict:
        after = self._read()
        app = sum(after["app"][pid] - self.before["app"].get(pid, 0.0) for pid in after["app"])
        db = sum(after["db"][pid] - self.before["db"].get(pid, 0.0) for pid in after["db"])
        return {"app": app, "db": db, "load": after["load"] - self.before["load"]}


def run_step(step: dict) -> dict:
    user_classes = make_user_classes(step)
    env = Environment(user_classes=user_classes, events=events)
    events.request.add_listener(RECORDER.request)
    runner = env.create_local_runner()
    users = step["users"]
    runner.start(users, spawn_rate=max(users, 1) * 10)
    meter = CpuMeter(step.get("app_pids", []), step.get("database"))
    gevent.sleep(step["warmup"])
    RECORDER.on = True
    meter.start()
    started = time.monotonic()
    gevent.sleep(step["duration"])
    RECORDER.on = False
    seconds = time.monotonic() - started
    cpu = meter.stop()
    runner.quit()
    everything = [value for values in RECORDER.latencies.values() for value in values]
    result = {
        "scenario": step["scenario"],
        "users": users,
        "seconds": round(seconds, 2),
        **summarise(everything, sum(RECORDER.failures.values()), seconds),
        "by_request": {
            name: summarise(values, RECORDER.failures[name], seconds) for name, values in RECORDER.latencies.items()
        },
        "error_samples": RECORDER.samples,
    }
    requests = max(result["requests"], 1)
    result["cpu_ms_per_request"] = {
        "app": round(cpu["app"] * 1000 / requests, 2),
        "db": round(cpu["db"] * 1000 / requests, 2),
        "load_generator": round(cpu["load"] * 1000 / requests, 2),
    }
    if RECORDER.outcomes:
        result["outcomes"] = dict(RECORDER.outcomes)
    return result


def main() -> None:
    with open(sys.argv[1], encoding="utf-8") as handle:
        step = json.load(handle)
    print(json.dumps(run_step(step)))


if __name__ == "__main__":
    main()
