from django import forms
from django.utils.translation import gettext_lazy as _

from cockpit.periods import MAX_DAYS, Period
from elvdesk.forms import PlainSelect
from referrals.models import OPEN_STATES, Origin, State, Urgency

DATE_INPUT = forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")
DATE_FORMATS = ["%Y-%m-%d", "%d-%m-%Y"]


class PeriodForm(forms.Form):
    """`?from=YYYY-MM-DD&to=YYYY-MM-DD`, both days included. Missing fields mean the last 30 days."""

    def __init__(self, data=None, *, default: Period, **kwargs):
        if data is not None and not any(data.get(name) for name in ("from", "to")):
            data = None  # no period asked for: the default, not two "required" errors
        super().__init__(data, initial={"from": default.start, "to": default.end}, **kwargs)
        self.default = default
        self.fields["from"] = forms.DateField(label=_("From"), widget=DATE_INPUT, input_formats=DATE_FORMATS)
        self.fields["to"] = forms.DateField(label=_("To (inclusive)"), widget=DATE_INPUT, input_formats=DATE_FORMATS)
        for field in self.fields.values():
            field.error_messages["invalid"] = _("Enter a date as YYYY-MM-DD, for example 2026-03-31.")
            field.error_messages["required"] = _("Enter both dates of the period.")

    def is_valid(self) -> bool:
        """Without input the default period applies, which is always valid."""
        return not self.is_bound or super().is_valid()

    def clean(self):
        cleaned = super().clean()
        start, end = cleaned.get("from"), cleaned.get("to")
        if start and end:
            if end < start:
                raise forms.ValidationError(_("The end date is before the start date."), code="reversed")
            if (end - start).days + 1 > MAX_DAYS:
                raise forms.ValidationError(
                    _("Choose a period of at most %(days)s days.") % {"days": MAX_DAYS}, code="too_long"
                )
        return cleaned

    @property
    def period(self) -> Period:
        """The chosen period (call after is_valid()); the default when none was given."""
        if not self.is_bound:
            return self.default
        return Period(start=self.cleaned_data["from"], end=self.cleaned_data["to"])


class BoardFilterForm(forms.Form):
    """The board's filters, all optional; they live in the query string."""

    product = forms.ChoiceField(label=_("Product"), required=False, widget=PlainSelect)
    urgency = forms.ChoiceField(
        label=_("Urgency"), choices=[("", _("All")), *Urgency.choices], required=False, widget=PlainSelect
    )
    origin = forms.ChoiceField(
        label=_("Patient is now"), choices=[("", _("All")), *Origin.choices], required=False, widget=PlainSelect
    )
    state = forms.ChoiceField(
        label=_("State"),
        choices=[("", _("All open")), *[(s.value, s.label) for s in State if s in OPEN_STATES]],
        required=False,
        widget=PlainSelect,
    )

    def __init__(self, *args, region, **kwargs):
        super().__init__(*args, **kwargs)
        # The region's few products as a list: a ModelChoiceField would read them again, through
        # a server-side cursor, every time the select is rendered.
        self.products = {product.code: product for product in region.products.order_by("sort_order", "code")}
        self.fields["product"].choices = [("", _("All")), *((code, p.name) for code, p in self.products.items())]
        for field in self.fields.values():
            field.error_messages["invalid_choice"] = _("This filter value is unknown; choose one from the list.")

    def clean_product(self):
        code = self.cleaned_data["product"]
        return self.products[code] if code else None
