from django.contrib import admin

from beds.models import Capacity
from providers.forms import LocationAdminForm
from providers.models import Feature, Insurer, Location, Organisation, PostcodeArea, Product, Region


@admin.register(Region)
class RegionAdmin(admin.ModelAdmin):
    list_display = ("name", "code", "stale_after_hours", "offer_expiry_minutes", "self_service_offers")
    filter_horizontal = ("products", "neighbours")


@admin.register(Organisation)
class OrganisationAdmin(admin.ModelAdmin):
    list_display = ("name", "kind", "agb_code", "region")
    list_filter = ("kind", "region")
    search_fields = ("name", "agb_code")


class CapacityInline(admin.TabularInline):
    model = Capacity
    extra = 0
    fields = ("product", "total", "available", "held", "expected_24h", "expected_72h", "confirmed_at")
    readonly_fields = ("held", "confirmed_at")


@admin.register(Location)
class LocationAdmin(admin.ModelAdmin):
    form = LocationAdminForm
    list_display = ("name", "organisation", "postcode", "city", "admission_24_7", "is_active")
    list_filter = ("organisation__region", "admission_24_7", "is_active")
    list_select_related = ("organisation",)
    search_fields = ("name", "postcode", "city")
    filter_horizontal = ("features", "contracted_insurers")
    inlines = [CapacityInline]


admin.site.register(Product)
admin.site.register(Feature)


@admin.register(Insurer)
class InsurerAdmin(admin.ModelAdmin):
    list_display = ("name", "uzovi")
    search_fields = ("name", "uzovi")


@admin.register(PostcodeArea)
class PostcodeAreaAdmin(admin.ModelAdmin):
    list_display = ("pc4", "latitude", "longitude")
    search_fields = ("pc4",)
