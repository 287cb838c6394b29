import uuid

from django import forms
from django.utils.translation import gettext_lazy as _

from elvdesk import input_limits
from elvdesk.forms import PlainSelect, RefusesNulCharacters
from providers.models import Feature, Insurer, Product
from providers.postcodes import normalise_postcode, postcode_area
from referrals.models import DeclineReason, DischargeDestination, Origin, RedirectTarget, Sex, State, Urgency
from referrals.validation import (
    ORIGINS_BY_ROLE,
    clean_bsn,
    clean_date_of_birth,
    clean_planned_date,
    referral_errors,
)

DATE_INPUT = forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")
DATETIME_INPUT = forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M")
DATETIME_FORMATS = ["%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M", "%d-%m-%Y %H:%M"]


class ReferralForm(RefusesNulCharacters, forms.Form):
    """The referral as a GP or transfer nurse types it. Only cleans; the service decides."""

    submit_token = forms.CharField(widget=forms.HiddenInput, required=False, max_length=input_limits.IDEMPOTENCY_KEY)
    draft_id = forms.IntegerField(widget=forms.HiddenInput, required=False, min_value=1, max_value=input_limits.BIG_ID)
    # Patient
    bsn = forms.CharField(label=_("BSN"), max_length=11, help_text=_("9 digits"))
    name = forms.CharField(label=_("Name"), max_length=150)
    date_of_birth = forms.DateField(label=_("Date of birth"), widget=DATE_INPUT)
    sex = forms.ChoiceField(label=_("Sex"), choices=[("", _("Choose")), *Sex.choices])
    postcode = forms.CharField(
        label=_("Postcode of the home address"), max_length=7, help_text=_("For example 6411 AB")
    )
    insurer = forms.ModelChoiceField(
        label=_("Insurer"), queryset=Insurer.objects.all(), to_field_name="uzovi", empty_label=_("Choose the insurer")
    )
    # Request
    origin = forms.ChoiceField(label=_("Patient is now"), choices=Origin.choices)
    product = forms.ModelChoiceField(
        label=_("Requested product"),
        queryset=Product.objects.none(),
        to_field_name="code",
        empty_label=_("Choose a product"),
    )
    urgency = forms.ChoiceField(label=_("Urgency"), choices=Urgency.choices, widget=forms.RadioSelect)
    planned_date = forms.DateField(label=_("Planned date"), required=False, widget=DATE_INPUT)
    # LHV criteria
    wakeful_eye = forms.BooleanField(label=_("Needs a 'wakend oog' (supervision around the clock)"), required=False)
    unplannable_nursing = forms.BooleanField(label=_("Needs unplannable nursing care"), required=False)
    adl_taken_over = forms.BooleanField(label=_("ADL has to be taken over"), required=False)
    care_needs = forms.ModelMultipleChoiceField(
        label=_("Care needs"),
        queryset=Feature.objects.all(),
        to_field_name="code",
        required=False,
        widget=forms.CheckboxSelectMultiple,
    )
    # Decision support
    needs_hospital_care = forms.BooleanField(label=_("Needs medical-specialist (hospital) care"), required=False)
    wlz_indication = forms.BooleanField(label=_("Has a Wlz indication"), required=False)
    life_expectancy_short = forms.BooleanField(label=_("Life expectancy under 3 months"), required=False)
    carer_relief_only = forms.BooleanField(
        label=_("Medically stable; the need is relief of the informal carer"), required=False
    )
    trainable_after_hospital = forms.BooleanField(
        label=_("Learnable and trainable, within a week of a hospital stay"), required=False
    )
    needs_elderly_care_specialist = forms.BooleanField(
        label=_("Complex care that needs a specialist ouderengeneeskunde"), required=False
    )
    medical_reason = forms.CharField(
        label=_("Medical reason"), max_length=input_limits.MEDICAL_REASON, widget=forms.Textarea(attrs={"rows": 4})
    )
    carer_contact = forms.CharField(label=_("Informal carer (name and phone)"), max_length=200, required=False)
    notes = forms.CharField(
        label=_("Notes for the desk"),
        max_length=input_limits.NOTES,
        widget=forms.Textarea(attrs={"rows": 2}),
        required=False,
    )
    consent = forms.BooleanField(label=_("The patient (or representative) consents to this referral"), required=False)

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        self.user = user
        self.fields["product"].queryset = user.region.products.all()
        allowed = ORIGINS_BY_ROLE.get(user.role, set())
        self.fields["origin"].choices = [(value, label) for value, label in Origin.choices if value in allowed]
        if not self.is_bound and not self.initial.get("submit_token"):
            self.initial["submit_token"] = uuid.uuid4().hex

    def clean_bsn(self):
        return clean_bsn(self.cleaned_data["bsn"])

    def clean_postcode(self):
        postcode = normalise_postcode(self.cleaned_data["postcode"])
        postcode_area(postcode)  # an unknown area cannot be matched by distance
        return postcode

    def clean_date_of_birth(self):
        return clean_date_of_birth(self.cleaned_data["date_of_birth"])

    def clean_planned_date(self):
        return clean_planned_date(self.cleaned_data.get("planned_date"))

    def clean(self):
        cleaned = super().clean()
        for name, messages in referral_errors(cleaned, role=self.user.role, region=self.user.region).items():
            if name not in self.errors:
                for message in messages:
                    self.add_error(name if name in self.fields else None, message)
        return cleaned


class StepForm(forms.Form):
    target = forms.ChoiceField(choices=State.choices)
    reason = forms.CharField(
        label=_("Reason"), required=False, max_length=input_limits.REASON, widget=forms.Textarea(attrs={"rows": 2})
    )
    redirect_target = forms.ChoiceField(
        label=_("Redirect to"),
        choices=[("", "—"), *RedirectTarget.choices],
        required=False,
        widget=PlainSelect,  # on every view of an open referral's page
    )


class OfferSendForm(forms.Form):
    capacity = forms.IntegerField(widget=forms.HiddenInput, min_value=1, max_value=input_limits.BIG_ID)
    # Needed only for a location without a planner (referrals.offer_reachability).
    confirm_unreachable = forms.BooleanField(label=_("I will phone them"), required=False)


class OfferAcceptForm(forms.Form):
    admission_at = forms.DateTimeField(
        label=_("Expected admission"),
        widget=DATETIME_INPUT,
        input_formats=DATETIME_FORMATS,
        help_text=_("When can the patient come?"),
    )
    # Whether the time is plausible is services.offer_accept's rule, shared with API and FHIR.


class OfferDeclineForm(forms.Form):
    reason = forms.ChoiceField(label=_("Reason"), choices=[("", _("Choose a reason")), *DeclineReason.choices])
    text = forms.CharField(
        label=_("Explanation"), required=False, max_length=input_limits.REASON, widget=forms.Textarea(attrs={"rows": 2})
    )

    def clean(self):
        cleaned = super().clean()
        if cleaned.get("reason") == DeclineReason.OTHER and not cleaned.get("text", "").strip():
            self.add_error("text", _("Explain the reason."))
        return cleaned


class NoShowForm(forms.Form):
    reason = forms.CharField(
        label=_("Reason"), required=False, max_length=input_limits.REASON, widget=forms.Textarea(attrs={"rows": 2})
    )


class AdmitForm(forms.Form):
    admitted_at = forms.DateTimeField(label=_("Admitted at"), widget=DATETIME_INPUT, input_formats=DATETIME_FORMATS)


class DischargeForm(forms.Form):
    discharged_at = forms.DateTimeField(label=_("Discharged at"), widget=DATETIME_INPUT, input_formats=DATETIME_FORMATS)
    destination = forms.ChoiceField(
        label=_("Discharged to"), choices=[("", _("Choose")), *DischargeDestination.choices]
    )
