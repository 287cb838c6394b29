from django import forms

from providers.models import Location
from providers.postcodes import normalise_postcode, postcode_area


class LocationAdminForm(forms.ModelForm):
    """Normalises the postcode ("6411 AB") and finds its PC4 centroid for distance ranking."""

    class Meta:
        model = Location
        fields = [
            "organisation",
            "name",
            "street",
            "postcode",
            "city",
            "phone_24_7",
            "admission_24_7",
            "admission_from",
            "admission_until",
            "specialist_24_7",
            "features",
            "contracted_insurers",
            "is_active",
        ]

    def clean_postcode(self):
        postcode = normalise_postcode(self.cleaned_data["postcode"])
        self.area = postcode_area(postcode)
        return postcode

    def save(self, commit=True):
        self.instance.latitude = self.area.latitude
        self.instance.longitude = self.area.longitude
        return super().save(commit=commit)
