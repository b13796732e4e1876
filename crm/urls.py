from django.conf import settings
from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

from opportunities.views_buynow import buy_now
from scoring.urls import report_urlpatterns as scoring_report_urls

urlpatterns = [
    path("i18n/", include("django.conf.urls.i18n")),
    path("django-admin/", admin.site.urls),
    path("api/v1/", include("crm.api_urls")),
    path("api/v1/", include("leads.api_urls")),
    path("api/v1/", include("scoring.api_urls")),
    path("api/v1/", include("opportunities.api_urls")),
    path("api/schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path(
        "api/docs/",
        SpectacularSwaggerSplitView.as_view(
            url_name="api-schema", template_name="crm/api_docs.html"
        ),
        name="api-docs",
    ),
    path("settings/leads/", include("leads.urls_settings")),
    path("settings/ratings/", include("leads.urls_ratings")),
    path("settings/scoring/", include("scoring.urls")),
    path("settings/", include("opportunities.urls_settings")),
    path("reports/disqualification/", include("leads.urls_reports")),
    path("reports/scoring/", include(scoring_report_urls)),
    path("reports/win-loss/", include("opportunities.urls_reports")),
    path("opportunities/", include("opportunities.urls")),
    path("buy/<str:token>/", buy_now, name="buy-now"),
    path("", include("crm.urls_web")),
]

handler403 = "crm.views.error_403"
handler404 = "crm.views.error_404"
handler500 = "crm.views.error_500"

if settings.DEBUG:  # pragma: no cover
    pass
