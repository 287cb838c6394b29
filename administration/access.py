"""Who may use Beheer (the region's functional administration, docs/architecture.md §2.11).

The functional administrator (role admin) changes everything of their own region; the
coordinators of that region read it (they answer the phone when a planner is missing). Everybody
else gets 403, and an object of another region is 404, as everywhere in the portal.
"""

from functools import wraps

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.views.decorators.http import require_http_methods

from accounts.models import Role

WRITERS = (Role.ADMIN,)
READERS = (Role.ADMIN, Role.COORDINATOR)


def _check(user, roles) -> None:
    if user.role not in roles or user.organisation_id is None:
        raise PermissionDenied


def beheer_view(methods=("GET",)):
    """A Beheer page: GET (and HEAD) for readers, every other method for writers only.

    Stack it alone on a function view: it includes login_required and require_http_methods.
    """
    allowed = [*methods, "HEAD"] if "GET" in methods else list(methods)

    def decorator(view):
        @wraps(view)
        def wrapper(request, *args, **kwargs):
            _check(request.user, READERS if request.method in ("GET", "HEAD") else WRITERS)
            return view(request, *args, **kwargs)

        return login_required(require_http_methods(allowed)(wrapper))

    return decorator


def can_change(user) -> bool:
    """For templates: whether to show the forms and buttons that change something."""
    return user.is_authenticated and user.role in WRITERS


def region_id_of(request) -> int:
    return request.user.organisation.region_id
