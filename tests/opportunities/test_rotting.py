"""Issue #9, point 2: a stage's "rots after N days" (Settings > Pipeline, stage API) and the
rotting rule, with a frozen clock: an open deal rots when nothing happened to it (entered its
stage, completed a task, logged a call or note) for N days and nothing is scheduled today or
later. A deal with a future task never rots."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.urls import reverse
from django.utils import timezone

from crm.activity import ACTIVITY_LOGGED
from crm.services import event_record
from crm.services_activity import activity_log
from opportunities import selectors, services
from opportunities.models import Opportunity, Stage
from tests.factories import ContactFactory, OpportunityFactory, TaskFactory

pytestmark = pytest.mark.django_db

NOW = dt.datetime(2026, 11, 25, 10, 0, tzinfo=ZoneInfo("Europe/Madrid"))
TODAY = NOW.date()


@pytest.fixture
def frozen():
    with time_machine.travel(NOW, tick=False):
        yield


@pytest.fixture
def stage(db):
    stage = services.opportunity_settings_get().default_stage
    Stage.objects.filter(pk=stage.pk).update(rot_days=7)
    stage.refresh_from_db()
    return stage


def _deal(rep, days_in_stage: int, **kwargs):
    return OpportunityFactory(
        contact=ContactFactory(owner=rep),
        stage_entered_at=NOW - dt.timedelta(days=days_in_stage),
        **kwargs,
    )


def _rotting(opp) -> bool:
    return (
        selectors.with_activity(Opportunity.objects.filter(pk=opp.pk), user=opp.owner)
        .get()
        .is_rotting
    )


def test_idle_longer_than_the_stage_allows_rots(frozen, stage, rep):
    assert _rotting(_deal(rep, 10))
    assert not _rotting(_deal(rep, 6))  # not yet
    assert not _rotting(_deal(rep, 7))  # exactly seven days: not older than seven days


def test_a_deal_with_a_future_task_never_rots(frozen, stage, rep):
    deal = _deal(rep, 400)
    TaskFactory(owner=rep, opportunity=deal, due_on=TODAY + dt.timedelta(days=30))
    assert not _rotting(deal)
    today = _deal(rep, 400)
    TaskFactory(owner=rep, opportunity=today, due_on=TODAY)
    assert not _rotting(today)


def test_an_overdue_task_does_not_save_it(frozen, stage, rep):
    deal = _deal(rep, 30)
    TaskFactory(owner=rep, opportunity=deal, due_on=TODAY - dt.timedelta(days=1))
    assert _rotting(deal)


def test_recent_activity_resets_the_clock(frozen, stage, rep):
    completed = _deal(rep, 30)
    TaskFactory(
        owner=rep,
        opportunity=completed,
        due_on=TODAY - dt.timedelta(days=3),
        done=True,
        completed_at=NOW - dt.timedelta(days=3),
    )
    assert not _rotting(completed)

    old_done = _deal(rep, 30)
    TaskFactory(
        owner=rep,
        opportunity=old_done,
        due_on=TODAY - dt.timedelta(days=20),
        done=True,
        completed_at=NOW - dt.timedelta(days=20),
    )
    assert _rotting(old_done)

    noted = _deal(rep, 30)
    activity_log(actor=rep, opportunity=noted, kind="note", note="Budget approved next quarter")
    assert not _rotting(noted)

    # Other events (an edit, say) are not activity.
    edited = _deal(rep, 30)
    event_record(actor=rep, kind="updated", opportunity=edited, data={})
    assert _rotting(edited)

    with time_machine.travel(NOW + dt.timedelta(days=8), tick=False):
        assert _rotting(noted)  # the note is now 8 days old
    assert ACTIVITY_LOGGED == "activity_logged"


def test_stages_without_rot_days_and_closed_deals_never_rot(frozen, stage, rep):
    Stage.objects.filter(pk=stage.pk).update(rot_days=None)
    assert not _rotting(_deal(rep, 1000))
    Stage.objects.filter(pk=stage.pk).update(rot_days=7)
    settings = services.opportunity_settings_get()
    won = _deal(rep, 100)
    Opportunity.objects.filter(pk=won.pk).update(
        status="won", closed_at=timezone.now(), stage=settings.win_stage
    )
    Stage.objects.filter(pk=settings.win_stage_id).update(rot_days=1)
    assert not _rotting(won)


def test_rotting_filter_list_and_board(frozen, stage, rep, rep_api, rep_client):
    rotten = _deal(rep, 12, name="Rotten deal")
    fresh = _deal(rep, 2, name="Fresh deal")
    scheduled = _deal(rep, 50, name="Scheduled deal")
    TaskFactory(owner=rep, opportunity=scheduled, due_on=TODAY + dt.timedelta(days=1))

    names = {
        r["name"] for r in rep_api.get("/api/v1/opportunities/?rotting=true").json()["results"]
    }
    assert names == {"Rotten deal"}
    names = {
        r["name"] for r in rep_api.get("/api/v1/opportunities/?rotting=false").json()["results"]
    }
    assert names == {"Fresh deal", "Scheduled deal"}

    page = rep_client.get(reverse("opportunity-list"), {"rotting": "true"})
    assert [o.name for o in page.context["page_obj"].object_list] == ["Rotten deal"]
    html = rep_client.get(reverse("opportunity-list")).content.decode()
    assert html.count("Rotting: 12 days idle") == 1
    html = rep_client.get(reverse("opportunity-board")).content.decode()
    assert html.count("Rotting: 12 days idle") == 1
    html = rep_client.get(reverse("opportunity-detail", args=[rotten.pk])).content.decode()
    assert "Rotting: 12 days idle" in html
    assert fresh.pk and scheduled.pk


# --- settings: rot_days on the pipeline page and the stage API ------------------------------------


def test_admin_sets_rot_days_on_the_pipeline_page(admin_client_, stage):
    url = reverse("settings-stage-edit", args=[stage.pk])
    response = admin_client_.post(
        url, {"name": stage.name, "probability": stage.probability, "rot_days": "14"}
    )
    assert response.status_code == 302
    stage.refresh_from_db()
    assert stage.rot_days == 14
    page = admin_client_.get(reverse("settings-pipeline")).content.decode()
    assert "14 idle days" in page

    bad = admin_client_.post(url, {"name": stage.name, "probability": 10, "rot_days": "0"})
    assert bad.status_code == 400 or "errorlist" in bad.content.decode()
    stage.refresh_from_db()
    assert stage.rot_days == 14

    admin_client_.post(url, {"name": stage.name, "probability": stage.probability, "rot_days": ""})
    stage.refresh_from_db()
    assert stage.rot_days is None


def test_stage_api_reads_and_writes_rot_days(admin_api, rep_api, stage):
    url = f"/api/v1/stages/{stage.pk}/"
    assert admin_api.get(url).json()["rot_days"] == 7
    response = admin_api.patch(url, {"rot_days": 21}, format="json")
    assert response.status_code == 200 and response.json()["rot_days"] == 21
    # A PATCH without rot_days keeps it.
    assert admin_api.patch(url, {"probability": 40}, format="json").json()["rot_days"] == 21
    assert admin_api.patch(url, {"rot_days": 0}, format="json").status_code == 400
    assert admin_api.patch(url, {"rot_days": None}, format="json").json()["rot_days"] is None
    assert rep_api.patch(url, {"rot_days": 3}, format="json").status_code == 403
    created = admin_api.post("/api/v1/stages/", {"name": "Nurture", "rot_days": 30}, format="json")
    assert created.status_code == 201 and created.json()["rot_days"] == 30
