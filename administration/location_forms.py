"""Forms of the location pages of Beheer. They only clean what was typed; the rules (a known
PC4 area, admission hours, a contracted total no lower than what is booked) live in the services."""

from django import forms
from django.utils.text import capfirst
from django.utils.translation import gettext_lazy as _

from beds.forms import COUNT_ERRORS
from elvdesk import input_limits
from elvdesk.forms import ListedModelChoiceField
from providers.models import Feature, Insurer, Location, TreatingPhysician
from providers.phones import normalise_dutch_phone
from providers.postcodes import normalise_postcode
from providers.services import LOCATION_FIELDS, LOCATION_MANY_FIELDS, clean_optional_phone

REFERRAL_PROCEDURE_MAX = 2000


def _label(name: str):
    return capfirst(Location._meta.get_field(name).verbose_name)


class ListedModelMultipleChoiceField(forms.ModelMultipleChoiceField):
    """Reads its short list (features, insurers) with one plain query per form."""

    iterator = ListedModelChoiceField.iterator


class TimeInput(forms.TimeInput):
    input_type = "time"

    def __init__(self, attrs=None):
        super().__init__(attrs, format="%H:%M")


class LocationForm(forms.Form):
    """A new location of a care provider, or the changes to one. Admission around the clock is
    ticked at first: most ELV locations admit 24/7, and one click less for the others."""

    name = forms.CharField(label=_label("name"), max_length=150)
    street = forms.CharField(label=_label("street"), max_length=150)
    postcode = forms.CharField(label=_label("postcode"), max_length=10, help_text=_("For example 6411 AB"))
    city = forms.CharField(label=_label("city"), max_length=80)
    phone_24_7 = forms.CharField(
        label=_label("phone_24_7"), max_length=30, help_text=_("For referrers and the desk, day and night.")
    )
    phone_office = forms.CharField(label=_label("phone_office"), max_length=30, required=False)
    admission_24_7 = forms.BooleanField(label=_label("admission_24_7"), required=False, initial=True)
    admission_from = forms.TimeField(
        label=_label("admission_from"), required=False, widget=TimeInput, help_text=_("Only without admission 24/7.")
    )
    admission_until = forms.TimeField(label=_label("admission_until"), required=False, widget=TimeInput)
    treating_physician = forms.ChoiceField(
        label=_label("treating_physician"),
        choices=TreatingPhysician.choices,
        initial=TreatingPhysician.GP,
        widget=forms.RadioSelect,
    )
    specialist_24_7 = forms.BooleanField(label=_label("specialist_24_7"), required=False)
    features = ListedModelMultipleChoiceField(
        label=_label("features"), queryset=Feature.objects.all(), required=False, widget=forms.CheckboxSelectMultiple
    )
    contracted_insurers = ListedModelMultipleChoiceField(
        label=_label("contracted_insurers"),
        queryset=Insurer.objects.all(),
        required=False,
        widget=forms.CheckboxSelectMultiple,
    )
    referral_procedure = forms.CharField(
        label=_label("referral_procedure"),
        max_length=REFERRAL_PROCEDURE_MAX,
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text=_("How to refer a patient here, in a few sentences."),
    )

    @classmethod
    def for_location(cls, location: Location, data=None) -> "LocationForm":
        """The edit form of an existing location, filled with what is stored."""
        initial = {name: getattr(location, name) for name in LOCATION_FIELDS}
        initial.update({name: list(getattr(location, name).all()) for name in LOCATION_MANY_FIELDS})
        return cls(data, initial=initial)

    def clean_postcode(self):
        return normalise_postcode(self.cleaned_data["postcode"])

    def clean_phone_24_7(self):
        return normalise_dutch_phone(self.cleaned_data["phone_24_7"])

    def clean_phone_office(self):
        return clean_optional_phone(self.cleaned_data["phone_office"])


class ContractForm(forms.Form):
    """The contracted total of one product at a location, with the version the page showed
    (0: the location did not offer the product yet)."""

    total = forms.IntegerField(
        label=_("Contracted beds"), min_value=0, max_value=input_limits.BED_COUNT, error_messages=COUNT_ERRORS
    )
    version = forms.IntegerField(widget=forms.HiddenInput, min_value=0, max_value=input_limits.POSITIVE_INT)

    def clean(self):
        cleaned = super().clean()
        if "version" in self._errors:  # a hidden field: its own error would not show
            self.add_error(None, _("This page is out of date; reload it and enter the counts again."))
        return cleaned
