from django.contrib.auth.decorators import login_required
from django.shortcuts import render
from django.utils.cache import patch_vary_headers
from django.views.decorators.http import require_GET

from accounts.decorators import role_required
from accounts.models import Role
from elvdesk.htmx import wants_fragment
from providers import selectors
from providers.social_map_forms import SocialMapSearchForm

SOCIAL_MAP_ROLES = (Role.GP, Role.TRANSFER_NURSE, Role.COORDINATOR, Role.ADMIN, Role.PROVIDER_STAFF)
SOCIAL_MAP_TEMPLATE = "providers/social_map.html"


@login_required
@role_required(*SOCIAL_MAP_ROLES)
@require_GET
def social_map(request):
    """ "Sociale kaart": every active care provider of the region with its active locations, how
    to reach them and what they offer; searchable. The results only for htmx (live search)."""
    region = request.user.region
    form = SocialMapSearchForm(request.GET or None, region=region)
    filters = form.filters()
    organisations = selectors.social_map(region=region, filters=filters)
    context = {
        "form": form,
        "region": region,
        "organisations": organisations,
        "location_count": sum(len(organisation.map_locations) for organisation in organisations),
        "filtered": filters.any,
    }
    template = f"{SOCIAL_MAP_TEMPLATE}#results" if wants_fragment(request) else SOCIAL_MAP_TEMPLATE
    response = render(request, template, context)
    patch_vary_headers(response, ["HX-Request"])
    return response
