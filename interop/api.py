"""Bulk bed counts for provider systems: GET all counts of the caller's organisation with an
ETag, PUT the counts of one or many locations at once with If-Match. Errors have the API's one
error shape (elvdesk/api_errors.py)."""

from django.utils.translation import gettext as _
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema, extend_schema_field
from rest_framework import serializers
from rest_framework.authentication import SessionAuthentication
from rest_framework.exceptions import ValidationError
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.authentication import OrganisationTokenAuthentication
from accounts.models import Role, User
from accounts.permissions import role_permission
from beds.api import CapacityOutput
from elvdesk import input_limits
from elvdesk.api_schema import ERROR_RESPONSES, ErrorResponse
from elvdesk.json_parsing import JSONParser
from interop import services
from interop.authentication import ApiKeyAuthentication, ChallengeAllSchemes
from interop.models import ApiKey
from interop.selectors import organisation_capacity_locations

MAX_LOCATIONS = 500
MAX_COUNT = input_limits.BED_COUNT
MAX_ID = input_limits.BIG_ID
PRODUCT_CODE = r"^[-a-zA-Z0-9_]+$"


def _flatten(detail, prefix: str = "") -> dict[str, list[str]]:
    """DRF's nested errors as {"locations[0].capacities[1].available": ["…"]}."""
    if isinstance(detail, list) and any(isinstance(item, (dict, list)) for item in detail):
        detail = dict(enumerate(detail))
    if isinstance(detail, dict):
        flat = {}
        for key, value in detail.items():
            if isinstance(key, int):
                path = f"{prefix}[{key}]"
            elif key == "non_field_errors":
                path = prefix
            else:
                path = f"{prefix}.{key}" if prefix else key
            if value:
                flat.update(_flatten(value, path))
        return flat
    items = detail if isinstance(detail, list) else [detail]
    return {prefix or "non_field_errors": [str(item) for item in items]}


class CapacityItemOutput(CapacityOutput):
    """The counts as the API shows them, named by location and product instead of by id."""

    id = None


class LocationCapacitiesOutput(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()
    capacities = CapacityItemOutput(many=True, source="capacities.all")


@extend_schema_field({"type": "string", "pattern": PRODUCT_CODE, "maxLength": 30})
class ProductCodeField(serializers.RegexField):
    def __init__(self, **kwargs):
        super().__init__(PRODUCT_CODE, max_length=30, **kwargs)


class StrictInput(serializers.Serializer):
    """Refuses keys it does not declare (a typo, or `held`, which changes only through offers);
    the OpenAPI schema says additionalProperties: false (elvdesk/api_schema.py)."""

    rejects_unknown_fields = True

    def to_internal_value(self, data):
        if isinstance(data, dict):
            unknown = set(data) - set(self.fields)
            if unknown:
                message = _("Unknown field; held beds change only through offers.")
                raise ValidationError({name: [message] for name in sorted(unknown)})
        return super().to_internal_value(data)


class CapacityItemInput(StrictInput):
    product = ProductCodeField(help_text="Product code, e.g. elv_hoog.")
    total = serializers.IntegerField(min_value=0, max_value=MAX_COUNT)
    available = serializers.IntegerField(min_value=0, max_value=MAX_COUNT)
    expected_24h = serializers.IntegerField(min_value=0, max_value=MAX_COUNT, required=False)
    expected_72h = serializers.IntegerField(min_value=0, max_value=MAX_COUNT, required=False)
    version = serializers.IntegerField(
        min_value=1,
        max_value=input_limits.POSITIVE_INT,
        required=False,
        help_text="Optional: refuse this item (412) unless it still has this version.",
    )


class LocationItemInput(StrictInput):
    id = serializers.IntegerField(min_value=1, max_value=MAX_ID)
    capacities = serializers.ListField(child=CapacityItemInput(), min_length=1)


class CapacityBulkApi(ChallengeAllSchemes, APIView):
    """All bed counts of the caller's organisation in one call.

    For provider planners (their token) and provider systems (`Authorization: Api-Key …`).
    GET answers with an `ETag`; PUT sets the counts of any number of products at any number of
    the organisation's locations in one transaction and needs `If-Match` with that ETag (or `*`
    to overwrite deliberately). A stale write gets 412 and changes nothing; sending the same body
    again changes nothing and adds no history.
    """

    authentication_classes = [OrganisationTokenAuthentication, ApiKeyAuthentication, SessionAuthentication]
    permission_classes = [role_permission(Role.PROVIDER_STAFF)]
    parser_classes = [JSONParser]  # nested lists: JSON only (with the nesting limit)

    class Input(StrictInput):
        locations = serializers.ListField(child=LocationItemInput(), min_length=1, max_length=MAX_LOCATIONS)

    class Output(serializers.Serializer):
        locations = LocationCapacitiesOutput(many=True)

    class PutOutput(Output):
        changed = serializers.IntegerField(help_text="Counts set to new values.")
        confirmed = serializers.IntegerField(help_text="Unchanged counts confirmed again (they were getting old).")
        unchanged = serializers.IntegerField(help_text="Counts that already had these values: nothing written.")

    def _response(self, locations, *, status: int = 200, extra: dict | None = None) -> Response:
        capacities = [capacity for location in locations for capacity in location.capacities.all()]
        body = {"locations": LocationCapacitiesOutput(locations, many=True).data, **(extra or {})}
        return Response(body, status=status, headers={"ETag": services.capacities_etag(capacities)})

    def handle_exception(self, exc):
        response = super().handle_exception(exc)
        if isinstance(exc, services.PreconditionFailed):
            response["ETag"] = exc.etag
        return response

    @extend_schema(
        parameters=[OpenApiParameter("location", int, many=True, description="Only these locations (default: all)")],
        responses={200: Output, **ERROR_RESPONSES},
    )
    def get(self, request):
        location_ids = None
        if "location" in request.query_params:
            try:
                location_ids = {int(value) for value in request.query_params.getlist("location")}
            except ValueError:
                raise ValidationError({"location": [_("Give location ids as whole numbers.")]}) from None
            impossible = {pk for pk in location_ids if not 1 <= pk <= MAX_ID}
            if impossible:
                raise services.LocationNotFound(impossible)
        locations = organisation_capacity_locations(organisation=request.user.organisation, location_ids=location_ids)
        if location_ids is not None and len(locations) != len(location_ids):
            raise services.LocationNotFound(location_ids - {location.pk for location in locations})
        return self._response(locations)

    def _targets(self, data) -> list[services.CapacityTarget]:
        serializer = self.Input(data=data)
        if not serializer.is_valid():
            raise ValidationError(_flatten(serializer.errors))
        targets = []
        for i, location in enumerate(serializer.validated_data["locations"]):
            for j, values in enumerate(location["capacities"]):
                values = dict(values)
                product = values.pop("product")
                version = values.pop("version", None)
                targets.append(
                    services.CapacityTarget(
                        location_id=location["id"],
                        product=product,
                        counts=values,
                        version=version,
                        field=f"locations[{i}].capacities[{j}]",
                    )
                )
        return targets

    @extend_schema(
        request=Input,
        parameters=[
            OpenApiParameter(
                "If-Match",
                str,
                location=OpenApiParameter.HEADER,
                required=True,
                description="The ETag of your last GET, or * to overwrite deliberately.",
                pattern=services.IF_MATCH_PATTERN,
            )
        ],
        responses={
            200: PutOutput,
            **ERROR_RESPONSES,
            412: OpenApiResponse(ErrorResponse, description="Changed in the meantime: GET again (new ETag) and retry."),
            428: OpenApiResponse(ErrorResponse, description="If-Match is missing."),
        },
    )
    def put(self, request):
        targets = self._targets(request.data)
        if_match = services.parse_if_match(request.headers.get("If-Match"))
        user = request.user
        result = services.capacity_bulk_update(
            organisation=user.organisation,
            by=user if isinstance(user, User) else None,
            api_key=request.auth if isinstance(request.auth, ApiKey) else None,
            targets=targets,
            if_match=if_match,
        )
        locations = organisation_capacity_locations(
            organisation=user.organisation, location_ids={target.location_id for target in targets}
        )
        counts = {
            "changed": len(result.changed),
            "confirmed": len(result.confirmed),
            "unchanged": len(result.unchanged),
        }
        return self._response(locations, extra=counts)
