from django.contrib.auth import views as auth_views
from django.urls import include, path

from crm import views, views_activity, views_search
from crm.forms import RateLimitedAuthenticationForm
from crm.views_archive import record_restore, settings_archive
from crm.views_bulk import bulk_action
from crm.views_saved import saved_view_create, saved_view_delete

urlpatterns = [
    path(
        "login/",
        auth_views.LoginView.as_view(authentication_form=RateLimitedAuthenticationForm),
        name="login",
    ),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("password/", auth_views.PasswordChangeView.as_view(), name="password_change"),
    path(
        "password/done/",
        auth_views.PasswordChangeDoneView.as_view(),
        name="password_change_done",
    ),
    path("", views.home, name="home"),
    path("leads/", include("leads.urls")),
    # accounts
    path("accounts/", views.account_list, name="account-list"),
    path("accounts/new/", views.account_create, name="account-create"),
    path("accounts/<int:pk>/", views.account_detail, name="account-detail"),
    path("accounts/<int:pk>/edit/", views.account_edit, name="account-edit"),
    path("accounts/<int:pk>/archive/", views.account_archive, name="account-archive"),
    # contacts
    path("contacts/", views.contact_list, name="contact-list"),
    path("contacts/new/", views.contact_create, name="contact-create"),
    path("contacts/<int:pk>/", views.contact_detail, name="contact-detail"),
    path("contacts/<int:pk>/edit/", views.contact_edit, name="contact-edit"),
    path("contacts/<int:pk>/archive/", views.contact_archive, name="contact-archive"),
    path("contacts/<int:pk>/classify/", views.contact_classify, name="contact-classify"),
    # tasks
    path("tasks/", views.task_list, name="task-list"),
    path("tasks/new/", views.task_create, name="task-create"),
    path("tasks/<int:pk>/", views.task_detail, name="task-detail"),
    path("tasks/<int:pk>/edit/", views.task_edit, name="task-edit"),
    path("tasks/<int:pk>/archive/", views.task_archive, name="task-archive"),
    path("tasks/<int:pk>/complete/", views.task_complete, name="task-complete"),
    path("tasks/<int:pk>/reopen/", views.task_reopen, name="task-reopen"),
    # log a call or note and schedule the next task (issue #9)
    path("activity/<slug:model>/<int:pk>/log/", views_activity.log, name="activity-log"),
    path(
        "activity/opportunity/<int:pk>/next-task/",
        views_activity.schedule_next,
        name="activity-schedule-next",
    ),
    path("reports/", views.report_list, name="report-list"),
    path("search/", views_search.search_page, name="search"),
    # settings (admins only)
    path("settings/", views.settings_index, name="settings"),
    path("settings/users/", views.settings_users, name="settings-users"),
    path("settings/users/new/", views.settings_user_create, name="settings-user-create"),
    path("settings/users/<int:pk>/edit/", views.settings_user_edit, name="settings-user-edit"),
    path(
        "settings/users/<int:pk>/deactivate/",
        views.settings_user_deactivate,
        name="settings-user-deactivate",
    ),
    path("settings/teams/", views.settings_teams, name="settings-teams"),
    path("settings/teams/new/", views.settings_team_create, name="settings-team-create"),
    path("settings/teams/<int:pk>/edit/", views.settings_team_edit, name="settings-team-edit"),
    # saved views, bulk actions, restore (issue #9)
    path("views/save/", saved_view_create, name="saved-view-create"),
    path("views/<int:pk>/delete/", saved_view_delete, name="saved-view-delete"),
    path("bulk/<str:list_key>/", bulk_action, name="bulk-action"),
    path("restore/<str:kind>/<int:pk>/", record_restore, name="record-restore"),
    path("settings/archive/", settings_archive, name="settings-archive"),
]
