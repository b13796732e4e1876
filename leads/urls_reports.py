"""Reports > Disqualification, mounted at ``reports/disqualification/`` by ``crm.urls``."""

from django.urls import path

from leads import views_reports as views

urlpatterns = [
    path("", views.disqualification_report, name="report-disqualification"),
]
