"""The referral page shows each user exactly the steps the workflow table (referrals/workflow.py
STEPS) lets their role take in the referral's state, and every button it shows works for them.

For every role that sees referrals × every state: each form on the page is mapped to its step;
the step must be allowed for that role; posting it (rolled back afterwards) must not be refused;
and every allowed step within the user's reach must be on the page."""

import re
from dataclasses import dataclass, field
from datetime import timedelta
from html.parser import HTMLParser

import pytest
from django.db import transaction
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from accounts.models import Role
from referrals import services
from referrals.models import State
from referrals.workflow import STEP_ACTIONS, STEPS, Action, allowed_actions
from tests.referrals.conftest import referral_input

ROLES = [Role.GP, Role.TRANSFER_NURSE, Role.PROVIDER_STAFF, Role.COORDINATOR]
STATES = [state for state in State.values if state != State.DRAFT]


@dataclass
class PageForm:
    action: str
    method: str
    targets: list[str] = field(default_factory=list)  # name="target" values (hidden or on buttons)


class FormParser(HTMLParser):
    def __init__(self):
        super().__init__()
        self.forms: list[PageForm] = []

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "form":
            self.forms.append(PageForm(action=attrs.get("action", ""), method=attrs.get("method", "get").lower()))
        elif tag in ("input", "button") and attrs.get("name") == "target" and self.forms:
            self.forms[-1].targets.append(attrs.get("value", ""))


def _referral_in(desk, state: str, referrer):
    """A referral of `referrer` brought to `state` the way people do it."""
    origin = "home" if referrer.role == Role.GP else "ward"
    referral, _ = services.referral_submit(by=referrer, data=referral_input(origin=origin))
    path = {
        State.SUBMITTED: [],
        State.TRIAGE: ["triage"],
        State.SEARCHING: ["search"],
        State.OFFERED: ["search", "offer"],
        State.ACCEPTED: ["search", "offer", "accept"],
        State.ADMITTED: ["search", "offer", "accept", "admit"],
        State.DISCHARGED: ["search", "offer", "accept", "admit", "discharge"],
        State.CANCELLED: ["search", "offer", "cancel"],  # after an offer: the provider sees it too
        State.REDIRECTED: ["search", "offer", "redirect"],
    }[state]
    for step in path:
        if step == "triage":
            services.referral_step(referral=referral, target=State.TRIAGE, by=desk.coordinator)
        elif step == "search":
            services.referral_step(referral=referral, target=State.SEARCHING, by=desk.coordinator)
        elif step == "offer":
            offer = services.offer_create(referral=referral, capacity=desk.capacity, by=desk.coordinator)
        elif step == "accept":
            services.offer_accept(offer=offer, by=desk.planner)
        elif step == "admit":
            services.stay_admit(referral=referral, by=desk.planner, admitted_at=timezone.now())
        elif step == "discharge":
            services.stay_discharge(
                referral=referral, by=desk.planner, discharged_at=timezone.now(), destination="home"
            )
        elif step == "cancel":
            services.referral_step(referral=referral, target=State.CANCELLED, by=desk.coordinator, reason="x")
        elif step == "redirect":
            services.referral_step(
                referral=referral, target=State.REDIRECTED, by=desk.coordinator, reason="x", redirect_target="grz"
            )
    referral.refresh_from_db()
    assert referral.state == state
    return referral


def _step_for(state: str, target: str) -> str | None:
    found = [s.action for s in STEPS.values() if s.source == state and s.target == target and s.action in STEP_ACTIONS]
    return found[0] if found else None


def _shown_actions(page: str, referral) -> dict[str, tuple[str, dict]]:
    """{step: (url, what posting it sends)} for every workflow form on the page."""
    minute = "%Y-%m-%dT%H:%M"
    in_an_hour = timezone.localtime(timezone.now() + timedelta(hours=1)).strftime(minute)
    now = timezone.localtime().strftime(minute)
    in_two_minutes = timezone.localtime(timezone.now() + timedelta(minutes=2)).strftime(minute)
    step_url = reverse("referrals:step", args=[referral.pk])
    by_url = {
        reverse("referrals:offer_send", args=[referral.pk]): (Action.SEND_OFFER, None),
        reverse("referrals:admit", args=[referral.pk]): (Action.ADMIT, {"admitted_at": now}),
        reverse("referrals:discharge", args=[referral.pk]): (
            Action.DISCHARGE,
            {"discharged_at": in_two_minutes, "destination": "home"},  # after the admission's seconds
        ),
        reverse("referrals:no_show", args=[referral.pk]): (Action.NO_SHOW, {"reason": "Niet gekomen"}),
    }
    step_data = {
        "triage": {},
        "searching": {},
        "cancelled": {"reason": "Test"},
        "redirected": {"reason": "Test", "redirect_target": "hospital"},
    }
    parser = FormParser()
    parser.feed(page)
    shown: dict[str, tuple[str, dict]] = {}
    for form in parser.forms:
        if form.method != "post" or form.action in (reverse("logout"), reverse("set_language")):
            continue
        if form.action == step_url:
            for target in form.targets:
                action = _step_for(referral.state, target) or f"unknown step to {target}"
                shown[action] = (step_url, {"target": target, **step_data.get(target, {})})
        elif form.action in by_url:
            action, data = by_url[form.action]
            if action == Action.SEND_OFFER:
                capacity = re.search(r'name="capacity" value="(\d+)"', page).group(1)
                data = {"capacity": capacity}
            shown[action] = (form.action, data)
        elif m := re.fullmatch(r"/referrals/offers/\d+/(accept|decline)/", form.action):
            if m.group(1) == "accept":
                shown[Action.ACCEPT_OFFER] = (form.action, {"admission_at": in_an_hour})
            else:
                shown[Action.DECLINE_OFFER] = (form.action, {"reason": "no_bed"})
        else:
            shown[f"unknown form {form.action}"] = (form.action, {})
    return shown


class _Undo(Exception):
    pass


def _post_and_undo(client, url: str, data: dict) -> int:
    try:
        with transaction.atomic():
            status = client.post(url, data).status_code
            raise _Undo
    except _Undo:
        return status


@pytest.mark.parametrize("state", STATES)
@pytest.mark.parametrize("role", ROLES)
def test_the_page_shows_exactly_the_allowed_steps_and_each_works(desk, role, state):
    referrer = desk.nurse if role == Role.TRANSFER_NURSE else desk.gp
    user = {
        Role.GP: desk.gp,
        Role.TRANSFER_NURSE: desk.nurse,
        Role.PROVIDER_STAFF: desk.planner,
        Role.COORDINATOR: desk.coordinator,
    }[role]
    referral = _referral_in(desk, state, referrer)
    client = Client(headers={"Accept-Language": "en"})
    client.force_login(user)

    response = client.get(reverse("referrals:detail", args=[referral.pk]))
    if role == Role.PROVIDER_STAFF and state in (State.SUBMITTED, State.TRIAGE, State.SEARCHING):
        assert response.status_code == 404  # before an offer the provider does not see it
        return
    assert response.status_code == 200
    shown = _shown_actions(response.content.decode(), referral)

    allowed = allowed_actions(state=state, role=role)
    assert set(shown) <= allowed, f"{role} sees steps the table does not allow in {state}: {set(shown) - allowed}"
    for action, (url, data) in shown.items():
        status = _post_and_undo(client, url, data)
        assert status == 302, f"{role} pressing {action} in {state} got {status}"
    # Referrers send offers themselves only in self-service hours (this region: never).
    in_reach = allowed - ({Action.SEND_OFFER} if role in (Role.GP, Role.TRANSFER_NURSE) else set())
    # Stopping an offer is the host region's desk's step (cross_region.py), never on the own desk's page.
    in_reach -= {Action.STOP_OFFER}
    assert set(shown) == in_reach, f"{role} in {state}: allowed steps missing from the page: {in_reach - set(shown)}"


def test_the_provider_is_not_offered_the_desks_search_on_its_open_offer(desk):
    """The reported case: "Start searching a bed" on an open offer, and a 403 when pressed."""
    referral = _referral_in(desk, State.OFFERED, desk.gp)
    client = Client(headers={"Accept-Language": "en"})
    client.force_login(desk.planner)

    page = client.get(reverse("referrals:detail", args=[referral.pk])).content.decode()

    assert reverse("referrals:step", args=[referral.pk]) not in page
    assert "Start searching a bed" not in page
