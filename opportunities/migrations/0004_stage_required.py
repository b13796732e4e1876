import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("opportunities", "0003_default_pipeline")]

    operations = [
        migrations.AlterField(
            model_name="opportunity",
            name="stage",
            field=models.ForeignKey(
                on_delete=django.db.models.deletion.PROTECT,
                related_name="opportunities",
                to="opportunities.stage",
                verbose_name="stage",
            ),
        ),
        migrations.AlterField(
            model_name="opportunity",
            name="stage_entered_at",
            field=models.DateTimeField(verbose_name="in stage since"),
        ),
    ]
