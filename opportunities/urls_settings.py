"""Settings > Pipeline and Settings > Opportunity defaults, mounted at ``settings/`` by
``crm.urls``."""

from django.urls import path

from opportunities import views_automation as automation
from opportunities import views_settings as views

urlpatterns = [
    path("pipeline/", views.settings_pipeline, name="settings-pipeline"),
    path("pipeline/new/", views.stage_create, name="settings-stage-create"),
    path("pipeline/<int:pk>/edit/", views.stage_edit, name="settings-stage-edit"),
    path("pipeline/<int:pk>/delete/", views.stage_delete, name="settings-stage-delete"),
    path("pipeline/<int:pk>/move/", views.stage_move, name="settings-stage-move"),
    path("opportunities/", views.settings_opportunities, name="settings-opportunities"),
    path("opportunities/defaults/", views.defaults_update, name="settings-opportunity-defaults"),
    path(
        "opportunities/visibility/",
        views.visibility_update,
        name="settings-opportunity-visibility",
    ),
    path("opportunities/buy-now/", views.buy_now_update, name="settings-opportunity-buy-now"),
]

for _kind in ("win", "loss"):
    _base = f"opportunities/{_kind}-reasons"
    _kw = {"kind": _kind}
    urlpatterns += [
        path(f"{_base}/new/", views.reason_create, _kw, name=f"settings-{_kind}-reason-create"),
        path(
            f"{_base}/<int:pk>/edit/", views.reason_edit, _kw, name=f"settings-{_kind}-reason-edit"
        ),
        path(
            f"{_base}/<int:pk>/delete/",
            views.reason_delete,
            _kw,
            name=f"settings-{_kind}-reason-delete",
        ),
        path(
            f"{_base}/<int:pk>/move/", views.reason_move, _kw, name=f"settings-{_kind}-reason-move"
        ),
    ]

urlpatterns += [
    path("automation/", automation.automation, name="settings-automation"),
    path("automation/new/", automation.automation_create, name="settings-automation-create"),
    path("automation/<int:pk>/edit/", automation.automation_edit, name="settings-automation-edit"),
    path(
        "automation/<int:pk>/remove/",
        automation.automation_remove,
        name="settings-automation-remove",
    ),
    path("sequences/", automation.sequences, name="settings-sequences"),
    path("sequences/new/", automation.sequence_create, name="settings-sequence-create"),
    path("sequences/<int:pk>/", automation.sequence_edit, name="settings-sequence-edit"),
    path(
        "sequences/<int:pk>/archive/",
        automation.sequence_archive,
        name="settings-sequence-archive",
    ),
    path(
        "sequences/enrollments/<int:pk>/stop/",
        automation.enrollment_stop,
        name="settings-enrollment-stop",
    ),
]
