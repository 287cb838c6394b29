"""Beheer: the region's organisations (care providers, GP practices, hospitals, insurers)."""

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.http import Http404
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from administration.access import beheer_view, can_change, region_id_of
from administration.organisation_forms import OrganisationFilterForm, OrganisationForm, add_service_errors
from administration.organisation_selectors import (
    organisation_in_region,
    organisation_locations,
    organisation_users,
    organisations_in_region,
)
from audit.selectors import changes_of
from elvdesk.htmx import wants_fragment
from providers import services
from providers.models import Organisation, OrganisationKind

PER_PAGE = 50
HISTORY_ROWS = 50


def _get_organisation_for_user(request, pk: int) -> Organisation:
    organisation = organisation_in_region(region_id=region_id_of(request), pk=pk)
    if organisation is None:
        raise Http404
    return organisation


@beheer_view()
def organisations(request):
    form = OrganisationFilterForm(request.GET or None)
    filters = form.cleaned_data if form.is_valid() else {}
    listed = organisations_in_region(
        region_id=region_id_of(request),
        kind=filters.get("kind", ""),
        status=filters.get("status", ""),
        query=filters.get("q", ""),
    )
    page = Paginator(listed, PER_PAGE).get_page(request.GET.get("page"))
    query = request.GET.copy()
    query.pop("page", None)
    context = {
        "beheer_section": "organisations",
        "filter_form": form,
        "page": page,
        "query": query.urlencode(),
        "can_change": can_change(request.user),
    }
    template = (
        "administration/organisations.html#list" if wants_fragment(request) else "administration/organisations.html"
    )
    return render(request, template, context, status=400 if form.errors else 200)


@beheer_view(methods=("GET", "POST"))
def organisation_create(request):
    if not can_change(request.user):  # a page that only exists to add something
        raise PermissionDenied
    if request.method == "POST":
        form = OrganisationForm(request.POST)
        if form.is_valid():
            try:
                organisation = services.organisation_create(by=request.user, data=form.cleaned_data)
            except ValidationError as error:
                add_service_errors(form, error)
            else:
                if organisation.kind == OrganisationKind.PROVIDER:
                    text = _("%(name)s has been added. Now add its first location.")
                else:
                    text = _("%(name)s has been added.")
                messages.success(request, text % {"name": organisation.name})
                return redirect("beheer:organisation", pk=organisation.pk)
        return render(request, "administration/organisation_form.html", _create_context(form), status=400)
    kind = request.GET.get("kind")
    form = OrganisationForm(initial={"kind": kind} if kind in services.CREATABLE_KINDS else None)
    return render(request, "administration/organisation_form.html", _create_context(form))


def _create_context(form) -> dict:
    return {"beheer_section": "organisations", "form": form}


@beheer_view(methods=("GET", "POST"))
def organisation_detail(request, pk: int):
    """The organisation with its locations, users and history; the administrator edits it here."""
    organisation = _get_organisation_for_user(request, pk)
    if request.method == "POST":
        form = OrganisationForm.for_organisation(organisation, data=request.POST)
        if form.is_valid():
            try:
                services.organisation_update(organisation=organisation, by=request.user, data=form.cleaned_data)
            except ValidationError as error:
                add_service_errors(form, error)
            else:
                messages.success(
                    request, _("The changes to %(name)s have been saved.") % {"name": form.cleaned_data["name"]}
                )
                return redirect("beheer:organisation", pk=organisation.pk)
        return _render_detail(request, organisation, form=form, status=400)
    return _render_detail(request, organisation)


def _render_detail(request, organisation: Organisation, *, form=None, status: int = 200):
    editable = can_change(request.user)
    if editable and form is None:
        form = OrganisationForm.for_organisation(organisation)
    context = {
        "beheer_section": "organisations",
        "organisation": organisation,
        "is_provider": organisation.kind == OrganisationKind.PROVIDER,
        "can_deactivate": organisation.kind != OrganisationKind.DESK,
        "locations": organisation_locations(organisation=organisation),
        "users": organisation_users(organisation=organisation),
        "now": timezone.now(),
        "changes": list(changes_of(object_type="organisation", object_id=organisation.pk)[:HISTORY_ROWS]),
        "form": form if editable else None,
        "can_change": editable,
    }
    return render(request, "administration/organisation_detail.html", context, status=status)


@beheer_view(methods=("POST",))
def organisation_deactivate(request, pk: int):
    organisation = _get_organisation_for_user(request, pk)
    try:
        locations = services.organisation_deactivate(organisation=organisation, by=request.user)
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
        return _render_detail(request, organisation, status=400)
    text = ngettext(
        "%(name)s has been deactivated, with its %(count)s active location.",
        "%(name)s has been deactivated, with its %(count)s active locations.",
        len(locations),
    )
    if not locations:
        text = _("%(name)s has been deactivated.")
    messages.success(request, text % {"name": organisation.name, "count": len(locations)})
    return redirect("beheer:organisation", pk=organisation.pk)


@beheer_view(methods=("POST",))
def organisation_reactivate(request, pk: int):
    organisation = _get_organisation_for_user(request, pk)
    services.organisation_reactivate(organisation=organisation, by=request.user)
    messages.success(
        request,
        _("%(name)s is active again. Its locations stay inactive until you reactivate each of them.")
        % {"name": organisation.name},
    )
    return redirect("beheer:organisation", pk=organisation.pk)
