from django.conf import settings
from django.db import migrations
from django.utils import translation

# BANT: 25 points each; the default threshold (100) is reached only when all four are favourable.
DEFAULT_CRITERIA = [
    ("Budget confirmed", "budget", "eq", "yes", 25),
    ("Talking to the decision maker", "authority", "eq", "yes", 25),
    ("Has a need we solve", "need", "eq", "yes", 25),
    ("Buying within 6 months", "timeline", "in", "lt_3m,3_6m", 25),
]


def create_defaults(apps, schema_editor):
    from django.utils.translation import gettext

    Criterion = apps.get_model("scoring", "Criterion")
    Settings = apps.get_model("scoring", "ScoringSettings")
    Settings.objects.get_or_create(pk=1, defaults={"threshold": 100})
    if Criterion.objects.exists():
        return
    with translation.override(settings.LANGUAGE_CODE):
        Criterion.objects.bulk_create(
            Criterion(name=gettext(name), field=field, operator=op, value=value, points=points)
            for name, field, op, value, points in DEFAULT_CRITERIA
        )


class Migration(migrations.Migration):
    dependencies = [("scoring", "0001_scoring")]

    operations = [migrations.RunPython(create_defaults, migrations.RunPython.noop)]
