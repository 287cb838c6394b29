"""The region's settings in Beheer: the administrator changes them, coordinators read them."""

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _

from administration.access import beheer_view, can_change
from administration.region_forms import RegionSettingsForm, initial_for
from audit.selectors import changes_of
from providers.models import Region
from providers.region_settings import region_settings_update

TEMPLATE = "administration/region.html"
HISTORY_ROWS = 50


def _settings_rows(region: Region) -> list[tuple[str, str]]:
    """(label, value) of every setting, for the read-only view."""

    def label(name: str) -> str:
        return str(Region._meta.get_field(name).verbose_name)

    def names(related) -> str:
        return ", ".join(str(item) for item in related.all()) or "—"

    return [
        (label("overview_times"), region.overview_times.replace(",", ", ")),
        (label("stale_after_hours"), str(region.stale_after_hours)),
        (label("offer_expiry_minutes"), str(region.offer_expiry_minutes)),
        (label("max_parallel_offers"), str(region.max_parallel_offers)),
        (label("triage_sla_minutes"), str(region.triage_sla_minutes)),
        (label("urgent_placement_hours"), str(region.urgent_placement_hours)),
        (label("search_limit_hours"), str(region.search_limit_hours)),
        (label("self_service_offers"), region.get_self_service_offers_display()),
        (_("Office hours"), f"{region.office_hours_start:%H:%M}–{region.office_hours_end:%H:%M}"),
        (label("retention_days"), str(region.retention_days)),
        (label("products"), names(region.products)),
        (label("neighbours"), names(region.neighbours)),
        (label("share_capacity_with_neighbours"), _("yes") if region.share_capacity_with_neighbours else _("no")),
        (label("desk_phone"), region.desk_phone or "—"),
    ]


def _render(request, region: Region, form: RegionSettingsForm | None, status: int = 200):
    context = {
        "beheer_section": "region",
        "region": region,
        "form": form,
        "rows": None if form is not None else _settings_rows(region),
        "changes": list(changes_of(object_type="region", object_id=region.pk)[:HISTORY_ROWS]),
        "history_object": ("region", region.pk),
    }
    return render(request, TEMPLATE, context, status=status)


@beheer_view(methods=("GET", "POST"))
def region(request):
    region = request.user.organisation.region
    if request.method != "POST":
        form = RegionSettingsForm(initial=initial_for(region), region=region) if can_change(request.user) else None
        return _render(request, region, form)

    form = RegionSettingsForm(request.POST, region=region)
    if not form.is_valid():
        return _render(request, region, form, status=400)
    try:
        region_settings_update(region=region, by=request.user, data=form.cleaned_data)
    except ValidationError as error:
        for field, field_messages in error.message_dict.items():
            for message in field_messages:
                form.add_error(field if field in form.fields else None, message)
        return _render(request, region, form, status=400)
    messages.success(request, _("The region's settings were saved."))
    return redirect("beheer:region")
