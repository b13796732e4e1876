"""GET /api/v1/reports/win-loss/: the contract of API.md, numbers equal a hand count, reps get
their own deals only, bad dates are 400s and the query count stays flat.

(The token throttle allows 10 requests a minute: each test stays under it.)"""

import datetime as dt

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from opportunities import services
from opportunities.models import LossReason, Stage, WinReason
from tests.factories import UserFactory
from tests.opportunities.test_pages_report import (
    OPEN_STAGES,
    RANGE,
    _at,
    hand_count,
    make_deal,
)

pytestmark = pytest.mark.django_db
URL = "/api/v1/reports/win-loss/"


@pytest.fixture
def ledger(admin, rep, other_rep):
    """A handful of deals on known dates, with the hand-kept ledger ``hand_count`` reads."""
    win = {r.name: r for r in WinReason.objects.all()}
    loss = {r.name: r for r in LossReason.objects.all()}
    plan = [
        # owner, created, path, outcome, reason, closed
        (rep, (10, 12), ("Qualification",), "won", win["Price"], (10, 20)),
        (rep, (10, 13), ("Qualification", "Proposal"), "won", win["Relationship"], (10, 25)),
        (rep, (10, 14), (), "lost", loss["No budget"], (11, 2)),
        (rep, (10, 15), ("Qualification", "Proposal"), "lost", loss["Price too high"], (11, 3)),
        (rep, (10, 16), ("Qualification",), None, None, None),
        (other_rep, (10, 12), ("Qualification",), "won", win["Price"], (10, 30)),
        (other_rep, (10, 13), (), "lost", loss["No budget"], (11, 4)),
        (other_rep, (10, 14), ("Qualification",), "lost", loss["Chose a competitor"], (11, 5)),
        (other_rep, (9, 1), (), "won", win["Price"], (9, 5)),  # closed before the range
        (rep, (11, 15), (), "lost", loss["No decision"], (11, 30)),  # closed after it
    ]
    out = []
    for owner, created, path, outcome, reason, closed in plan:
        created_on = dt.date(2026, *created)
        closed_on = dt.date(2026, *closed) if closed else None
        make_deal(
            owner,
            created_on=created_on,
            path=path,
            outcome=outcome,
            reason=reason,
            closed_on=closed_on,
        )
        reached = {"Prospecting", *path} | ({outcome.title()} if outcome else set())
        out.append(
            {
                "owner": owner,
                "created_on": created_on,
                "reached": reached,
                "outcome": outcome,
                "closed_on": closed_on,
                "reason": reason.name if reason else None,
                "lost_at": ["Prospecting", *path][-1] if outcome == "lost" else None,
            }
        )
    services.win_reason_delete(actor=admin, reason=win["Relationship"])
    return out


def _by_label(rows, value="count"):
    return {r["label"]: r[value] for r in rows}


def test_contract(admin_api, ledger):
    response = admin_api.get(URL, RANGE)
    assert response.status_code == 200
    body = response.json()
    assert {"win_rate", "won", "lost"} <= set(body)
    assert set(body) == {
        "win_rate",
        "won_count",
        "lost_count",
        "created_count",
        "won",
        "lost",
        "by_owner",
        "by_month",
        "lost_at_stage",
        "funnel",
    }
    for row in body["won"] + body["lost"]:
        assert {"key", "label", "count"} <= set(row)
        assert isinstance(row["key"], int) and isinstance(row["label"], str)
        assert isinstance(row["count"], int) and isinstance(row["archived"], bool)
    assert set(body["by_owner"][0]) == {"key", "label", "won", "lost", "win_rate"}
    assert set(body["by_month"][0]) == {"month", "won", "lost", "win_rate"}
    assert set(body["lost_at_stage"][0]) == {"key", "label", "count", "archived"}
    assert {"key", "label", "count"} <= set(body["funnel"][0])
    assert isinstance(body["win_rate"], float) and 0 <= body["win_rate"] <= 1


def test_numbers_equal_a_hand_count(admin_api, ledger):
    body = admin_api.get(URL, RANGE).json()
    expected = hand_count(ledger)
    assert (body["won_count"], body["lost_count"]) == (3, 4) == (expected["won"], expected["lost"])
    assert body["win_rate"] == pytest.approx(3 / 7, abs=1e-4)
    assert _by_label(body["won"]) == expected["won_reasons"] == {"Price": 2, "Relationship": 1}
    assert _by_label(body["lost"]) == expected["lost_reasons"]
    assert {r["label"]: (r["won"], r["lost"]) for r in body["by_owner"]} == expected["owners"]
    assert {r["month"]: (r["won"], r["lost"]) for r in body["by_month"]} == expected["months"]
    assert _by_label(body["lost_at_stage"]) == expected["lost_at"]
    assert {k: v for k, v in _by_label(body["funnel"]).items() if v} == expected["funnel"]
    # Sorted by count, largest first; the archived reason is still there and says so.
    assert [r["label"] for r in body["won"]] == ["Price", "Relationship"]
    assert {r["label"]: r["archived"] for r in body["won"]} == {
        "Price": False,
        "Relationship": True,
    }


def test_a_rep_gets_only_their_own_deals(rep, rep_api, ledger):
    body = rep_api.get(URL, RANGE).json()
    expected = hand_count(ledger, owner=rep)
    assert (body["won_count"], body["lost_count"]) == (expected["won"], expected["lost"]) == (2, 2)
    assert [r["label"] for r in body["by_owner"]] == ["Rita Rep"]
    assert _by_label(body["lost"]) == expected["lost_reasons"]
    assert "Chose a competitor" not in str(body)  # other_rep's only reason
    assert {k: v for k, v in _by_label(body["funnel"]).items() if v} == expected["funnel"]


def test_the_period_is_inclusive_and_optional(admin_api, ledger):
    one_day = admin_api.get(URL, {"since": "2026-10-20", "until": "2026-10-20"}).json()
    assert (one_day["won_count"], one_day["lost_count"]) == (1, 0)
    all_time = admin_api.get(URL).json()
    assert (all_time["won_count"], all_time["lost_count"]) == (4, 5)
    only_since = admin_api.get(URL, {"since": "2026-11-01"}).json()
    assert (only_since["won_count"], only_since["lost_count"]) == (0, 5)


def test_nothing_closed_has_no_rate(admin_api):
    body = admin_api.get(URL, {"since": "2001-01-01", "until": "2001-01-31"}).json()
    assert body["win_rate"] is None
    assert body["won"] == body["lost"] == body["by_owner"] == body["by_month"] == []


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"since": "yesterday"}, "since"),
        ({"until": "2026-02-30"}, "until"),
        ({"since": "2026-05-02", "until": "2026-05-01"}, "until"),
    ],
)
def test_bad_dates_are_400(admin_api, params, field):
    response = admin_api.get(URL, params)
    assert response.status_code == 400
    assert list(response.json()) == [field]


def test_anonymous_is_refused(api_anon):
    assert api_anon.get(URL).status_code in (401, 403)


def test_query_count_does_not_grow_with_deals(admin, admin_api):
    def count():
        with CaptureQueriesContext(connection) as ctx:
            assert admin_api.get(URL, RANGE).status_code == 200
        return len(ctx.captured_queries)

    win, loss = list(WinReason.objects.all()), list(LossReason.objects.all())
    owner = UserFactory()
    created_on = dt.date.fromisoformat(RANGE["since"])
    make_deal(owner, created_on=created_on, outcome="won", reason=win[0])
    small = count()
    for i in range(24):
        someone = UserFactory() if i % 4 == 0 else owner
        outcome = "won" if i % 2 else "lost"
        make_deal(
            someone,
            created_on=created_on + dt.timedelta(days=i),
            path=tuple(OPEN_STAGES[1 : 1 + i % 4]),
            outcome=outcome,
            reason=(win if outcome == "won" else loss)[i % 4],
        )
    services.stage_delete(actor=admin, stage=Stage.objects.get(name="Negotiation"))
    assert count() == small


def test_a_deal_lost_twice_counts_once_at_the_stage_it_was_last_lost(admin_api, rep):
    settings = services.opportunity_settings_get()
    stages = {s.name: s for s in Stage.objects.all()}
    loss = LossReason.objects.first()
    deal = make_deal(
        rep,
        created_on=dt.date(2026, 10, 12),
        path=("Qualification",),
        outcome="lost",
        reason=loss,
    )
    for stage in (stages["Proposal"], settings.loss_stage):  # reopened, then lost again
        with _at(dt.date(2026, 10, 14)):
            deal = services.opportunity_move(
                actor=rep, opportunity=deal, stage=stage, loss_reason=loss
            )
    body = admin_api.get(URL, RANGE).json()
    assert body["lost_count"] == 1
    assert _by_label(body["lost_at_stage"]) == {"Proposal": 1}
