"""Form fields and widgets shared by the apps."""

from django import forms
from django.forms.models import ModelChoiceIterator
from django.forms.utils import flatatt
from django.http import QueryDict
from django.utils.html import format_html, format_html_join
from django.utils.translation import gettext_lazy as _

from elvdesk.input_guard import NUL, nul_in


class PlainSelect(forms.Select):
    """Django's Select with the same HTML, built in Python. The template-rendered widget costs
    three template renders per option, which made the filter forms of the board and the
    overview (on every page view) cost more than the data they filter."""

    def render(self, name, value, attrs=None, renderer=None):
        widget = self.get_context(name, value, attrs)["widget"]
        groups = []
        for group_name, options, _index in widget["optgroups"]:
            rendered = format_html_join(
                "",
                '<option value="{}"{}>{}</option>',
                ((str(option["value"]), flatatt(option["attrs"]), option["label"]) for option in options),
            )
            groups.append(
                format_html('<optgroup label="{}">{}</optgroup>', group_name, rendered) if group_name else rendered
            )
        return format_html(
            '<select name="{}"{}>{}</select>',
            widget["name"],
            flatatt(widget["attrs"]),
            format_html_join("", "{}", ((g,) for g in groups)),
        )


class _ListedChoices(ModelChoiceIterator):
    """Reads the choices with a plain query, kept for the form's lifetime. Django's iterator
    reads them through a server-side cursor, each time the field is validated or rendered: three
    round trips for a list of ten rows."""

    def __iter__(self):
        if self.field.empty_label is not None:
            yield ("", self.field.empty_label)
        for obj in self.queryset:
            yield self.choice(obj)


class ListedModelChoiceField(forms.ModelChoiceField):
    """A ModelChoiceField for short lists (products, insurers) shown as a plain select."""

    iterator = _ListedChoices
    widget = PlainSelect


class RefusesNulCharacters:
    """For a form whose view reports NUL characters itself (elvdesk/input_guard.form_reports_nul):
    removes them from the data before any field is cleaned (a model choice field would query the
    database with them, and PostgreSQL refuses NUL) and gives each field that held one an error,
    so the page comes back with everything that was typed, less the invisible character."""

    def __init__(self, data=None, *args, **kwargs):
        self.nul_keys = []
        if data is not None and nul_in(data) is not None:
            stripped = QueryDict(mutable=True)
            for key, values in data.lists():
                if NUL in key or any(NUL in value for value in values):
                    self.nul_keys.append(key.replace(NUL, ""))
                stripped.setlist(key.replace(NUL, ""), [value.replace(NUL, "") for value in values])
            data = stripped
        super().__init__(data, *args, **kwargs)

    def clean(self):
        cleaned = super().clean()
        names = {self.add_prefix(name): name for name in self.fields}
        for key in self.nul_keys:
            self.add_error(
                names.get(key),
                _("This field held an invisible control character (NUL), which was removed. Check it and send again."),
            )
        return cleaned
