"""Make the README's "First five minutes" screenshots again: `make screenshots`.

Seeds the demo region (seed_demo, seed_cockpit_demo, a few referrals of the transfer nurse and the
escalation job) into a throw-away SQLite database, serves the app on 127.0.0.1 with runserver,
logs in as each role through the real login form with the second factor, and saves one PNG per
role's main page (and Beheer's and the social map's) to docs/screenshots/ (1280 px wide, cut to
the first screen; the planner's page also at phone size). Needs Debian's Chromium at
/usr/bin/chromium (as the browser tests).

    .venv/bin/python docs/make_screenshots.py [--out docs/screenshots]
"""

import argparse
import os
import socket

# Starts our own dev server for the screenshots.
import subprocess  # nosec B404
import sys
import tempfile
import time
import urllib.request
from datetime import date, timedelta
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
CHROMIUM = "/usr/bin/chromium"
DESKTOP = {"viewport": {"width": 1280, "height": 860}}
PHONE = {"viewport": {"width": 390, "height": 844}, "is_mobile": True, "has_touch": True}
FIRST_SCREEN_PX = 1000  # longer pages are cut here

# (file name, user, path, context, what it shows)
SHOTS = [
    ("1-huisarts-beschikbare-bedden.png", "huisarts", "/beds/?product=elv_laag&postcode=6411+AB", DESKTOP),
    ("2-huisarts-patient-aanmelden.png", "huisarts", "/referrals/new/?fresh=1", DESKTOP),
    ("3-transferverpleegkundige-mijn-aanmeldingen.png", "transfer", "/referrals/", DESKTOP),
    ("4-planner-mijn-bedden.png", "planner", "/beds/mine/", DESKTOP),
    ("5-planner-mijn-bedden-telefoon.png", "planner", "/beds/mine/", PHONE),
    ("6-coordinator-regionaal-bord.png", "coordinator", "/cockpit/", DESKTOP),
    ("7-coordinator-kpis.png", "coordinator", "/cockpit/kpis/", DESKTOP),
    ("8-beheer-overzicht.png", "beheer", "/beheer/", DESKTOP),
    ("9-beheer-organisaties.png", "beheer", "/beheer/organisations/", DESKTOP),
    ("10-beheer-regio-instellingen.png", "beheer", "/beheer/region/", DESKTOP),
    ("11-huisarts-sociale-kaart.png", "huisarts", "/social-map/?q=Heerlen", DESKTOP),
    ("12-coordinator-klikmoment.png", "coordinator", "/referrals/klikmoment/", DESKTOP),
    # {parallel}: the referral offered to two locations at once (seed()).
    ("13-coordinator-parallelle-aanbiedingen.png", "coordinator", "/referrals/{parallel}/", DESKTOP),
    ("14-coordinator-capaciteitsplanner.png", "coordinator", "/cockpit/planner/", DESKTOP),
    ("15-analist-monitoring-zorgverzekeraar.png", "analist", "/cockpit/monitoring/", DESKTOP),
]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _bsn(n: int) -> str:
    from stdnum.nl import bsn

    for last in range(10):
        candidate = f"30{n:05d}0{last}"
        if bsn.is_valid(candidate):
            return candidate
    raise ValueError(n)


def seed() -> dict:
    """The demo data every screenshot shows (the database of DATABASE_URL); the ids the paths of
    SHOTS name."""
    from django.core.management import call_command
    from django.utils import timezone

    from accounts.models import User
    from beds.models import Capacity
    from cockpit.demo import seed_cockpit_demo
    from providers.demo import seed_demo_region
    from providers.models import Insurer, Product, Region, SelfServiceOffers
    from referrals import services
    from referrals.escalations import escalations_update
    from referrals.matching import match_locations

    call_command("migrate", verbosity=0, interactive=False)
    seed_demo_region()
    region = Region.objects.get(code="zuid-limburg")
    seed_cockpit_demo(region=region)

    # The transfer nurse follows a few patients, each in another state (the desk sends offers).
    mode = region.self_service_offers
    region.self_service_offers = SelfServiceOffers.NEVER
    region.save(update_fields=["self_service_offers"])
    nurse, desk = User.objects.get(username="transfer"), User.objects.get(username="coordinator")
    planner = User.objects.get(username="planner")
    insurer = Insurer.objects.order_by("uzovi").first()
    patients = [
        ("Gerardus Vaessen", "elv_hoog", "planned", timezone.localdate() + timedelta(days=1), "accepted"),
        ("Maria Smeets-Hoen", "elv_laag", "within_24h", None, "triage"),
        ("Jan Hermans", "elv_laag", "today", None, "searching"),
        ("Johanna Peters", "elv_palliatief", "today", None, "submitted"),
    ]
    places = {}
    for n, (name, product, urgency, planned, state) in enumerate(patients):
        data = {
            "bsn": _bsn(n),
            "name": name,
            "date_of_birth": date(1936 + n, 3 + n, 10 + n),
            "sex": "M" if n % 2 == 0 else "F",
            "postcode": "6411 AB",
            "insurer": insurer,
            "origin": "ward",
            "product": Product.objects.get(code=product),
            "urgency": urgency,
            "planned_date": planned,
            "care_needs": [],
            "adl_taken_over": True,
            "unplannable_nursing": True,
            "needs_elderly_care_specialist": product == "elv_hoog",
            "life_expectancy_short": product == "elv_palliatief",
            "medical_reason": "Demo",
            "consent": True,
        }
        referral, _ = services.referral_submit(by=nurse, data=data)
        if state in ("triage",):
            services.referral_step(referral=referral, target="triage", by=desk)
        if state in ("searching", "accepted"):
            services.referral_step(referral=referral, target="searching", by=desk)
        if state == "accepted":
            capacity = (
                Capacity.objects.filter(location__organisation=planner.organisation, product=data["product"])
                .exclude(available=0)
                .first()
            )
            if capacity is not None and capacity.free > 0:
                offer = services.offer_create(referral=referral, capacity=capacity, by=desk)
                services.offer_accept(offer=offer, by=planner, admission_at=timezone.now() + timedelta(days=1))
        if state == "searching":  # parallel offers: the two best matches at once
            for suggestion in match_locations(referral=referral)[:2]:
                services.offer_create(referral=referral, capacity=suggestion.capacity, by=desk)
                referral.refresh_from_db()
            places["parallel"] = referral.pk
    region.self_service_offers = mode
    region.save(update_fields=["self_service_offers"])
    escalations_update()
    return places


def _wait_for(url: str, seconds: int = 30) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=2):  # nosec B310: our own loopback server
                return
        except OSError:
            time.sleep(0.3)
    raise SystemExit(f"the app did not answer at {url} within {seconds}s")


def _login(page, username: str) -> None:
    from django_otp.oath import totp
    from django_otp.plugins.otp_totp.models import TOTPDevice

    from providers.demo import DEMO_PASSWORD

    page.goto("/accounts/login/")
    page.fill("#id_username", username)
    page.fill("#id_password", DEMO_PASSWORD)
    with page.expect_navigation():
        page.click("button.primary")
    if "/two-factor/verify" in page.url:
        device = TOTPDevice.objects.get(user__username=username, confirmed=True)
        TOTPDevice.objects.filter(pk=device.pk).update(last_t=-1)  # a second login within 30 s
        code = totp(device.bin_key, step=device.step, t0=device.t0, digits=device.digits)
        page.fill("#id_token", f"{code:0{device.digits}d}")
        with page.expect_navigation():
            page.click("button.primary")
    if "/accounts/" in page.url:
        raise SystemExit(f"could not log in as {username} (still on {page.url})")


def shoot(base_url: str, out: Path, places: dict) -> list[Path]:
    from playwright.sync_api import sync_playwright

    out.mkdir(parents=True, exist_ok=True)
    saved = []
    with sync_playwright() as playwright:
        args = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--lang=nl-NL"]
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=args)
        for name, username, path, options in SHOTS:
            context = browser.new_context(base_url=base_url, locale="nl-NL", timezone_id="Europe/Amsterdam", **options)
            page = context.new_page()
            _login(page, username)
            page.goto(path.format(**places))
            page.wait_for_load_state("load")
            width = options["viewport"]["width"]
            height = min(page.evaluate("document.documentElement.scrollHeight"), FIRST_SCREEN_PX)
            target = out / name
            page.screenshot(path=str(target), full_page=True, clip={"x": 0, "y": 0, "width": width, "height": height})
            saved.append(target)
            context.close()
        browser.close()
    return saved


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=REPO / "docs" / "screenshots")
    args = parser.parse_args()
    if not Path(CHROMIUM).exists():
        raise SystemExit(f"Chromium not found at {CHROMIUM} (apt-get install chromium)")

    workdir = Path(tempfile.mkdtemp(prefix="elvdesk-screenshots-"))
    env = {
        **{key: value for key, value in os.environ.items() if key not in ("DATABASE_URL", "REDIS_URL")},
        "DEBUG": "1",
        "DATABASE_URL": f"sqlite:///{workdir / 'db.sqlite3'}",
        "DJANGO_SETTINGS_MODULE": "elvdesk.settings",
        "EMAIL_BACKEND": "django.core.mail.backends.locmem.EmailBackend",  # the demo's notifications
        "LOG_LEVEL": os.environ.get("LOG_LEVEL", "WARNING"),
        # Playwright's sync API runs an event loop in this thread; the ORM calls here are plain
        # reads and writes of the throw-away database (Django's documented switch for this case).
        "DJANGO_ALLOW_ASYNC_UNSAFE": "true",
    }
    os.environ.clear()
    os.environ.update(env)
    sys.path.insert(0, str(REPO))
    import django

    django.setup()
    places = seed()

    port = _free_port()
    server = subprocess.Popen(  # nosec B603: our own manage.py with fixed arguments
        [sys.executable, "manage.py", "runserver", f"127.0.0.1:{port}", "--noreload"],
        cwd=REPO,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        base_url = f"http://127.0.0.1:{port}"
        _wait_for(base_url + "/healthz")
        for path in shoot(base_url, args.out, places):
            print(f"{path.relative_to(REPO) if path.is_relative_to(REPO) else path}  {path.stat().st_size // 1024} kB")
    finally:
        server.terminate()
        server.wait(timeout=10)


if __name__ == "__main__":
    main()
