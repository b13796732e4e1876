from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class LeadsConfig(AppConfig):
    name = "leads"
    verbose_name = _("Leads")

    def ready(self):
        from crm.web import EVENT_DESCRIBERS
        from leads.timeline import DESCRIBERS

        EVENT_DESCRIBERS.update({str(k): v for k, v in DESCRIBERS.items()})
