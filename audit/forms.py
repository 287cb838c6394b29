from django import forms
from django.utils.translation import gettext_lazy as _

from referrals.validation import clean_bsn


class PatientSearchForm(forms.Form):
    """Posted, never sent in a query string: a BSN must not end up in URLs or server logs."""

    bsn = forms.CharField(label=_("BSN of the patient"), max_length=11)

    def clean_bsn(self):
        return clean_bsn(self.cleaned_data["bsn"])
