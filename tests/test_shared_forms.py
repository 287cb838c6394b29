"""The shared select widget renders what Django's template-rendered Select renders, and the
listed choice field reads its choices once, without a server-side cursor."""

from html.parser import HTMLParser

import pytest
from django import forms

from elvdesk.forms import ListedModelChoiceField, PlainSelect
from providers.models import Product

CHOICES = [("", "All"), ("a", "A & b"), ("b", "<B>"), ("Group", [("c", 'C "x"'), ("d", "D")])]


class _Tags(HTMLParser):
    """Start tags with their attributes as sets (attribute order is not part of HTML) and text."""

    def __init__(self):
        super().__init__()
        self.items = []

    def handle_starttag(self, tag, attrs):
        self.items.append((tag, frozenset(attrs)))

    def handle_endtag(self, tag):
        self.items.append(("/" + tag,))

    def handle_data(self, data):
        if data.strip():
            self.items.append(data.strip())


def parsed(html: str) -> list:
    tags = _Tags()
    tags.feed(html)
    return tags.items


class Both(forms.Form):
    django = forms.ChoiceField(choices=CHOICES, required=True)
    plain = forms.ChoiceField(choices=CHOICES, required=True, widget=PlainSelect)


@pytest.mark.parametrize("data", [{"django": "b", "plain": "b"}, {"django": "c", "plain": "c"}, {}])
def test_plain_select_renders_the_same_html_as_djangos_select(data):
    form = Both(data or None)
    form.is_valid()
    expected = str(form["django"]).replace('"django"', '"plain"').replace("id_django", "id_plain")
    assert parsed(str(form["plain"])) == parsed(expected)


def test_plain_select_escapes_labels_and_marks_errors():
    form = Both({"django": "zz", "plain": "zz"})
    assert not form.is_valid()
    html = str(form["plain"])
    assert "&lt;B&gt;" in html and "A &amp; b" in html and "C &quot;x&quot;" in html
    assert 'aria-invalid="true"' in html and 'aria-describedby="id_plain_error"' in html


class ProductForm(forms.Form):
    product = ListedModelChoiceField(queryset=Product.objects.order_by("code"), to_field_name="code", required=False)


@pytest.mark.django_db
def test_listed_choices_are_read_once_per_form_with_a_plain_query(django_assert_num_queries):
    form = ProductForm({"product": "elv_hoog"})
    with django_assert_num_queries(2) as captured:  # the validation's look-up, then the choices
        assert form.is_valid()
        first, second = str(form["product"]), str(form["product"])
    assert first == second and 'value="elv_hoog" selected' in first
    assert not any("CURSOR" in query["sql"] for query in captured.captured_queries)
