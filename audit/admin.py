from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.http import Http404

from audit.models import AccessLog
from audit.trail import AuditTrail, no_store, write_trail


class AuditedAdminMixin:
    """Logs every admin list and detail view of patient data (NEN 7513), with the patient(s) it
    showed, so a superuser's look is in the patient's history like anyone else's; refused
    attempts on an existing object too. `audit_subject(trail, obj)` adds the object's referral(s)
    or patient to the trail."""

    def audit_subject(self, trail: AuditTrail, obj) -> None:
        raise NotImplementedError

    def _audited(self, request, trail: AuditTrail, show):
        try:
            response = show()
        except PermissionDenied:
            write_trail(request, trail, status_code=403)
            raise
        except Http404:
            write_trail(request, trail, status_code=404)
            raise
        write_trail(request, trail, status_code=response.status_code)
        return no_store(response)

    def _object_trail(self, request, action: str, object_id) -> AuditTrail:
        trail = AuditTrail(action)
        obj = self.get_object(request, object_id)
        if obj is not None:
            self.audit_subject(trail, obj)
        return trail

    def changelist_view(self, request, extra_context=None):
        trail = AuditTrail("search")
        changelist_view = super().changelist_view

        def show():
            response = changelist_view(request, extra_context)
            changelist = (getattr(response, "context_data", None) or {}).get("cl")
            # The rows on this page are what was shown (the list is paginated).
            for obj in changelist.result_list if changelist is not None else ():
                self.audit_subject(trail, obj)
            return response

        return self._audited(request, trail, show)

    def change_view(self, request, object_id, form_url="", extra_context=None):
        trail = self._object_trail(request, "update" if request.method == "POST" else "read", object_id)
        view = super().change_view
        return self._audited(request, trail, lambda: view(request, object_id, form_url, extra_context))

    def history_view(self, request, object_id, extra_context=None):
        trail = self._object_trail(request, "read", object_id)
        view = super().history_view
        return self._audited(request, trail, lambda: view(request, object_id, extra_context))

    def delete_view(self, request, object_id, extra_context=None):
        trail = self._object_trail(request, "update" if request.method == "POST" else "read", object_id)
        view = super().delete_view
        return self._audited(request, trail, lambda: view(request, object_id, extra_context))


@admin.register(AccessLog)
class AccessLogAdmin(admin.ModelAdmin):
    """Read-only: the log is append-only."""

    list_display = ("at", "user_name", "role", "organisation_name", "action", "channel", "referral_id", "outcome")
    list_filter = ("action", "channel", "outcome", "role")
    search_fields = ("user_name", "organisation_name")
    date_hierarchy = "at"

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
