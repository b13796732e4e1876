"""Reports > Win-loss, mounted at ``reports/win-loss/`` by ``crm.urls``."""

from django.urls import path

from opportunities import views_reports as views

urlpatterns = [
    path("", views.win_loss_report, name="report-win-loss"),
    path("csv/", views.win_loss_report_csv, name="report-win-loss-csv"),
]
