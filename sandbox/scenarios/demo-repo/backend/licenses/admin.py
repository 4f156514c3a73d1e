from django.contrib import admin

from .models import Activation, License, LicenseSession, SeatAssignment, UsageEvent


class SeatAssignmentInline(admin.TabularInline):
    model = SeatAssignment
    extra = 0
    autocomplete_fields = ["user"]
    readonly_fields = ["assigned_at", "assigned_by"]


@admin.register(License)
class LicenseAdmin(admin.ModelAdmin):
    list_display = ("key", "organization", "plan", "status", "seats", "expires_at", "auto_renew")
    list_filter = ("plan", "status", "auto_renew")
    search_fields = ("key", "organization__name")
    readonly_fields = ("key", "issued_at", "created_by")
    inlines = [SeatAssignmentInline]


@admin.register(Activation)
class ActivationAdmin(admin.ModelAdmin):
    list_display = ("machine_fingerprint", "hostname", "seat", "activated_at", "last_seen_at", "deactivated_at")
    search_fields = ("machine_fingerprint", "hostname")


admin.site.register(UsageEvent)
admin.site.register(LicenseSession)
