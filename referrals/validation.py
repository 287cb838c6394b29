"""Rules for referral input, shared by the page form, the API and any other intake.

Each function raises a ValidationError with a message the referrer can act on.
"""

from datetime import date

from django.core.exceptions import ValidationError
from django.utils import timezone
from django.utils.translation import gettext as _
from stdnum.exceptions import ValidationError as StdnumValidationError
from stdnum.nl import bsn as nl_bsn

from accounts.models import Role
from referrals.models import Origin, Urgency

ORIGINS_BY_ROLE = {
    Role.GP: {Origin.HOME},
    Role.TRANSFER_NURSE: {Origin.WARD, Origin.EMERGENCY},
    Role.COORDINATOR: {Origin.HOME, Origin.WARD, Origin.EMERGENCY},
}


def clean_bsn(value: str) -> str:
    try:
        return nl_bsn.validate(value or "")
    except StdnumValidationError:
        raise ValidationError(
            _("This is not a valid BSN: it needs 9 digits that pass the eleven test."), code="invalid_bsn"
        ) from None


def clean_date_of_birth(value: date) -> date:
    if value > timezone.localdate():
        raise ValidationError(_("The date of birth cannot be in the future."), code="future_birth_date")
    if value.year < 1900:
        raise ValidationError(_("Check the year of birth."), code="implausible_birth_date")
    return value


def clean_planned_date(value: date | None) -> date | None:
    if value is not None and value < timezone.localdate():
        raise ValidationError(_("The planned date cannot be in the past."), code="past_planned_date")
    return value


def referral_errors(data: dict, *, role: str, region) -> dict[str, list[str]]:
    """Cross-field rules. Returns {field: [messages]}; empty when the input is acceptable."""
    errors: dict[str, list[str]] = {}

    def add(name, message):
        errors.setdefault(name, []).append(message)

    if not data.get("consent"):
        add("consent", _("The patient (or representative) must consent to the referral."))
    origin = data.get("origin")
    allowed = ORIGINS_BY_ROLE.get(role, set())
    if origin and origin not in allowed:
        add("origin", _("This origin does not fit your role."))
    if data.get("urgency") == Urgency.PLANNED and not data.get("planned_date"):
        add("planned_date", _("Enter the planned date."))
    product = data.get("product")
    if product is not None and region is not None and not region.products.filter(pk=product.pk).exists():
        add("product", _("This region does not offer %(product)s.") % {"product": product.name})
    return errors
