from django.urls import include, path
from rest_framework.routers import DefaultRouter

from crm import api, api_search

# Route names carry the project's "api-" prefix ("api-account-list", "api-task-complete"), so they
# never collide with the HTML pages' names ("account-list", "task-complete").
router = DefaultRouter()
router.register("users", api.UserViewSet, basename="api-user")
router.register("teams", api.TeamViewSet, basename="api-team")
router.register("accounts", api.AccountViewSet, basename="api-account")
router.register("contacts", api.ContactViewSet, basename="api-contact")
router.register("tasks", api.TaskViewSet, basename="api-task")
router.register("events", api.EventViewSet, basename="api-event")

urlpatterns = [
    path("auth/token/", api.TokenView.as_view(), name="api-token"),
    path("search/", api_search.SearchView.as_view(), name="api-search"),
    path("", include(router.urls)),
]
