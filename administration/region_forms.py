"""The region's settings form (Beheer). It only cleans; the rules are checked again, and the
change is made, by providers.region_settings.region_settings_update."""

from django import forms
from django.utils.text import capfirst
from django.utils.translation import gettext_lazy as _

from providers.models import Product, Region, SelfServiceOffers
from providers.phones import normalise_dutch_phone
from providers.region_settings import LIMITS, normalise_overview_times


def _label(name: str):
    return capfirst(Region._meta.get_field(name).verbose_name)


def _whole_number(name: str, help_text="") -> forms.IntegerField:
    low, high = LIMITS[name]
    return forms.IntegerField(
        label=_label(name),
        help_text=help_text,
        min_value=low,
        max_value=high,
        error_messages={
            "required": _("Enter a number."),
            "invalid": _("Enter a whole number."),
            "min_value": _("Enter a whole number of at least %(limit_value)s."),
            "max_value": _("Enter a whole number of at most %(limit_value)s."),
        },
    )


def _time_of_day(name: str) -> forms.TimeField:
    return forms.TimeField(
        label=_label(name),
        input_formats=["%H:%M", "%H.%M"],
        widget=forms.TimeInput(format="%H:%M", attrs={"type": "time"}),
        error_messages={
            "required": _("Enter a time, for example 08:00."),
            "invalid": _("Enter a time as HH:MM, for example 08:00."),
        },
    )


class RegionSettingsForm(forms.Form):
    overview_times = forms.CharField(
        label=_label("overview_times"),
        max_length=60,
        help_text=_("Times of day as HH:MM, separated by commas, for example 07:30,16:00 (at most 6)."),
        error_messages={"required": _("Enter at least one time, for example 07:30.")},
    )
    stale_after_hours = _whole_number("stale_after_hours")
    offer_expiry_minutes = _whole_number("offer_expiry_minutes")
    max_parallel_offers = _whole_number(
        "max_parallel_offers",
        help_text=_(
            "A referral may be offered to this many locations at once, each holding a bed; the first to "
            "accept gets the patient and the other offers are withdrawn."
        ),
    )
    triage_sla_minutes = _whole_number("triage_sla_minutes")
    urgent_placement_hours = _whole_number("urgent_placement_hours")
    search_limit_hours = _whole_number(
        "search_limit_hours",
        help_text=_("The desk is told, with the beds that came free meanwhile, when a referral waits longer."),
    )
    self_service_offers = forms.ChoiceField(
        label=_label("self_service_offers"), choices=SelfServiceOffers.choices, widget=forms.RadioSelect
    )
    office_hours_start = _time_of_day("office_hours_start")
    office_hours_end = _time_of_day("office_hours_end")
    retention_days = _whole_number(
        "retention_days",
        help_text=_(
            "After this many days the patient data of a closed referral are pseudonymised. The medical "
            "record stays with the GP, hospital and provider; who looked at the data stays in the access log."
        ),
    )
    products = forms.ModelMultipleChoiceField(
        label=_label("products"),
        queryset=Product.objects.all(),
        widget=forms.CheckboxSelectMultiple,
        error_messages={"required": _("Choose at least one product the region offers.")},
    )
    neighbours = forms.ModelMultipleChoiceField(
        label=_label("neighbours"),
        queryset=Region.objects.none(),
        required=False,
        widget=forms.CheckboxSelectMultiple,
    )
    share_capacity_with_neighbours = forms.BooleanField(
        label=_label("share_capacity_with_neighbours"),
        help_text=Region._meta.get_field("share_capacity_with_neighbours").help_text,
        required=False,
    )
    desk_phone = forms.CharField(
        label=_label("desk_phone"),
        max_length=30,
        required=False,
        help_text=_("Shown at the top of every page, for example 045 577 6677. Leave empty to show none."),
    )

    def __init__(self, *args, region: Region, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["neighbours"].queryset = Region.objects.exclude(pk=region.pk).order_by("name")

    def clean_overview_times(self):
        return normalise_overview_times(self.cleaned_data["overview_times"])

    def clean_desk_phone(self):
        phone = self.cleaned_data["desk_phone"].strip()
        return normalise_dutch_phone(phone) if phone else ""


def initial_for(region: Region) -> dict:
    """The form's initial values: the region's current settings."""
    values = {
        name: getattr(region, name) for name in RegionSettingsForm.base_fields if name not in ("products", "neighbours")
    }
    values["products"] = list(region.products.all())
    values["neighbours"] = list(region.neighbours.all())
    return values
