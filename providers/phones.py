"""Dutch phone numbers (the `phonenumbers` library, Google's libphonenumber data): checked and
stored in the national notation people dial and read aloud ("045 577 6677")."""

import phonenumbers
from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _


def normalise_dutch_phone(value: str) -> str:
    """Return `value` as a valid Dutch number in national notation, or raise a ValidationError
    in the user's language. Accepts spaces, dashes, brackets and +31 or 0031."""
    text = (value or "").strip()
    try:
        number = phonenumbers.parse(text, "NL")
    except phonenumbers.NumberParseException:
        number = None
    if (
        number is None
        or not phonenumbers.is_valid_number(number)
        or phonenumbers.region_code_for_number(number) != "NL"
    ):
        raise ValidationError(_("Enter a valid Dutch phone number, for example 045 577 6677."), code="invalid_phone")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.NATIONAL)


def tel_uri(value: str) -> str:
    """A tel: link target for a stored number (E.164), or "" when it cannot be dialled."""
    try:
        number = phonenumbers.parse(value or "", "NL")
    except phonenumbers.NumberParseException:
        return ""
    return "tel:" + phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
