"""No BSN or patient name in the server log or an error report (issue 15, point 12): the LOGGING
filter and the exception reporter of elvdesk/log_scrubbing.py, through the real configuration."""

import copy
import io
import logging
import logging.config
import sys

import pytest
from django.db import DataError, connection, transaction
from django.test import RequestFactory
from django.views.debug import get_exception_reporter_class

from accounts.models import Role
from elvdesk.log_scrubbing import scrub
from referrals import services
from referrals.models import ReferralDraft
from tests.factories import user_with_role
from tests.referrals.conftest import VALID_BSN, form_post

NAME = "Maria Jansen"
PATIENT = {"bsn": VALID_BSN, "name": NAME, "date_of_birth": "1938-04-02", "postcode": "6411 AB"}


@pytest.fixture
def server_log(settings):
    """The log as the server writes it: settings.LOGGING, its console handler writing here."""
    stream = io.StringIO()
    config = copy.deepcopy(settings.LOGGING)
    config["handlers"]["console"]["stream"] = stream
    logging.config.dictConfig(config)
    yield stream
    logging.config.dictConfig(settings.LOGGING)


def _database_error_with_patient_data() -> Exception:
    """What PostgreSQL answered to the draft with a NUL: its error quotes the JSON (BSN, name)."""
    if connection.vendor != "postgresql":
        return DataError(f"unsupported Unicode escape sequence\nCONTEXT:  JSON data, line 1: {PATIENT}")
    user = user_with_role(Role.GP)
    try:
        with transaction.atomic():
            ReferralDraft.objects.create(user=user, data={"bsn": VALID_BSN, "name": "Maria\x00 Jansen"})
    except DataError as error:
        return error
    raise AssertionError("PostgreSQL stored a NUL")


def _assert_no_patient_data(text: str) -> None:
    assert VALID_BSN not in text
    for part in (NAME, "Maria", "Jansen", "1938-04-02", "6411"):
        assert part not in text, part


@pytest.mark.django_db
def test_a_database_error_carrying_a_bsn_and_a_name_is_logged_without_them(server_log):
    error = _database_error_with_patient_data()
    assert VALID_BSN in str(error) and "Maria" in str(error)  # what reached the log before

    try:
        raise error
    except DataError:
        logging.getLogger("django.request").error("Internal Server Error: %s", "/referrals/new/", exc_info=True)

    output = server_log.getvalue()
    assert "Internal Server Error: /referrals/new/" in output and "DataError" in output
    _assert_no_patient_data(output)


@pytest.mark.django_db
def test_a_failing_referral_post_is_logged_without_the_patient(client, server_log, monkeypatch):
    """The whole path of the incident: the form posted, the database refused, Django logged it."""
    gp = user_with_role(Role.GP)
    client.force_login(gp)
    client.raise_request_exception = False
    error = DataError(f"Failing row contains (1, {VALID_BSN}, {NAME}, F, 6411 AB).\nDETAIL: {PATIENT!r}")

    def fail(**kwargs):
        raise error

    monkeypatch.setattr(services, "referral_submit", fail)

    response = client.post("/referrals/new/", form_post())

    assert response.status_code == 500
    output = server_log.getvalue()
    assert "Internal Server Error: /referrals/new/" in output
    _assert_no_patient_data(output)


def test_logged_sql_keeps_its_shape_without_its_values(server_log):
    logging.getLogger("django.db.backends").warning(
        "(%.3f) %s; args=%s; alias=%s",
        0.001,
        f"""INSERT INTO "referrals_patient" ("bsn", "name") VALUES ('{VALID_BSN}', '{NAME}')""",
        (VALID_BSN, NAME),
        "default",
    )

    output = server_log.getvalue()
    assert 'INSERT INTO "referrals_patient" ("bsn", "name") VALUES' in output
    _assert_no_patient_data(output)


@pytest.mark.parametrize(
    "text",
    [
        f"bsn {VALID_BSN}",
        "BSN 111 222 333",
        "BSN 1112.22.333",
        f"{{'bsn': '{VALID_BSN}', 'name': '{NAME}'}}",
        f'{{"name": "{NAME}", "postcode": "6411 AB"}}',
        f'{{\\"name\\": \\"{NAME}\\"}}',
        f"DETAIL:  Key (bsn)=({VALID_BSN}) already exists.",
        f"""LINE 1: ...VALUES ('{NAME}'""",
        f"name={NAME}&bsn={VALID_BSN}",
    ],
)
def test_scrub_removes_bsns_and_patient_fields(text):
    _assert_no_patient_data(scrub(text))


def test_scrub_leaves_ordinary_log_lines_alone():
    line = 'Offer 12 expired at 2031-03-12 10:00:00 for "username": "planner1"; 3 of 500 sent in 0.412 s'

    assert scrub(line) == line


def test_an_error_report_hides_the_patient_post_fields_and_variables(settings):
    settings.DEBUG = False  # the report filters only then, as in production (mail to ADMINS)
    request = RequestFactory().post("/referrals/new/", form_post())
    data = dict(PATIENT)  # noqa: F841 -- a frame variable the report shows
    try:
        raise DataError(f"JSON data, line 1: {PATIENT}")
    except DataError:
        reporter = get_exception_reporter_class(request)(request, *sys.exc_info())

    text = reporter.get_traceback_text()
    html = reporter.get_traceback_html()

    assert "DataError" in text
    _assert_no_patient_data(text)
    _assert_no_patient_data(html)


@pytest.mark.parametrize(
    "path", ["/accounts/invitation/eyJpIjoxfQ:1x2y3z:abcDEF-123_xyz/", "/beds/still-correct/eyJyIjo0fQ:1a:Zz9/"]
)
def test_the_tokens_of_emailed_links_are_removed_from_log_lines(path):
    line = f'AXES: Successful login by {{path_info: "{path}"}}'
    cleaned = scrub(line)
    assert "eyJ" not in cleaned
    assert "[removed]/" in cleaned
