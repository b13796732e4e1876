from django.conf import settings
from django.db import migrations
from django.db.models import F
from django.utils import translation

# (name, probability, active): the open stages are active, so that automation never creates a
# second opportunity for a contact a rep is working; the last two close the deal.
DEFAULT_STAGES = [
    ("Prospecting", 10, True),
    ("Qualification", 25, True),
    ("Proposal", 60, True),
    ("Negotiation", 80, True),
    ("Won", 100, False),
    ("Lost", 0, False),
]
DEFAULT_WIN_REASONS = ["Best fit for their need", "Price", "Relationship", "Support and service"]
DEFAULT_LOSS_REASONS = [
    "Price too high",
    "Chose a competitor",
    "No budget",
    "No decision",
    "Missing feature",
]


def create_defaults(apps, schema_editor):
    from django.utils.translation import gettext

    Stage = apps.get_model("opportunities", "Stage")
    WinReason = apps.get_model("opportunities", "WinReason")
    LossReason = apps.get_model("opportunities", "LossReason")
    Settings = apps.get_model("opportunities", "OpportunitySettings")
    Opportunity = apps.get_model("opportunities", "Opportunity")
    # Names are stored in the installation's default language; admins rename them freely.
    with translation.override(settings.LANGUAGE_CODE):
        if not Stage.objects.exists():
            stages = Stage.objects.bulk_create(
                Stage(name=gettext(name), probability=p, order=i)
                for i, (name, p, _active) in enumerate(DEFAULT_STAGES)
            )
            obj, _ = Settings.objects.get_or_create(pk=1)
            obj.default_stage = stages[0]
            obj.win_stage = stages[-2]
            obj.loss_stage = stages[-1]
            obj.save()
            obj.active_stages.set(
                [s for s, (_n, _p, active) in zip(stages, DEFAULT_STAGES, strict=True) if active]
            )
        if not WinReason.objects.exists():
            WinReason.objects.bulk_create(
                WinReason(name=gettext(n), order=i) for i, n in enumerate(DEFAULT_WIN_REASONS)
            )
        if not LossReason.objects.exists():
            LossReason.objects.bulk_create(
                LossReason(name=gettext(n), order=i) for i, n in enumerate(DEFAULT_LOSS_REASONS)
            )
    Settings.objects.get_or_create(pk=1)
    # Opportunities made before the pipeline existed start in the default stage.
    default = Settings.objects.get(pk=1).default_stage
    if default is not None:
        Opportunity.objects.filter(stage__isnull=True).update(
            stage=default, stage_entered_at=F("created_at")
        )


class Migration(migrations.Migration):
    dependencies = [("opportunities", "0002_pipeline")]

    operations = [migrations.RunPython(create_defaults, migrations.RunPython.noop)]
