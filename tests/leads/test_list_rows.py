"""``GET /api/v1/leads/`` serializes ``values()`` rows (``leads.api.LEAD_ROWS``): the same bytes
as ``LeadSerializer`` over model instances, in one data query of the columns it needs."""

import datetime as dt

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from rest_framework import serializers

from crm.api_fast import RowRepresentation
from leads import services
from leads.api import LeadViewSet
from leads.filters import LeadFilter
from leads.models import DisqualificationReason, Lead, LeadScore, Rating
from tests.factories import LeadFactory, TaskFactory

pytestmark = pytest.mark.django_db
URL = "/api/v1/leads/"


@pytest.fixture
def varied_leads(rep, admin, other_rep):
    """Every kind of value the list shows: empty and null fields, each relation set, a
    disqualified (frozen) and a converted lead, a rating, a lead without its score row, next
    activities overdue, today, later and none, a done task, and a lead of someone else."""
    today = timezone.localdate()
    leads = [
        LeadFactory(owner=rep, company="Acme", title="CTO", country="Spain", budget="yes"),
        LeadFactory(owner=rep, email="", phone="", industry="", company_size="", need="no"),
        LeadFactory(owner=rep, first_name="Ñandú", last_name='O\'Brien "Q"', timeline="lt_3m"),
    ]
    reason = DisqualificationReason.objects.create(name="Rows check")
    lost = LeadFactory(owner=rep)
    services.lead_disqualify(
        actor=admin, lead=lost, reason=reason, note="ask again", revisit_on=dt.date(2030, 1, 2)
    )
    converted = LeadFactory(owner=rep, company="Beta")
    services.lead_convert(actor=admin, lead=converted)
    rated = LeadFactory(owner=rep)
    Lead.objects.filter(pk=rated.pk).update(rating=Rating.objects.order_by("id").first())
    scored = LeadFactory(owner=rep)
    LeadScore.objects.filter(lead=scored).update(score=120, sales_ready=True)
    unscored = LeadFactory(owner=rep)
    LeadScore.objects.filter(lead=unscored).delete()
    for days, lead in zip((-3, 0, 5), leads, strict=True):
        TaskFactory(owner=rep, lead=lead, due_on=today + dt.timedelta(days=days))
    TaskFactory(owner=admin, lead=leads[0], due_on=today + dt.timedelta(days=9))
    TaskFactory(owner=rep, lead=rated, due_on=today - dt.timedelta(days=1), done=True)
    LeadFactory(owner=other_rep, company="Hidden from rep")
    return [*leads, lost, converted, rated, scored, unscored]


def _get(client, monkeypatch, params, *, rows: bool):
    monkeypatch.setattr(LeadViewSet, "list_from_rows", rows)
    try:
        response = client.get(URL, params)
    finally:
        monkeypatch.undo()
    assert response.status_code == 200, response.content
    return response


@pytest.mark.parametrize("who", ["rep_api", "admin_api", "rep_client"])
@pytest.mark.parametrize(
    "params",
    [
        {"page_size": 50},
        {"page_size": 3},
        {"sort": "name", "page_size": 4},
        {"status": "unqualified"},
        {"next_activity": "overdue"},
        {"score_min": 100},
    ],
)
def test_rows_give_the_serializers_very_bytes(request, varied_leads, monkeypatch, who, params):
    if who == "rep_client":  # a session: the user's own time zone applies to datetimes
        rep = request.getfixturevalue("rep")
        type(rep).objects.filter(pk=rep.pk).update(time_zone="America/New_York")
    client = request.getfixturevalue(who)
    fast = _get(client, monkeypatch, params, rows=True)
    slow = _get(client, monkeypatch, params, rows=False)
    assert fast.content == slow.content
    assert fast.json()["results"]
    # and the next page, through the cursor of each
    next_url = fast.json()["next"]
    if next_url:
        assert next_url == slow.json()["next"]
        monkeypatch.setattr(LeadViewSet, "list_from_rows", True)
        fast_page = client.get(next_url)
        monkeypatch.setattr(LeadViewSet, "list_from_rows", False)
        slow_page = client.get(next_url)
        monkeypatch.undo()
        assert fast_page.status_code == slow_page.status_code == 200
        assert fast_page.content == slow_page.content


def test_the_varied_page_really_is_varied(rep_api, varied_leads):
    rows = rep_api.get(URL, {"page_size": 50}).json()["results"]
    assert len(rows) == len(varied_leads)
    assert {r["next_activity"]["state"] for r in rows} == {"overdue", "today", "later", "none"}
    assert any(r["disqualification_reason"] and r["revisit_on"] for r in rows)
    assert any(r["converted_contact"] and r["converted_at"] for r in rows)
    assert any(r["rating"] for r in rows)
    assert any(r["sales_ready"] and r["score"] == 120 for r in rows)
    assert any(r["email"] == "" for r in rows)
    assert all(r["owner"] for r in rows)


def _data_queries(client, params=None) -> list[str]:
    with CaptureQueriesContext(connection) as ctx:
        response = client.get(URL, params or {"page_size": 50})
    assert response.status_code == 200
    return [q["sql"] for q in ctx.captured_queries if '"leads_lead"' in q["sql"]]


@pytest.mark.parametrize("count", [3, 30])
def test_the_list_is_two_queries_whatever_its_length(rep_api, rep, count):
    leads = LeadFactory.create_batch(count, owner=rep)
    for lead in leads[::2]:
        TaskFactory(owner=rep, lead=lead)
    with CaptureQueriesContext(connection) as ctx:
        response = rep_api.get(URL, {"page_size": 50})
    assert len(response.json()["results"]) == count
    assert len(ctx.captured_queries) == 2, [q["sql"] for q in ctx.captured_queries]  # token, data


def test_the_data_query_reads_only_what_the_list_returns(rep_api, varied_leads):
    (sql,) = _data_queries(rep_api)
    assert '"crm_user"' not in sql  # the owner is its id: no join
    assert '"leads_rating"' not in sql and '"leads_disqualificationreason"' not in sql
    assert '"leads_lead"."archived_at" AS' not in sql
    assert sql.count('"crm_task"') == 1  # the next activity's due date, not the task's title
    assert '"leads_lead"."owner_id" = ' in sql  # visibility (crm.access.visible_leads)


def test_the_list_keeps_the_rep_to_their_own_leads(rep_api, other_rep_api, varied_leads):
    mine = {r["id"] for r in rep_api.get(URL, {"page_size": 200}).json()["results"]}
    theirs = {r["id"] for r in other_rep_api.get(URL, {"page_size": 200}).json()["results"]}
    assert mine == {lead.pk for lead in varied_leads}
    assert len(theirs) == 1 and not mine & theirs


# --- the filter backend: no FilterSet without a filter parameter ---------------------------------


@pytest.fixture
def filtersets(monkeypatch):
    built = []
    original = LeadFilter.__init__

    def counting(self, *args, **kwargs):
        built.append(self)
        original(self, *args, **kwargs)

    monkeypatch.setattr(LeadFilter, "__init__", counting)
    return built


@pytest.mark.parametrize("params", [{}, {"page_size": 5}, {"page_size": 5, "unknown": "x"}])
def test_no_filterset_without_a_filter_parameter(rep_api, rep, filtersets, params):
    LeadFactory(owner=rep)
    assert rep_api.get(URL, params).status_code == 200
    assert filtersets == []


@pytest.mark.parametrize(
    ("params", "status"),
    [
        ({"status": "new"}, 200),
        ({"sort": "-name"}, 200),
        ({"created_after": "2020-01-01"}, 200),
        ({"rating": "2.5"}, 400),
        ({"status": "nonsense"}, 400),
    ],
)
def test_a_filter_parameter_builds_the_filterset(rep_api, rep, filtersets, params, status):
    LeadFactory(owner=rep)
    assert rep_api.get(URL, params).status_code == status
    assert len(filtersets) == 1


def test_filters_still_filter(rep_api, rep):
    new = LeadFactory(owner=rep)
    other = LeadFactory(owner=rep)
    reason = DisqualificationReason.objects.create(name="Filter check")
    services.lead_disqualify(actor=rep, lead=other, reason=reason)
    ids = [r["id"] for r in rep_api.get(URL, {"status": "new"}).json()["results"]]
    assert ids == [new.pk]


# --- RowRepresentation ---------------------------------------------------------------------------


class _WithMethod(serializers.Serializer):
    name = serializers.CharField()
    shout = serializers.SerializerMethodField()

    def get_shout(self, obj) -> str:
        return obj.name.upper()


def test_a_field_without_a_column_is_refused():
    with pytest.raises(ImproperlyConfigured, match="shout"):
        RowRepresentation(_WithMethod).columns  # noqa: B018


def test_computed_fields_and_nulls():
    rows = RowRepresentation(
        _WithMethod, computed={"shout": (("name",), lambda row: (row["name"] or "").upper())}
    )
    assert rows.columns == ("name",)
    assert rows.represent([{"name": "ana"}, {"name": None}]) == [
        {"name": "ana", "shout": "ANA"},
        {"name": None, "shout": ""},
    ]


def test_requests_share_the_base_rows_queryset_and_never_evaluate_it(rep_api, admin_api, rep):
    from leads.api import LEAD_ROWS
    from leads.selectors import _lead_rows_base

    LeadFactory.create_batch(2, owner=rep)
    assert len(rep_api.get(URL).json()["results"]) == 2
    assert len(admin_api.get(URL, {"status": "new"}).json()["results"]) == 2
    base = _lead_rows_base(LEAD_ROWS.columns)
    assert base._result_cache is None
    assert not base.query.where.children  # no user's visibility, no filter stuck on it


class _Converting(serializers.ModelSerializer):
    """Columns whose DRF field does change the value: they must not be copied as they are."""

    id = serializers.CharField()  # an integer column shown as text
    status = serializers.ChoiceField(choices=[(1, "one"), (2, "two")])  # integer keys
    big = serializers.BigIntegerField(source="company_size", coerce_to_string=True)
    owner = serializers.PrimaryKeyRelatedField(read_only=True, pk_field=serializers.CharField())

    class Meta:
        model = Lead
        fields = ["id", "status", "big", "owner", "first_name"]


def test_only_values_drf_keeps_unchanged_are_copied():
    rows = RowRepresentation(_Converting)
    assert rows.columns == ("id", "status", "company_size", "owner_id", "first_name")
    row = {"id": 5, "status": "2", "company_size": 7, "owner_id": 3, "first_name": "Ana"}
    assert rows.represent([row]) == [
        {"id": "5", "status": 2, "big": "7", "owner": "3", "first_name": "Ana"}
    ]
    names = ["id", "status", "big", "owner", "first_name"]
    assert list(rows.represent([row])[0]) == names
    assert rows.represent([dict.fromkeys(row)]) == [dict.fromkeys(names)]
