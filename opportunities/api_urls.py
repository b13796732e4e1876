from django.urls import include, path
from rest_framework.routers import DefaultRouter

from opportunities import api, api_automation, api_buynow

router = DefaultRouter()
router.include_root_view = False
router.register("opportunities", api.OpportunityViewSet, basename="api-opportunity")
router.register("stages", api.StageViewSet, basename="api-stage")
router.register("win-reasons", api.WinReasonViewSet, basename="api-win-reason")
router.register("loss-reasons", api.LossReasonViewSet, basename="api-loss-reason")
router.register(
    "trigger-actions", api_automation.TriggerActionViewSet, basename="api-trigger-action"
)
router.register("sequences", api_automation.SequenceViewSet, basename="api-sequence")
router.register("enrollments", api_automation.EnrollmentViewSet, basename="api-enrollment")

urlpatterns = [
    path(
        "settings/opportunities/",
        api.OpportunitySettingsView.as_view(),
        name="api-opportunity-settings",
    ),
    path("reports/win-loss/", api.WinLossReportView.as_view(), name="api-report-win-loss"),
    path(
        "webhooks/payments/",
        api_buynow.PaymentWebhookView.as_view(),
        name="api-webhook-payments",
    ),
    path("", include(router.urls)),
]
