from django.urls import include, path
from rest_framework.routers import DefaultRouter

from crm import api

router = DefaultRouter()
router.register("users", api.UserViewSet, basename="user")
router.register("teams", api.TeamViewSet, basename="team")
router.register("accounts", api.AccountViewSet, basename="account")
router.register("contacts", api.ContactViewSet, basename="contact")
router.register("tasks", api.TaskViewSet, basename="task")
router.register("events", api.EventViewSet, basename="event")

urlpatterns = [
    path("auth/token/", api.TokenView.as_view(), name="api-token"),
    path("", include(router.urls)),
]
