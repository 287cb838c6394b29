"""Dutch postcodes: validation, normalisation ("6411 AB") and PC4 centroid look-up."""

from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _
from stdnum.exceptions import ValidationError as StdnumValidationError
from stdnum.nl import postcode as nl_postcode

from providers.models import PostcodeArea


def normalise_postcode(value: str) -> str:
    """Return the postcode as "6411 AB", or raise a ValidationError in the user's language."""
    try:
        return nl_postcode.validate(value or "")
    except StdnumValidationError:
        raise ValidationError(
            _("Enter a valid Dutch postcode, for example 6411 AB."), code="invalid_postcode"
        ) from None


def normalise_pc4(value: str) -> str:
    """Accept a full postcode or only its four digits; return the four digits."""
    compact = (value or "").replace(" ", "")
    if len(compact) == 4 and compact.isdigit() and compact[0] != "0":
        return compact
    return normalise_postcode(value)[:4]


def postcode_area(value: str) -> PostcodeArea:
    """The centroid of the PC4 area of a postcode; a clear error when the area is unknown."""
    pc4 = normalise_pc4(value)
    area = PostcodeArea.objects.filter(pc4=pc4).first()
    if area is None:
        raise ValidationError(
            _("Postcode area %(pc4)s is unknown; check the postcode.") % {"pc4": pc4}, code="unknown_pc4"
        )
    return area
