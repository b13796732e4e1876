from django.conf import settings
from django.db import migrations
from django.utils import translation

# name, applies a tag, follow-up in days (None: no task), colour, icon
DEFAULT_RATINGS = [
    ("Potential consultant", True, 7, "#6b3fa0", "★"),
    ("Promising prospect", True, 14, "#1a7f37", "▲"),
    ("Likely", True, 30, "#1d5fa8", "◆"),
    ("Undecided", True, 60, "#9a6700", "◇"),
    ("Not sure yet", False, 14, "#57606a", "?"),
    ("Not interested", False, None, "#a40e26", "✕"),
]


def create_defaults(apps, schema_editor):
    from django.utils.translation import gettext

    Rating = apps.get_model("leads", "Rating")
    if Rating.objects.exists():
        return
    with translation.override(settings.LANGUAGE_CODE):
        Rating.objects.bulk_create(
            Rating(
                name=gettext(name),
                applies_tag=tag,
                follow_up_days=days,
                colour=colour,
                icon=icon,
                order=i,
            )
            for i, (name, tag, days, colour, icon) in enumerate(DEFAULT_RATINGS)
        )


class Migration(migrations.Migration):
    dependencies = [("leads", "0004_ratings_follow_ups")]

    operations = [migrations.RunPython(create_defaults, migrations.RunPython.noop)]
