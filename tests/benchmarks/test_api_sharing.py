"""The api-sharing scenario's references (``benchmarks.scenarios.api_sharing``): on a small
dataset in the test database, the hand-written SQL gives what the API answers, and the checks
that run before timing fail on a difference."""

import pytest
from django.db import connection

from benchmarks import dataset
from benchmarks.framework import BenchmarkError
from benchmarks.scenarios import api_sharing
from crm.models import User
from tests.conftest import _api_client

pytestmark = pytest.mark.django_db


def _rows(sql: str) -> list[dict]:
    with connection.cursor() as cur:
        cur.execute(sql)
        names = [c.name for c in cur.description]
        return [dict(zip(names, row, strict=True)) for row in cur.fetchall()]


@pytest.fixture
def users(db):
    dataset.insert_rows(20_000)  # 4,000 contacts, 2,000 deals, ~2,700 decisions
    reps = list(User.objects.filter(username__startswith="bench-rep-").order_by("id")[:3])
    admin = User.objects.create(username="bench-admin", role="admin")
    return reps, admin


def test_contact_reference_lists_what_the_api_lists(users):
    reps, _admin = users
    for rep in reps:
        ours = _api_client(rep).get(api_sharing.CONTACTS_PATH)
        assert ours.status_code == 200
        ref = _rows(api_sharing.contacts_sql(rep.pk))
        api_sharing.same_contacts(ours.json(), ref)
        assert len(ref) > 40  # own contacts and granted ones
        granted = [r for r in ref if r["owner"] != rep.pk]
        assert granted  # the sharing rules' grants are in both
        assert set(ref[0]) >= {"id", "first_name", "last_name", "owner", "account", "tags"}
        assert [r["tags"] for r in ours.json()["results"]] == [r["tags"] for r in ref]
        assert any(r["tags"] for r in ref)


def test_report_reference_counts_what_the_api_counts(users):
    reps, admin = users
    for user, rep_id in [(reps[0], reps[0].pk), (reps[1], reps[1].pk), (admin, None)]:
        ours = _api_client(user).get(api_sharing.REPORT_PATH)
        assert ours.status_code == 200
        ref = _rows(api_sharing.report_sql(rep_id))
        api_sharing.same_report(ours.json(), ref, "test")
    everyone = sum(r["count"] for r in _rows(api_sharing.report_sql(None)))
    one_rep = sum(r["count"] for r in _rows(api_sharing.report_sql(reps[0].pk)))
    assert 0 < one_rep < everyone


def test_checks_fail_on_a_difference():
    ours = {"results": [{"id": 3}, {"id": 2}]}
    api_sharing.same_contacts(ours, [{"id": 3}, {"id": 2}])
    for ref in ([{"id": 2}, {"id": 3}], [{"id": 3}], []):
        with pytest.raises(BenchmarkError):
            api_sharing.same_contacts(ours, ref)
    with pytest.raises(BenchmarkError):
        api_sharing.same_contacts({"results": []}, [])
    report = {"total": 5, "results": [{"key": 1, "count": 3}, {"key": None, "count": 2}]}
    same = [{"key": None, "count": 2}, {"key": 1, "count": 3}]
    api_sharing.same_report(report, same, "x")
    for ref in (
        [{"key": 1, "count": 3}],
        [{"key": 1, "count": 3}, {"key": None, "count": 1}],
        [{"key": 2, "count": 3}, {"key": None, "count": 2}],
    ):
        with pytest.raises(BenchmarkError):
            api_sharing.same_report(report, ref, "x")
    with pytest.raises(BenchmarkError):  # a total that is not the sum of the groups
        api_sharing.same_report({**report, "total": 6}, same, "x")
    with pytest.raises(BenchmarkError):  # nothing in the range: nothing was measured
        api_sharing.same_report({"total": 0, "results": []}, [], "x")
