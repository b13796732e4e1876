"""Trigram indexes for the global search (crm/search.py), on Postgres only.

Each index is on exactly the expression crm/search.py compiles to (``UPPER(<haystack>)`` for the
``icontains`` matches, the phone's digits for phone matches) and partial like the searches (live
records only; phones that are set): change one, change the other.

``leads_lead`` gets two indexes only (one for name/company/e-mail, one for phone digits): every
index there costs the bulk rescore, which rewrites nearly every lead. They live here, not in
``leads/models.py``, because the models cannot declare them portably: an index on a
``regexp_replace`` expression with ``gin_trgm_ops`` is Postgres-only, and the embedded mode runs
on SQLite, where this migration does nothing.

``CREATE INDEX CONCURRENTLY`` keeps the tables writable while the indexes build (so the migration
is not atomic); ``pg_trgm`` is a trusted extension since Postgres 13: the database owner may
create it.
"""

from django.db import migrations

INDEXES = {
    "search_lead_text_trgm": (
        "leads_lead",
        "UPPER((first_name || ' ' || last_name || ' ' || company || ' ' || email))",
        "archived_at IS NULL",
    ),
    "search_lead_phone_trgm": (
        "leads_lead",
        r"regexp_replace(phone, '\D', '', 'g')",
        "archived_at IS NULL AND phone <> ''",
    ),
    "search_contact_text_trgm": (
        "crm_contact",
        "UPPER((first_name || ' ' || last_name || ' ' || email))",
        "archived_at IS NULL",
    ),
    "search_contact_phone_trgm": (
        "crm_contact",
        r"regexp_replace(phone, '\D', '', 'g')",
        "archived_at IS NULL AND phone <> ''",
    ),
    "search_account_name_trgm": ("crm_account", "UPPER(name)", "archived_at IS NULL"),
    "search_opportunity_name_trgm": (
        "opportunities_opportunity",
        "UPPER(name)",
        "archived_at IS NULL",
    ),
}


class PostgresOnlySQL(migrations.RunSQL):
    """RunSQL that does nothing on other databases (the embedded SQLite mode)."""

    def database_forwards(self, app_label, schema_editor, from_state, to_state):
        if schema_editor.connection.vendor == "postgresql":
            super().database_forwards(app_label, schema_editor, from_state, to_state)

    def database_backwards(self, app_label, schema_editor, from_state, to_state):
        if schema_editor.connection.vendor == "postgresql":
            super().database_backwards(app_label, schema_editor, from_state, to_state)


def _create(name: str) -> str:
    table, expression, condition = INDEXES[name]
    return (
        f"CREATE INDEX CONCURRENTLY IF NOT EXISTS {name} ON {table} "
        f"USING gin ({expression} gin_trgm_ops) WHERE {condition}"
    )


class Migration(migrations.Migration):
    atomic = False

    dependencies = [
        ("crm", "0006_saved_view"),
        ("leads", "0007_lead_indexes"),
        ("opportunities", "0009_buy_now_default_reason"),
    ]

    operations = [
        PostgresOnlySQL(
            sql="CREATE EXTENSION IF NOT EXISTS pg_trgm",
            reverse_sql=migrations.RunSQL.noop,
        ),
        *[
            PostgresOnlySQL(
                sql=_create(name), reverse_sql=f"DROP INDEX CONCURRENTLY IF EXISTS {name}"
            )
            for name in INDEXES
        ],
    ]
