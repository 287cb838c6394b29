"""Two app servers on one database and one Redis, as production scales out.

`make bench` (bench/run.py) runs this on the full data set after the single-server steps; the
test tests/bench/test_cluster.py runs the same checks on a tiny data set.

(a) Coherence: through instance A a planner changes a bed count (the − / + buttons, as the
    capacity_update scenario does); on the very next request instance B's bed overview (a GP) and
    regional board (a coordinator of the same region) must show it. Both pages are served from
    cached parts in the shared Redis, so a cache that one instance does not invalidate for the
    other shows up here. ~20 rounds, alternating the direction (+1/−1) and the roles of A and B.
    What "show it" means, precisely:
    - the overview: in the row of location L (the one whose "Social map" link ends in
      `#location-<L>`), the item of X's product shows `<strong class="free">N …</strong>` with N
      the free beds of X in the database;
    - the board renders no counts; its cards suggest the best location to offer, which follows
      the counts. Referral R prefers L and is the region's most urgent, so its card offers X
      (`name="capacity" value="<X>"`) exactly while X has a free bed.
(b) Booking under contention through both instances at once: the booking scenario with half of
    the virtual users on each instance (bench/load.py, `hosts`), then the booking check
    (0 overbookings, counts consistent).

Everything here speaks HTTP only; the database's side (what the count is, the set-up) is passed in
by bench/fixtures.py, which runs in a Django process.
"""

import html as html_lib
import json
import random
import re
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable
from pathlib import Path

ROUNDS = 20
BEAT_NOTE = (
    "Periodic jobs: Celery beat runs as one singleton process (docker-compose service `beat`, one per "
    "installation, never scaled with the app servers), so more app servers do not run the schedule more "
    "often; and every task takes ids, re-reads and is safe to run twice (referrals/tasks.py, beds/tasks.py), "
    "so a task delivered twice (acks_late after a lost worker) does no harm."
)


# --- HTTP ----------------------------------------------------------------------------------------


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None  # a redirect is an answer to look at, not to follow


_OPENER = urllib.request.build_opener(_NoRedirect)


def request(
    method: str,
    url: str,
    *,
    session: dict | None = None,
    form: dict | None = None,
    json_body: dict | None = None,
    headers: dict | None = None,
    timeout: float = 60,
) -> tuple[int, dict, str]:
    """(status, headers, text) of one request; `session` is a prepared session (bench/fixtures.py)."""
    headers = dict(headers or {})
    body = None
    if session is not None:
        headers["Cookie"] = f"sessionid={session['sessionid']}; csrftoken={session['csrftoken']}"
    if form is not None:
        if session is not None:
            form = {**form, "csrfmiddlewaretoken": session["csrftoken"]}
        body = urllib.parse.urlencode(form, doseq=True).encode()
        headers["Content-Type"] = "application/x-www-form-urlencoded"
    elif json_body is not None:
        body = json.dumps(json_body).encode()
        headers["Content-Type"] = "application/json"
    prepared = urllib.request.Request(url, data=body, headers=headers, method=method)  # noqa: S310
    try:
        with _OPENER.open(prepared, timeout=timeout) as response:  # nosec B310: loopback app servers
            return response.status, dict(response.headers), response.read().decode("utf-8", "replace")
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers), error.read().decode("utf-8", "replace")


# --- what the pages show -------------------------------------------------------------------------

_FREE = re.compile(r'<strong class="free">\s*(\d+)')


def overview_free(page: str, *, location: int, product_name: str) -> int | None:
    """The free beds the bed overview shows for `product_name` at `location` (None: not shown)."""
    marker = f'#location-{location}"'
    for row in page.split("<tr")[1:]:
        if marker not in row:
            continue
        wanted = f'<span class="product">{html_lib.escape(product_name)}</span>'
        for item in row.split("<li")[1:]:
            if wanted in item:
                found = _FREE.search(item)
                return int(found.group(1)) if found else None
    return None


def board_card(page: str, *, referral: int) -> str | None:
    """The HTML of referral `referral`'s card on the regional board (None: no such card)."""
    start = page.find(f'id="card-{referral}"')
    if start < 0:
        return None
    ends = [i for i in (page.find('class="board-card', start), page.find("</ol>", start)) if i >= 0]
    return page[start : min(ends)] if ends else page[start:]


def board_suggests(page: str, *, referral: int, capacity: int) -> bool | None:
    """Does the board's card of `referral` offer bed count `capacity`? None: the card is not there."""
    card = board_card(page, referral=referral)
    if card is None:
        return None
    return f'name="capacity" value="{capacity}"' in card


# --- (a) coherence -------------------------------------------------------------------------------


def _look(host: str, target: dict) -> dict:
    """What instance `host` shows a GP (overview) and a coordinator (board) now."""
    status, _, page = request("GET", host + target["overview_url"], session=target["gp"])
    shown = overview_free(page, location=target["location"], product_name=target["product_name"])
    board_status, _, board = request("GET", host + target["board_url"], session=target["coordinator"])
    suggests = board_suggests(board, referral=target["referral"], capacity=target["capacity"])
    return {"overview_status": status, "overview_free": shown, "board_status": board_status, "board_suggests": suggests}


def coherence(hosts: list[str], target: dict, *, rounds: int = ROUNDS, free: Callable[[int], int]) -> dict:
    """`rounds` changes of bed count X, each through one instance and looked at through the other
    at once. `free(capacity_id)` reads the count's free beds from the database (the truth).

    Rounds go (A writes +1), (A −1), (B +1), (B −1), …: both directions through both instances.
    Before each change the reader looks once (so it holds the old pages in the cache), and the
    change's response must have come back before the reader looks again."""
    a, b = hosts
    results = []
    for number in range(rounds):
        writer, reader = (a, b) if (number // 2) % 2 == 0 else (b, a)
        delta = "+1" if number % 2 == 0 else "-1"
        before = free(target["capacity"])
        _look(reader, target)  # the old state, now cached by the reader's request
        status, _, body = request(
            "POST",
            f"{writer}/beds/capacity/{target['capacity']}/",
            session=target["planner"],
            form={"adjust": f"available:{delta}"},
            headers={"HX-Request": "true"},
        )
        written = status == 200 and "errorlist" not in body
        truth = free(target["capacity"])
        seen = _look(reader, target)
        overview_ok = seen["overview_status"] == 200 and seen["overview_free"] == truth
        board_ok = seen["board_status"] == 200 and seen["board_suggests"] == (truth > 0)
        results.append(
            {
                "round": number + 1,
                "writer": "A" if writer == a else "B",
                "reader": "A" if reader == a else "B",
                "delta": delta,
                "write_status": status,
                "written": written,
                "free_before": before,
                "free_after": truth,
                **seen,
                "overview_coherent": overview_ok,
                "board_coherent": board_ok,
                "coherent": written and truth == before + int(delta) and overview_ok and board_ok,
            }
        )
    return {
        "rounds": rounds,
        "coherent": sum(1 for row in results if row["coherent"]),
        "overview_coherent": sum(1 for row in results if row["overview_coherent"]),
        "board_coherent": sum(1 for row in results if row["board_coherent"]),
        "capacity": target["capacity"],
        "location": target["location"],
        "referral": target["referral"],
        "details": results,
    }


# --- (b) booking through both instances, with threads (the test; the benchmark uses locust) -------


def book_concurrently(hosts: list[str], setup: dict, *, users: int = 4, seconds: float = 10.0) -> dict:
    """The booking scenario of bench/load.py with plain threads: each virtual user offers the next
    waiting referral a bed at one of the last-bed locations through one instance and has the
    provider accept (or, when no bed is left, free one) through the other, until the referrals run
    out or `seconds` pass. Returns the outcomes and the unexpected answers."""
    pool = list(setup["booking_referrals"])
    lock = threading.Lock()
    outcomes: dict[str, int] = {}
    errors: list[str] = []
    deadline = time.monotonic() + seconds

    def count(key: str) -> None:
        with lock:
            outcomes[key] = outcomes.get(key, 0) + 1

    def user(number: int) -> None:
        rng = random.Random(number)  # nosec B311: load pattern, not a secret
        offer_host, answer_host = hosts[number % len(hosts)], hosts[(number + 1) % len(hosts)]
        coordinators = setup["booking_coordinator_tokens"]
        coordinator = coordinators[number % len(coordinators)]
        while time.monotonic() < deadline:
            with lock:
                if not pool:
                    return
                referral = pool.pop()
            target = rng.choice(setup["booking_targets"])
            status, _, body = request(
                "POST",
                f"{offer_host}/api/v1/referrals/{referral}/offers/",
                json_body={"capacity": target["capacity"]},
                headers={"Authorization": f"Token {coordinator}"},
            )
            if status == 409 and '"no_free_bed"' in body:
                count("no_free_bed")
                with lock:
                    pool.insert(0, referral)
                status, _, body = request(
                    "POST",
                    f"{answer_host}/beds/capacity/{target['capacity']}/",
                    session=target["session"],
                    form={"adjust": "available:+1"},
                    headers={"HX-Request": "true"},
                )
                if status == 200 and "errorlist" not in body:
                    count("freed")
                else:
                    errors.append(f"free a bed: HTTP {status} {body[:160]!r}")
                continue
            if status != 201:
                errors.append(f"offer: HTTP {status} {body[:160]!r}")
                continue
            count("offered")
            offer = json.loads(body)["id"]
            status, _, body = request(
                "POST",
                f"{answer_host}/api/v1/offers/{offer}/accept/",
                json_body={},
                headers={"Authorization": f"Token {target['provider_token']}"},
            )
            if status == 200:
                count("accepted")
            else:
                errors.append(f"accept: HTTP {status} {body[:160]!r}")

    threads = [threading.Thread(target=user, args=(number,), daemon=True) for number in range(users)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(seconds + 120)
    return {"outcomes": outcomes, "errors": errors[:20], "error_count": len(errors)}


# --- the benchmark's step --------------------------------------------------------------------------


def run(
    *,
    env: dict,
    first_port: int,
    workers: int,
    users: int,
    warmup: float,
    duration: float,
    fixtures: Callable[[list[str]], dict],
    load_step: Callable[..., dict],
    log: Callable[[str], None],
    log_dir: Path,
) -> dict:
    """(a) and (b) on two gunicorn instances with the same DATABASE_URL, REDIS_URL and SECRET_KEY."""
    import tempfile
    from urllib.parse import urlsplit

    from bench.server import Server

    result: dict = {"instances": 2, "workers_each": workers, "note": BEAT_NOTE}
    a = Server(env=env, port=first_port, workers=workers, log_path=log_dir / "bench-gunicorn-cluster-a.log")
    b = Server(env=env, port=first_port + 1, workers=workers, log_path=log_dir / "bench-gunicorn-cluster-b.log")
    with a, b:
        log(f"cluster: two instances {a.url} and {b.url} ({workers} workers each); coherence, {ROUNDS} rounds")
        started = time.monotonic()
        result["coherence"] = fixtures(["coherence", "--hosts", f"{a.url},{b.url}", "--rounds", str(ROUNDS)])
        result["coherence"]["seconds"] = round(time.monotonic() - started, 1)
        coherent = result["coherence"]
        log(
            f"cluster: coherent {coherent['coherent']}/{coherent['rounds']} "
            f"(overview {coherent['overview_coherent']}, board {coherent['board_coherent']})"
        )
        setup = fixtures(["booking-setup", "--referrals", str(max(600, 120 * users)), "--tag", f"cluster-{users}"])
        step = load_step(
            scenario="booking",
            users=users,
            hosts=[a.url, b.url],
            app_pids=a.worker_pids() + b.worker_pids(),
            database=urlsplit(env["DATABASE_URL"]).path.lstrip("/"),
            data=setup,
            warmup=warmup,
            duration=duration,
        )
        with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False, prefix="bench-cluster-") as handle:
            json.dump(setup, handle)
        try:
            step["booking_check"] = fixtures(["booking-check", "--setup", handle.name])
        finally:
            Path(handle.name).unlink()
        result["booking"] = step
        check = step["booking_check"]
        log(
            f"cluster: booking at {users} users over both: p95 {step['p95_ms']} ms, {step['rps']} req/s, "
            f"{step['failures']} errors, accepted {check['accepted']}, overbookings {check['overbookings']}"
        )
    return result
