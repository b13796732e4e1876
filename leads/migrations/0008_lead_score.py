"""Scores move to their own narrow table (``LeadScore``, one row per lead).

A rescore rewrites most scores: on the lead rows every rewrite was a new version of a wide row
with an entry in each of the table's indexes; a ``LeadScore`` row is 40 bytes with two or three.
The scores are copied both ways (reversible). The database inserts the score row of every new
lead (a trigger), whoever inserts it. The trigger is created last: on SQLite, altering a column
of ``leads_lead`` re-creates the table, and its triggers with it; a later migration that does so
must create the trigger again (``create_score_row_trigger``).

Also: the source filter and the duplicate check compare ``lower()`` with ``lower()``, which the
``Lower`` indexes serve (``__iexact``'s ``UPPER()`` did not: the plain ``source`` index served
nothing); each sort of the list has an index of its key then the id (name and company ignoring
case, which the duplicate check uses too).
"""

import django.db.models.deletion
import django.db.models.functions.text
from django.db import migrations, models

PG_TRIGGER = """
CREATE FUNCTION leads_lead_score_row() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO leads_leadscore (lead_id, score, sales_ready)
    SELECT id, 0, false FROM new_leads
    ON CONFLICT (lead_id) DO NOTHING;
    RETURN NULL;
END
$$;
CREATE TRIGGER leads_lead_score_row AFTER INSERT ON leads_lead
REFERENCING NEW TABLE AS new_leads FOR EACH STATEMENT EXECUTE FUNCTION leads_lead_score_row();
"""
PG_DROP = """
DROP TRIGGER IF EXISTS leads_lead_score_row ON leads_lead;
DROP FUNCTION IF EXISTS leads_lead_score_row();
"""
SQLITE_TRIGGER = """
CREATE TRIGGER leads_lead_score_row AFTER INSERT ON leads_lead FOR EACH ROW BEGIN
    INSERT OR IGNORE INTO leads_leadscore (lead_id, score, sales_ready) VALUES (NEW.id, 0, 0);
END
"""
SQLITE_DROP = "DROP TRIGGER IF EXISTS leads_lead_score_row"


def _run(schema_editor, sql: str) -> None:
    with schema_editor.connection.cursor() as cur:
        cur.execute(sql)


def create_score_row_trigger(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    if vendor == "postgresql":
        _run(schema_editor, PG_TRIGGER)
    elif vendor == "sqlite":
        _run(schema_editor, SQLITE_TRIGGER)
    else:
        raise NotImplementedError(f"no score-row trigger for {vendor}")


def drop_score_row_trigger(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    if vendor == "postgresql":
        _run(schema_editor, PG_DROP)
    elif vendor == "sqlite":
        _run(schema_editor, SQLITE_DROP)


def copy_scores(apps, schema_editor):
    _run(
        schema_editor,
        "INSERT INTO leads_leadscore (lead_id, score, sales_ready) "
        "SELECT id, score, sales_ready FROM leads_lead",
    )


def copy_scores_back(apps, schema_editor):
    _run(
        schema_editor,
        "UPDATE leads_lead SET score = s.score, sales_ready = s.sales_ready "
        "FROM leads_leadscore AS s WHERE s.lead_id = leads_lead.id",
    )


class Migration(migrations.Migration):
    dependencies = [
        ("leads", "0007_lead_indexes"),
    ]

    operations = [
        migrations.CreateModel(
            name="LeadScore",
            fields=[
                (
                    "lead",
                    models.OneToOneField(
                        on_delete=django.db.models.deletion.CASCADE,
                        primary_key=True,
                        related_name="lead_score",
                        serialize=False,
                        to="leads.lead",
                        verbose_name="lead",
                    ),
                ),
                ("score", models.IntegerField(default=0, verbose_name="score")),
                ("sales_ready", models.BooleanField(default=False, verbose_name="sales-ready")),
            ],
            options={
                "verbose_name": "lead score",
                "verbose_name_plural": "lead scores",
            },
        ),
        migrations.RunPython(copy_scores, copy_scores_back),
        migrations.AddIndex(
            model_name="leadscore",
            index=models.Index(fields=["score", "lead"], name="lead_score_score_idx"),
        ),
        migrations.AddIndex(
            model_name="leadscore",
            index=models.Index(
                condition=models.Q(("sales_ready", True)),
                fields=["score", "lead"],
                name="lead_score_ready_idx",
            ),
        ),
        migrations.RemoveIndex(model_name="lead", name="leads_lead_score_016ea8_idx"),
        migrations.RemoveIndex(model_name="lead", name="leads_lead_sales_r_6146ed_idx"),
        migrations.RemoveField(model_name="lead", name="sales_ready"),
        migrations.RemoveField(model_name="lead", name="score"),
        migrations.RemoveIndex(model_name="lead", name="leads_lead_source_200868_idx"),
        migrations.AddIndex(
            model_name="lead",
            index=models.Index(
                django.db.models.functions.text.Lower("source"), name="lead_source_lower_idx"
            ),
        ),
        # The list's sorts: the key, then the id (leads.filters.LeadOrdering).
        migrations.RemoveIndex(model_name="lead", name="leads_lead_status_e23abe_idx"),
        migrations.AddIndex(
            model_name="lead",
            index=models.Index(fields=["status", "id"], name="lead_status_id_idx"),
        ),
        migrations.RemoveIndex(model_name="lead", name="lead_frozen_revisit_idx"),
        migrations.AddIndex(
            model_name="lead",
            index=models.Index(fields=["revisit_on", "id"], name="lead_revisit_id_idx"),
        ),
        migrations.RemoveIndex(model_name="lead", name="lead_last_name_lower_idx"),
        migrations.AddIndex(
            model_name="lead",
            index=models.Index(
                django.db.models.functions.text.Lower("last_name"),
                models.F("id"),
                name="lead_last_name_lower_idx",
            ),
        ),
        migrations.RemoveIndex(model_name="lead", name="lead_company_lower_idx"),
        migrations.AddIndex(
            model_name="lead",
            index=models.Index(
                django.db.models.functions.text.Lower("company"),
                models.F("id"),
                name="lead_company_lower_idx",
            ),
        ),
        # Last: see the module's docstring.
        migrations.RunPython(create_score_row_trigger, drop_score_row_trigger),
    ]
