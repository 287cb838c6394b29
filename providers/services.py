"""Changes to organisations and their locations, made in Beheer by the region's administrator.

Every change runs in one transaction with its history row (audit.changes.change_record_of). An
active location needs an active organisation: deactivating an organisation deactivates its
active locations in the same transaction, so it is gone from search, matching, the overviews,
the board and the reminders (which all look at `location.is_active`), and its users can no
longer sign in (accounts.backends). Neither is allowed while a patient depends on a location:
an open offer, or a booked patient not yet discharged.
"""

from datetime import time

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Q
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from accounts.models import User
from audit.changes import change_record_of, snapshot
from providers.models import Location, Organisation, OrganisationKind, TreatingPhysician
from providers.phones import normalise_dutch_phone
from providers.postcodes import normalise_postcode, postcode_area
from referrals.models import Offer, OfferState, State

# The kinds an administrator creates; the desk's own organisation exists once per region.
CREATABLE_KINDS = (
    OrganisationKind.PROVIDER,
    OrganisationKind.GP_PRACTICE,
    OrganisationKind.HOSPITAL,
    OrganisationKind.INSURER,
)
# Care-giving organisations are known to referrers and insurers by their AGB code.
AGB_REQUIRED_KINDS = (OrganisationKind.PROVIDER, OrganisationKind.GP_PRACTICE, OrganisationKind.HOSPITAL)

ORGANISATION_FIELDS = [
    "kind",
    "name",
    "agb_code",
    "ura",
    "street",
    "postcode",
    "city",
    "phone",
    "email",
    "insurer",
    "duty_of_care_email",
]
LOCATION_FIELDS = [
    "name",
    "street",
    "postcode",
    "city",
    "phone_24_7",
    "phone_office",
    "admission_24_7",
    "admission_from",
    "admission_until",
    "treating_physician",
    "specialist_24_7",
    "referral_procedure",
]
LOCATION_MANY_FIELDS = ["features", "contracted_insurers"]


# --- Checks shared with the forms -----------------------------------------------------------


def clean_agb_code(value: str | None) -> str | None:
    """ "7373 0001" → "73730001"; empty → None. Raises a ValidationError unless 8 digits."""
    compact = "".join((value or "").split())
    if not compact:
        return None
    if len(compact) != 8 or not compact.isascii() or not compact.isdigit():
        raise ValidationError(_("An AGB code has exactly 8 digits."), code="invalid_agb")
    return compact


def clean_ura(value: str | None) -> str:
    compact = "".join((value or "").split())
    if compact and (len(compact) != 8 or not compact.isascii() or not compact.isdigit()):
        raise ValidationError(_("A URA number has exactly 8 digits."), code="invalid_ura")
    return compact


def clean_optional_phone(value: str | None) -> str:
    return normalise_dutch_phone(value) if (value or "").strip() else ""


def clean_optional_postcode(value: str | None) -> str:
    return normalise_postcode(value) if (value or "").strip() else ""


def _collect(errors: dict, field: str, check, value):
    """Run one check; keep its message under `field` and return the cleaned value (or the input)."""
    try:
        return check(value)
    except ValidationError as error:
        errors.setdefault(field, []).extend(error.messages)
        return value


# --- Who depends on a location --------------------------------------------------------------


def _patients_depending_on(locations: Q) -> int:
    """Open offers and booked patients not yet discharged (booked, or admitted) at the locations."""
    return (
        Offer.objects.filter(locations)
        .filter(
            Q(state=OfferState.OPEN)
            | Q(state=OfferState.ACCEPTED, referral__state__in=(State.ACCEPTED, State.ADMITTED))
        )
        .count()
    )


def _refuse_while_patients_depend(count: int, *, what: str) -> None:
    if count:
        raise ValidationError(
            ngettext(
                "%(what)s cannot be deactivated: %(count)s patient has an open offer or a booked bed there. "
                "Deactivate it once that patient is placed elsewhere or discharged.",
                "%(what)s cannot be deactivated: %(count)s patients have an open offer or a booked bed there. "
                "Deactivate it once those patients are placed elsewhere or discharged.",
                count,
            )
            % {"what": what, "count": count},
            code="patients_depend",
        )


# --- Organisations --------------------------------------------------------------------------


def _organisation_values(data: dict, *, kind: str, exclude_pk: int | None) -> dict:
    """Checked and normalised values of the organisation fields in `data`."""
    errors: dict[str, list[str]] = {}
    values = {name: data[name] for name in ORGANISATION_FIELDS if name in data}
    if "name" in values:
        values["name"] = (values["name"] or "").strip()
        if not values["name"]:
            errors["name"] = [_("Enter the organisation's name.")]
    if "agb_code" in values:
        values["agb_code"] = _collect(errors, "agb_code", clean_agb_code, values["agb_code"])
    if "ura" in values:
        values["ura"] = _collect(errors, "ura", clean_ura, values["ura"])
    if "postcode" in values:
        values["postcode"] = _collect(errors, "postcode", clean_optional_postcode, values["postcode"])
    if "phone" in values:
        values["phone"] = _collect(errors, "phone", clean_optional_phone, values["phone"])
    for text_field in ("street", "city", "email"):
        if text_field in values:
            values[text_field] = (values[text_field] or "").strip()
    _insurer_values(values, kind=kind, errors=errors)
    agb = values.get("agb_code")
    if kind in AGB_REQUIRED_KINDS and "agb_code" in values and not agb and "agb_code" not in errors:
        errors["agb_code"] = [_("Care providers, GP practices and hospitals need their AGB code.")]
    if agb and "agb_code" not in errors:
        holder = Organisation.objects.filter(agb_code=agb).exclude(pk=exclude_pk).first()
        if holder is not None:
            errors["agb_code"] = [
                _("AGB code %(agb)s already belongs to %(organisation)s.") % {"agb": agb, "organisation": holder.name}
            ]
    if errors:
        raise ValidationError(errors)
    return values


def _insurer_values(values: dict, *, kind: str, errors: dict) -> None:
    """An insurer organisation names the UZOVI insurer it represents; other kinds have none
    (and no duty-of-care contact)."""
    if kind != OrganisationKind.INSURER:
        for name, empty in (("insurer", None), ("duty_of_care_email", "")):
            if name in values:
                values[name] = empty
        return
    if "insurer" in values and values["insurer"] is None:
        errors["insurer"] = [_("Choose the insurer this organisation represents.")]
    if "duty_of_care_email" in values:
        values["duty_of_care_email"] = (values["duty_of_care_email"] or "").strip()


@transaction.atomic
def organisation_create(*, by: User, data: dict) -> Organisation:
    """A new provider, GP practice, hospital or insurer in the administrator's own region."""
    kind = data.get("kind")
    if kind not in CREATABLE_KINDS:
        raise ValidationError({"kind": [_("Choose a care provider, GP practice, hospital or insurer.")]})
    values = _organisation_values({"agb_code": None, **data}, kind=kind, exclude_pk=None)
    organisation = Organisation.objects.create(region_id=by.organisation.region_id, **values)
    change_record_of(
        organisation,
        by=by,
        region_id=organisation.region_id,
        action="create",
        after=snapshot(organisation, [*ORGANISATION_FIELDS, "is_active"]),
    )
    return organisation


@transaction.atomic
def organisation_update(*, organisation: Organisation, by: User, data: dict) -> Organisation:
    """Change the fields in `data`. The desk stays the desk; an organisation with locations
    stays a care provider."""
    organisation = Organisation.objects.select_for_update().get(pk=organisation.pk)
    kind = data.get("kind", organisation.kind)
    if kind != organisation.kind:
        if organisation.kind == OrganisationKind.DESK or kind not in CREATABLE_KINDS:
            raise ValidationError({"kind": [_("The kind of the desk's own organisation cannot change.")]})
        if organisation.kind == OrganisationKind.PROVIDER and organisation.locations.exists():
            raise ValidationError({"kind": [_("An organisation with locations stays a care provider.")]})
    values = _organisation_values(data, kind=kind, exclude_pk=organisation.pk)
    before = snapshot(organisation, ORGANISATION_FIELDS)
    for name, value in values.items():
        setattr(organisation, name, value)
    organisation.save(update_fields=list(values))
    change_record_of(
        organisation,
        by=by,
        region_id=organisation.region_id,
        action="update",
        before=before,
        after=snapshot(organisation, ORGANISATION_FIELDS),
    )
    return organisation


@transaction.atomic
def organisation_deactivate(*, organisation: Organisation, by: User) -> list[Location]:
    """Deactivate the organisation and each of its active locations; returns those locations.

    Refused for the desk's own organisation and while a patient depends on one of its
    locations. History is kept; its users can no longer sign in or use their API tokens."""
    organisation = Organisation.objects.select_for_update().get(pk=organisation.pk)
    if organisation.kind == OrganisationKind.DESK:
        raise ValidationError(_("The desk's own organisation cannot be deactivated."), code="desk")
    if not organisation.is_active:
        return []
    locations = list(Location.objects.select_for_update().filter(organisation=organisation, is_active=True))
    _refuse_while_patients_depend(
        _patients_depending_on(Q(location__organisation=organisation)), what=organisation.name
    )
    for location in locations:
        _set_location_active(location, by=by, region_id=organisation.region_id, active=False)
    _set_organisation_active(organisation, by=by, active=False)
    return locations


@transaction.atomic
def organisation_reactivate(*, organisation: Organisation, by: User) -> Organisation:
    """Active again (its users can sign in again). Its locations stay inactive until the
    administrator reactivates each one that is really open again."""
    organisation = Organisation.objects.select_for_update().get(pk=organisation.pk)
    if not organisation.is_active:
        _set_organisation_active(organisation, by=by, active=True)
    return organisation


def _set_organisation_active(organisation: Organisation, *, by: User, active: bool) -> None:
    organisation.is_active = active
    organisation.save(update_fields=["is_active"])
    change_record_of(
        organisation,
        by=by,
        region_id=organisation.region_id,
        action="activate" if active else "deactivate",
        before={"is_active": not active},
        after={"is_active": active},
    )


# --- Locations ------------------------------------------------------------------------------


def _location_values(data: dict, *, current: Location | None) -> dict:
    """Checked and normalised location values of `data` (scalars and many-to-many lists), with
    the PC4 coordinates when the postcode is given."""
    errors: dict[str, list[str]] = {}
    values = {name: data[name] for name in [*LOCATION_FIELDS, *LOCATION_MANY_FIELDS] if name in data}
    for required in ("name", "street", "city"):
        if required in values:
            values[required] = (values[required] or "").strip()
            if not values[required]:
                errors[required] = [_("This field is required.")]
    if "referral_procedure" in values:
        values["referral_procedure"] = (values["referral_procedure"] or "").strip()
    if "treating_physician" in values and values["treating_physician"] not in TreatingPhysician.values:
        errors["treating_physician"] = [_("Choose who treats the patients here.")]
    if "postcode" in values:
        try:
            values["postcode"] = normalise_postcode(values["postcode"])
            area = postcode_area(values["postcode"])
            values["latitude"], values["longitude"] = area.latitude, area.longitude
        except ValidationError as error:
            errors["postcode"] = error.messages
    if "phone_24_7" in values:
        values["phone_24_7"] = _collect(errors, "phone_24_7", normalise_dutch_phone, values["phone_24_7"])
    if "phone_office" in values:
        values["phone_office"] = _collect(errors, "phone_office", clean_optional_phone, values["phone_office"])
    _check_admission_hours(values, current=current, errors=errors)
    if errors:
        raise ValidationError(errors)
    return values


def _check_admission_hours(values: dict, *, current: Location | None, errors: dict) -> None:
    """Either admission 24/7, or from and until both given, from earlier than until (a window
    within one day, as Location.admits_at reads it). With 24/7 the times are cleared."""
    keys = ("admission_24_7", "admission_from", "admission_until")
    if not any(key in values for key in keys):
        return

    def value(key):
        return values[key] if key in values else getattr(current, key, None)

    if value("admission_24_7"):
        values.update(admission_24_7=True, admission_from=None, admission_until=None)
        return
    start: time | None = value("admission_from")
    end: time | None = value("admission_until")
    if start is None or end is None:
        message = _("Tick “admission 24/7”, or enter both admission times.")
        for key, given in (("admission_from", start), ("admission_until", end)):
            if given is None:
                errors[key] = [message]
    elif start >= end:
        errors["admission_until"] = [_("Admission until must be later than admission from.")]
    values["admission_24_7"] = False


def _location_snapshot(location: Location) -> dict:
    return snapshot(location, [*LOCATION_FIELDS, *LOCATION_MANY_FIELDS])


def _apply(location: Location, values: dict) -> None:
    many = {name: values.pop(name) for name in LOCATION_MANY_FIELDS if name in values}
    for name, value in values.items():
        setattr(location, name, value)
    location.save()
    for name, items in many.items():
        getattr(location, name).set(items)


@transaction.atomic
def location_create(*, organisation: Organisation, by: User, data: dict) -> Location:
    """A new location of an active care provider, with the PC4 coordinates of its postcode."""
    organisation = Organisation.objects.select_for_update().get(pk=organisation.pk)
    if organisation.kind != OrganisationKind.PROVIDER:
        raise ValidationError(_("Only care providers have locations."), code="not_provider")
    if not organisation.is_active:
        raise ValidationError(_("Reactivate the organisation before adding a location."), code="inactive")
    values = _location_values(
        {"admission_24_7": False, "admission_from": None, "admission_until": None, **data}, current=None
    )
    location = Location(organisation=organisation)
    _apply(location, values)
    change_record_of(
        location,
        by=by,
        region_id=organisation.region_id,
        action="create",
        after={**_location_snapshot(location), "is_active": True},
    )
    return location


@transaction.atomic
def location_update(*, location: Location, by: User, data: dict) -> Location:
    location = Location.objects.select_for_update(of=("self",)).select_related("organisation").get(pk=location.pk)
    values = _location_values(data, current=location)
    before = _location_snapshot(location)
    _apply(location, values)
    change_record_of(
        location,
        by=by,
        region_id=location.organisation.region_id,
        action="update",
        before=before,
        after=_location_snapshot(location),
    )
    return location


@transaction.atomic
def location_deactivate(*, location: Location, by: User) -> Location:
    """Gone from search, matching, overviews, the board and reminders; refused while a patient
    has an open offer or a booked bed there."""
    location = Location.objects.select_for_update(of=("self",)).select_related("organisation").get(pk=location.pk)
    if location.is_active:
        _refuse_while_patients_depend(_patients_depending_on(Q(location=location)), what=location.name)
        _set_location_active(location, by=by, region_id=location.organisation.region_id, active=False)
    return location


@transaction.atomic
def location_reactivate(*, location: Location, by: User) -> Location:
    """Active again; refused while its organisation is inactive."""
    # The organisation first, then the location: the order organisation_deactivate takes them
    # in. Its lock keeps a concurrent deactivation of the organisation from slipping between.
    organisation = Organisation.objects.select_for_update().get(pk=location.organisation_id)
    location = Location.objects.select_for_update().get(pk=location.pk)
    if not organisation.is_active:
        raise ValidationError(
            _("%(organisation)s is inactive: reactivate the organisation first.") % {"organisation": organisation.name},
            code="organisation_inactive",
        )
    if not location.is_active:
        _set_location_active(location, by=by, region_id=organisation.region_id, active=True)
    return location


def _set_location_active(location: Location, *, by: User, region_id: int, active: bool) -> None:
    location.is_active = active
    location.save(update_fields=["is_active"])
    change_record_of(
        location,
        by=by,
        region_id=region_id,
        action="activate" if active else "deactivate",
        before={"is_active": not active},
        after={"is_active": active},
    )
