"""``crm.compiled_sql``: a marked ``values()`` queryset's pages run from per-shape templates and
give exactly Django's rows; anything the templates do not handle is run by Django."""

from unittest import mock

import pytest
from django.db import connection
from django.db.models.query import ValuesIterable
from django.db.models.sql.compiler import SQLCompiler
from django.test.utils import CaptureQueriesContext

from crm import compiled_sql
from leads import selectors
from leads.api import LEAD_ROWS
from leads.models import Lead
from tests.factories import LeadFactory, TaskFactory

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _no_templates():
    compiled_sql.clear()
    yield
    compiled_sql.clear()


@pytest.fixture
def leads(rep, other_rep):
    mine = [LeadFactory(owner=rep) for _ in range(7)]
    theirs = [LeadFactory(owner=other_rep) for _ in range(5)]
    TaskFactory(owner=rep, lead=mine[2])
    Lead.objects.filter(pk=mine[4].pk).update(archived_at="2026-01-01T00:00:00Z")
    return mine, theirs


def _rows(user):
    return selectors.lead_list_rows(user=user, columns=LEAD_ROWS.columns)


def _django(qs) -> list[dict]:
    """The same queryset's rows as Django gives them."""
    plain = qs._chain()
    plain._iterable_class = ValuesIterable
    return list(plain)


def _pages(user, ids):
    """What the API's cursor pagination asks: first pages, pages after a position, reversed
    pages before one, an offset page, and a single row."""
    base = _rows(user)
    middle = sorted(ids)[len(ids) // 2]
    return [
        base.order_by("-id")[:3],
        base.order_by("-id")[:51],
        base.order_by("-id").filter(id__lt=middle)[:3],
        base.order_by("id").filter(id__gt=middle)[:2],
        base.order_by("-id")[1:4],
        base.filter(pk=middle)[:21],
    ]


def _compiles(model):
    """Count the compilations of ``model``'s queries."""
    real = SQLCompiler.as_sql
    calls = []

    def as_sql(self, *args, **kwargs):
        if self.query.model is model:
            calls.append(1)
        return real(self, *args, **kwargs)

    return calls, mock.patch.object(SQLCompiler, "as_sql", as_sql)


def test_template_rows_are_django_s(leads, rep, other_rep, admin):
    ids = [lead.pk for lead in leads[0] + leads[1]]
    for user in (rep, other_rep, admin, rep):  # rep twice: the second run is from templates
        for qs in _pages(user, ids):
            assert list(qs) == _django(qs)
    assert any(t is not None for t in compiled_sql._templates.values())


def test_each_rep_gets_their_own_rows_from_one_template(leads, rep, other_rep):
    mine, theirs = leads
    first = list(_rows(rep).order_by("-id")[:50])
    calls, patch = _compiles(Lead)
    with patch:
        second = list(_rows(other_rep).order_by("-id")[:50])
    assert calls == []  # the rep's template served the other rep
    assert {row["id"] for row in first} == {lead.pk for lead in mine} - {mine[4].pk}
    assert {row["id"] for row in second} == {lead.pk for lead in theirs}
    assert {row["owner_id"] for row in second} == {other_rep.pk}


def test_a_shape_is_compiled_once_then_runs_in_one_query(leads, rep, other_rep):
    ids = sorted(lead.pk for lead in leads[0])
    list(_rows(rep).order_by("-id").filter(id__lt=ids[-1])[:3])
    calls, patch = _compiles(Lead)
    with patch, CaptureQueriesContext(connection) as queries:
        for position in ids[1:]:
            rows = list(_rows(other_rep).order_by("-id").filter(id__lt=position)[:3])
            assert rows == _django(_rows(other_rep).order_by("-id").filter(id__lt=position)[:3])
    assert len(calls) == len(ids[1:])  # only the comparisons with Django's own rows compiled
    assert len(queries) == 2 * len(ids[1:])


def test_the_api_list_is_served_from_templates(leads, rep_api):
    warm = rep_api.get("/api/v1/leads/?page_size=2")
    rep_api.get(warm.json()["next"])  # a first page and a later one: two shapes
    calls, patch = _compiles(Lead)
    with patch:
        first = rep_api.get("/api/v1/leads/?page_size=2")
        second = rep_api.get(first.json()["next"])
    assert calls == []
    assert first.status_code == second.status_code == 200
    ids = [row["id"] for row in first.json()["results"] + second.json()["results"]]
    assert ids == sorted(ids, reverse=True) and len(ids) == 4


@pytest.mark.parametrize(
    "derive",
    [
        pytest.param(lambda qs, ids: qs.filter(id__in=ids[:3])[:10], id="a list"),
        pytest.param(lambda qs, ids: qs.none()[:10], id="none()"),
        pytest.param(lambda qs, ids: qs.filter(id__lt=2**70).order_by("id")[:10], id="overflow"),
        pytest.param(lambda qs, ids: qs.order_by("id"), id="no slice"),
        pytest.param(lambda qs, ids: qs.filter(owner__username="rep")[:10], id="a join"),
        pytest.param(lambda qs, ids: qs.exclude(owner__username="rep")[:10], id="exclude join"),
        pytest.param(lambda qs, ids: qs.filter(last_name__icontains="a")[:10], id="rewritten"),
        pytest.param(lambda qs, ids: qs.distinct().order_by("id")[:10], id="distinct"),
    ],
)
def test_other_shapes_give_django_s_rows(leads, admin, derive):
    ids = [lead.pk for lead in leads[0] + leads[1]]
    qs = derive(_rows(admin), ids)
    assert list(qs) == _django(qs)
    assert list(qs) == _django(qs)  # again: from the template if there is one


def test_only_a_bounded_number_of_templates_is_kept(leads, admin, monkeypatch):
    monkeypatch.setattr(compiled_sql, "MAX_TEMPLATES", 3)
    for name in ("a", "b", "c", "d", "e"):
        list(_rows(admin).filter(last_name=name)[:5])
    assert len(compiled_sql._templates) == 3
