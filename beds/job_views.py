"""Pages of the background jobs: the stored daily bed overviews, the subscription setting, and
the "klopt nog" link from a stale-count reminder. No patient data on any of them."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_http_methods

from accounts.decorators import role_required
from beds import overviews, reminders
from beds.forms import OverviewSubscriptionForm
from beds.models import BedOverviewSnapshot, Capacity
from elvdesk.errors import DomainError

SNAPSHOTS_PER_PAGE = 30
REMINDER_TEMPLATE = "beds/reminder_confirm.html"


def _get_snapshot_for_user(user, pk: int) -> BedOverviewSnapshot:
    """A snapshot of the user's own region, or 404."""
    return get_object_or_404(
        BedOverviewSnapshot.objects.select_related("region"), pk=pk, region_id=user.organisation.region_id
    )


def _times(region) -> list[str]:
    return [moment.strftime("%H:%M") for moment in overviews.overview_times(region)]


@login_required
@role_required(*overviews.OVERVIEW_ROLES)
@require_GET
def overview_snapshots(request):
    region = request.user.region
    page = Paginator(overviews.snapshots_for_user(request.user), SNAPSHOTS_PER_PAGE).get_page(request.GET.get("page"))
    context = {
        "page": page,
        "region": region,
        "times": _times(region),
        "subscribed": overviews.is_subscribed(user=request.user, region=region),
    }
    return render(request, "beds/overview_snapshots.html", context)


@login_required
@role_required(*overviews.OVERVIEW_ROLES)
@require_GET
def overview_snapshot(request, pk: int):
    snapshot = _get_snapshot_for_user(request.user, pk)
    context = {"snapshot": snapshot, "region": snapshot.region, "table": overviews.overview_table(snapshot)}
    return render(request, "beds/overview_snapshot.html", context)


@login_required
@role_required(*overviews.OVERVIEW_ROLES)
@require_GET
def overview_snapshot_csv(request, pk: int):
    snapshot = _get_snapshot_for_user(request.user, pk)
    response = HttpResponse(overviews.overview_csv(snapshot), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{overviews.overview_csv_filename(snapshot)}"'
    return response


@login_required
@role_required(*overviews.OVERVIEW_ROLES)
@require_http_methods(["GET", "POST"])
def overview_subscription(request):
    region = request.user.region
    if request.method == "POST":
        form = OverviewSubscriptionForm(request.POST)
        if form.is_valid():
            subscribed = overviews.overview_subscription_set(
                user=request.user, region=region, subscribed=form.cleaned_data["subscribed"]
            )
            if subscribed:
                messages.success(
                    request, _("You will receive the daily bed overview of %(region)s by e-mail.") % {"region": region}
                )
            else:
                messages.success(
                    request, _("You no longer receive the daily bed overview of %(region)s.") % {"region": region}
                )
            return redirect("beds:overview_subscription")
    else:
        form = OverviewSubscriptionForm(
            initial={"subscribed": overviews.is_subscribed(user=request.user, region=region)}
        )
    context = {"form": form, "region": region, "times": _times(region)}
    return render(request, "beds/overview_subscription.html", context)


@never_cache
@require_http_methods(["GET", "POST"])
def reminder_confirm(request, token: str):
    """The "klopt nog" link. No login: the signed, single-use token is the authorisation. GET
    only shows what will be confirmed (mail scanners open links); the POST confirms."""
    if request.method == "POST":
        try:
            reminder = reminders.stale_reminder_use(token=token)
        except DomainError as error:
            return render(request, REMINDER_TEMPLATE, {"error": error.message}, status=error.http_status)
        return render(request, REMINDER_TEMPLATE, {"done": True, "location": reminder.location})
    try:
        reminder = reminders.stale_reminder_for_token(token)
    except DomainError as error:
        return render(request, REMINDER_TEMPLATE, {"error": error.message}, status=error.http_status)
    capacities = Capacity.objects.filter(location=reminder.location).select_related("product")
    context = {"reminder": reminder, "location": reminder.location, "capacities": capacities}
    return render(request, REMINDER_TEMPLATE, context)
