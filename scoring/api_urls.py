from django.urls import include, path
from rest_framework.routers import DefaultRouter

from scoring import api

router = DefaultRouter()
router.include_root_view = False
router.register("scoring/criteria", api.CriterionViewSet, basename="api-criterion")

urlpatterns = [
    path("settings/scoring/", api.ScoringSettingsView.as_view(), name="api-scoring-settings"),
    path("leads/<int:pk>/score/", api.LeadScoreView.as_view(), name="api-lead-score"),
    path("scoring/rescore/", api.RescoreView.as_view(), name="api-scoring-rescore"),
    path("scoring/jobs/<int:pk>/", api.JobView.as_view(), name="api-scoring-job"),
    path("", include(router.urls)),
]
