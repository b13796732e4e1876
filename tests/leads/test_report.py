import datetime as dt
import random
from collections import Counter

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext

from leads import selectors, services
from leads.models import LeadStatus
from tests.factories import LeadFactory, UserFactory

pytestmark = pytest.mark.django_db
URL = "/api/v1/reports/disqualification/"


@pytest.fixture
def generated(rep, other_rep, reasons):
    """Random leads disqualified on known dates; returns the hand-kept ledger."""
    rnd = random.Random(7)
    reason_list = list(reasons.values())
    sources = ["Web", "Referral", "Fair", ""]
    ledger = []
    for i in range(60):
        owner = rnd.choice([rep, other_rep])
        lead = LeadFactory(owner=owner, source=rnd.choice(sources))
        day = dt.date(2026, 10, 1) + dt.timedelta(days=rnd.randrange(40))
        reason = rnd.choice(reason_list)
        if i % 5 == 0:
            continue  # never disqualified
        with time_machine.travel(dt.datetime.combine(day, dt.time(12), tzinfo=dt.UTC)):
            services.lead_disqualify(actor=owner, lead=lead, reason=reason)
            if i % 7 == 0:  # a changed mind: the reason is replaced, only the latest counts
                reason = rnd.choice(reason_list)
                services.lead_disqualify(actor=owner, lead=lead, reason=reason)
        ledger.append((day, reason.pk, lead.source, owner.pk))
    return ledger


def test_numbers_equal_a_hand_count(admin_api, generated):
    since, until = dt.date(2026, 10, 10), dt.date(2026, 10, 31)
    in_range = [x for x in generated if since <= x[0] <= until]
    for group_by, idx in (("reason", 1), ("source", 2), ("owner", 3)):
        r = admin_api.get(URL, {"since": since, "until": until, "group_by": group_by})
        assert r.status_code == 200
        body = r.json()
        assert body["total"] == len(in_range)
        assert {row["key"]: row["count"] for row in body["results"]} == dict(
            Counter(x[idx] for x in in_range)
        )


def test_rep_counts_only_their_leads(rep, rep_api, generated):
    mine = [x for x in generated if x[3] == rep.pk]
    assert rep_api.get(URL).json()["total"] == len(mine)


def test_query_count_does_not_grow_with_leads(admin, reasons):
    owner = UserFactory()

    def count_queries():
        with CaptureQueriesContext(connection) as ctx:
            for g in selectors.GROUP_BY:
                selectors.disqualification_report(user=admin, group_by=g)
            selectors.qualification_by_source(user=admin)
        return len(ctx.captured_queries)

    for _ in range(3):
        services.lead_disqualify(
            actor=owner, lead=LeadFactory(owner=owner), reason=reasons["No need"]
        )
    small = count_queries()
    for i in range(40):
        lead = LeadFactory(owner=owner, source=f"s{i % 6}")
        services.lead_disqualify(actor=owner, lead=lead, reason=list(reasons.values())[i % 8])
    assert count_queries() == small


def test_qualification_rate_per_source(rep, rep_api, reasons):
    for status in [LeadStatus.QUALIFIED, LeadStatus.CONVERTED, LeadStatus.NEW, LeadStatus.NEW]:
        LeadFactory(owner=rep, source="Web", status=status)
    services.lead_disqualify(
        actor=rep, lead=LeadFactory(owner=rep, source="Fair"), reason=reasons["No need"]
    )
    rows = {
        r["key"]: r
        for r in rep_api.get("/api/v1/reports/qualification-by-source/").json()["results"]
    }
    assert rows["Web"]["total"] == 4 and rows["Web"]["qualified"] == 2
    assert rows["Web"]["qualification_rate"] == 0.5
    assert rows["Fair"]["disqualified"] == 1 and rows["Fair"]["qualification_rate"] == 0


def test_bad_parameters_are_400(rep_api):
    assert rep_api.get(URL, {"group_by": "colour"}).status_code == 400
    assert rep_api.get(URL, {"since": "yesterday"}).status_code == 400
    assert rep_api.get(URL, {"since": "2026-05-02", "until": "2026-05-01"}).status_code == 400


@pytest.mark.parametrize("who", ["admin", "rep"])
def test_report_is_one_query_and_its_total_the_sum_of_its_groups(who, request, generated):
    user = request.getfixturevalue(who)
    for group_by in selectors.GROUP_BY:
        with CaptureQueriesContext(connection) as ctx:
            report = selectors.disqualification_report(user=user, group_by=group_by)
        assert len(ctx.captured_queries) == 1
        assert report["total"] == sum(row["count"] for row in report["results"]) > 0


def test_admin_report_reads_no_lead_row_and_a_rep_report_only_their_leads(
    admin, rep, other_rep, generated
):
    with CaptureQueriesContext(connection) as ctx:
        everything = selectors.disqualification_report(user=admin)
    assert '"leads_lead"' not in ctx.captured_queries[0]["sql"]
    assert everything["total"] == len(generated)
    mine = selectors.disqualification_report(user=rep)
    theirs = selectors.disqualification_report(user=other_rep)
    assert mine["total"] == len([x for x in generated if x[3] == rep.pk]) > 0
    assert mine["total"] + theirs["total"] == everything["total"]


def test_report_of_an_inactive_user_is_empty(rep, generated):
    rep.is_active = False
    rep.save(update_fields=["is_active"])
    assert selectors.disqualification_report(user=rep) == {"total": 0, "results": []}
