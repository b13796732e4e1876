from django.urls import path

from opportunities import views, views_buynow, views_enrollments

urlpatterns = [
    path("enrollments/new/", views_enrollments.enroll, name="enrollment-create"),
    path("enrollments/<int:pk>/stop/", views_enrollments.stop, name="enrollment-stop"),
    path("", views.opportunity_list, name="opportunity-list"),
    path("board/", views.opportunity_board, name="opportunity-board"),
    path("new/", views.opportunity_create, name="opportunity-create"),
    path("<int:pk>/", views.opportunity_detail, name="opportunity-detail"),
    path("<int:pk>/edit/", views.opportunity_edit, name="opportunity-edit"),
    path("<int:pk>/move/", views.opportunity_move, name="opportunity-move"),
    path("<int:pk>/archive/", views.opportunity_archive, name="opportunity-archive"),
    path("<int:pk>/share/", views.opportunity_share, name="opportunity-share"),
    path("<int:pk>/unshare/", views.opportunity_unshare, name="opportunity-unshare"),
    path(
        "<int:pk>/buy-now-links/new/",
        views_buynow.link_create,
        name="opportunity-buy-now-create",
    ),
]
