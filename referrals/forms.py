import uuid

from django import forms
from django.utils.translation import gettext_lazy as _

from accounts.models import Role
from elvdesk import input_limits
from elvdesk.forms import ListedModelChoiceField, PlainSelect, RefusesNulCharacters
from providers.models import Feature, Insurer, Product
from providers.postcodes import normalise_postcode, postcode_area
from referrals.models import DeclineReason, DischargeDestination, Origin, RedirectTarget, Sex, State, Urgency
from referrals.selectors import preferred_location_for
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

# The usual case per role, preselected (issue 17, fewer steps): a GP's patient needs a bed today;
# a transfer nurse's patient leaves the ward on a planned date. Her date is not guessed: a wrong
# default would reserve a bed for the wrong day (docs/architecture.md §2.12), so she types it.
DEFAULT_URGENCY = {Role.GP: Urgency.TODAY, Role.TRANSFER_NURSE: Urgency.PLANNED}
DEFAULT_ORIGIN = {Role.TRANSFER_NURSE: Origin.WARD}


class ReferralForm(RefusesNulCharacters, forms.Form):
    """The referral as a GP or transfer nurse types it. Only cleans; the service decides."""

    submit_token = forms.CharField(widget=forms.HiddenInput, required=False, max_length=input_limits.IDEMPOTENCY_KEY)
    draft_id = forms.IntegerField(widget=forms.HiddenInput, required=False, min_value=1, max_value=input_limits.BIG_ID)
    # Chosen on the bed overview ("Refer to this location"); resolved in clean(): an id that does not
    # fit is ignored. Only text no link makes (longer than any id) is refused, as hostile input.
    preferred_location = forms.CharField(
        label=_("Preferred location"), widget=forms.HiddenInput, required=False, max_length=20
    )
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
        # What the role already tells is not asked: a GP's patient is at home. The template leaves
        # the field out (it shows only to explain an error about it); clean_origin fills it in.
        self.implicit_origin = next(iter(allowed)) if len(allowed) == 1 else None
        if self.implicit_origin:
            self.fields["origin"].required = False
        self.fields["origin"].initial = DEFAULT_ORIGIN.get(user.role)
        self.fields["urgency"].initial = DEFAULT_URGENCY.get(user.role)
        if not self.is_bound and not self.initial.get("submit_token"):
            self.initial["submit_token"] = uuid.uuid4().hex

    def clean_bsn(self):
        return clean_bsn(self.cleaned_data["bsn"])

    def clean_origin(self):
        return self.cleaned_data["origin"] or self.implicit_origin or ""

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
        # A location that does not fit (any more) is simply not preferred: the desk still ranks all.
        cleaned["preferred_location"] = preferred_location_for(
            region=self.user.region, location_id=cleaned.get("preferred_location"), product=cleaned.get("product")
        )
        for name, messages in referral_errors(cleaned, role=self.user.role, region=self.user.region).items():
            if name not in self.errors:
                for message in messages:
                    self.add_error(name if name in self.fields else None, message)
        return cleaned


class ReferralPrefillForm(forms.Form):
    """The query string of "Refer to this location" on the bed overview: what the overview
    already knew, as initial values of the referral form. Only the values that clean are used: a
    stale or hand-edited link fills in less, it never fails."""

    location = forms.IntegerField(required=False, min_value=1, max_value=input_limits.BIG_ID)
    product = ListedModelChoiceField(queryset=Product.objects.none(), to_field_name="code", required=False)
    postcode = forms.CharField(required=False, max_length=7)
    features = forms.Field(required=False, widget=forms.MultipleHiddenInput)

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        self.user = user
        self.fields["product"].queryset = user.region.products.all()

    def clean_postcode(self):
        value = self.cleaned_data["postcode"].strip()
        if not value:
            return ""
        area = postcode_area(value)  # the overview accepted it, so this only refuses a hand-made link
        try:
            return normalise_postcode(value)
        except forms.ValidationError:
            return area.pc4  # the overview's bare PC4: the referrer adds the letters

    def clean_features(self):
        codes = [code for code in self.cleaned_data["features"] or [] if isinstance(code, str)][:50]
        return list(Feature.objects.filter(code__in=codes).order_by("code").values_list("code", flat=True))

    def clean(self):
        cleaned = super().clean()
        cleaned["location"] = preferred_location_for(
            region=self.user.region, location_id=cleaned.get("location"), product=cleaned.get("product")
        )
        return cleaned

    def referral_initial(self) -> dict:
        """Initial values for `ReferralForm`; a value that did not clean is left out."""
        self.is_valid()  # an error only leaves that value out
        cleaned = self.cleaned_data
        initial = {}
        if cleaned.get("product"):
            initial["product"] = cleaned["product"].code
        if cleaned.get("postcode"):
            initial["postcode"] = cleaned["postcode"]
        if cleaned.get("features"):
            initial["care_needs"] = cleaned["features"]
        if cleaned.get("location"):
            initial["preferred_location"] = cleaned["location"].pk
        return initial


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


class OfferStopForm(forms.Form):
    """The desk of the region where a cross-region offer's bed is stops it (services.offer_stop)."""

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


class ProductChangeForm(forms.Form):
    """Op- of afschaling. The page lists the other products of the stay's location; whether the
    change is possible (admitted, the location's product, a free bed) is services.stay_product_change's rule."""

    product = ListedModelChoiceField(
        label=_("New product"), queryset=Product.objects.all(), to_field_name="code", empty_label=_("Choose")
    )
    reason = forms.CharField(
        label=_("Reason"), required=False, max_length=input_limits.REASON, widget=forms.Textarea(attrs={"rows": 2})
    )
