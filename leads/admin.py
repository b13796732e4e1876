from django.contrib import admin

from leads.models import DisqualificationReason, Lead, LeadSettings


@admin.register(Lead)
class LeadAdmin(admin.ModelAdmin):
    list_display = ("last_name", "first_name", "company", "status", "owner", "revisit_on")
    list_filter = ("status", "disqualification_reason")
    search_fields = ("last_name", "company", "email")
    list_select_related = ("owner",)
    raw_id_fields = ("owner", "converted_account", "converted_contact")
    readonly_fields = ("status", "disqualification_reason", "converted_at")

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(DisqualificationReason)
class DisqualificationReasonAdmin(admin.ModelAdmin):
    list_display = ("name", "order", "archived_at")

    def has_delete_permission(self, request, obj=None):
        return False  # the settings page archives reasons in use


@admin.register(LeadSettings)
class LeadSettingsAdmin(admin.ModelAdmin):
    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
