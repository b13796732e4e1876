"""Settings > Scoring, mounted at ``settings/scoring/`` by ``crm.urls``; the scoring report
(``report_urlpatterns``) at ``reports/scoring/``."""

from django.urls import path

from scoring import views

urlpatterns = [
    path("", views.settings_scoring, name="settings-scoring"),
    path("criteria/new/", views.criterion_create, name="settings-scoring-criterion-create"),
    path("criteria/<int:pk>/edit/", views.criterion_edit, name="settings-scoring-criterion-edit"),
    path(
        "criteria/<int:pk>/delete/",
        views.criterion_delete,
        name="settings-scoring-criterion-delete",
    ),
    path("threshold/", views.threshold_update, name="settings-scoring-threshold"),
    path("rescore/", views.rescore, name="settings-scoring-rescore"),
    path("jobs/<int:pk>/", views.job_status, name="settings-scoring-job"),
]

report_urlpatterns = [
    path("", views.scoring_report, name="report-scoring"),
]
