"""Accent-insensitive search (crm/search.py ``Fold``): the trigram indexes on names, companies and
e-mails become indexes on ``UPPER(TRANSLATE(<text>, 'á…', 'a…'))``, the expressions the search now
compiles to. Postgres only, like 0007; the phone-digit indexes stay. The new index is built before
the old one is dropped, so the search is never without one; ``leads_lead`` keeps two search indexes.
"""

import importlib

from django.db import migrations

# Frozen copies of crm.search.ACCENTED and PLAIN (a migration must not change with the code;
# tests/crm/test_search.py checks the plans use these indexes).
ACCENTED = "áàâäãåÁÀÂÄÃÅéèêëÉÈÊËíìîïÍÌÎÏóòôöõÓÒÔÖÕúùûüÚÙÛÜçÇñÑýÿÝ"
PLAIN = "aaaaaaAAAAAAeeeeEEEEiiiiIIIIoooooOOOOOuuuuUUUUcCnNyyY"

search_0007 = importlib.import_module("crm.migrations.0007_search_trigram")
PostgresOnlySQL = search_0007.PostgresOnlySQL

FOLDED = {
    # new index: (old index, table, text expression)
    "search_lead_fold_trgm": (
        "search_lead_text_trgm",
        "leads_lead",
        "(first_name || ' ' || last_name || ' ' || company || ' ' || email)",
    ),
    "search_contact_fold_trgm": (
        "search_contact_text_trgm",
        "crm_contact",
        "(first_name || ' ' || last_name || ' ' || email)",
    ),
    "search_account_fold_trgm": ("search_account_name_trgm", "crm_account", "name"),
    "search_opportunity_fold_trgm": (
        "search_opportunity_name_trgm",
        "opportunities_opportunity",
        "name",
    ),
}


def _create(name: str) -> str:
    _old, table, text = FOLDED[name]
    return (
        f"CREATE INDEX CONCURRENTLY IF NOT EXISTS {name} ON {table} USING gin "
        f"(UPPER(TRANSLATE({text}, '{ACCENTED}', '{PLAIN}')) gin_trgm_ops) "
        "WHERE archived_at IS NULL"
    )


def _swap(name: str) -> list:
    old = FOLDED[name][0]
    return [
        PostgresOnlySQL(sql=_create(name), reverse_sql=f"DROP INDEX CONCURRENTLY IF EXISTS {name}"),
        PostgresOnlySQL(
            sql=f"DROP INDEX CONCURRENTLY IF EXISTS {old}", reverse_sql=search_0007._create(old)
        ),
    ]


class Migration(migrations.Migration):
    atomic = False

    dependencies = [("crm", "0008_next_activity_indexes")]

    operations = [operation for name in FOLDED for operation in _swap(name)]
