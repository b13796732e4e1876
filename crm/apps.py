from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class CrmConfig(AppConfig):
    name = "crm"
    verbose_name = _("CRM")

    def ready(self):
        from crm.activity import ACTIVITY_LOGGED, describe_logged
        from crm.web import EVENT_DESCRIBERS

        EVENT_DESCRIBERS[ACTIVITY_LOGGED] = describe_logged
