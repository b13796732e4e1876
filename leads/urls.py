from django.urls import path

from leads import views

urlpatterns = [
    path("", views.lead_list, name="lead-list"),
    path("new/", views.lead_create, name="lead-create"),
    path("bulk-assign/", views.lead_bulk_assign, name="lead-bulk-assign"),
    path("import/", views.lead_import, name="lead-import"),
    path("import/template.csv", views.lead_import_template, name="lead-import-template"),
    path("<int:pk>/", views.lead_detail, name="lead-detail"),
    path("<int:pk>/edit/", views.lead_edit, name="lead-edit"),
    path("<int:pk>/disqualify/", views.lead_disqualify, name="lead-disqualify"),
    path("<int:pk>/requalify/", views.lead_requalify, name="lead-requalify"),
    path("<int:pk>/classify/", views.lead_classify, name="lead-classify"),
    path("<int:pk>/qualify/", views.lead_qualify, name="lead-qualify"),
    path("<int:pk>/convert/", views.lead_convert, name="lead-convert"),
    path("<int:pk>/archive/", views.lead_archive, name="lead-archive"),
]
