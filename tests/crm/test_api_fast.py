"""The cached-fields representation (crm.api_fast) returns exactly what DRF's own did."""

import datetime as dt

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from rest_framework import serializers
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from crm.api_fast import CachedFieldsRepresentationMixin
from leads import services
from leads.api import LeadSerializer, LeadViewSet
from leads.models import DisqualificationReason
from tests.factories import LeadFactory, TaskFactory

pytestmark = pytest.mark.django_db
URL = "/api/v1/leads/"


@pytest.fixture
def varied_leads(rep, admin, other_rep):
    """Leads that exercise every kind of field: nulls, relations, dates, scores, a task."""
    plain = LeadFactory(owner=rep, company="Acme", title="CTO", country="Spain")
    LeadFactory(owner=rep, email="", phone="+34 600", industry="Retail", budget="yes")
    reason = DisqualificationReason.objects.create(name="Fast path check")
    lost = LeadFactory(owner=rep)
    services.lead_disqualify(
        actor=admin, lead=lost, reason=reason, note="later", revisit_on=dt.date(2030, 1, 2)
    )
    converted = LeadFactory(owner=rep, company="Beta")
    services.lead_convert(actor=admin, lead=converted)
    TaskFactory(owner=rep, lead=plain)
    LeadFactory(owner=other_rep, company="Hidden from rep")


def _pages(client, monkeypatch, *, drf):
    # the list serializes model instances (not values() rows: tests/leads/test_list_rows.py)
    monkeypatch.setattr(LeadViewSet, "list_from_rows", False)
    if drf:
        monkeypatch.setattr(
            LeadSerializer, "to_representation", serializers.Serializer.to_representation
        )
    try:
        return client.get(URL, {"page_size": 50}).json()
    finally:
        monkeypatch.undo()


@pytest.mark.parametrize("who", ["rep_api", "admin_api"])
def test_lead_list_is_identical_to_drf_output(request, varied_leads, monkeypatch, who):
    client = request.getfixturevalue(who)
    fast = _pages(client, monkeypatch, drf=False)
    slow = _pages(client, monkeypatch, drf=True)
    assert fast["results"], fast
    assert fast == slow
    assert list(fast["results"][0]) == list(slow["results"][0])  # same key order
    assert set(fast["results"][0]) == set(LeadSerializer.Meta.fields)
    assert any(row["disqualification_reason"] for row in fast["results"])
    assert any(row["converted_contact"] for row in fast["results"])


class _Thing(serializers.Serializer):
    pass


class _Plain(serializers.Serializer):
    name = serializers.CharField()
    size = serializers.IntegerField(required=False)
    nested = serializers.CharField(source="inner.label")
    method = serializers.CharField(source="shout")


class _Fast(CachedFieldsRepresentationMixin, _Plain):
    pass


class _Obj:
    def __init__(self, **kw):
        self.__dict__.update(kw)

    def shout(self):
        return str(self.name).upper()


@pytest.mark.parametrize(
    "instance",
    [
        _Obj(name="a", size=3, inner=_Obj(label="x")),
        _Obj(name="b", inner=_Obj(label="y")),  # missing optional attribute: skipped
        _Obj(name=None, size=None, inner=_Obj(label=None)),  # nulls
        {"name": "c", "size": "4", "inner": {"label": "z"}, "shout": "C"},  # a mapping
    ],
)
def test_fallbacks_match_drf(instance):
    assert _Fast(instance).data == _Plain(instance).data
    assert list(_Fast(instance).data) == list(_Plain(instance).data)


def test_missing_required_attribute_fails_the_same_way():
    with pytest.raises(AttributeError):
        _Plain(_Obj(inner=_Obj(label="x"))).data  # noqa: B018
    with pytest.raises(AttributeError):
        _Fast(_Obj(inner=_Obj(label="x"))).data  # noqa: B018


# --- the benchmark endpoints: a fixed, small number of queries for a token-authenticated rep ---
BENCH_ENDPOINTS = {
    # token + user (one join), then the page
    "/api/v1/leads/?page_size=50": 2,
    # token + user, then the page with its contacts' tag names (an array per row)
    "/api/v1/contacts/?page_size=50": 2,
    # token + user, then the GROUP BY reason (the total is the sum of the groups)
    "/api/v1/reports/disqualification/": 2,
}


@pytest.mark.parametrize("url", list(BENCH_ENDPOINTS))
def test_benchmark_endpoints_query_counts(varied_leads, rep, url):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=rep).key}")
    client.get(url)  # warm-up: per-process caches
    with CaptureQueriesContext(connection) as ctx:
        response = client.get(url)
    assert response.status_code == 200, response.content
    assert len(ctx.captured_queries) == BENCH_ENDPOINTS[url], [
        q["sql"][:120] for q in ctx.captured_queries
    ]


@pytest.mark.parametrize("who", ["rep_api", "admin_api"])
def test_contact_list_is_identical_to_drf_output(request, varied_leads, monkeypatch, who):
    from crm.api import ContactSerializer
    from tests.factories import ContactFactory

    ContactFactory(owner=request.getfixturevalue("rep"), email="")
    client = request.getfixturevalue(who)
    url = "/api/v1/contacts/?page_size=50"
    fast = client.get(url).json()
    monkeypatch.setattr(
        ContactSerializer, "to_representation", serializers.Serializer.to_representation
    )
    slow = client.get(url).json()
    assert fast["results"], fast
    assert fast == slow
    assert list(fast["results"][0]) == list(slow["results"][0])
