from django.core.exceptions import ValidationError as DjangoValidationError
from django.shortcuts import get_object_or_404
from django.utils.translation import gettext as _
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers
from rest_framework.exceptions import ValidationError
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.models import BED_FINDER_ROLES, Role
from accounts.permissions import role_permission
from beds import services
from beds.forms import OverviewFilterForm
from beds.models import Capacity, ChangeSource
from beds.selectors import OverviewFilters, organisation_locations, region_overview
from elvdesk import input_limits
from elvdesk.api_schema import ERROR_RESPONSES, LocalTimeField
from elvdesk.page_cache import cached_data


class CapacityOutput(serializers.Serializer):
    id = serializers.IntegerField()
    product = serializers.CharField(source="product.code")
    total = serializers.IntegerField()
    available = serializers.IntegerField()
    held = serializers.IntegerField()
    free = serializers.IntegerField()
    expected_24h = serializers.IntegerField()
    expected_72h = serializers.IntegerField()
    reserved = serializers.IntegerField(
        help_text="Beds reserved for planned admissions on a later day; not yet taken off `available`."
    )
    confirmed_at = serializers.DateTimeField(allow_null=True)
    stale = serializers.BooleanField()
    version = serializers.IntegerField()


class LocationListApi(APIView):
    """Locations with their bed counts. Referrers and the desk see their region, filtered as on
    the overview page; provider staff see their own organisation's locations."""

    permission_classes = [role_permission(*BED_FINDER_ROLES, Role.PROVIDER_STAFF)]

    class OrganisationOutput(serializers.Serializer):
        id = serializers.IntegerField()
        name = serializers.CharField()
        agb_code = serializers.CharField(allow_null=True)

    class Output(serializers.Serializer):
        id = serializers.IntegerField()
        name = serializers.CharField()
        organisation = serializers.SerializerMethodField()
        street = serializers.CharField()
        postcode = serializers.CharField()
        city = serializers.CharField()
        latitude = serializers.FloatField(allow_null=True)
        longitude = serializers.FloatField(allow_null=True)
        distance_km = serializers.FloatField(allow_null=True, required=False, default=None)
        phone_24_7 = serializers.CharField()
        admission_24_7 = serializers.BooleanField()
        admission_from = LocalTimeField(allow_null=True)
        admission_until = LocalTimeField(allow_null=True)
        # A method field rather than SlugRelatedField: without a model serializer or queryset,
        # drf-spectacular could not build the schema (/api/schema/ answered 500).
        features = serializers.SerializerMethodField()
        capacities = CapacityOutput(many=True, source="capacities.all")

        def get_features(self, location) -> list[str]:
            return [feature.code for feature in location.features.all()]

        def get_organisation(self, location) -> dict:
            organisation = location.organisation
            return {"id": organisation.id, "name": organisation.name, "agb_code": organisation.agb_code}

    @extend_schema(
        parameters=[
            OpenApiParameter("product", str, description="Product code, e.g. elv_hoog"),
            OpenApiParameter(
                "postcode",
                {"type": "string", "maxLength": 7},
                description="Patient's postcode or PC4; results nearest first",
            ),
            OpenApiParameter(
                "max_km", {"type": "integer", "minimum": 1, "maximum": 300}, description="Needs `postcode`"
            ),
            OpenApiParameter("insurer", str, description="UZOVI code of a contracted insurer"),
            OpenApiParameter("features", str, many=True, description="Required feature codes"),
            OpenApiParameter("only_free", bool),
        ],
        responses={200: Output(many=True), **ERROR_RESPONSES},
    )
    def get(self, request):
        user = request.user
        # Validated for every role, so a wrong filter is refused even where it would be ignored.
        form = OverviewFilterForm(request.query_params, region=user.region)
        if not form.is_valid():
            raise ValidationError({name: list(errors) for name, errors in form.errors.items()})
        if request.query_params.get("only_free", "false") not in ("true", "false", "1", "0"):
            # The page's checkbox sends "on"; the API takes a boolean only.
            raise ValidationError({"only_free": [_("Use true or false.")]})
        # What provider and hospital systems poll: one cached answer per region and question
        # (elvdesk/page_cache.py); a provider's staff get their own organisation's locations.
        own = user.organisation_id if user.role == Role.PROVIDER_STAFF else None
        data = cached_data(
            name="api-locations",
            region_id=user.organisation.region_id,
            question=[own, sorted((key, sorted(values)) for key, values in request.query_params.lists())],
            compute=lambda: self.Output(self._locations(user, form), many=True).data,
        )
        return Response(data)

    @staticmethod
    def _locations(user, form: OverviewFilterForm):
        if user.role == Role.PROVIDER_STAFF:
            return organisation_locations(organisation=user.organisation)
        return region_overview(region=user.region, filters=OverviewFilters.from_cleaned(form.cleaned_data))


class CapacityDetailApi(APIView):
    """One bed count of the caller's own organisation. PATCH sets counts; send the `version`
    you read to be refused (409) instead of overwriting a newer change."""

    permission_classes = [role_permission(Role.PROVIDER_STAFF)]

    class Input(serializers.Serializer):
        rejects_unknown_fields = True  # see validate(); the schema says additionalProperties: false

        total = serializers.IntegerField(min_value=0, max_value=input_limits.BED_COUNT, required=False)
        available = serializers.IntegerField(min_value=0, max_value=input_limits.BED_COUNT, required=False)
        expected_24h = serializers.IntegerField(min_value=0, max_value=input_limits.BED_COUNT, required=False)
        expected_72h = serializers.IntegerField(min_value=0, max_value=input_limits.BED_COUNT, required=False)
        version = serializers.IntegerField(min_value=1, max_value=input_limits.POSITIVE_INT, required=False)

        def validate(self, attrs):
            unknown = set(self.initial_data) - set(self.fields)
            if unknown:
                message = _("This field cannot be set here; held beds change only through offers.")
                raise ValidationError({name: [message] for name in sorted(unknown)})
            return attrs

    def _get_capacity(self, request, pk: int) -> Capacity:
        capacity = get_object_or_404(
            Capacity.objects.select_related("product", "location__organisation__region"),
            pk=pk,
            location__organisation=request.user.organisation,
        )
        capacity.stale = capacity.is_stale(stale_after_hours=capacity.location.organisation.region.stale_after_hours)
        return capacity

    @extend_schema(responses={200: CapacityOutput, **ERROR_RESPONSES})
    def get(self, request, pk: int):
        return Response(CapacityOutput(self._get_capacity(request, pk)).data)

    @extend_schema(request=Input, responses={200: CapacityOutput, **ERROR_RESPONSES})
    def patch(self, request, pk: int):
        capacity = self._get_capacity(request, pk)
        serializer = self.Input(data=request.data)
        serializer.is_valid(raise_exception=True)
        counts = dict(serializer.validated_data)
        expected_version = counts.pop("version", None)
        if not counts:
            raise ValidationError({"non_field_errors": [_("Send at least one count to change.")]})
        try:
            capacity = services.capacity_update(
                capacity_id=capacity.pk,
                by=request.user,
                counts=counts,
                source=ChangeSource.API,
                expected_version=expected_version,
            )
        except DjangoValidationError as error:
            raise ValidationError(error.message_dict) from None
        return Response(CapacityOutput(self._get_capacity(request, capacity.pk)).data)
