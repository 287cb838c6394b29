from django import forms
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

from elvdesk import input_limits
from elvdesk.forms import ListedModelChoiceField
from providers.models import Feature, Insurer, Product
from providers.postcodes import postcode_area

COUNT_ERRORS = {
    "required": _("Enter a number."),
    "invalid": _("Enter a whole number."),
    "min_value": _("A count cannot be negative."),
}


def _count_field(label):
    return forms.IntegerField(label=label, min_value=0, max_value=input_limits.BED_COUNT, error_messages=COUNT_ERRORS)


class CapacityForm(forms.Form):
    """Direct entry of the counts of one product at one location."""

    total = _count_field(_("Contracted"))
    available = _count_field(_("Free"))
    expected_24h = _count_field(_("Expected within 24 h"))
    expected_72h = _count_field(_("Expected within 72 h"))
    version = forms.IntegerField(widget=forms.HiddenInput, min_value=1, max_value=input_limits.POSITIVE_INT)

    def clean(self):
        cleaned = super().clean()
        if "version" in self._errors:  # a hidden field: its own error would not show
            self.add_error(None, _("This page is out of date; reload it and enter the counts again."))
        return cleaned


ADJUSTABLE = {"total", "available", "expected_24h", "expected_72h"}


class AdjustForm(forms.Form):
    """The − / + buttons: `adjust` is "field:delta", e.g. "available:-1"."""

    adjust = forms.RegexField(regex=r"^[a-z0-9_]+:[+-]1$")

    def clean_adjust(self):
        field, delta = self.cleaned_data["adjust"].split(":")
        if field not in ADJUSTABLE:
            raise ValidationError(_("This count cannot be changed with a button."))
        return field, int(delta)


class OverviewFilterForm(forms.Form):
    """Filters of the regional bed overview; read from the query string so URLs can be shared."""

    product = ListedModelChoiceField(
        label=_("Product"),
        queryset=Product.objects.none(),
        to_field_name="code",
        required=False,
        empty_label=_("All products"),
    )
    postcode = forms.CharField(
        label=_("Patient's postcode"),
        required=False,
        max_length=7,
        help_text=_("Nearest first, for example 6411 AB or 6411"),
    )
    max_km = forms.IntegerField(
        label=_("Within (km)"),
        required=False,
        min_value=1,
        max_value=300,
        error_messages={"invalid": _("Enter a whole number of kilometres.")},
    )
    insurer = ListedModelChoiceField(
        label=_("Insurer (contracted)"),
        queryset=Insurer.objects.all(),
        to_field_name="uzovi",
        required=False,
        empty_label=_("Any insurer"),
    )
    features = forms.ModelMultipleChoiceField(
        label=_("Required features"),
        queryset=Feature.objects.all(),
        to_field_name="code",
        required=False,
        widget=forms.CheckboxSelectMultiple,
    )
    only_free = forms.BooleanField(label=_("Only locations with a free bed"), required=False)

    def __init__(self, *args, region, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["product"].queryset = region.products.all()

    def clean_postcode(self):
        value = self.cleaned_data["postcode"].strip()
        if not value:
            return None
        return postcode_area(value)

    def clean(self):
        cleaned = super().clean()
        if cleaned.get("max_km") and not cleaned.get("postcode") and "postcode" not in self.errors:
            self.add_error("postcode", _("Enter a postcode to search within a distance."))
        return cleaned


class OverviewSubscriptionForm(forms.Form):
    """The daily bed overview e-mail on or off (a checkbox: absent means off)."""

    subscribed = forms.BooleanField(label=_("E-mail me the daily bed overview"), required=False)
