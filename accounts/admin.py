from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.utils.translation import gettext_lazy as _

from accounts.models import User


@admin.register(User)
class UserAdmin(DjangoUserAdmin):
    list_display = ("username", "get_full_name", "organisation", "role", "is_active")
    list_filter = ("role", "organisation__region", "is_active")
    list_select_related = ("organisation",)
    search_fields = ("username", "first_name", "last_name", "email")
    fieldsets = DjangoUserAdmin.fieldsets + ((_("Desk"), {"fields": ("organisation", "role", "language")}),)
    add_fieldsets = DjangoUserAdmin.add_fieldsets + ((_("Desk"), {"fields": ("organisation", "role")}),)
