"""Issue #9, point 1: the next-activity badge (overdue, today, later, none) of leads and deals,
computed in SQL; the ``next_activity`` filter (API and pages); the prompt for the next task when
the last open task of a deal is done. The clock is frozen (time-machine)."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone, translation

from crm.activity import badge, next_activity_state, with_next_activity
from crm.models import Task
from leads.models import Lead
from opportunities import services as opp_services
from tests.factories import ContactFactory, LeadFactory, OpportunityFactory, TaskFactory

pytestmark = pytest.mark.django_db

# Wednesday 25 November 2026, 10:00 in Madrid.
NOW = dt.datetime(2026, 11, 25, 10, 0, tzinfo=ZoneInfo("Europe/Madrid"))
TODAY = NOW.date()


@pytest.fixture
def frozen():
    with time_machine.travel(NOW, tick=False):
        yield


def _lead_badge(lead, user):
    annotated = with_next_activity(Lead.objects.filter(pk=lead.pk), field="lead", user=user).get()
    return badge(annotated)


def test_state_rule():
    assert next_activity_state(None, TODAY) == "none"
    assert next_activity_state(TODAY - dt.timedelta(days=1), TODAY) == "overdue"
    assert next_activity_state(TODAY, TODAY) == "today"
    assert next_activity_state(TODAY + dt.timedelta(days=1), TODAY) == "later"


def test_badge_states_with_a_frozen_clock(frozen, rep):
    lead = LeadFactory(owner=rep)
    b = _lead_badge(lead, rep)
    assert (b.state, b.text, b.icon) == ("none", "No next activity", "○")

    # Done and archived tasks do not count.
    TaskFactory(owner=rep, lead=lead, due_on=TODAY, done=True, completed_at=timezone.now())
    TaskFactory(owner=rep, lead=lead, due_on=TODAY, archived_at=timezone.now())
    assert _lead_badge(lead, rep).state == "none"

    later = TaskFactory(owner=rep, lead=lead, due_on=dt.date(2026, 11, 26), title="Send deck")
    b = _lead_badge(lead, rep)
    assert (b.state, b.text, b.title, b.icon) == ("later", "Thu 11/26/2026", "Send deck", "→")
    with translation.override("es"):
        assert _lead_badge(lead, rep).text.endswith("26/11/2026")

    today = TaskFactory(owner=rep, lead=lead, due_on=TODAY, title="Call")
    b = _lead_badge(lead, rep)
    assert (b.state, b.text, b.task_id) == ("today", "Today", today.pk)

    TaskFactory(owner=rep, lead=lead, due_on=TODAY - dt.timedelta(days=3), title="Late")
    b = _lead_badge(lead, rep)
    assert (b.state, b.text, b.title, b.icon) == ("overdue", "Overdue · 3 days", "Late", "⚠")
    assert later.pk  # still open, just not the next one


def test_the_title_of_a_task_the_user_cannot_see_is_not_shown(frozen, rep, other_rep):
    opp = OpportunityFactory(contact=ContactFactory(owner=rep))
    opp_services.opportunity_share(actor=rep, opportunity=opp, user=other_rep)
    TaskFactory(owner=rep, opportunity=opp, due_on=TODAY, title="Secret plan")
    from opportunities.models import Opportunity

    mine = with_next_activity(
        Opportunity.objects.filter(pk=opp.pk), field="opportunity", user=rep
    ).get()
    theirs = with_next_activity(
        Opportunity.objects.filter(pk=opp.pk), field="opportunity", user=other_rep
    ).get()
    assert mine.next_task_title == "Secret plan"
    assert theirs.next_task_due == TODAY and theirs.next_task_title is None


@pytest.mark.parametrize(
    ("state", "expected"),
    [
        ("none", {"idle"}),
        ("overdue", {"late", "late_and_today"}),
        ("today", {"today"}),
        ("later", {"later"}),
    ],
)
def test_next_activity_filter_api_and_page(frozen, rep, rep_api, rep_client, state, expected):
    leads = {
        name: LeadFactory(owner=rep, last_name=name)
        for name in ("idle", "late", "late_and_today", "today", "later")
    }
    TaskFactory(owner=rep, lead=leads["late"], due_on=TODAY - dt.timedelta(days=1))
    TaskFactory(owner=rep, lead=leads["late_and_today"], due_on=TODAY - dt.timedelta(days=5))
    TaskFactory(owner=rep, lead=leads["late_and_today"], due_on=TODAY)
    TaskFactory(owner=rep, lead=leads["today"], due_on=TODAY)
    TaskFactory(owner=rep, lead=leads["today"], due_on=TODAY + dt.timedelta(days=9))
    TaskFactory(owner=rep, lead=leads["later"], due_on=TODAY + dt.timedelta(days=2))
    TaskFactory(owner=rep, lead=leads["idle"], due_on=TODAY, done=True)

    response = rep_api.get("/api/v1/leads/", {"next_activity": state})
    assert response.status_code == 200
    assert {r["last_name"] for r in response.json()["results"]} == expected

    page = rep_client.get(reverse("lead-list"), {"next_activity": state})
    assert page.status_code == 200
    shown = {lead.last_name for lead in page.context["page_obj"].object_list}
    assert shown == expected


def test_bad_filter_value_is_a_400(rep_api):
    response = rep_api.get("/api/v1/opportunities/", {"next_activity": "someday"})
    assert response.status_code == 400
    assert "next_activity" in response.json()


def test_opportunity_filter(frozen, rep, rep_api):
    contact = ContactFactory(owner=rep)
    idle = OpportunityFactory(contact=contact, name="Idle")
    busy = OpportunityFactory(contact=contact, name="Busy")
    TaskFactory(owner=rep, opportunity=busy, due_on=TODAY)
    names = lambda state: {  # noqa: E731
        r["name"]
        for r in rep_api.get("/api/v1/opportunities/", {"next_activity": state}).json()["results"]
    }
    assert names("none") == {"Idle"}
    assert names("today") == {"Busy"}
    assert idle.pk and names("later") == set()


def test_pages_show_the_badge(frozen, rep, rep_client):
    lead = LeadFactory(owner=rep, last_name="Badged")
    TaskFactory(owner=rep, lead=lead, due_on=TODAY - dt.timedelta(days=2), title="Ring")
    opp = OpportunityFactory(contact=ContactFactory(owner=rep), name="Deal badged")
    TaskFactory(owner=rep, opportunity=opp, due_on=TODAY, title="Demo")

    html = rep_client.get(reverse("lead-list")).content.decode()
    assert "next-activity-overdue" in html and "Overdue · 2 days" in html
    html = rep_client.get(reverse("lead-detail", args=[lead.pk])).content.decode()
    assert 'id="next-activity"' in html and "Overdue · 2 days" in html and "Ring" in html
    html = rep_client.get(reverse("opportunity-list")).content.decode()
    assert "next-activity-today" in html and "Demo" in html
    html = rep_client.get(reverse("opportunity-board")).content.decode()
    assert "next-activity-today" in html
    html = rep_client.get(reverse("opportunity-detail", args=[opp.pk])).content.decode()
    assert "next-activity-today" in html and "Next activity:" in html


def _queries(client, url) -> int:
    with CaptureQueriesContext(connection) as ctx:
        assert client.get(url).status_code == 200
    return len(ctx.captured_queries)


@pytest.mark.parametrize("name", ["lead-list", "opportunity-list", "opportunity-board"])
def test_query_count_does_not_grow_with_rows(frozen, rep, rep_client, name):
    def add(n):
        contact = ContactFactory(owner=rep)
        for _ in range(n):
            lead = LeadFactory(owner=rep)
            TaskFactory(owner=rep, lead=lead, due_on=TODAY)
            opp = OpportunityFactory(contact=contact)
            TaskFactory(owner=rep, opportunity=opp, due_on=TODAY)

    add(2)
    small = _queries(rep_client, reverse(name))
    add(10)
    assert _queries(rep_client, reverse(name)) == small


# --- completing the last open task of a deal asks for the next one -------------------------------


def test_last_open_task_of_a_deal_asks_for_the_next(frozen, rep, rep_client):
    opp = OpportunityFactory(contact=ContactFactory(owner=rep), name="Big deal")
    first = TaskFactory(owner=rep, opportunity=opp, due_on=TODAY)
    second = TaskFactory(owner=rep, opportunity=opp, due_on=TODAY)
    url = lambda task: reverse("task-complete", args=[task.pk])  # noqa: E731

    response = rep_client.post(url(first), {"next": "/"}, HTTP_HX_REQUEST="true")
    assert response.status_code == 200
    assert "Schedule the next task" not in response.content.decode()  # one is still open

    response = rep_client.post(url(second), {"next": "/"}, HTTP_HX_REQUEST="true")
    html = response.content.decode()
    assert "has no open task left" in html
    assert reverse("activity-schedule-next", args=[opp.pk]) in html

    # The prompt's form schedules it (htmx: the prompt says so and it is announced).
    response = rep_client.post(
        reverse("activity-schedule-next", args=[opp.pk]),
        {"title": "Send the contract", "due_on": "2026-11-30"},
        HTTP_HX_REQUEST="true",
    )
    assert response.status_code == 200
    assert "scheduled" in response["HX-Trigger"]
    task = Task.objects.get(opportunity=opp, done=False)
    assert (task.title, task.due_on, task.owner) == (
        "Send the contract",
        dt.date(2026, 11, 30),
        rep,
    )
    assert task.events.filter(kind="created").exists()


def test_without_javascript_the_prompt_is_a_message_with_a_link(frozen, rep, rep_client):
    opp = OpportunityFactory(contact=ContactFactory(owner=rep), name="Solo deal")
    task = TaskFactory(owner=rep, opportunity=opp, due_on=TODAY)
    response = rep_client.post(reverse("task-complete", args=[task.pk]), follow=True)
    html = response.content.decode()
    link = reverse("activity-schedule-next", args=[opp.pk])
    assert f'<a href="{link}">Schedule the next task</a>' in html
    page = rep_client.get(link)
    assert page.status_code == 200 and "Solo deal" in page.content.decode()
    bad = rep_client.post(link, {"title": "", "due_on": "not a date"})
    assert bad.status_code == 400
    assert not Task.objects.filter(opportunity=opp, done=False).exists()


def test_a_task_of_a_deal_the_user_cannot_see_is_404(rep, other_rep, client):
    opp = OpportunityFactory(contact=ContactFactory(owner=other_rep))
    client.force_login(rep)
    assert client.get(reverse("activity-schedule-next", args=[opp.pk])).status_code == 404


def test_filter_fields_on_the_list_pages(rep_client):
    html = rep_client.get(reverse("opportunity-list"), {"rotting": "true"}).content.decode()
    assert '<option value="true" selected>Rotting only</option>' in html
    assert '<option value="none">No next activity</option>' in html
    html = rep_client.get(reverse("lead-list"), {"next_activity": "overdue"}).content.decode()
    assert '<option value="overdue" selected>Overdue</option>' in html
    assert '<option value="" >Any</option>' in html or '<option value="">Any</option>' in html


def test_a_deal_task_about_its_contact_asks_both(frozen, rep, rep_client):
    """A deal's task that also names its contact asks "How did it go?" (the Ratings prompt);
    done, the agenda also asks for the deal's next task when it was its last one."""
    opp = OpportunityFactory(contact=ContactFactory(owner=rep), name="Contact deal")
    task = TaskFactory(owner=rep, opportunity=opp, contact=opp.contact, due_on=TODAY)
    response = rep_client.post(
        reverse("task-complete", args=[task.pk]),
        {"rating": "", "note": "", "next": "/"},
        HTTP_HX_REQUEST="true",
    )
    assert response.status_code == 200
    html = response.content.decode()
    assert 'id="agenda-sections"' in html
    assert "“Contact deal” has no open task left" in html
    assert reverse("activity-schedule-next", args=[opp.pk]) in html
