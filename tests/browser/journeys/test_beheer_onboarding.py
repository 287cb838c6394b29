"""Journey (issue 16): the functional administrator onboards a provider, in a real Chromium.

`beheer` adds a care provider with one location and its contracted beds, and invites a planner;
the planner accepts the invitation, sets a password, enrols her authenticator and publishes free
beds; the GP finds the new location on the bed overview and on the social map. Every click and
typed field of the administrator is counted (login included): the onboarding must take fewer than
40 interactions.
"""

import base64
import re
from urllib.parse import urlparse

import pytest
from django.core import mail
from django_otp.oath import totp
from playwright.sync_api import expect

from accounts.models import Role, User
from audit.models import AccessLog, ChangeRecord
from beds.models import Capacity
from providers.demo import DEMO_PASSWORD
from providers.models import Location, Organisation
from tests.browser.journeys.a11y import check_page, wait_for_htmx
from tests.conftest import current_totp

pytestmark = pytest.mark.django_db(transaction=True)

MAX_ADMIN_INTERACTIONS = 40
NEW_PROVIDER = "Zorgvilla De Geul"
NEW_LOCATION = "De Geul Valkenburg"
PLANNER_EMAIL = "m.janssen@degeul.example"


class Counted:
    """A page whose clicks and typed fields are counted: what the person does, not what loads."""

    def __init__(self, page):
        self.page = page
        self.interactions = 0

    def click(self, locator) -> None:
        self.interactions += 1
        with self.page.expect_navigation(wait_until="domcontentloaded"):
            locator.click()

    def fill(self, locator, value: str) -> None:
        self.interactions += 1
        locator.fill(value)


def _log_in(counted: Counted, username: str) -> None:
    page = counted.page
    page.goto("/accounts/login/")
    counted.fill(page.locator("#id_username"), username)
    counted.fill(page.locator("#id_password"), DEMO_PASSWORD)
    counted.click(page.locator("button.primary"))
    counted.fill(page.locator("#id_token"), current_totp(username))
    counted.click(page.locator("button.primary"))
    expect(page.locator("#id_token")).to_have_count(0)


def _code_for_secret(secret: str) -> str:
    """What an authenticator app shows now for the key typed from the enrolment page."""
    return f"{totp(base64.b32decode(secret.replace(' ', ''))):06d}"


def test_beheer_onboards_a_provider_whose_planner_publishes_beds_that_the_gp_finds(demo, journey_page):
    main = r"main#main"

    # --- The administrator ---------------------------------------------------------------------
    admin = Counted(journey_page())
    page = admin.page
    _log_in(admin, "beheer")
    admin.click(page.get_by_role("link", name="Beheer", exact=True))
    check_page(page, "journey-beheer-1-overview")
    admin.click(page.locator(main).get_by_role("link", name="Organisaties", exact=True).first)
    admin.click(page.get_by_role("link", name="Nieuwe organisatie"))
    # Kind: a care provider is the default.
    admin.fill(page.locator("#id_name"), NEW_PROVIDER)
    admin.fill(page.locator("#id_agb_code"), "22990045")
    admin.click(page.get_by_role("button", name="Organisatie toevoegen"))
    provider = Organisation.objects.get(name=NEW_PROVIDER)
    expect(page).to_have_url(re.compile(rf"/beheer/organisations/{provider.pk}/$"))

    admin.click(page.get_by_role("link", name="Locatie toevoegen"))
    admin.fill(page.locator("#id_name"), NEW_LOCATION)
    admin.fill(page.locator("#id_street"), "Geulpark 12")
    admin.fill(page.locator("#id_postcode"), "6301 AB")
    admin.fill(page.locator("#id_city"), "Valkenburg")
    admin.fill(page.locator("#id_phone_24_7"), "043 601 2345")
    admin.click(page.get_by_role("button", name="Locatie toevoegen"))
    location = Location.objects.get(name=NEW_LOCATION)
    expect(page).to_have_url(re.compile(rf"/beheer/locations/{location.pk}/(#contracts)?$"))
    check_page(page, "journey-beheer-2-location")

    # Contracted beds: 6 elv_hoog, 4 elv_laag.
    for product_name, total in (("ELV hoog complex", "6"), ("ELV laag complex", "4")):
        form = page.locator("form.contract-form").filter(has_text=product_name)
        admin.fill(form.locator("input[name$='total']"), total)
        admin.click(form.get_by_role("button"))
    hoog = Capacity.objects.get(location=location, product__code="elv_hoog")
    assert (hoog.total, hoog.available, hoog.confirmed_at) == (6, 0, None)  # free beds: the planner's

    admin.click(page.get_by_role("link", name="Planner uitnodigen"))
    admin.fill(page.locator("#id_email"), PLANNER_EMAIL)
    admin.fill(page.locator("#id_first_name"), "Maud")
    admin.fill(page.locator("#id_last_name"), "Janssen")
    # Organisation and role come preselected from the location page.
    admin.click(page.get_by_role("button", name="Uitnodiging versturen"))
    planner = User.objects.get(username=PLANNER_EMAIL)
    assert (planner.role, planner.organisation, planner.has_usable_password()) == (Role.PROVIDER_STAFF, provider, False)
    check_page(page, "journey-beheer-3-invited")
    assert admin.interactions < MAX_ADMIN_INTERACTIONS, admin.interactions
    print(f"administrator interactions for the onboarding: {admin.interactions}")  # noqa: T201 (README figure)

    # Everything is in the history, the invitation also in the NEN 7513 log.
    recorded = set(ChangeRecord.objects.values_list("object_type", "action"))
    assert {
        ("organisation", "create"),
        ("location", "create"),
        ("location", "contract"),
        ("user", "invite"),
    } <= recorded
    assert AccessLog.objects.filter(subject_user=planner, user__username="beheer").exists()

    # --- The planner: the invitation e-mail, a password, the authenticator, free beds -----------
    (invitation,) = [message for message in mail.outbox if PLANNER_EMAIL in message.to]
    link = re.search(r"https?://\S+/accounts/invitation/\S+/", invitation.body).group(0)
    planner_page = journey_page()
    planner_page.goto(urlparse(link).path)
    planner_page.fill("#id_new_password1", "Geul-Valkenburg-2026!")
    planner_page.fill("#id_new_password2", "Geul-Valkenburg-2026!")
    with planner_page.expect_navigation(wait_until="domcontentloaded"):
        planner_page.get_by_role("button", name="Wachtwoord instellen").click()
    expect(planner_page).to_have_url(re.compile(r"/accounts/two-factor/setup/"))
    secret = planner_page.locator("code.secret").inner_text()
    planner_page.fill("#id_token", _code_for_secret(secret))
    with planner_page.expect_navigation(wait_until="domcontentloaded"):
        planner_page.locator("button.primary").click()
    expect(planner_page).to_have_url(re.compile(r"/accounts/two-factor/recovery-codes/"))
    with planner_page.expect_navigation(wait_until="domcontentloaded"):
        planner_page.locator("a.button.primary").click()
    planner_page.goto("/beds/mine/")
    row = planner_page.locator(f"#capacity-{hoog.pk}")
    row.locator(f"input[name='c{hoog.pk}-available']").fill("3")
    with planner_page.expect_response(lambda r: f"/beds/capacity/{hoog.pk}/" in r.url):
        row.locator("button.primary").click()
    wait_for_htmx(planner_page)
    hoog.refresh_from_db()
    assert (hoog.available, hoog.confirmed_by) == (3, planner)

    # --- The GP finds the new location on the overview and on the social map ---------------------
    gp_page = journey_page()
    gp = Counted(gp_page)
    _log_in(gp, "huisarts")
    gp_page.goto("/beds/?product=elv_hoog&postcode=6301+AB")
    listed = gp_page.locator(main).get_by_text(NEW_LOCATION).first
    expect(listed).to_be_visible()
    check_page(gp_page, "journey-beheer-4-gp-overview")
    gp_page.goto(f"/social-map/?q={NEW_LOCATION.replace(' ', '+')}")
    entry = gp_page.locator(f"#location-{location.pk}")
    expect(entry).to_contain_text("043 601 2345")
    expect(entry).to_contain_text("ELV hoog complex")
    check_page(gp_page, "journey-beheer-5-social-map")
