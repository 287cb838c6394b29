from django import template

from providers import phones

register = template.Library()


@register.filter
def tel_uri(value: str) -> str:
    """`<a href="{{ phone|tel_uri }}">`: the number as a tel: link target, "" when it cannot be dialled."""
    return phones.tel_uri(value)
