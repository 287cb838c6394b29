import re
from datetime import date

from django import forms
from django.utils.translation import gettext_lazy as _

from cockpit import planner as planner_defaults
from cockpit.periods import MAX_DAYS, Period
from elvdesk import input_limits
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


BED_CHANGE = re.compile(r"^(\d{1,19}):([a-z0-9_-]{1,30}):([+-]?\d{1,6})$")
MAX_BED_CHANGES = 50
MAX_BED_DELTA = input_limits.BED_COUNT


class PlannerForm(forms.Form):
    """The capacity planner's period and what-ifs, all in the query string (page and API). Only
    cleans: whether a location is the region's own is the planner's to check (cockpit/planner.py).

    Missing dates mean the last DEFAULT_PERIOD_DAYS days up to today; the period may not end after
    today (no history there)."""

    growth = forms.FloatField(
        label=_("Demand growth (%)"),
        required=False,
        min_value=-90,
        max_value=500,
        help_text=_("For example 10 for ten per cent more referrals, -5 for five per cent fewer."),
    )
    target = forms.FloatField(
        label=_("Target: chance of no free bed (%)"),
        required=False,
        min_value=0.1,
        max_value=50,
        help_text=_("Between 0.1 and 50; 5 when left empty."),
    )
    flex = forms.BooleanField(label=_("Pool ELV laag and hoog (flex beds)"), required=False)
    beds = forms.CharField(
        label=_("Beds added or removed"),
        required=False,
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text=_(
            "One change per line or separated by commas: location number, product code and the change, "
            "for example 12:elv_hoog:+2 or 15:elv_laag:-1."
        ),
    )

    QUERY_NAMES = ("from", "to", "growth", "target", "flex", "beds")

    @classmethod
    def defaults(cls, *, today: date) -> dict:
        period = Period.last_days(planner_defaults.DEFAULT_PERIOD_DAYS, today=today)
        target = planner_defaults.DEFAULT_TARGET * 100
        return {"from": period.start.isoformat(), "to": period.end.isoformat(), "target": f"{target:g}"}

    def __init__(self, data=None, *, today: date, **kwargs):
        self.today = today
        self.default = Period.last_days(planner_defaults.DEFAULT_PERIOD_DAYS, today=today)
        super().__init__(data, initial={"from": self.default.start, "to": self.default.end}, **kwargs)
        # "from" and "to" as on the KPI page ("from" cannot be a class attribute), first in the form.
        self.fields = {
            "from": forms.DateField(label=_("From"), required=False, widget=DATE_INPUT, input_formats=DATE_FORMATS),
            "to": forms.DateField(
                label=_("To (inclusive)"), required=False, widget=DATE_INPUT, input_formats=DATE_FORMATS
            ),
            **self.fields,
        }
        for name in ("from", "to"):
            self.fields[name].error_messages["invalid"] = _("Enter a date as YYYY-MM-DD, for example 2026-03-31.")
        for name in ("growth", "target"):
            self.fields[name].error_messages["invalid"] = _("Enter a number, for example 10 or 2.5.")

    def clean_beds(self) -> list:
        text = self.cleaned_data["beds"]
        entries = [entry.replace(" ", "") for entry in re.split(r"[,;\n]+", text) if entry.strip()]
        if len(entries) > MAX_BED_CHANGES:
            raise forms.ValidationError(
                _("Enter at most %(count)s changes.") % {"count": MAX_BED_CHANGES}, code="too_many"
            )
        changes = []
        for entry in entries:
            match = BED_CHANGE.match(entry.lower())
            if not match or int(match[1]) > input_limits.BIG_ID or abs(int(match[3])) > MAX_BED_DELTA:
                raise forms.ValidationError(
                    _(
                        "“%(entry)s” is not a change; write location number, product code and the change, "
                        "for example 12:elv_hoog:+2."
                    )
                    % {"entry": entry[:40]},
                    code="invalid",
                )
            changes.append(planner_defaults.BedChange(int(match[1]), match[2], int(match[3])))
        return changes

    def clean(self):
        cleaned = super().clean()
        start, end = cleaned.get("from"), cleaned.get("to")
        if "from" in self.errors or "to" in self.errors:
            return cleaned
        if not start and not end:
            cleaned["from"], cleaned["to"] = self.default.start, self.default.end
        elif not start or not end:
            self.add_error("from" if not start else "to", _("Enter both dates of the period."))
        elif end < start:
            self.add_error("to", _("The end date is before the start date."))
        elif end > self.today:
            self.add_error("to", _("The period cannot end after today: there is no history there yet."))
        elif (end - start).days + 1 > MAX_DAYS:
            self.add_error("from", _("Choose a period of at most %(days)s days.") % {"days": MAX_DAYS})
        return cleaned

    @property
    def period(self) -> Period:
        return Period(start=self.cleaned_data["from"], end=self.cleaned_data["to"])

    @property
    def target_share(self) -> float:
        value = self.cleaned_data.get("target")
        return planner_defaults.DEFAULT_TARGET if value is None else value / 100

    @property
    def growth_percent(self) -> float:
        return self.cleaned_data.get("growth") or 0.0
