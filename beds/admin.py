from django import forms
from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.http import HttpResponseRedirect

from beds.models import Capacity, CapacityChange, ChangeSource
from beds.services import StaleCapacity, capacity_update

ADMIN_COUNTS = ("total", "available", "expected_24h", "expected_72h")


class CapacityAdminForm(forms.ModelForm):
    # The version the page showed: counts changed since then are not overwritten unseen.
    seen_version = forms.IntegerField(widget=forms.HiddenInput, required=False)

    class Meta:
        model = Capacity
        fields = ["location", "product", *ADMIN_COUNTS]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["seen_version"].initial = self.instance.version


@admin.register(Capacity)
class CapacityAdmin(admin.ModelAdmin):
    """Counts are written through beds.services like every other change (row lock, version,
    history row with source "admin"), never saved directly."""

    form = CapacityAdminForm
    list_display = ("location", "product", "total", "available", "held", "confirmed_at")
    list_filter = ("product", "location__organisation__region")
    list_select_related = ("location", "product")
    readonly_fields = ("held", "version", "confirmed_at", "confirmed_by")

    def get_readonly_fields(self, request, obj=None):
        # A count's offers and stays point at it: it stays with its location and product.
        return (*self.readonly_fields, "location", "product") if obj is not None else self.readonly_fields

    def save_model(self, request, obj, form, change):
        counts = {name: form.cleaned_data[name] for name in ADMIN_COUNTS}
        if not change:
            # Created empty, then counted: the first history row holds the admin's figures.
            for name in ADMIN_COUNTS:
                setattr(obj, name, 0)
            obj.save()
            capacity_update(capacity_id=obj.pk, by=request.user, counts=counts, source=ChangeSource.ADMIN)
            obj.refresh_from_db()
            return
        counts = {name: value for name, value in counts.items() if name in form.changed_data}
        if not counts:
            return
        try:
            capacity_update(
                capacity_id=obj.pk,
                by=request.user,
                counts=counts,
                source=ChangeSource.ADMIN,
                expected_version=form.cleaned_data["seen_version"],
            )
        except StaleCapacity as stale:
            obj.admin_refusal = stale.message
        except ValidationError as invalid:
            obj.admin_refusal = " ".join(invalid.messages)

    def log_change(self, request, obj, message):
        if not getattr(obj, "admin_refusal", None):
            return super().log_change(request, obj, message)
        return None

    def response_change(self, request, obj):
        if getattr(obj, "admin_refusal", None):
            self.message_user(request, obj.admin_refusal, level=messages.ERROR)
            return HttpResponseRedirect(request.path)
        return super().response_change(request, obj)


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
