"""Filters of the region's change history (Beheer), read from the query string so a filtered
list can be shared and exported as shown."""

from django import forms
from django.utils.translation import gettext_lazy as _

from administration.history_labels import OBJECT_TYPE_LABELS
from elvdesk.forms import PlainSelect
from elvdesk.input_limits import BIG_ID


class HistoryFilterForm(forms.Form):
    object_type = forms.ChoiceField(
        label=_("What"),
        required=False,
        choices=[("", _("All")), *OBJECT_TYPE_LABELS.items()],
        widget=PlainSelect,
    )
    object_id = forms.IntegerField(min_value=1, max_value=BIG_ID, required=False, widget=forms.HiddenInput)
    by = forms.ChoiceField(label=_("Who"), required=False, widget=PlainSelect)
    date_from = forms.DateField(
        label=_("From"),
        required=False,
        widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
        error_messages={"invalid": _("Enter a date, for example 2031-03-12.")},
    )
    date_until = forms.DateField(
        label=_("Until (inclusive)"),
        required=False,
        widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
        error_messages={"invalid": _("Enter a date, for example 2031-03-12.")},
    )

    def __init__(self, *args, names: list[str], **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["by"].choices = [("", _("Everyone")), *((name, name) for name in names)]

    def clean(self):
        cleaned = super().clean()
        start, end = cleaned.get("date_from"), cleaned.get("date_until")
        if start and end and start > end:
            self.add_error("date_until", _("The end date cannot be before the start date."))
        if cleaned.get("object_id") and not cleaned.get("object_type"):
            self.add_error("object_type", _("Choose what kind of object the number belongs to."))
        return cleaned
