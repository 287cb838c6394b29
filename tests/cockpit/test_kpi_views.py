"""The KPI page and the exports: access per role, the period input, definitions next to every
figure, CSV/XLSX of every table, and the referral list pseudonymised for analysts."""

import csv
import io

import pytest
import time_machine
from django.urls import reverse
from openpyxl import load_workbook

from accounts.models import Role
from audit.models import AccessLog
from referrals.models import Referral
from tests.clients import client_for
from tests.cockpit.conftest import NOW
from tests.factories import user_with_role

KPIS = reverse("cockpit:kpis")
KPI_EXPORT = reverse("cockpit:kpi_export")
REFERRAL_EXPORT = reverse("cockpit:referral_export")
PERIOD = {"from": "2026-03-01", "to": "2026-03-20"}


def csv_rows(response) -> list[list[str]]:
    text = b"".join(response.streaming_content if response.streaming else [response.content]).decode("utf-8-sig")
    return list(csv.reader(io.StringIO(text)))


@pytest.mark.parametrize("role", [Role.COORDINATOR, Role.ANALYST])
def test_coordinators_and_analysts_see_kpis_with_a_definition_for_every_figure(kpi_world, role):
    response = client_for(user_with_role(role, region=kpi_world.region)).get(KPIS, PERIOD)
    assert response.status_code == 200
    page = response.content.decode()
    report = response.context["report"]
    assert len(report.tables) == 13
    for table in report.tables:
        assert table.definition
        assert f'id="figure-{table.key}"' in page and f'id="table-{table.key}"' in page
    assert page.count("<strong>Definition:</strong>") == 13
    # volume, outcome, declines, unmet demand, destinations, product changes
    assert page.count('role="img"') == 6
    assert "Patiënt 1" not in page


def test_the_default_period_is_the_last_30_days(kpi_world):
    with time_machine.travel(NOW, tick=False):
        response = client_for(kpi_world.coordinator).get(KPIS)
    period = response.context["report"].period
    assert (period.start.isoformat(), period.end.isoformat()) == ("2026-02-24", "2026-03-25")
    assert 'value="2026-02-24"' in response.content.decode()


@pytest.mark.parametrize("role", [Role.GP, Role.TRANSFER_NURSE, Role.PROVIDER_STAFF, Role.ADMIN])
def test_other_roles_may_not_see_kpis_or_export(kpi_world, role):
    client = client_for(user_with_role(role, region=kpi_world.region))
    assert client.get(KPIS).status_code == 403
    assert client.get(KPI_EXPORT, {"table": "origin", "format": "csv"}).status_code == 403
    assert client.get(REFERRAL_EXPORT, {"format": "csv"}).status_code == 403


def test_kpi_pages_answer_only_get(kpi_world):
    client = client_for(kpi_world.coordinator)
    assert client.post(KPIS).status_code == 405
    assert client.post(KPI_EXPORT).status_code == 405
    assert client.post(REFERRAL_EXPORT).status_code == 405


@pytest.mark.parametrize(
    "query, message",
    [
        ({"from": "2026-03-20", "to": "2026-03-01"}, "The end date is before the start date."),
        ({"from": "yesterday", "to": "2026-03-01"}, "Enter a date as YYYY-MM-DD, for example 2026-03-31."),
        ({"from": "2026-02-30", "to": "2026-03-01"}, "Enter a date as YYYY-MM-DD, for example 2026-03-31."),
        ({"from": "2026-03-01"}, "Enter both dates of the period."),
        ({"from": "2020-01-01", "to": "2026-03-01"}, "Choose a period of at most 1096 days."),
    ],
)
def test_bad_period_input_gets_a_clear_message_and_keeps_what_was_typed(kpi_world, query, message):
    for url, extra in ((KPIS, {}), (KPI_EXPORT, {"table": "origin", "format": "csv"}), (REFERRAL_EXPORT, {})):
        response = client_for(kpi_world.coordinator).get(url, {**query, **extra})
        assert response.status_code == 400
        page = response.content.decode()
        assert message in page
        assert f'value="{query["from"]}"' in page
        assert "report" not in response.context or response.context["report"] is None


def test_every_kpi_table_exports_as_csv_and_xlsx(kpi_world):
    client = client_for(kpi_world.analyst)
    report = client.get(KPIS, PERIOD).context["report"]
    for table in report.tables:
        response = client.get(KPI_EXPORT, {"table": table.key, "format": "csv", **PERIOD})
        assert response.status_code == 200 and response["Content-Type"].startswith("text/csv")
        assert 'attachment; filename="elv-' in response["Content-Disposition"]
        rows = csv_rows(response)
        assert rows[0] == [column.export_label for column in table.columns]
        assert len(rows) == len(table.rows) + 1
        response = client.get(KPI_EXPORT, {"table": table.key, "format": "xlsx", **PERIOD})
        sheet = load_workbook(io.BytesIO(response.content)).active
        assert sheet.max_row == len(table.rows) + 1
    timing = csv_rows(client.get(KPI_EXPORT, {"table": "timing", "format": "csv", **PERIOD}))
    assert timing[0] == ["Time from submission", "Referrals", "Median (h)", "90th percentile (h)"]
    assert timing[1][1:] == ["8", "0.75", "2.6"]
    within = csv_rows(client.get(KPI_EXPORT, {"table": "placed_within", "format": "csv", **PERIOD}))
    assert within[1][1:] == ["4", "9", "44.4"]  # a share is exported as a percentage


def test_all_kpi_tables_in_one_workbook(kpi_world):
    response = client_for(kpi_world.coordinator).get(KPI_EXPORT, {"table": "all", "format": "xlsx", **PERIOD})
    workbook = load_workbook(io.BytesIO(response.content))
    assert len(workbook.sheetnames) == 13
    assert workbook.sheetnames[0] == "Referrals per day"


def test_unknown_table_or_format_gets_a_clear_message(kpi_world):
    client = client_for(kpi_world.coordinator)
    response = client.get(KPI_EXPORT, {"table": "nonsense", "format": "csv"})
    assert (
        response.status_code == 400
        and "There is no table nonsense. Tables: volume, origin" in response.content.decode()
    )
    response = client.get(KPI_EXPORT, {"table": "origin", "format": "pdf"})
    assert response.status_code == 400 and response.content.decode() == "Choose the format csv or xlsx."
    assert client.get(KPI_EXPORT, {"table": "all", "format": "csv"}).status_code == 400
    assert client.get(REFERRAL_EXPORT, {"format": "json"}).status_code == 400


def test_exports_default_to_all_tables_and_the_last_30_days(kpi_world):
    client = client_for(kpi_world.analyst)
    with time_machine.travel(NOW, tick=False):
        response = client.get(KPI_EXPORT)
        assert response["Content-Disposition"] == 'attachment; filename="elv-kpis-20260224-20260325.xlsx"'
        assert client.get(REFERRAL_EXPORT).status_code == 200


def test_analysts_get_the_referral_list_without_any_patient_identifier(kpi_world):
    response = client_for(kpi_world.analyst).get(REFERRAL_EXPORT, {"format": "csv", **PERIOD})
    rows = csv_rows(response)
    assert "pseudonymised" in response["Content-Disposition"]
    # One referral a day: every (day, location) cell is below 5, so no row is shown
    # (tests/cockpit/test_referral_export.py has the rule's cases).
    assert len(rows) == 1
    header = rows[0]
    assert "Patient name" not in header and "Referral number" not in header
    assert "Reason (cancelled or redirected)" not in header
    text = response.content.decode("utf-8-sig")
    for referral in kpi_world.referrals.values():
        assert referral.patient.name not in text
    assert not any(cell == str(kpi_world.referrals[1].pk) for row in rows for cell in row[:1])
    assert not AccessLog.objects.filter(action="export").exclude(referral_id=None).exists()


def test_coordinators_get_names_in_the_referral_list_and_the_export_is_access_logged(kpi_world):
    response = client_for(kpi_world.coordinator).get(REFERRAL_EXPORT, {"format": "xlsx", **PERIOD})
    sheet = load_workbook(io.BytesIO(response.content)).active
    rows = list(sheet.values)
    assert rows[0][:2] == ("Referral number", "Patient name")
    assert {row[1] for row in rows[1:]} == {f"Patiënt {n}" for n in range(1, 11)}
    logged = AccessLog.objects.filter(user=kpi_world.coordinator, action="export")
    assert set(logged.values_list("referral_id", flat=True)) == {r.pk for r in kpi_world.referrals.values()}
    assert set(logged.values_list("outcome", flat=True)) == {"ok"}


def test_free_text_cannot_become_a_spreadsheet_formula(kpi_world):
    Referral.objects.filter(pk=kpi_world.referrals[9].pk).update(close_reason='=HYPERLINK("http://x","klik")')
    client = client_for(kpi_world.coordinator)
    rows = csv_rows(client.get(REFERRAL_EXPORT, {"format": "csv", **PERIOD}))
    assert '\'=HYPERLINK("http://x","klik")' in [row[-1] for row in rows]
    response = client.get(REFERRAL_EXPORT, {"format": "xlsx", **PERIOD})
    cells = [row[-1] for row in load_workbook(io.BytesIO(response.content)).active.values]
    assert '\'=HYPERLINK("http://x","klik")' in cells
