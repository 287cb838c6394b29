from django.contrib import admin, messages
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from interop.models import ApiKey, ApiKeyWrite
from interop.services import api_key_create, api_key_revoke


@admin.register(ApiKey)
class ApiKeyAdmin(admin.ModelAdmin):
    """Adding a key shows it once, in the confirmation message; only its hash is stored."""

    list_display = ("name", "organisation", "prefix", "created_at", "last_used_at", "revoked_at")
    list_filter = ("organisation__region", ("revoked_at", admin.EmptyFieldListFilter))
    list_select_related = ("organisation",)
    search_fields = ("name", "prefix", "organisation__name", "organisation__agb_code")
    readonly_fields = ("prefix", "created_at", "created_by", "last_used_at", "revoked_at")
    actions = ["revoke"]

    def get_fields(self, request, obj=None):
        if obj is None:
            return ("organisation", "name")
        return ("organisation", "name", *self.readonly_fields)

    def get_readonly_fields(self, request, obj=None):
        return self.readonly_fields + (("organisation",) if obj is not None else ())

    def save_model(self, request, obj, form, change):
        if change:
            super().save_model(request, obj, form, change)
            return
        api_key, full_key = api_key_create(organisation=obj.organisation, name=obj.name, by=request.user)
        obj.pk = api_key.pk
        obj.refresh_from_db()
        messages.warning(
            request,
            _("The new API key is %(key)s — copy it now, it is not shown again.") % {"key": full_key},
        )

    @admin.action(description=gettext_lazy("Revoke the selected API keys"))
    def revoke(self, request, queryset):
        for api_key in queryset:
            api_key_revoke(api_key=api_key)
        messages.success(request, _("%(count)s API keys revoked.") % {"count": queryset.count()})

    def has_delete_permission(self, request, obj=None):
        return False  # revoke instead: the history keeps pointing at the key


@admin.register(ApiKeyWrite)
class ApiKeyWriteAdmin(admin.ModelAdmin):
    """Read-only: which key made which bed-count change."""

    list_display = ("change", "api_key")
    list_select_related = ("change__capacity__location", "change__capacity__product", "api_key")

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
