from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class OpportunitiesConfig(AppConfig):
    name = "opportunities"
    verbose_name = _("Opportunities")

    def ready(self):
        from crm.web import EVENT_DESCRIBERS
        from opportunities.timeline import DESCRIBERS

        EVENT_DESCRIBERS.update({str(k): v for k, v in DESCRIBERS.items()})
