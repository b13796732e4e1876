from django.conf import settings
from django.db import migrations
from django.db.models import Max
from django.utils import translation

BUY_NOW_WIN_REASON = "Bought online"


def create_defaults(apps, schema_editor):
    """A win reason for buy-now purchases, set as the buy-now win reason (idempotent)."""
    from django.utils.translation import gettext

    WinReason = apps.get_model("opportunities", "WinReason")
    Settings = apps.get_model("opportunities", "OpportunitySettings")
    obj, _created = Settings.objects.get_or_create(pk=1)
    if obj.buy_now_win_reason_id is not None:
        return
    with translation.override(settings.LANGUAGE_CODE):
        name = gettext(BUY_NOW_WIN_REASON)
    reason = WinReason.objects.filter(name__iexact=name, archived_at__isnull=True).first()
    if reason is None:
        last = WinReason.objects.aggregate(m=Max("order"))["m"]
        reason = WinReason.objects.create(name=name, order=(last or 0) + 1)
    obj.buy_now_win_reason = reason
    obj.save(update_fields=["buy_now_win_reason"])


class Migration(migrations.Migration):
    dependencies = [("opportunities", "0008_buy_now_sequences_automation")]

    operations = [migrations.RunPython(create_defaults, migrations.RunPython.noop)]
