from django import forms
from django.utils.translation import gettext_lazy as _

from elvdesk.forms import ListedModelChoiceField
from providers.models import Feature, Insurer, Product
from providers.selectors import SocialMapFilters

# The search text, in characters, and the words of it that count: longer text is cut off rather
# than refused, like a search box that stops taking characters (a name and a place fit easily).
SEARCH_TEXT = 100
SEARCH_TERMS = 6


class SocialMapSearchForm(forms.Form):
    """The social map's search, read from the query string so a search can be shared.

    Lenient on purpose: it never refuses. A code that is not (or no longer) on the list, from an
    old bookmark or a hand-made link, is left out; text beyond the limit is cut off."""

    q = forms.CharField(
        label=_("Search"),
        required=False,
        help_text=_("Name, place, postcode, feature or insurer"),
        widget=forms.TextInput(attrs={"maxlength": SEARCH_TEXT, "autocomplete": "off"}),
    )
    product = ListedModelChoiceField(
        label=_("Product"),
        queryset=Product.objects.none(),
        to_field_name="code",
        required=False,
        empty_label=_("All products"),
    )
    feature = ListedModelChoiceField(
        label=_("Feature"),
        queryset=Feature.objects.all(),
        to_field_name="code",
        required=False,
        empty_label=_("Any feature"),
    )
    insurer = ListedModelChoiceField(
        label=_("Insurer (contracted)"),
        queryset=Insurer.objects.all(),
        to_field_name="uzovi",
        required=False,
        empty_label=_("Any insurer"),
    )
    specialist_24_7 = forms.BooleanField(label=_("Specialist ouderengeneeskunde available 24/7"), required=False)

    def __init__(self, data=None, *, region):
        if data is not None and len(data.get("q", "")) > SEARCH_TEXT:
            data = data.copy()
            data["q"] = data["q"][:SEARCH_TEXT]  # shown back as it was searched for
        super().__init__(data)
        self.fields["product"].queryset = region.products.all()

    def filters(self) -> SocialMapFilters:
        """The valid part of the search; anything that did not validate is ignored."""
        if not self.is_bound:
            return SocialMapFilters()
        self.is_valid()
        data = self.cleaned_data
        self.errors.clear()  # ignored, so not shown either (see the class docstring)
        return SocialMapFilters(
            terms=tuple(data.get("q", "").split()[:SEARCH_TERMS]),
            product=data.get("product"),
            feature=data.get("feature"),
            insurer=data.get("insurer"),
            specialist_24_7=bool(data.get("specialist_24_7")),
        )
