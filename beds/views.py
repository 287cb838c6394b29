from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.cache import patch_vary_headers
from django.utils.http import urlencode
from django.utils.safestring import mark_safe
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from accounts.decorators import role_required
from accounts.models import BED_FINDER_ROLES, REFERRER_ROLES, Role
from beds import services
from beds.forms import AdjustForm, CapacityForm, OverviewFilterForm
from beds.models import Capacity
from beds.selectors import OverviewFilters, organisation_locations, region_overview
from elvdesk.htmx import wants_fragment
from elvdesk.page_cache import cached_part
from providers.models import Location

MY_BEDS_TEMPLATE = "beds/my_beds.html"


def _get_capacity_for_user(user, pk: int) -> Capacity:
    return get_object_or_404(
        Capacity.objects.select_related("location"), pk=pk, location__organisation=user.organisation
    )


def _get_location_for_user(user, pk: int) -> Location:
    return get_object_or_404(Location, pk=pk, organisation=user.organisation)


def _render_my_beds(request, *, location_id: int | None = None, forms: dict | None = None, status: int = 200):
    """The full page, or for htmx only the card of the location that changed."""
    locations = organisation_locations(organisation=request.user.organisation)
    card_only = request.htmx and location_id is not None
    if card_only:
        # htmx swaps in only this card: build only its forms.
        locations = [next(loc for loc in locations if loc.pk == location_id)]
    forms = forms or {}
    for location in locations:
        for capacity in location.capacities.all():
            capacity.form = forms.get(capacity.pk) or CapacityForm(
                initial={**capacity.snapshot(), "version": capacity.version}, prefix=f"c{capacity.pk}"
            )
    if card_only:
        return render(request, f"{MY_BEDS_TEMPLATE}#location", {"location": locations[0]}, status=status)
    return render(request, MY_BEDS_TEMPLATE, {"locations": locations}, status=status)


@login_required
@role_required(Role.PROVIDER_STAFF)
@require_GET
def my_beds(request):
    return _render_my_beds(request)


@login_required
@role_required(Role.PROVIDER_STAFF)
@require_POST
def capacity_save(request, pk: int):
    """Save typed counts, or apply one − / + button when the request carries `adjust`."""
    capacity = _get_capacity_for_user(request.user, pk)
    form = None
    if "adjust" in request.POST:
        adjust = AdjustForm(request.POST)
        if adjust.is_valid():
            field, delta = adjust.cleaned_data["adjust"]
            try:
                services.capacity_adjust(capacity_id=capacity.pk, by=request.user, field=field, delta=delta)
            except ValidationError as error:
                form = CapacityForm(request.POST, prefix=f"c{capacity.pk}")
                form.is_valid()
                _add_model_errors(form, error)
        else:
            # Shown in the row itself (also for htmx, which only swaps the card), never followed
            # by a "saved" message, and keeping what the planner typed.
            form = CapacityForm(request.POST, prefix=f"c{capacity.pk}")
            form.is_valid()
            form.add_error(None, _("That button did not work; please reload the page."))
    else:
        form = CapacityForm(request.POST, prefix=f"c{capacity.pk}")
        if form.is_valid():
            counts = {key: value for key, value in form.cleaned_data.items() if key != "version"}
            try:
                services.capacity_update(
                    capacity_id=capacity.pk,
                    by=request.user,
                    counts=counts,
                    expected_version=form.cleaned_data["version"],
                )
                form = None
            except services.StaleCapacity as conflict:
                form = _conflict_form(request, capacity.pk, conflict)
            except ValidationError as error:
                _add_model_errors(form, error)
    if form is None and not request.htmx:
        messages.success(request, _("Bed counts of %(location)s saved.") % {"location": capacity.location})
        return redirect(f"{_my_beds_url()}#location-{capacity.location_id}")
    forms = {capacity.pk: form} if form is not None else {}
    return _render_my_beds(request, location_id=capacity.location_id, forms=forms)


def _my_beds_url() -> str:
    return reverse("beds:my_beds")


def _add_model_errors(form: CapacityForm, error) -> None:
    for field_name, field_errors in error.message_dict.items():
        for message in field_errors:
            form.add_error(field_name if field_name in form.fields else None, message)


def _conflict_form(request, capacity_pk: int, conflict) -> CapacityForm:
    """Keep what the planner typed, show what is stored now, and let a second save win."""
    current = conflict.current
    data = request.POST.copy()
    data[f"c{capacity_pk}-version"] = str(current.version)
    form = CapacityForm(data, prefix=f"c{capacity_pk}")
    form.is_valid()
    form.add_error(
        None,
        _(
            "%(message)s Now stored: contracted %(total)s, free %(available)s, held %(held)s, "
            "expected %(expected_24h)s (24 h) and %(expected_72h)s (72 h)."
        )
        % {"message": conflict.message, **current.snapshot()},
    )
    return form


@login_required
@role_required(Role.PROVIDER_STAFF)
@require_POST
def location_confirm(request, pk: int):
    """ "Klopt nog": every count of the location is still right."""
    location = _get_location_for_user(request.user, pk)
    services.location_capacities_confirm(location_id=location.pk, by=request.user)
    if not request.htmx:
        messages.success(request, _("Counts of %(location)s confirmed.") % {"location": location})
        return redirect(f"{_my_beds_url()}#location-{location.pk}")
    return _render_my_beds(request, location_id=location.pk)


def _is_referrer(user) -> bool:
    return user.role in REFERRER_ROLES


@login_required
@role_required(*BED_FINDER_ROLES)
@require_GET
def overview(request):
    region = request.user.region
    fragment = wants_fragment(request)
    part = "results" if fragment else "content"
    # The overview (filters and results) is the same for everybody of a region asking the same
    # question: one cached part (elvdesk/page_cache.py). Only referrers get "Refer to this location".
    html = cached_part(
        request,
        name=f"overview-{part}",
        region_id=region.pk,
        question=[_is_referrer(request.user), sorted((key, sorted(values)) for key, values in request.GET.lists())],
        template=f"beds/overview.html#{part}",
        context=lambda: (_overview_context(request, region), {}),
    ).html
    if fragment:
        response = HttpResponse(html)
    else:
        # Our own rendering of the template above, escaped there.
        response = render(request, "beds/overview.html", {"region": region, "content": mark_safe(html)})  # nosec B308 B703
    patch_vary_headers(response, ["HX-Request"])
    return response


def _overview_context(request, region) -> dict:
    form = OverviewFilterForm(request.GET or None, region=region)
    locations = []
    if form.is_bound and not form.is_valid():
        filters = None
    else:
        filters = OverviewFilters.from_cleaned(form.cleaned_data if form.is_bound else {})
        locations = region_overview(region=region, filters=filters)
        if _is_referrer(request.user):
            _add_refer_links(locations, form)
    return {"form": form, "locations": locations, "region": region, "filtered_product": filters and filters.product}


def _add_refer_links(locations, form: OverviewFilterForm) -> None:
    """ "Refer to this location" for each product with a free bed: the referral form with that
    location preferred and what the overview already knows (product, the patient's postcode, the
    required features) filled in (issue 17, fewer steps)."""
    shared = []
    if form.is_bound:
        if form.cleaned_data.get("postcode"):
            shared.append(("postcode", form.data.get("postcode", "").strip()))  # as typed: the form completes it
        features = form.cleaned_data.get("features") or []
        shared += [("features", code) for code in sorted(feature.code for feature in features)]
    new_referral = reverse("referrals:new")
    for location in locations:
        for capacity in location.capacities.all():
            if capacity.free > 0:
                query = urlencode([("location", location.pk), ("product", capacity.product.code), *shared])
                capacity.refer_url = f"{new_referral}?{query}"
