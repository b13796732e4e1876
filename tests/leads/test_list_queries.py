"""The shape of the lead list's and duplicate check's SQL: the forms the indexes of
``leads.models`` serve (checked with EXPLAIN on 1,000,000 leads: benchmarks/README.md)."""

import pytest
from django.db import connection
from django.http import QueryDict
from django.test.utils import CaptureQueriesContext

from leads.filters import LeadFilter
from leads.selectors import lead_duplicates, lead_list
from tests.factories import LeadFactory
from tests.scoring import scored_lead

pytestmark = pytest.mark.django_db


def _sql(qs) -> str:
    return str(qs.query).upper()


def test_duplicates_compare_lower_with_lower_and_still_ignore_case(rep):
    same = LeadFactory(owner=rep, email="Ana@Example.com", first_name="Ana", last_name="Ruiz")
    named = LeadFactory(owner=rep, first_name="Ana", last_name="GARCÍA", company="Olivos SL")
    with CaptureQueriesContext(connection) as ctx:
        found = lead_duplicates(
            user=rep,
            email="ana@example.COM",
            first_name="ana",
            last_name="garcía",
            company="OLIVOS sl",
        )
    assert {x.pk for x in found.leads} == {same.pk, named.pk}
    sql = ctx.captured_queries[0]["sql"].upper()
    assert 'LOWER("LEADS_LEAD"."EMAIL")' in sql and 'LOWER("LEADS_LEAD"."LAST_NAME")' in sql
    assert 'UPPER("LEADS_LEAD"' not in sql


def test_the_source_filter_compares_lower(rep):
    web = LeadFactory(owner=rep, source="Website")
    LeadFactory(owner=rep, source="Fair")
    qs = LeadFilter(QueryDict("source=WEBSITE"), queryset=lead_list(user=rep)).qs
    assert [x.pk for x in qs] == [web.pk]
    assert 'LOWER("LEADS_LEAD"."SOURCE")' in _sql(qs)


@pytest.mark.parametrize(
    ("sort", "key"),
    [
        ("name", 'LOWER("LEADS_LEAD"."LAST_NAME")'),
        ("company", 'LOWER("LEADS_LEAD"."COMPANY")'),
        ("created", '"LEADS_LEAD"."CREATED_AT"'),
        ("revisit", '"LEADS_LEAD"."REVISIT_ON"'),
        ("status", '"LEADS_LEAD"."STATUS"'),
        ("score", '"LEADS_LEADSCORE"."SCORE"'),
    ],
)
@pytest.mark.parametrize("descending", [False, True])
def test_each_sort_breaks_ties_by_id_in_its_own_direction(rep, sort, key, descending):
    direction = " DESC" if descending else " ASC"
    param = f"-{sort}" if descending else sort
    qs = LeadFilter(QueryDict(f"sort={param}"), queryset=lead_list(user=rep)).qs
    order = _sql(qs).split("ORDER BY")[1]
    assert order.strip() == f'{key}{direction}, "LEADS_LEAD"."ID"{direction}'
    if sort == "score":  # every lead has its score row: an inner join the score index can drive
        assert 'INNER JOIN "LEADS_LEADSCORE"' in _sql(qs)
    list(qs)


def test_sort_and_filters_by_score_read_the_score_rows(rep):
    low = scored_lead(owner=rep, score=10)
    high = scored_lead(owner=rep, score=120, sales_ready=True)
    mid = scored_lead(owner=rep, score=60)

    def ids(query):
        return [x.pk for x in LeadFilter(QueryDict(query), queryset=lead_list(user=rep)).qs]

    assert ids("sort=-score") == [high.pk, mid.pk, low.pk]
    assert ids("sort=score") == [low.pk, mid.pk, high.pk]
    assert ids("sales_ready=true") == [high.pk]
    assert ids("score_min=50&sort=score") == [mid.pk, high.pk]
    assert ids("score_max=60&sort=-score") == [mid.pk, low.pk]


def test_every_new_lead_has_its_score_row(rep):
    lead = LeadFactory(owner=rep)  # inserted without the services: the database adds the row
    assert (lead.score, lead.sales_ready) == (0, False)
    assert lead_list(user=rep).get(pk=lead.pk).lead_score.score == 0
