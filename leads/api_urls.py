from django.urls import include, path
from rest_framework.routers import DefaultRouter

from leads import api

router = DefaultRouter()
router.include_root_view = False
router.register("leads", api.LeadViewSet, basename="api-lead")
router.register(
    "disqualification-reasons",
    api.DisqualificationReasonViewSet,
    basename="api-disqualification-reason",
)

router.register("ratings", api.RatingViewSet, basename="api-rating")

urlpatterns = [
    path("settings/leads/", api.LeadSettingsView.as_view(), name="api-lead-settings"),
    path(
        "reports/disqualification/",
        api.DisqualificationReportView.as_view(),
        name="api-report-disqualification",
    ),
    path(
        "reports/qualification-by-source/",
        api.QualificationBySourceView.as_view(),
        name="api-report-qualification-by-source",
    ),
    path("", include(router.urls)),
]
