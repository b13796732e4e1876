from django.urls import include, path
from rest_framework.routers import DefaultRouter

from crm import api, api_activity, api_search
from crm.api_bulk import (
    ContactBulkView,
    LeadBulkView,
    OpportunityBulkView,
    SavedViewViewSet,
)

# Route names carry the project's "api-" prefix ("api-account-list", "api-task-complete"), so they
# never collide with the HTML pages' names ("account-list", "task-complete").
router = DefaultRouter()
router.register("users", api.UserViewSet, basename="api-user")
router.register("teams", api.TeamViewSet, basename="api-team")
router.register("accounts", api.AccountViewSet, basename="api-account")
router.register("contacts", api.ContactViewSet, basename="api-contact")
router.register("tasks", api.TaskViewSet, basename="api-task")
router.register("events", api.EventViewSet, basename="api-event")
router.register("saved-views", SavedViewViewSet, basename="api-saved-view")

urlpatterns = [
    path("auth/token/", api.TokenView.as_view(), name="api-token"),
    path("activities/", api_activity.ActivityLogView.as_view(), name="api-activity-log"),
    # Bulk actions (before the routers: "bulk" would otherwise read as a record id).
    path("leads/bulk/", LeadBulkView.as_view(), name="api-lead-bulk"),
    path("contacts/bulk/", ContactBulkView.as_view(), name="api-contact-bulk"),
    path("opportunities/bulk/", OpportunityBulkView.as_view(), name="api-opportunity-bulk"),
    path("search/", api_search.SearchView.as_view(), name="api-search"),
    path("", include(router.urls)),
]
