"""GET /api/v1/planner/: the capacity planner (cockpit/planner.py) for the caller's own region,
with the query of the page. Aggregates only: coordinators and analysts."""

from django.utils.translation import gettext as _
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers
from rest_framework.exceptions import ValidationError
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.models import Role
from accounts.permissions import role_permission
from cockpit.forms import MAX_BED_CHANGES, PlannerForm
from cockpit.views import plan_for, planner_form
from elvdesk.api_schema import ERROR_RESPONSES


class PlannerPointOutput(serializers.Serializer):
    beds = serializers.IntegerField()
    probability = serializers.FloatField(help_text="Chance of no free bed, 0..1")
    is_current = serializers.BooleanField()
    is_needed = serializers.BooleanField()


class PlannerRowOutput(serializers.Serializer):
    product = serializers.CharField(source="key", help_text="Product code, or `flex` for laag and hoog pooled")
    name = serializers.CharField()
    arrivals = serializers.IntegerField(help_text="Referrals submitted in the period (drafts never)")
    arrivals_per_day = serializers.FloatField()
    discharged_stays = serializers.IntegerField()
    mean_los_days = serializers.FloatField()
    los_source = serializers.ChoiceField(choices=["history", "default", "mixed"])
    load = serializers.FloatField(help_text="Offered load in erlangs, growth included")
    beds_contracted = serializers.IntegerField()
    beds_changed = serializers.IntegerField()
    beds_today = serializers.IntegerField()
    probability = serializers.FloatField(help_text="Chance of no free bed with beds_today, 0..1")
    beds_needed = serializers.IntegerField(source="needed")
    shortfall = serializers.IntegerField(help_text="Beds needed minus beds_today (negative: to spare)")
    curve = PlannerPointOutput(many=True)


class PlannerApi(APIView):
    """Per ELV product of your region (or ELV laag and hoog pooled with `flex=true`): arrivals per
    day and mean length of stay from the period's history, the offered load, today's contracted
    beds with the what-if changes, the chance that an arriving patient finds no free bed, the beds
    needed for the target, and the curve of that chance per number of beds."""

    permission_classes = [role_permission(Role.COORDINATOR, Role.ANALYST)]

    class Output(serializers.Serializer):
        region = serializers.CharField(source="region.code")
        start = serializers.DateField(source="period.start")
        end = serializers.DateField(source="period.end")
        target = serializers.FloatField(help_text="0..1")
        growth_percent = serializers.FloatField()
        flex = serializers.BooleanField(source="pooled")
        default_los_days = serializers.FloatField()
        products = PlannerRowOutput(many=True, source="rows")

    @extend_schema(
        parameters=[
            OpenApiParameter(
                "from", {"type": "string", "format": "date"}, description="First day (default: 90 days ago)"
            ),
            OpenApiParameter("to", {"type": "string", "format": "date"}, description="Last day, not after today"),
            OpenApiParameter(
                "growth", {"type": "number", "minimum": -90, "maximum": 500}, description="Demand growth in %"
            ),
            OpenApiParameter(
                "target",
                {"type": "number", "minimum": 0.1, "maximum": 50},
                description="Target chance of no free bed in % (default 5)",
            ),
            OpenApiParameter("flex", bool, description="Pool ELV laag and hoog"),
            OpenApiParameter(
                "beds",
                {"type": "string", "minLength": 1, "maxLength": 2000},
                description=(
                    "Beds added or removed at your region's active locations: `location:product:delta` "
                    f"separated by commas, e.g. `12:elv_hoog:+2,15:elv_laag:-1` (at most {MAX_BED_CHANGES})"
                ),
            ),
        ],
        responses={200: Output, **ERROR_RESPONSES},
    )
    def get(self, request):
        params = request.query_params
        # Stricter than the page's form: a parameter given must have a value, and flex is a boolean.
        errors = {
            name: [_("Give a value or leave the parameter out.")]
            for name in PlannerForm.QUERY_NAMES
            if params.get(name) == ""
        }
        if params.get("flex") not in (None, "", "true", "false"):
            errors["flex"] = [_("Use true or false.")]
        if errors:
            raise ValidationError(errors)
        form = planner_form(params)
        plan = plan_for(form, request.user.organisation.region) if form.is_valid() else None
        if plan is None:
            raise ValidationError({name: list(errors) for name, errors in form.errors.items()})
        return Response(self.Output(plan).data)
