"""Patient data out of logs and error reports: the second line of defence behind the input
checks (elvdesk/input_guard.py), for whatever still reaches a log line or an exception text.

- `PatientDataFilter` (LOGGING, on every handler): removes BSN-like numbers, the values of
  patient fields in JSON, dict and SQL texts, and the values PostgreSQL quotes in its errors
  ("Key (bsn)=(…)", "Failing row contains (…)", "JSON data, line 1: …", "LINE 1: …") from the
  message and the traceback, and the parameters of logged SQL.
- `PatientSafeExceptionReporterFilter` and `PatientSafeExceptionReporter`
  (DEFAULT_EXCEPTION_REPORTER_FILTER / _REPORTER): Django's error report (mail to ADMINS, the
  500 page with DEBUG) without the POST values, frame variables and exception text of patients.
"""

import logging
import re

from django.views.debug import ExceptionReporter, SafeExceptionReporterFilter

REMOVED = "[removed]"
# Keys whose values are patient data, as the forms, the API, the FHIR resources and the models
# name them. Matched as whole words, so `username` or `location_name` stay.
PATIENT_FIELDS = (
    "bsn",
    "name",
    "initials",
    "date_of_birth",
    "birth_date",
    "birthDate",
    "postcode",
    "postalCode",
    "address",
    "carer_contact",
    "contact",
    "telecom",
    "family",
    "given",
    "medical_reason",
    "notes",
    "note",
    "text",
    "reason",
    "close_reason",
    "decline_text",
)
_FIELDS = "|".join(PATIENT_FIELDS)
_VALUE = r"""(?:\\"(?:(?!\\")[^\n])*\\"|"(?:[^"\\\n]|\\.)*"|'(?:[^'\\\n]|''|\\.)*'|\[[^\]\n]*\]|[^,;&})\]\n]+)"""
_FIELD_VALUE = re.compile(
    rf"""(?P<key>(?P<quote>\\?["']?)\b(?:{_FIELDS})\b(?P=quote))(?P<sep>\s*(?:=>|[:=])\s*){_VALUE}""",
    re.IGNORECASE,
)
# PostgreSQL's error texts quote the values of the row or document they refused.
_DATABASE_DETAILS = re.compile(
    r"(?P<intro>Key \([^)\n]*\)=\(|Failing row contains \(|JSON data, line \d+: |LINE \d+: )[^\n]*"
)
# A BSN as typed: nine digits, or in groups separated by spaces or dots.
_BSN = re.compile(r"(?<![\d.])(?:\d{9}|\d{3}[ .]\d{3}[ .]\d{3}|\d{4}[ .]\d{2}[ .]\d{3}|\d{3}[ .]\d{2}[ .]\d{4})(?!\d)")
# The signed one-use links of e-mails (invitation, "klopt nog" reminder) are keys while unused:
# a request log line (django-axes logs the path of a login) must not carry them.
_LINK_TOKEN = re.compile(r"(?P<route>/accounts/invitation/|/beds/still-correct/)[^/\s\"'?]+")
_SQL_STRING = re.compile(r"'(?:[^']|'')*'")
_SQL_ARGS = re.compile(r"(; args=).*?(; alias=)", re.DOTALL)


def scrub(text: str) -> str:
    """The text without BSN-like numbers, patient field values, quoted database values and the
    tokens of e-mailed links."""
    text = _LINK_TOKEN.sub(lambda m: m["route"] + REMOVED, text)
    text = _DATABASE_DETAILS.sub(lambda m: m["intro"] + REMOVED, text)
    text = _FIELD_VALUE.sub(lambda m: f"{m['key']}{m['sep']}{REMOVED}", text)
    return _BSN.sub(REMOVED, text)


def scrub_sql(text: str) -> str:
    """Logged SQL (django.db.backends, DEBUG) with every string literal and parameter removed."""
    return scrub(_SQL_STRING.sub("'…'", _SQL_ARGS.sub(rf"\g<1>{REMOVED}\g<2>", text)))


class PatientDataFilter(logging.Filter):
    """Rewrites each record in place: the message is formatted and scrubbed, the traceback
    formatted into exc_text and scrubbed (exc_info dropped, so no later handler formats the raw
    exception again)."""

    _formatter = logging.Formatter()

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a broken format string must not lose the record
            message = str(record.msg)
        if record.name.startswith("django.db.backends"):
            message = scrub_sql(message)
            if isinstance(getattr(record, "sql", None), str):
                record.sql = scrub_sql(record.sql)
            if hasattr(record, "params"):
                record.params = REMOVED
        record.msg, record.args = scrub(message), None
        if record.exc_info:
            record.exc_text = record.exc_text or self._formatter.formatException(record.exc_info)
            record.exc_info = None
        if record.exc_text:
            record.exc_text = scrub(record.exc_text)
        if record.stack_info:
            record.stack_info = scrub(record.stack_info)
        return True


_PATIENT_NAME = re.compile(rf"^(?:{_FIELDS})$", re.IGNORECASE)


class _Scrubbed:
    """A frame variable shown as its scrubbed repr in the error report."""

    def __init__(self, value):
        self.text = scrub(repr(value))

    def __repr__(self) -> str:
        return self.text


class PatientSafeExceptionReporterFilter(SafeExceptionReporterFilter):
    """Django's filter (active when DEBUG is off) plus: POST fields and frame variables named like
    a patient field are hidden; texts, lists and dicts in other variables are scrubbed."""

    def get_post_parameters(self, request):
        parameters = super().get_post_parameters(request)
        if request is None or not self.is_active(request):
            return parameters
        cleansed = parameters.copy()
        for name in cleansed:
            if _PATIENT_NAME.match(name):
                cleansed[name] = self.cleansed_substitute
        return cleansed

    def get_traceback_frame_variables(self, request, tb_frame):
        variables = super().get_traceback_frame_variables(request, tb_frame)
        if not self.is_active(request):
            return variables
        return [
            (
                name,
                self.cleansed_substitute
                if _PATIENT_NAME.match(name)
                else _Scrubbed(value)
                if isinstance(value, (str, bytes, dict, list, tuple, set))
                else value,
            )
            for name, value in variables
        ]


class PatientSafeExceptionReporter(ExceptionReporter):
    """The report's exception texts scrubbed too (a database error quotes the refused row)."""

    def get_traceback_data(self):
        data = super().get_traceback_data()
        if not self.filter.is_active(self.request):
            return data
        if "exception_value" in data:
            data["exception_value"] = scrub(data["exception_value"])
        for frame in data["frames"]:
            if frame.get("exc_cause") is not None:
                frame["exc_cause"] = scrub(str(frame["exc_cause"]))
        return data
