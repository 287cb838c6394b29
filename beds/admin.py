from django.contrib import admin

from beds.models import Capacity, CapacityChange


@admin.register(Capacity)
class CapacityAdmin(admin.ModelAdmin):
    list_display = ("location", "product", "total", "available", "held", "confirmed_at")
    list_filter = ("product", "location__organisation__region")
    list_select_related = ("location", "product")
    readonly_fields = ("held", "version", "confirmed_at", "confirmed_by")


@admin.register(CapacityChange)
class CapacityChangeAdmin(admin.ModelAdmin):
    """Read-only: the history is append-only."""

    list_display = ("capacity", "changed_at", "changed_by", "source")
    list_filter = ("source",)
    list_select_related = ("capacity__location", "capacity__product", "changed_by")

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
