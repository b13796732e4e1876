from django.conf import settings
from django.db import migrations
from django.utils import translation

DEFAULT_REASONS = [
    "No budget",
    "Not the decision maker",
    "No need",
    "Bad timing",
    "Outside our territory",
    "Chose a competitor",
    "Unresponsive",
    "Duplicate",
]


def create_defaults(apps, schema_editor):
    from django.utils.translation import gettext

    Reason = apps.get_model("leads", "DisqualificationReason")
    Settings = apps.get_model("leads", "LeadSettings")
    if not Reason.objects.exists():
        # Names are stored in the installation's default language; admins rename them freely.
        with translation.override(settings.LANGUAGE_CODE):
            Reason.objects.bulk_create(
                Reason(name=gettext(name), order=i) for i, name in enumerate(DEFAULT_REASONS)
            )
    Settings.objects.get_or_create(pk=1)


class Migration(migrations.Migration):
    dependencies = [("leads", "0002_workflow")]

    operations = [migrations.RunPython(create_defaults, migrations.RunPython.noop)]
