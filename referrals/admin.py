from django.contrib import admin

from audit.admin import AuditedAdminMixin
from referrals.models import Notification, Offer, Patient, Referral, ReferralEvent, Stay


class ReferralEventInline(admin.TabularInline):
    model = ReferralEvent
    extra = 0
    can_delete = False
    readonly_fields = ("from_state", "to_state", "actor", "at", "reason")

    def has_add_permission(self, request, obj=None):
        return False


class OfferInline(admin.TabularInline):
    model = Offer
    extra = 0
    can_delete = False
    fields = ("location", "product", "state", "created_at", "expires_at", "answered_at", "decline_reason")
    readonly_fields = fields

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(Referral)
class ReferralAdmin(AuditedAdminMixin, admin.ModelAdmin):
    """Workflow states change only through the desk's pages and API, never here."""

    list_display = ("id", "state", "product", "urgency", "organisation", "region", "created_at")
    list_filter = ("state", "product", "urgency", "region")
    list_select_related = ("product", "organisation", "region")
    readonly_fields = ("patient", "state", "state_changed_at", "created_at", "referred_by", "organisation", "region")
    inlines = [ReferralEventInline, OfferInline]

    def audit_subject(self, trail, obj):
        trail.add(obj)


@admin.register(Patient)
class PatientAdmin(AuditedAdminMixin, admin.ModelAdmin):
    list_display = ("id", "initials", "pseudonymised_at")
    readonly_fields = ("pseudonymised_at",)

    def audit_subject(self, trail, obj):
        trail.add_patient(obj)


@admin.register(Stay)
class StayAdmin(AuditedAdminMixin, admin.ModelAdmin):
    list_display = ("referral", "location", "admitted_at", "discharged_at", "discharge_destination")
    list_select_related = ("referral__patient", "referral__product", "location")

    def audit_subject(self, trail, obj):
        trail.add(obj.referral)


@admin.register(Offer)
class OfferAdmin(AuditedAdminMixin, admin.ModelAdmin):
    """An offer's page names its referral (the patient's initials): audited like the referral."""

    list_display = ("id", "referral_id", "location", "product", "state", "created_at", "expires_at")
    list_filter = ("state", "product")
    list_select_related = ("referral", "location", "product")
    readonly_fields = ("referral", "capacity", "location", "product", "created_by", "answered_by", "state")

    def audit_subject(self, trail, obj):
        trail.add(obj.referral)


@admin.register(Notification)
class NotificationAdmin(admin.ModelAdmin):
    list_display = ("kind", "user", "referral_id", "created_at", "read_at", "sent_at")
    list_filter = ("kind",)
    list_select_related = ("user",)
