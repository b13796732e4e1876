"""Django admin (staff only) for what the automation and buy-now leave behind: the run ledgers
(a run stuck in "running" after a worker died is found here), orders and links. Read-only: the
pages and the API change them through the services."""

from django.contrib import admin

from opportunities.models import BuyNowLink, Enrollment, Order, StepRun, TriggerRun


class ReadOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(TriggerRun)
class TriggerRunAdmin(ReadOnlyAdmin):
    list_display = ("id", "action", "occurrence", "status", "created_at", "ran_at", "detail")
    list_filter = ("status", "action__event", "action__action")
    list_select_related = ("action",)
    search_fields = ("occurrence",)


@admin.register(StepRun)
class StepRunAdmin(ReadOnlyAdmin):
    list_display = ("id", "enrollment", "step", "due_on", "status", "ran_at", "detail")
    list_filter = ("status", "step__kind")
    list_select_related = ("enrollment", "step")


@admin.register(Enrollment)
class EnrollmentAdmin(ReadOnlyAdmin):
    list_display = ("id", "sequence", "contact", "lead", "status", "started_on", "ended_at")
    list_filter = ("status", "sequence")
    list_select_related = ("sequence", "contact", "lead")


@admin.register(BuyNowLink)
class BuyNowLinkAdmin(ReadOnlyAdmin):
    list_display = ("id", "opportunity", "product", "amount", "currency", "expires_at")
    list_select_related = ("opportunity",)
    exclude = ("key",)  # half of the public token


@admin.register(Order)
class OrderAdmin(ReadOnlyAdmin):
    list_display = ("id", "product", "amount", "currency", "buyer_email", "status", "created_at")
    list_filter = ("status", "provider")
