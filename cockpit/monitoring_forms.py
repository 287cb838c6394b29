"""The monitoring page's choices (cockpit/monitoring.py): a range of whole months and, for the
desk, one insurer to compare with the region. All optional; they live in the query string."""

import re
from datetime import date

from django import forms
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from cockpit.monitoring import DEFAULT_MONTHS, MAX_MONTHS, MonthRange
from elvdesk.forms import PlainSelect
from providers.models import Insurer

MONTH = re.compile(r"^(\d{4})-(\d{2})$")
MONTH_INPUT = forms.TextInput(
    attrs={"type": "month", "placeholder": "2026-03", "pattern": r"\d{4}-\d{2}", "maxlength": "7"}
)
FIRST_YEAR = 2000


class MonthField(forms.Field):
    """ "YYYY-MM" → the first day of that month."""

    widget = MONTH_INPUT

    def to_python(self, value):
        value = str(value or "").strip()
        if not value:
            return None
        found = MONTH.match(value)
        if not found or not 1 <= int(found.group(2)) <= 12 or int(found.group(1)) < FIRST_YEAR:
            raise forms.ValidationError(_("Enter a month as YYYY-MM, for example 2026-03."), code="invalid")
        return date(int(found.group(1)), int(found.group(2)), 1)


class MonitoringForm(forms.Form):
    """`?from=YYYY-MM&to=YYYY-MM&insurer=UZOVI`. Without months: the last 12 (this one included).
    The insurer field exists only for those who may choose one (monitoring_scope)."""

    def __init__(self, data=None, *, may_choose_insurer: bool, today: date | None = None, **kwargs):
        self.today = today or timezone.localdate()
        self.default = MonthRange.last_months(DEFAULT_MONTHS, today=self.today)
        super().__init__(
            data, initial={"from": f"{self.default.first:%Y-%m}", "to": f"{self.default.last:%Y-%m}"}, **kwargs
        )
        self.fields["from"] = MonthField(label=_("From month"), required=False)
        self.fields["to"] = MonthField(label=_("To month (inclusive)"), required=False)
        if may_choose_insurer:
            self.fields["insurer"] = forms.ModelChoiceField(
                label=_("Compare with the insured of"),
                queryset=Insurer.objects.order_by("name"),
                to_field_name="uzovi",
                required=False,
                empty_label=_("No insurer: the region only"),
                widget=PlainSelect,
                error_messages={"invalid_choice": _("This insurer is unknown; choose one from the list.")},
            )

    def clean(self):
        cleaned = super().clean()
        first, last = cleaned.get("from"), cleaned.get("to")
        if self.errors:
            return cleaned
        if bool(first) != bool(last):
            raise forms.ValidationError(_("Enter both months of the range, or neither."), code="incomplete")
        if first and last:
            if last < first:
                raise forms.ValidationError(_("The last month is before the first month."), code="reversed")
            if last > self.today.replace(day=1):
                raise forms.ValidationError(_("The last month cannot be in the future."), code="future")
            if len(MonthRange(first=first, last=last).months) > MAX_MONTHS:
                raise forms.ValidationError(
                    _("Choose at most %(months)s months.") % {"months": MAX_MONTHS}, code="too_long"
                )
        return cleaned

    @property
    def months(self) -> MonthRange:
        """The chosen months (call after is_valid()); the last 12 when none were given."""
        first, last = self.cleaned_data.get("from"), self.cleaned_data.get("to")
        return MonthRange(first=first, last=last) if first and last else self.default

    @property
    def insurer(self) -> Insurer | None:
        return self.cleaned_data.get("insurer")
