from django.contrib import admin
from django.contrib.auth.admin import UserAdmin

from crm.models import Account, Contact, Event, Tag, Task, Team, User


@admin.register(User)
class CrmUserAdmin(UserAdmin):
    list_display = ("username", "first_name", "last_name", "email", "role", "is_active")
    list_filter = ("role", "is_active")
    fieldsets = (*UserAdmin.fieldsets, ("CRM", {"fields": ("role", "time_zone")}))

    def has_delete_permission(self, request, obj=None):
        return False  # deactivate instead: a user's records and history stay


@admin.register(Team)
class TeamAdmin(admin.ModelAdmin):
    list_display = ("name",)
    filter_horizontal = ("members",)


@admin.register(Tag)
class TagAdmin(admin.ModelAdmin):
    search_fields = ("name",)


class ArchiveOnlyAdmin(admin.ModelAdmin):
    list_select_related = ("owner",)
    raw_id_fields = ("owner",)

    def has_delete_permission(self, request, obj=None):
        return False  # archive rather than delete


@admin.register(Account)
class AccountAdmin(ArchiveOnlyAdmin):
    list_display = ("name", "industry", "country", "owner", "archived_at")
    search_fields = ("name",)


@admin.register(Contact)
class ContactAdmin(ArchiveOnlyAdmin):
    list_display = ("last_name", "first_name", "email", "owner", "archived_at")
    search_fields = ("last_name", "email")
    raw_id_fields = ("owner", "account")


@admin.register(Task)
class TaskAdmin(ArchiveOnlyAdmin):
    list_display = ("title", "due_on", "owner", "done")
    raw_id_fields = ("owner", "lead", "contact", "opportunity")


@admin.register(Event)
class EventAdmin(admin.ModelAdmin):
    """Read-only: the audit trail is append-only."""

    list_display = ("at", "kind", "actor")
    list_filter = ("kind",)
    list_select_related = ("actor",)

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
