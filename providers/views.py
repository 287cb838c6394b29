from django.contrib.auth.decorators import login_required
from django.shortcuts import render
from django.views.decorators.http import require_GET

from accounts.decorators import role_required
from accounts.models import Role

SOCIAL_MAP_ROLES = (Role.GP, Role.TRANSFER_NURSE, Role.COORDINATOR, Role.ADMIN, Role.PROVIDER_STAFF)


@login_required
@role_required(*SOCIAL_MAP_ROLES)
@require_GET
def social_map(request):
    return render(request, "providers/social_map.html", {})
