"""OpenAPI descriptions shared by every API view."""

from drf_spectacular import openapi
from drf_spectacular.utils import OpenApiResponse, extend_schema_field
from rest_framework import serializers


class ErrorDetail(serializers.Serializer):
    status = serializers.IntegerField()
    code = serializers.CharField()
    message = serializers.CharField()
    fields = serializers.DictField(child=serializers.ListField(child=serializers.CharField()), required=False)


class ErrorResponse(serializers.Serializer):
    error = ErrorDetail()


@extend_schema_field({"type": "string", "pattern": r"^([01][0-9]|2[0-3]):[0-5][0-9](:[0-5][0-9](\.[0-9]+)?)?$"})
class LocalTimeField(serializers.TimeField):
    """A wall-clock time such as "08:00:00". OpenAPI's `format: time` would demand a UTC offset,
    which a local opening hour does not have."""


ERROR_RESPONSES = {
    400: OpenApiResponse(ErrorResponse, description="Invalid input; `fields` names each wrong field."),
    401: OpenApiResponse(ErrorResponse, description="Not authenticated."),
    403: OpenApiResponse(ErrorResponse, description="Your role may not do this."),
    404: OpenApiResponse(ErrorResponse, description="Not found, or not visible to your organisation."),
    409: OpenApiResponse(ErrorResponse, description="Conflict: changed in the meantime, or not allowed in this state."),
}


class AutoSchema(openapi.AutoSchema):
    """Names components after the view that nests them ("OfferAcceptApi.Input" becomes
    "OfferAcceptApiInput"), so the nested Input/Output serializers of every view stay distinct."""

    def get_serializer_name(self, serializer, direction):
        return type(serializer).__qualname__.replace(".", "")
