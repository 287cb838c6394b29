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
    "OfferAcceptApiInput"), so the nested Input/Output serializers of every view stay distinct.

    Two input rules the API enforces are stated in the schema too (the fuzz tests in tests/api/
    hold the API to its schema): a text field that may not be blank needs a character that is not
    whitespace, because DRF trims the input first; and an input serializer with
    `rejects_unknown_fields = True` (its `validate` refuses undeclared keys) allows no other
    properties."""

    def get_serializer_name(self, serializer, direction):
        return type(serializer).__qualname__.replace(".", "")

    def _map_serializer(self, serializer, direction, bypass_extensions=False):
        schema = super()._map_serializer(serializer, direction, bypass_extensions)
        if direction == "request" and getattr(serializer, "rejects_unknown_fields", False):
            schema["additionalProperties"] = False
        return schema

    def _map_serializer_field(self, field, direction, bypass_extensions=False):
        schema = super()._map_serializer_field(field, direction, bypass_extensions)
        if (
            direction == "request"
            and isinstance(field, serializers.CharField)
            and field.trim_whitespace
            and not field.allow_blank
            and schema.get("type") == "string"
            and not {"pattern", "format", "enum"} & set(schema)
        ):
            schema["pattern"] = r"\S"
        return schema
