"""Settings > Leads, mounted at ``settings/leads/`` by ``crm.urls``."""

from django.urls import path

from leads import views_settings as views

urlpatterns = [
    path("", views.settings_leads, name="settings-leads"),
    path("reasons/new/", views.reason_create, name="settings-lead-reason-create"),
    path("reasons/<int:pk>/edit/", views.reason_edit, name="settings-lead-reason-edit"),
    path("reasons/<int:pk>/delete/", views.reason_delete, name="settings-lead-reason-delete"),
    path("reasons/<int:pk>/move/", views.reason_move, name="settings-lead-reason-move"),
    path("ask/", views.ask_update, name="settings-lead-ask"),
]
