"""Settings > Ratings, mounted at ``settings/ratings/`` by ``crm.urls``."""

from django.urls import path

from leads import views_ratings as views

urlpatterns = [
    path("", views.settings_ratings, name="settings-ratings"),
    path("new/", views.rating_create, name="settings-rating-create"),
    path("<int:pk>/edit/", views.rating_edit, name="settings-rating-edit"),
    path("<int:pk>/archive/", views.rating_archive, name="settings-rating-archive"),
    path("<int:pk>/move/", views.rating_move, name="settings-rating-move"),
]
