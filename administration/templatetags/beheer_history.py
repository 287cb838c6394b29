"""Template lookups for the Beheer change history (administration/history_labels.py)."""

from django import template

from administration import history_labels

register = template.Library()


@register.filter
def action_label(code: str) -> str:
    return history_labels.action_label(code)


@register.filter
def object_type_label(code: str) -> str:
    return history_labels.object_type_label(code)


@register.simple_tag
def field_label(change, name: str) -> str:
    return history_labels.field_label(change.object_type, name)


@register.simple_tag
def field_value(change, name: str, value) -> str:
    return history_labels.field_value(change.object_type, name, value)
