"""Form fields and widgets shared by the apps."""

from django import forms
from django.forms.models import ModelChoiceIterator
from django.forms.utils import flatatt
from django.utils.html import format_html, format_html_join


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
