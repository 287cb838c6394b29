"""Beheer: the locations of care providers, with their contracted beds per product."""

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _

from administration.access import beheer_view, can_change, region_id_of
from administration.location_forms import ContractForm, LocationForm
from administration.location_selectors import location_contracts, location_in_region
from administration.organisation_forms import add_service_errors
from administration.organisation_selectors import organisation_in_region
from audit.selectors import changes_of
from beds import services as bed_services
from providers import services
from providers.models import Location, Organisation, OrganisationKind

HISTORY_ROWS = 50


def _get_provider_for_user(request, pk: int) -> Organisation:
    organisation = organisation_in_region(region_id=region_id_of(request), pk=pk)
    if organisation is None or organisation.kind != OrganisationKind.PROVIDER:
        raise Http404
    return organisation


def _get_location_for_user(request, pk: int) -> Location:
    location = location_in_region(region_id=region_id_of(request), pk=pk)
    if location is None:
        raise Http404
    return location


def _location_url(location: Location, anchor: str = "") -> str:
    return reverse("beheer:location", args=[location.pk]) + (f"#{anchor}" if anchor else "")


@beheer_view(methods=("GET", "POST"))
def location_create(request, pk: int):
    """A new location of a care provider; then on to its page to set the contracted beds."""
    if not can_change(request.user):  # a page that only exists to add something
        raise PermissionDenied
    organisation = _get_provider_for_user(request, pk)
    if request.method == "POST":
        form = LocationForm(request.POST)
        if form.is_valid():
            try:
                location = services.location_create(organisation=organisation, by=request.user, data=form.cleaned_data)
            except ValidationError as error:
                add_service_errors(form, error)
            else:
                messages.success(
                    request,
                    _("%(name)s has been added. Now set its contracted beds per product.") % {"name": location.name},
                )
                return redirect(_location_url(location, "contracts"))
        return _render_create(request, organisation, form, status=400)
    return _render_create(request, organisation, LocationForm())


def _render_create(request, organisation: Organisation, form: LocationForm, *, status: int = 200):
    context = {"beheer_section": "organisations", "organisation": organisation, "form": form}
    return render(request, "administration/location_form.html", context, status=status)


@beheer_view(methods=("GET", "POST"))
def location_detail(request, pk: int):
    """The location with its contracted beds and history; the administrator edits it here."""
    location = _get_location_for_user(request, pk)
    if request.method == "POST":
        form = LocationForm.for_location(location, data=request.POST)
        if form.is_valid():
            try:
                services.location_update(location=location, by=request.user, data=form.cleaned_data)
            except ValidationError as error:
                add_service_errors(form, error)
            else:
                messages.success(
                    request, _("The changes to %(name)s have been saved.") % {"name": form.cleaned_data["name"]}
                )
                return redirect(_location_url(location))
        return _render_detail(request, location, form=form, status=400)
    return _render_detail(request, location)


def _render_detail(request, location: Location, *, form=None, contract_forms=None, status: int = 200):
    editable = can_change(request.user)
    if editable and form is None:
        form = LocationForm.for_location(location)
    contracts = location_contracts(location=location)
    contract_forms = contract_forms or {}
    for contract in contracts:
        contract.form = None
        if editable:
            contract.form = contract_forms.get(contract.product.pk) or ContractForm(
                initial={
                    "total": contract.capacity.total if contract.capacity is not None else None,
                    "version": contract.version,
                },
                prefix=f"p{contract.product.pk}",
            )
    context = {
        "beheer_section": "organisations",
        "location": location,
        "organisation": location.organisation,
        "contracts": contracts,
        "changes": list(changes_of(object_type="location", object_id=location.pk)[:HISTORY_ROWS]),
        "form": form if editable else None,
        "can_change": editable,
    }
    return render(request, "administration/location_detail.html", context, status=status)


@beheer_view(methods=("POST",))
def location_contract(request, pk: int, product_pk: int):
    """Set the contracted beds of one product (through beds.services, like every bed count)."""
    location = _get_location_for_user(request, pk)
    contract = next((c for c in location_contracts(location=location) if c.product.pk == product_pk), None)
    if contract is None:
        raise Http404
    prefix = f"p{product_pk}"
    form = ContractForm(request.POST, prefix=prefix)
    status = 400
    if form.is_valid():
        try:
            bed_services.capacity_contract_set(
                location=location,
                product=contract.product,
                by=request.user,
                total=form.cleaned_data["total"],
                expected_version=form.cleaned_data["version"],
            )
        except bed_services.StaleCapacity as conflict:
            form, status = _conflict_form(request, prefix, conflict), 409
        except ValidationError as error:
            add_service_errors(form, error)
        else:
            messages.success(
                request,
                _("Contracted beds of %(product)s at %(location)s: %(total)s.")
                % {"product": contract.product.name, "location": location.name, "total": form.cleaned_data["total"]},
            )
            return redirect(_location_url(location, "contracts"))
    return _render_detail(request, location, contract_forms={product_pk: form}, status=status)


def _conflict_form(request, prefix: str, conflict) -> ContractForm:
    """Keep what the administrator typed, show what is stored now, and let a second save win."""
    data = request.POST.copy()
    data[f"{prefix}-version"] = str(conflict.current.version)
    form = ContractForm(data, prefix=prefix)
    form.is_valid()
    form.add_error(
        None,
        _("%(message)s Now stored: contracted %(total)s, free %(available)s, held %(held)s.")
        % {"message": conflict.message, **conflict.current.snapshot()},
    )
    return form


@beheer_view(methods=("POST",))
def location_deactivate(request, pk: int):
    location = _get_location_for_user(request, pk)
    try:
        services.location_deactivate(location=location, by=request.user)
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
        return _render_detail(request, location, status=400)
    messages.success(request, _("%(name)s has been deactivated.") % {"name": location.name})
    return redirect(_location_url(location))


@beheer_view(methods=("POST",))
def location_reactivate(request, pk: int):
    location = _get_location_for_user(request, pk)
    try:
        services.location_reactivate(location=location, by=request.user)
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
        return _render_detail(request, location, status=400)
    messages.success(request, _("%(name)s is active again.") % {"name": location.name})
    return redirect(_location_url(location))
