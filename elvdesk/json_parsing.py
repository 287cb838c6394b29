"""JSON request bodies with limits: nesting depth, and no text PostgreSQL cannot store.

The parser of the API (REST_FRAMEWORK DEFAULT_PARSER_CLASSES), the bulk capacity API and the
FHIR server. A refused body is a ParseError: 400 in the API's error shape or an OperationOutcome.
"""

from django.utils.translation import gettext as _
from rest_framework import parsers
from rest_framework.exceptions import ParseError

from elvdesk.input_limits import MAX_JSON_DEPTH


def unstorable(text: str) -> bool:
    """A NUL character (PostgreSQL text cannot hold it) or a lone surrogate (not UTF-8)."""
    if "\x00" in text:
        return True
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


def check_json(value, *, max_depth: int = MAX_JSON_DEPTH) -> None:
    """Raise ParseError for nesting deeper than max_depth or an unstorable key or string.
    Iterative, so a deep document cannot exhaust the stack here either."""
    stack = [(value, 0, "")]
    while stack:
        item, depth, path = stack.pop()
        if isinstance(item, (dict, list)):
            if depth >= max_depth:
                raise ParseError(_("JSON nested deeper than %(depth)s levels.") % {"depth": max_depth})
            children = item.items() if isinstance(item, dict) else enumerate(item)
            for key, child in children:
                if isinstance(key, str):
                    if unstorable(key):
                        raise ParseError(_("A JSON key holds a character that cannot be stored (NUL)."))
                    child_path = f"{path}.{key}" if path else key
                else:
                    child_path = f"{path}[{key}]"
                stack.append((child, depth + 1, child_path))
        elif isinstance(item, str) and unstorable(item):
            raise ParseError(
                _("%(field)s holds a character that cannot be stored (NUL).") % {"field": path or _("The body")}
            )


class JSONParser(parsers.JSONParser):
    """DRF's JSON parser, refusing deep nesting (Python's own parser raises RecursionError on it,
    a 500) and NUL characters (PostgreSQL refuses them, a 500) before any view sees the data."""

    def parse(self, stream, media_type=None, parser_context=None):
        try:
            data = super().parse(stream, media_type, parser_context)
        except RecursionError:
            raise ParseError(_("JSON nested deeper than %(depth)s levels.") % {"depth": MAX_JSON_DEPTH}) from None
        check_json(data)
        return data
