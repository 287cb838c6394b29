"""GET /api/v1/: where an integrator starts. Only links (the resources, the OpenAPI schema, the
documentation, the FHIR interface), no data, so it is open without signing in, like the schema."""

from django.urls import reverse
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

# The collections an integrator can start from; the other resources hang below them.
RESOURCES = {
    "locations": "api-locations",
    "capacity_bulk": "api-capacity-bulk",
    "referrals": "api-referrals",
    "offers": "api-offers",
}


class ApiRootApi(APIView):
    authentication_classes = []
    permission_classes = [AllowAny]

    class Output(serializers.Serializer):
        resources = serializers.DictField(child=serializers.URLField())
        schema = serializers.URLField()
        docs = serializers.URLField()
        fhir = serializers.URLField()
        authentication = serializers.CharField()

    @extend_schema(responses={200: Output}, summary="API root: links to the resources and the documentation")
    def get(self, request):
        def link(name: str) -> str:
            return request.build_absolute_uri(reverse(name))

        data = {
            "resources": {key: link(name) for key, name in RESOURCES.items()},
            "schema": link("api-schema"),
            "docs": link("api-docs"),
            "fhir": link("fhir:metadata"),
            "authentication": (
                "Authorization: Token <key> (a user's API token), or a signed-in session; "
                "provider systems on capacity_bulk: Authorization: Api-Key <prefix>.<secret>"
            ),
        }
        return Response(self.Output(data).data)
