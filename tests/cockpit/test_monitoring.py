"""Monitoring per insurer (cockpit/monitoring.py, cockpit/monitoring_views.py): who sees which
insurer, suppression of small numbers, no patient identifiers, the month range, the exports."""

import csv
import io
from datetime import timedelta

import pytest
import time_machine
from django.urls import reverse
from openpyxl import load_workbook

from accounts.models import Role
from audit.models import AccessLog
from cockpit.monitoring import SUPPRESSED, MonthRange, suppress
from providers.models import Insurer
from referrals.models import DeclineReason, Escalation, EscalationKind, OfferState, State
from tests.clients import client_for
from tests.cockpit.conftest import NOW, at, make_offer, make_referral, make_stay
from tests.factories import InsurerOrganisationFactory, RegionFactory, user_with_role

MONITORING = reverse("cockpit:monitoring")
EXPORT = reverse("cockpit:monitoring_export")
MONTHS = {"from": "2026-02", "to": "2026-03"}
OWN_NAME, OTHER_NAME = "Alfa Zorgverzekering", "Omega Verzekeringen"
OTHER_COUNT = 23  # the other insurer's referrals in March: a number that appears nowhere else
NO_INSURER_COUNT = 6  # searching referrals of patients without a known insurer
REGION_MARCH = 5 + OTHER_COUNT + NO_INSURER_COUNT  # 34
BSN = "999911120"


def csv_rows(response) -> list[list[str]]:
    return list(csv.reader(io.StringIO(response.content.decode("utf-8-sig"))))


def _insurer(uzovi: str, name: str) -> Insurer:
    insurer, _created = Insurer.objects.update_or_create(uzovi=uzovi, defaults={"name": name})
    return insurer


def _referral(world, insurer, *, day: int, month: int = 3, state=State.SEARCHING, name="Maria Jansen"):
    referral = make_referral(world, created_at=at(day, month=month), state=state, name=name)
    referral.patient.insurer = insurer
    referral.patient.bsn = None
    referral.patient.save(update_fields=["insurer", "bsn"])
    return referral


@pytest.fixture
def insurers(world):
    """Own insurer (Alfa): March 5 referrals, all placed within 60…300 minutes, with a declined
    offer (no bed) each; February 4 referrals, 4 placed. Other insurer (Omega): 23 referrals in
    March, still searching, 23 escalations waiting_long; 6 more like them of patients without a
    known insurer, so that no region figure equals the other insurer's. An insurer analyst of Alfa."""
    own, other = _insurer("9901", OWN_NAME), _insurer("9902", OTHER_NAME)
    cap = world.cap[("a", "elv_hoog")]
    for index in range(5):
        referral = _referral(world, own, day=2 + index, state=State.DISCHARGED, name=f"Anna Pietersen{index}")
        make_offer(
            world,
            referral,
            cap,
            sent_after=5,
            answered_after=10,
            state=OfferState.DECLINED,
            reason=DeclineReason.NO_BED,
        )
        make_offer(world, referral, cap, sent_after=30, answered_after=60 * (index + 1), state=OfferState.ACCEPTED)
        make_stay(referral, cap, admitted_at=at(2 + index, 18), days=4 + index, destination="home")
    for index in range(4):
        referral = _referral(world, own, day=2 + index, month=2, state=State.ACCEPTED)
        make_offer(world, referral, cap, sent_after=5, answered_after=30, state=OfferState.ACCEPTED)
    for index in range(OTHER_COUNT):
        referral = _referral(world, other, day=1 + index % 20, name=f"Zeno Zwart{index}")
        Escalation.objects.create(
            referral=referral, kind=EscalationKind.WAITING_LONG, created_at=referral.created_at + timedelta(hours=9)
        )
    for index in range(NO_INSURER_COUNT):
        referral = _referral(world, None, day=1 + index, name=f"Yara Geel{index}")
        Escalation.objects.create(
            referral=referral, kind=EscalationKind.WAITING_LONG, created_at=referral.created_at + timedelta(hours=9)
        )
    organisation = InsurerOrganisationFactory(region=world.region, insurer=own, name="Alfa regio-analyse")
    world.own, world.other = own, other
    world.insurer_analyst = user_with_role(Role.ANALYST, organisation)
    return world


def _cells(response) -> str:
    return response.content.decode()


def test_suppress_is_the_one_rule_of_small_numbers():
    assert suppress(4) == SUPPRESSED and suppress(0) == SUPPRESSED
    assert suppress(5) == 5 and suppress(123) == 123
    assert suppress(12.5, cases=4) == SUPPRESSED and suppress(12.5, cases=5) == 12.5
    assert suppress(None, cases=7) is None


def test_insurer_analyst_sees_own_insurer_beside_the_region_and_never_the_other(insurers):
    client = client_for(insurers.insurer_analyst)
    with time_machine.travel(NOW, tick=False):
        attempt = client.get(MONITORING, {**MONTHS, "insurer": "9902"})  # an attempt to pick another: ignored
        response = client.get(MONITORING, MONTHS)
    assert attempt.status_code == 200 and attempt.context["report"].insurer == insurers.own
    assert OTHER_NAME not in attempt.content.decode()
    assert response.status_code == 200
    report = response.context["report"]
    assert report.insurer == insurers.own
    volume = {row["month"]: row for row in report.table("volume").rows}
    assert volume["2026-03"]["referrals_insurer"] == 5  # exactly 5: shown
    assert volume["2026-02"]["referrals_insurer"] == SUPPRESSED  # 4: suppressed
    assert volume["2026-03"]["referrals_region"] == REGION_MARCH
    assert volume["2026-03"]["unmet_region"] == OTHER_COUNT + NO_INSURER_COUNT
    assert volume["2026-03"]["unmet_insurer"] == SUPPRESSED
    page = _cells(response)
    assert OWN_NAME in page and OTHER_NAME not in page and "9902" not in page
    # No cell anywhere shows the other insurer's own count; 34 is the region's.
    assert f">{OTHER_COUNT}<" not in page
    assert f">{REGION_MARCH}<" in page
    assert "&lt;5" in page
    assert 'name="insurer"' not in page  # no choice of insurer for an insurer's analyst
    for text in ("Maria", "Jansen", "Zeno", "Pietersen", BSN, "Referral number"):
        assert text not in page


def test_medians_of_fewer_than_five_cases_are_suppressed(insurers):
    with time_machine.travel(NOW, tick=False):
        response = client_for(insurers.insurer_analyst).get(MONITORING, MONTHS)
    timing = {row["month"]: row for row in response.context["report"].table("time_to_bed").rows}
    march, february = timing["2026-03"], timing["2026-02"]
    # March: 5 placed, accepted 60, 120, 180, 240, 300 minutes after submission → median 3 h.
    assert march["n_insurer"] == 5 and march["median_insurer"] == pytest.approx(3.0)
    assert march["p90_insurer"] == pytest.approx(4.6)
    assert february["n_insurer"] == february["median_insurer"] == february["p90_insurer"] == SUPPRESSED
    stays = response.context["report"].table("stays").rows
    assert stays[0]["n_insurer"] == 5 and stays[0]["median_insurer"] == pytest.approx(6.0)
    assert stays[0]["mean_insurer"] == pytest.approx(6.0)
    declines = {row["label"]: row for row in response.context["report"].table("declines").rows}
    assert declines[DeclineReason.NO_BED.label]["n_insurer"] == 5
    assert declines[DeclineReason.TOO_COMPLEX.label]["n_insurer"] == SUPPRESSED
    escalations = {row["label"]: row for row in response.context["report"].table("escalations").rows}
    assert escalations[EscalationKind.WAITING_LONG.label] == {
        "label": EscalationKind.WAITING_LONG.label,
        "n_insurer": SUPPRESSED,
        "n_region": OTHER_COUNT + NO_INSURER_COUNT,
    }


@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
def test_exports_are_suppressed_and_never_show_the_other_insurer(insurers, fmt):
    client = client_for(insurers.insurer_analyst)
    with time_machine.travel(NOW, tick=False):
        response = client.get(EXPORT, {**MONTHS, "table": "volume", "format": fmt, "insurer": "9902"})
    assert response.status_code == 200
    assert response["Content-Disposition"].endswith(f'-9901.{fmt}"')
    if fmt == "csv":
        rows = csv_rows(response)
    else:
        sheet = load_workbook(io.BytesIO(response.content)).active
        rows = [["" if value is None else str(value) for value in row] for row in sheet.iter_rows(values_only=True)]
    header, *body = rows
    assert any(OWN_NAME in label for label in header)
    assert not any(OTHER_NAME in cell for row in rows for cell in row)
    assert not any(cell == str(OTHER_COUNT) for row in body for cell in row)
    march = dict(zip(header, body[1], strict=True))
    february = dict(zip(header, body[0], strict=True))
    assert march[f"Referrals · {OWN_NAME}"] == "5" and february[f"Referrals · {OWN_NAME}"] == "<5"
    assert march["Referrals · Region"] == str(REGION_MARCH)


def test_the_whole_workbook_and_no_patient_data(insurers):
    with time_machine.travel(NOW, tick=False):
        response = client_for(insurers.insurer_analyst).get(EXPORT, MONTHS)
    workbook = load_workbook(io.BytesIO(response.content))
    assert len(workbook.sheetnames) == 7
    everything = " ".join(
        str(value) for sheet in workbook for row in sheet.iter_rows(values_only=True) for value in row if value
    )
    for text in ("Maria", "Zeno", "Pietersen", BSN, OTHER_NAME):
        assert text not in everything
    assert not AccessLog.objects.exists()  # aggregates, as the KPIs: not access-logged


def test_the_desk_sees_the_region_and_may_choose_an_insurer(insurers):
    client = client_for(insurers.coordinator)
    with time_machine.travel(NOW, tick=False):
        region_only = client.get(MONITORING, MONTHS)
        chosen = client.get(MONITORING, {**MONTHS, "insurer": "9902"})
        unknown = client.get(MONITORING, {**MONTHS, "insurer": "0000"})
    assert region_only.context["report"].insurer is None
    assert 'name="insurer"' in region_only.content.decode()
    assert chosen.context["report"].insurer == insurers.other
    volume = {row["month"]: row for row in chosen.context["report"].table("volume").rows}
    assert volume["2026-03"]["referrals_insurer"] == OTHER_COUNT
    assert unknown.status_code == 400
    assert "This insurer is unknown" in unknown.content.decode()


def test_an_insurer_organisation_without_insurer_sees_the_region_only(insurers):
    with time_machine.travel(NOW, tick=False):
        response = client_for(insurers.analyst).get(MONITORING, {**MONTHS, "insurer": "9901"})
    assert response.status_code == 200
    assert response.context["report"].insurer is None
    page = response.content.decode()
    assert OWN_NAME not in page and OTHER_NAME not in page


def test_an_analyst_of_another_region_sees_only_their_own_region(insurers):
    elsewhere = user_with_role(Role.ANALYST, InsurerOrganisationFactory(region=RegionFactory(), insurer=insurers.own))
    with time_machine.travel(NOW, tick=False):
        response = client_for(elsewhere).get(MONITORING, MONTHS)
    report = response.context["report"]
    assert report.region != insurers.region
    volume = {row["month"]: row for row in report.table("volume").rows}
    assert volume["2026-03"]["referrals_region"] == SUPPRESSED
    assert volume["2026-03"]["referrals_insurer"] == SUPPRESSED  # its insured in its own region: none


@pytest.mark.parametrize("role", [Role.GP, Role.TRANSFER_NURSE, Role.PROVIDER_STAFF, Role.ADMIN])
def test_other_roles_may_not_see_monitoring(insurers, role):
    client = client_for(user_with_role(role, region=insurers.region))
    assert client.get(MONITORING).status_code == 403
    assert client.get(EXPORT, {"table": "volume", "format": "csv"}).status_code == 403


def test_only_get(insurers):
    client = client_for(insurers.insurer_analyst)
    assert client.post(MONITORING).status_code == 405
    assert client.post(EXPORT).status_code == 405


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ({"from": "2026-13", "to": "2026-03"}, "Enter a month as YYYY-MM"),
        ({"from": "march", "to": "2026-03"}, "Enter a month as YYYY-MM"),
        ({"from": "2026-03", "to": "2026-01"}, "The last month is before the first month."),
        ({"from": "2026-03"}, "Enter both months of the range, or neither."),
        ({"from": "2020-01", "to": "2026-03"}, "Choose at most 36 months."),
        ({"from": "2026-03", "to": "2026-05"}, "The last month cannot be in the future."),
    ],
)
def test_bad_month_ranges_get_a_clear_error(insurers, query, message):
    client = client_for(insurers.insurer_analyst)
    with time_machine.travel(NOW, tick=False):
        page = client.get(MONITORING, query)
        export = client.get(EXPORT, {**query, "format": "xlsx"})
    assert page.status_code == 400 and message in page.content.decode()
    assert export.status_code == 400 and message in export.content.decode()


def test_the_default_is_the_last_twelve_months():
    assert MonthRange.last_months(today=NOW.date()).query() == "from=2025-04&to=2026-03"
    assert len(MonthRange.last_months(today=NOW.date()).months) == 12


def test_export_refuses_unknown_tables_and_formats(insurers):
    client = client_for(insurers.insurer_analyst)
    with time_machine.travel(NOW, tick=False):
        assert client.get(EXPORT, {"format": "pdf"}).status_code == 400
        assert client.get(EXPORT, {"format": "csv"}).status_code == 400  # all tables: XLSX only
        missing = client.get(EXPORT, {"table": "nope", "format": "csv"})
    assert missing.status_code == 400 and "There is no table nope" in missing.content.decode()


@pytest.mark.parametrize(("who", "expected"), [("insurer_analyst", 15), ("coordinator", 14)])
def test_query_count_is_fixed(insurers, who, expected, django_assert_num_queries):
    client = client_for(getattr(insurers, who))
    client.get(MONITORING, MONTHS)  # warm the session
    with time_machine.travel(NOW, tick=False), django_assert_num_queries(expected):
        response = client.get(MONITORING, {"from": "2025-04", "to": "2026-03"})
    assert response.status_code == 200
