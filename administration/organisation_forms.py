"""Forms of the organisation pages of Beheer. They only clean what was typed; the rules (an AGB
code used once, the kinds an administrator may create) live in providers.services."""

from django import forms
from django.core.exceptions import ValidationError
from django.utils.text import capfirst
from django.utils.translation import gettext_lazy as _

from providers.models import Insurer, Organisation, OrganisationKind
from providers.services import CREATABLE_KINDS, clean_agb_code, clean_optional_phone, clean_optional_postcode, clean_ura


def _label(model, name: str):
    return capfirst(model._meta.get_field(name).verbose_name)


class OrganisationFilterForm(forms.Form):
    """The filters of the organisation list, read from the query string."""

    kind = forms.ChoiceField(label=_("Kind"), choices=[("", _("All kinds")), *OrganisationKind.choices], required=False)
    status = forms.ChoiceField(
        label=_("Status"),
        choices=[("", _("Active and inactive")), ("active", _("Active")), ("inactive", _("Inactive"))],
        required=False,
    )
    q = forms.CharField(label=_("Search"), max_length=100, required=False, help_text=_("Name, AGB code or city"))


class OrganisationForm(forms.Form):
    """A new organisation, or the changes to one (the desk's own organisation keeps its kind)."""

    kind = forms.ChoiceField(
        label=_label(Organisation, "kind"),
        choices=[(kind.value, kind.label) for kind in CREATABLE_KINDS],
        initial=OrganisationKind.PROVIDER,
    )
    name = forms.CharField(label=_label(Organisation, "name"), max_length=150)
    agb_code = forms.CharField(
        label=_label(Organisation, "agb_code"),
        max_length=20,
        required=False,
        help_text=_("8 digits. Required for care providers, GP practices and hospitals."),
    )
    ura = forms.CharField(
        label=_label(Organisation, "ura"),
        max_length=20,
        required=False,
        help_text=_("8 digits: the UZI register subscriber number, where known."),
    )
    street = forms.CharField(label=_label(Organisation, "street"), max_length=150, required=False)
    postcode = forms.CharField(label=_label(Organisation, "postcode"), max_length=10, required=False)
    city = forms.CharField(label=_label(Organisation, "city"), max_length=80, required=False)
    phone = forms.CharField(label=_label(Organisation, "phone"), max_length=30, required=False)
    email = forms.EmailField(label=_label(Organisation, "email"), max_length=254, required=False)
    insurer = forms.ModelChoiceField(
        label=_label(Organisation, "insurer"),
        queryset=Insurer.objects.order_by("name"),
        required=False,
        help_text=_("Insurers only: the UZOVI insurer this organisation represents in the region. Required."),
    )
    duty_of_care_email = forms.EmailField(
        label=_label(Organisation, "duty_of_care_email"),
        max_length=254,
        required=False,
        help_text=_("Insurers only: escalations of this insurer's insured who wait too long for a bed go here."),
    )

    def __init__(self, *args, editable_kind: bool = True, **kwargs):
        super().__init__(*args, **kwargs)
        self.asks_insurer = True
        if not editable_kind:
            del self.fields["kind"]

    @classmethod
    def for_organisation(cls, organisation: Organisation, data=None) -> "OrganisationForm":
        """The edit form of an existing organisation, filled with what is stored."""
        editable_kind = organisation.kind in CREATABLE_KINDS
        initial = {name: getattr(organisation, name) for name in cls.base_fields}
        form = cls(data, initial=initial, editable_kind=editable_kind)
        # The insurer it represents is shown for insurers only (the list costs a query); the fields
        # stay on the form, so what is posted is still checked (and blanked for other kinds).
        form.asks_insurer = organisation.kind == OrganisationKind.INSURER
        return form

    def clean(self):
        cleaned = super().clean()
        kind = cleaned.get("kind", self.initial.get("kind"))
        if kind == OrganisationKind.INSURER and not cleaned.get("insurer") and "insurer" not in self.errors:
            self.add_error("insurer", _("Choose the insurer this organisation represents."))
        return cleaned

    def clean_agb_code(self):
        return clean_agb_code(self.cleaned_data["agb_code"])

    def clean_ura(self):
        return clean_ura(self.cleaned_data["ura"])

    def clean_postcode(self):
        return clean_optional_postcode(self.cleaned_data["postcode"])

    def clean_phone(self):
        return clean_optional_phone(self.cleaned_data["phone"])


def add_service_errors(form: forms.Form, error: ValidationError) -> None:
    """Show a service's refusal on the form: per field where the form has that field."""
    if not hasattr(error, "error_dict"):
        form.add_error(None, error)
        return
    for field, messages in error.message_dict.items():
        for message in messages:
            form.add_error(field if field in form.fields else None, message)
