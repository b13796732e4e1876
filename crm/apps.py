from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class CrmConfig(AppConfig):
    name = "crm"
    verbose_name = _("CRM")

    def ready(self):
        from crm.activity import ACTIVITY_LOGGED, describe_logged
        from crm.web import EVENT_DESCRIBERS

        EVENT_DESCRIBERS[ACTIVITY_LOGGED] = describe_logged

        # an API token's remembered user (crm.api_auth) is forgotten when either changes
        from django.conf import settings
        from django.db.models.signals import post_delete, post_save
        from rest_framework.authtoken.models import Token

        post_save.connect(_forget_user, sender=settings.AUTH_USER_MODEL, weak=False)
        post_save.connect(_forget_token_user, sender=Token, weak=False)
        post_delete.connect(_forget_token_user, sender=Token, weak=False)


def _forget_user(sender, instance, **kwargs):
    from crm import api_auth

    api_auth.forget(instance.pk)


def _forget_token_user(sender, instance, **kwargs):
    from crm import api_auth

    api_auth.forget(instance.user_id)
