"""The api scenario's reference runs every data statement of the request, and only those."""

import pytest
from rest_framework.authtoken.models import Token

from benchmarks.scenarios.api import _AUTH_TABLES, _data_statements, _main_table
from tests.factories import LeadFactory

TOKEN_LOOKUP = (
    'SELECT "authtoken_token"."key", "crm_user"."id" FROM "authtoken_token" INNER JOIN '
    '"crm_user" ON ("authtoken_token"."user_id" = "crm_user"."id") WHERE '
    '"authtoken_token"."key" = \'abc\' LIMIT 21'
)
# A data statement that joins the owner's user row, with a subquery in its select list (the
# earlier rule looked for auth tables before the first " WHERE ", which that subquery holds).
LEADS_WITH_OWNERS = (
    'SELECT "leads_lead"."id", (SELECT U0."due_on" FROM "crm_task" U0 WHERE U0."lead_id" = '
    '("leads_lead"."id") LIMIT 1) AS "next_task_due", "crm_user"."first_name" FROM "leads_lead" '
    'INNER JOIN "crm_user" ON ("leads_lead"."owner_id" = "crm_user"."id") WHERE '
    '"leads_lead"."owner_id" = 1 ORDER BY 1 DESC LIMIT 51'
)
PLAIN_JOIN = (
    'SELECT "leads_lead"."id", "crm_user"."first_name" FROM "leads_lead" INNER JOIN "crm_user" '
    'ON ("leads_lead"."owner_id" = "crm_user"."id") WHERE "leads_lead"."owner_id" = 1'
)


def test_the_main_table_is_the_top_level_from():
    assert _main_table(TOKEN_LOOKUP) == "authtoken_token"
    assert _main_table(LEADS_WITH_OWNERS) == "leads_lead"
    assert _main_table(PLAIN_JOIN) == "leads_lead"
    assert _main_table('SELECT 1 FROM "django_session" WHERE x = 1') == "django_session"
    assert _main_table('SELECT "crm_user"."id" FROM "crm_user" WHERE id = 1') == "crm_user"
    assert {"authtoken_token", "django_session", "crm_user"} == _AUTH_TABLES


@pytest.mark.django_db
def test_the_reference_keeps_the_data_query_and_drops_the_token_lookup(rep):
    LeadFactory.create_batch(3, owner=rep)
    token, _ = Token.objects.get_or_create(user=rep)
    statements = _data_statements("/api/v1/leads/?page_size=50", token.key)
    assert len(statements) == 1
    assert _main_table(statements[0]) == "leads_lead"
    assert "authtoken_token" not in " ".join(statements)
