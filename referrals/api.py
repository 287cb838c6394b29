"""Referral API v1: the same services, rules and visibility as the pages."""

from django.shortcuts import get_object_or_404
from django.utils import timezone
from django.utils.translation import gettext as _
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers, status
from rest_framework.exceptions import PermissionDenied, ValidationError
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.models import Role
from accounts.permissions import role_permission
from audit.trail import AuditedApiMixin
from beds.models import Capacity
from elvdesk import input_limits
from elvdesk.api_schema import ERROR_RESPONSES
from elvdesk.input_guard import IDEMPOTENCY_KEY_PATTERN
from providers.models import Feature, Insurer, Product
from providers.postcodes import normalise_postcode, postcode_area
from referrals import services
from referrals.cross_region import capacity_to_offer
from referrals.matching import match_locations
from referrals.models import (
    DeclineReason,
    DischargeDestination,
    Offer,
    OfferState,
    Origin,
    RedirectTarget,
    Sex,
    State,
    Urgency,
)
from referrals.offer_reachability import offer_capacities, offer_reachability_check
from referrals.selectors import (
    offer_for_provider,
    referral_for_user,
    referral_list,
    referral_row_for_user,
    referrals_visible_to,
)
from referrals.validation import clean_bsn, clean_date_of_birth, clean_planned_date

REFERRERS = (Role.GP, Role.TRANSFER_NURSE)
CAN_SEE_REFERRALS = (*REFERRERS, Role.PROVIDER_STAFF, Role.COORDINATOR)


class PatientOutput(serializers.Serializer):
    bsn = serializers.CharField(allow_null=True)
    name = serializers.CharField()
    initials = serializers.CharField()
    date_of_birth = serializers.DateField(allow_null=True)
    sex = serializers.CharField()
    postcode = serializers.CharField()
    insurer = serializers.CharField(source="insurer.uzovi", allow_null=True, default=None)


class OfferOutput(serializers.Serializer):
    id = serializers.IntegerField()
    referral = serializers.IntegerField(source="referral_id")
    location = serializers.IntegerField(source="location_id")
    location_name = serializers.CharField(source="location.name")
    product = serializers.CharField(source="product.code")
    state = serializers.CharField()
    created_at = serializers.DateTimeField()
    expires_at = serializers.DateTimeField()
    answered_at = serializers.DateTimeField(allow_null=True)
    decline_reason = serializers.CharField(allow_blank=True)
    decline_text = serializers.CharField(allow_blank=True)
    admission_at = serializers.DateTimeField(allow_null=True)


class EventOutput(serializers.Serializer):
    from_state = serializers.CharField()
    to_state = serializers.CharField()
    at = serializers.DateTimeField()
    actor = serializers.CharField(allow_null=True, default=None)
    reason = serializers.CharField(allow_blank=True)


class ReferralOutput(serializers.Serializer):
    id = serializers.IntegerField()
    state = serializers.CharField()
    patient = PatientOutput()
    organisation = serializers.CharField(source="organisation.name")
    origin = serializers.CharField()
    product = serializers.CharField(source="product.code")
    urgency = serializers.CharField()
    planned_date = serializers.DateField(allow_null=True)
    created_at = serializers.DateTimeField()
    state_changed_at = serializers.DateTimeField()


class ReferralDetailOutput(ReferralOutput):
    care_needs = serializers.SerializerMethodField()
    wakeful_eye = serializers.BooleanField()
    unplannable_nursing = serializers.BooleanField()
    adl_taken_over = serializers.BooleanField()
    medical_reason = serializers.CharField()
    carer_contact = serializers.CharField(allow_blank=True)
    notes = serializers.CharField(allow_blank=True)
    redirect_target = serializers.CharField(allow_blank=True)
    close_reason = serializers.CharField(allow_blank=True)
    offers = OfferOutput(many=True, source="offers.all")
    events = EventOutput(many=True, source="events.all")

    def get_care_needs(self, referral) -> list[str]:
        return [feature.code for feature in referral.care_needs.all()]


class ReferralListCreateApi(AuditedApiMixin, APIView):
    permission_classes = [role_permission(*CAN_SEE_REFERRALS)]
    audit_actions = {"get": "search", "post": "create"}
    audit_referral_kwarg = None

    class Input(serializers.Serializer):
        bsn = serializers.CharField(max_length=11)
        name = serializers.CharField(max_length=150)
        date_of_birth = serializers.DateField(validators=[clean_date_of_birth])
        sex = serializers.ChoiceField(choices=Sex.choices)
        postcode = serializers.CharField(max_length=7)
        insurer = serializers.SlugRelatedField(slug_field="uzovi", queryset=Insurer.objects.all())
        origin = serializers.ChoiceField(choices=Origin.choices)
        product = serializers.SlugRelatedField(slug_field="code", queryset=Product.objects.all())
        urgency = serializers.ChoiceField(choices=Urgency.choices)
        planned_date = serializers.DateField(required=False, allow_null=True, validators=[clean_planned_date])
        wakeful_eye = serializers.BooleanField(default=False)
        unplannable_nursing = serializers.BooleanField(default=False)
        adl_taken_over = serializers.BooleanField(default=False)
        care_needs = serializers.SlugRelatedField(
            slug_field="code", queryset=Feature.objects.all(), many=True, required=False
        )
        needs_hospital_care = serializers.BooleanField(default=False)
        wlz_indication = serializers.BooleanField(default=False)
        life_expectancy_short = serializers.BooleanField(default=False)
        carer_relief_only = serializers.BooleanField(default=False)
        trainable_after_hospital = serializers.BooleanField(default=False)
        needs_elderly_care_specialist = serializers.BooleanField(default=False)
        medical_reason = serializers.CharField(max_length=input_limits.MEDICAL_REASON)
        consent = serializers.BooleanField()
        carer_contact = serializers.CharField(max_length=200, required=False, allow_blank=True, default="")
        notes = serializers.CharField(max_length=input_limits.NOTES, required=False, allow_blank=True, default="")

        def validate_bsn(self, value):
            return clean_bsn(value)

        def validate_postcode(self, value):
            postcode = normalise_postcode(value)
            postcode_area(postcode)
            return postcode

    @extend_schema(
        parameters=[
            OpenApiParameter("state", str, enum=State.values),
            OpenApiParameter("all", bool, description="Include closed referrals"),
        ],
        responses={200: ReferralOutput(many=True), **ERROR_RESPONSES},
    )
    def get(self, request):
        state = request.query_params.get("state")
        if state is not None and state not in State.values:
            raise ValidationError({"state": [_("Unknown state.")]})
        include_closed = request.query_params.get("all", "false")
        if include_closed not in ("true", "false", "1", "0"):
            raise ValidationError({"all": [_("Use true or false.")]})
        open_only = include_closed in ("false", "0")
        referrals = list(referral_list(request.user, open_only=open_only, state=state)[:500])
        request.audit.add(*referrals)
        return Response(ReferralOutput(referrals, many=True).data)

    @extend_schema(
        request=Input,
        parameters=[
            OpenApiParameter(
                "Idempotency-Key",
                {"type": "string", "maxLength": input_limits.IDEMPOTENCY_KEY, "pattern": IDEMPOTENCY_KEY_PATTERN},
                location=OpenApiParameter.HEADER,
                description="Send the same key again (retry) to get the first referral back instead of a second.",
            )
        ],
        responses={201: ReferralDetailOutput, 200: ReferralDetailOutput, **ERROR_RESPONSES},
    )
    def post(self, request):
        if request.user.role not in REFERRERS:
            raise PermissionDenied(_("Only GPs and transfer nurses refer patients."))
        serializer = self.Input(data=request.data)
        serializer.is_valid(raise_exception=True)
        referral, created = services.referral_submit(
            by=request.user,
            data=serializer.validated_data,
            idempotency_key=request.headers.get("Idempotency-Key") or None,
        )
        referral = referral_for_user(request.user, referral.pk)
        request.audit.add(referral)
        return Response(
            ReferralDetailOutput(referral).data, status=status.HTTP_201_CREATED if created else status.HTTP_200_OK
        )


class ReferralDetailApi(AuditedApiMixin, APIView):
    permission_classes = [role_permission(*CAN_SEE_REFERRALS)]
    audit_actions = {"get": "read"}

    @extend_schema(responses={200: ReferralDetailOutput, **ERROR_RESPONSES})
    def get(self, request, pk: int):
        referral = referral_for_user(request.user, pk)
        request.audit.add(referral)
        return Response(ReferralDetailOutput(referral).data)


class ReferralTransitionApi(AuditedApiMixin, APIView):
    """Triage, start the search, cancel or redirect (with a reason)."""

    permission_classes = [role_permission(Role.COORDINATOR, *REFERRERS)]
    audit_actions = {"post": "update"}

    class Input(serializers.Serializer):
        to = serializers.ChoiceField(choices=[State.TRIAGE, State.SEARCHING, State.CANCELLED, State.REDIRECTED])
        reason = serializers.CharField(max_length=input_limits.REASON, required=False, allow_blank=True, default="")
        redirect_target = serializers.ChoiceField(choices=RedirectTarget.choices, required=False, default="")

    @extend_schema(request=Input, responses={200: ReferralDetailOutput, **ERROR_RESPONSES})
    def post(self, request, pk: int):
        referral = referral_for_user(request.user, pk)
        request.audit.add(referral)
        serializer = self.Input(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        services.referral_step(
            referral=referral,
            target=data["to"],
            by=request.user,
            reason=data["reason"],
            redirect_target=data["redirect_target"],
        )
        return Response(ReferralDetailOutput(referral_for_user(request.user, pk)).data)


class MatchOutput(serializers.Serializer):
    location = serializers.IntegerField(source="location.id")
    location_name = serializers.CharField(source="location.name")
    capacity = serializers.IntegerField(source="capacity.id")
    free = serializers.IntegerField(source="capacity.free")
    distance_km = serializers.FloatField(allow_null=True)
    contracted = serializers.BooleanField(help_text="The patient's insurer contracts this location.")
    stale = serializers.BooleanField(
        help_text="The count was not confirmed within the region's freshness limit; such a location always "
        "ranks after every confirmed one."
    )
    preferred = serializers.BooleanField(help_text="The location the referrer chose on the bed overview.")
    reasons = serializers.ListField(child=serializers.CharField())
    warnings = serializers.ListField(child=serializers.CharField())


class ReferralMatchesApi(AuditedApiMixin, APIView):
    """Locations ranked for a referral, each with its reasons in words."""

    permission_classes = [role_permission(Role.COORDINATOR, *REFERRERS)]
    audit_actions = {"get": "read"}

    @extend_schema(responses={200: MatchOutput(many=True), **ERROR_RESPONSES})
    def get(self, request, pk: int):
        referral = referral_for_user(request.user, pk)
        request.audit.add(referral)
        return Response(MatchOutput(match_locations(referral=referral), many=True).data)


class ReferralOfferCreateApi(AuditedApiMixin, APIView):
    """Send an offer to one location (holds one bed until answered or expired)."""

    permission_classes = [role_permission(Role.COORDINATOR, *REFERRERS)]
    audit_actions = {"post": "update"}

    class Input(serializers.Serializer):
        capacity = serializers.IntegerField(min_value=1, max_value=input_limits.BIG_ID)
        confirm_unreachable = serializers.BooleanField(
            default=False,
            help_text="The location has no active planner, so nobody there hears of the offer in the "
            "portal; true: you will phone them, send it anyway. Without it such an offer is refused "
            "with 409 provider_unreachable (and nothing is held).",
        )

    @extend_schema(request=Input, responses={201: OfferOutput, **ERROR_RESPONSES})
    def post(self, request, pk: int):
        referral = referral_row_for_user(request.user, pk)
        request.audit.add(referral)
        serializer = self.Input(data=request.data)
        serializer.is_valid(raise_exception=True)
        capacity = capacity_to_offer(
            offer_capacities(Capacity.objects.all()), pk=serializer.validated_data["capacity"], referral=referral
        )
        offer_reachability_check(capacity=capacity, confirmed=serializer.validated_data["confirm_unreachable"])
        offer = services.offer_create(referral=referral, capacity=capacity, by=request.user)
        return Response(OfferOutput(offer).data, status=status.HTTP_201_CREATED)


class OfferListApi(AuditedApiMixin, APIView):
    """Providers: offers to their locations. Referrers and the desk: offers for referrals they see."""

    permission_classes = [role_permission(*CAN_SEE_REFERRALS)]
    audit_actions = {"get": "read"}
    audit_referral_kwarg = None

    @extend_schema(
        parameters=[OpenApiParameter("state", str, enum=OfferState.values)],
        responses={200: OfferOutput(many=True), **ERROR_RESPONSES},
    )
    def get(self, request):
        offers = Offer.objects.select_related("location", "product").order_by("-created_at")
        if request.user.role == Role.PROVIDER_STAFF:
            offers = offers.filter(location__organisation_id=request.user.organisation_id)
        else:
            offers = offers.filter(referral__in=referrals_visible_to(request.user).values("pk"))
        state = request.query_params.get("state")
        if state is not None:
            if state not in OfferState.values:
                raise ValidationError({"state": [_("Unknown state.")]})
            offers = offers.filter(state=state)
        offers = list(offers.select_related("referral")[:500])
        request.audit.add(*{offer.referral for offer in offers})
        return Response(OfferOutput(offers, many=True).data)


class OfferAcceptApi(AuditedApiMixin, APIView):
    permission_classes = [role_permission(Role.PROVIDER_STAFF)]
    audit_actions = {"post": "update"}
    audit_referral_kwarg = None
    audit_offer_kwarg = "pk"

    class Input(serializers.Serializer):
        admission_at = serializers.DateTimeField(required=False, allow_null=True)

    @extend_schema(request=Input, responses={200: OfferOutput, **ERROR_RESPONSES})
    def post(self, request, pk: int):
        offer = offer_for_provider(request.user, pk)
        request.audit.add(offer.referral)
        serializer = self.Input(data=request.data)
        serializer.is_valid(raise_exception=True)
        offer = services.offer_accept(
            offer=offer, by=request.user, admission_at=serializer.validated_data.get("admission_at")
        )
        return Response(OfferOutput(offer).data)


class OfferDeclineApi(AuditedApiMixin, APIView):
    permission_classes = [role_permission(Role.PROVIDER_STAFF)]
    audit_actions = {"post": "update"}
    audit_referral_kwarg = None
    audit_offer_kwarg = "pk"

    class Input(serializers.Serializer):
        reason = serializers.ChoiceField(choices=DeclineReason.choices)
        text = serializers.CharField(max_length=input_limits.REASON, required=False, allow_blank=True, default="")

    @extend_schema(request=Input, responses={200: OfferOutput, **ERROR_RESPONSES})
    def post(self, request, pk: int):
        offer = offer_for_provider(request.user, pk)
        request.audit.add(offer.referral)
        serializer = self.Input(data=request.data)
        serializer.is_valid(raise_exception=True)
        offer = services.offer_decline(offer=offer, by=request.user, **serializer.validated_data)
        offer.refresh_from_db()
        return Response(OfferOutput(offer).data)


class StayOutput(serializers.Serializer):
    referral = serializers.IntegerField(source="referral_id")
    location = serializers.IntegerField(source="location_id")
    product = serializers.CharField(
        source="capacity.product.code",
        help_text="The product the patient has now: the booked one, or the last product change's.",
    )
    admitted_at = serializers.DateTimeField()
    discharged_at = serializers.DateTimeField(allow_null=True)
    discharge_destination = serializers.CharField(allow_blank=True)


def _provider_referral(request, pk: int):
    referral = referral_for_user(request.user, pk)
    request.audit.add(referral)
    get_object_or_404(
        Offer, referral=referral, state=OfferState.ACCEPTED, location__organisation_id=request.user.organisation_id
    )
    return referral


class ReferralAdmissionApi(AuditedApiMixin, APIView):
    permission_classes = [role_permission(Role.PROVIDER_STAFF)]
    audit_actions = {"post": "update"}

    class Input(serializers.Serializer):
        admitted_at = serializers.DateTimeField(required=False)

    @extend_schema(request=Input, responses={201: StayOutput, **ERROR_RESPONSES})
    def post(self, request, pk: int):
        referral = _provider_referral(request, pk)
        serializer = self.Input(data=request.data)
        serializer.is_valid(raise_exception=True)
        stay = services.stay_admit(
            referral=referral,
            by=request.user,
            admitted_at=serializer.validated_data.get("admitted_at") or timezone.now(),
        )
        return Response(StayOutput(stay).data, status=status.HTTP_201_CREATED)


class ReferralNoShowApi(AuditedApiMixin, APIView):
    """The booked patient did not arrive: the bed goes back and the referral is cancelled. The
    booking's provider or the desk records it."""

    permission_classes = [role_permission(Role.PROVIDER_STAFF, Role.COORDINATOR)]
    audit_actions = {"post": "update"}

    class Input(serializers.Serializer):
        reason = serializers.CharField(max_length=input_limits.REASON)

    @extend_schema(request=Input, responses={200: ReferralDetailOutput, **ERROR_RESPONSES})
    def post(self, request, pk: int):
        if request.user.role == Role.PROVIDER_STAFF:
            referral = _provider_referral(request, pk)
        else:
            referral = referral_for_user(request.user, pk)
            request.audit.add(referral)
        serializer = self.Input(data=request.data)
        serializer.is_valid(raise_exception=True)
        services.offer_no_show(referral=referral, by=request.user, reason=serializer.validated_data["reason"])
        return Response(ReferralDetailOutput(referral_for_user(request.user, pk)).data)


class ReferralDischargeApi(AuditedApiMixin, APIView):
    permission_classes = [role_permission(Role.PROVIDER_STAFF)]
    audit_actions = {"post": "update"}

    class Input(serializers.Serializer):
        discharged_at = serializers.DateTimeField(required=False)
        destination = serializers.ChoiceField(choices=DischargeDestination.choices)

    @extend_schema(request=Input, responses={200: StayOutput, **ERROR_RESPONSES})
    def post(self, request, pk: int):
        referral = _provider_referral(request, pk)
        serializer = self.Input(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        stay = services.stay_discharge(
            referral=referral,
            by=request.user,
            discharged_at=data.get("discharged_at") or timezone.now(),
            destination=data["destination"],
        )
        return Response(StayOutput(stay).data)


class ReferralProductChangeApi(AuditedApiMixin, APIView):
    """Op- of afschaling: the admitted patient's product changes at the same location (hoog ↔ laag,
    to palliatief); the bed moves to the new product's count, which needs a free bed (else 409
    no_free_bed). The booking's provider or the region's desk records it."""

    permission_classes = [role_permission(Role.PROVIDER_STAFF, Role.COORDINATOR)]
    audit_actions = {"post": "update"}

    class Input(serializers.Serializer):
        product = serializers.SlugRelatedField(
            slug_field="code",
            queryset=Product.objects.all(),
            help_text="Product code, e.g. elv_laag; the location must have a bed count for it.",
        )
        reason = serializers.CharField(max_length=input_limits.REASON, required=False, allow_blank=True, default="")

    @extend_schema(request=Input, responses={200: StayOutput, **ERROR_RESPONSES})
    def post(self, request, pk: int):
        if request.user.role == Role.PROVIDER_STAFF:
            referral = _provider_referral(request, pk)
        else:
            referral = referral_for_user(request.user, pk)
            request.audit.add(referral)
        serializer = self.Input(data=request.data)
        serializer.is_valid(raise_exception=True)
        change = services.stay_product_change(referral=referral, by=request.user, **serializer.validated_data)
        return Response(StayOutput(change.stay).data)
