from django.contrib import admin

from audit.models import AccessLog
from audit.trail import AuditTrail, write_trail


class AuditedAdminMixin:
    """Logs every admin list and detail view of patient data (NEN 7513). `audit_subject(obj)`
    adds the object's referral(s) or patient to the trail."""

    def audit_subject(self, trail: AuditTrail, obj) -> None:
        raise NotImplementedError

    def changelist_view(self, request, extra_context=None):
        response = super().changelist_view(request, extra_context)
        write_trail(request, AuditTrail("search"), status_code=response.status_code)
        return response

    def change_view(self, request, object_id, form_url="", extra_context=None):
        trail = AuditTrail("update" if request.method == "POST" else "read")
        obj = self.get_object(request, object_id)
        if obj is not None:
            self.audit_subject(trail, obj)
        response = super().change_view(request, object_id, form_url, extra_context)
        write_trail(request, trail, status_code=response.status_code)
        return response


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
