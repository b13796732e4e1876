"""Issue #9, point 3: log a call or note with its outcome and schedule the next task in one go:
the service (one transaction, events), the dialog's htmx flow on the lead, contact and deal
pages, its no-JS twin, and ``POST /api/v1/activities/`` (visibility: 404; bad input: 400)."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse

from crm.models import Event, Task
from crm.services_activity import activity_log, next_working_day
from leads.models import LeadStatus
from tests.factories import ContactFactory, LeadFactory, OpportunityFactory

pytestmark = pytest.mark.django_db

DUE = dt.date(2030, 1, 7)


def test_next_working_day_skips_weekends():
    assert next_working_day(dt.date(2026, 11, 25)) == dt.date(2026, 11, 27)  # Wed → Fri
    assert next_working_day(dt.date(2026, 11, 26)) == dt.date(2026, 11, 30)  # Thu → Mon
    assert next_working_day(dt.date(2026, 11, 28)) == dt.date(2026, 12, 1)  # Sat → Tue


def test_service_logs_the_call_and_schedules_the_next_task(rep):
    opp = OpportunityFactory(contact=ContactFactory(owner=rep))
    result = activity_log(
        actor=rep,
        opportunity=opp,
        kind="call",
        outcome="voicemail",
        note="  Left a message  ",
        next_title="Call again",
        next_due_on=DUE,
    )
    event = result.event
    assert (event.kind, event.opportunity_id, event.actor) == ("activity_logged", opp.pk, rep)
    assert event.data["kind"] == "call" and event.data["outcome"] == "voicemail"
    assert event.data["note"] == "Left a message"
    task = result.next_task
    assert (task.title, task.due_on, task.owner, task.done) == ("Call again", DUE, rep, False)
    assert (task.opportunity_id, task.contact_id, task.kind) == (opp.pk, opp.contact_id, "call")
    assert task.events.filter(kind="created").count() == 1


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"kind": "call", "outcome": ""}, "outcome"),
        ({"kind": "email", "outcome": "answered"}, "kind"),
        ({"kind": "call", "outcome": "maybe"}, "outcome"),
        ({"kind": "note", "note": ""}, "note"),
        ({"kind": "note", "note": "x", "next_title": "Next"}, "next_due_on"),
        ({"kind": "note", "note": "x", "next_due_on": DUE}, "next_title"),
    ],
)
def test_bad_input_changes_nothing(rep, kwargs, field):
    lead = LeadFactory(owner=rep)
    with pytest.raises(ValidationError) as exc:
        activity_log(actor=rep, lead=lead, **kwargs)
    assert field in exc.value.message_dict
    assert not Event.objects.filter(kind="activity_logged").exists()
    assert not Task.objects.exists()


def test_service_refuses_invisible_and_read_only_records(rep, other_rep):
    with pytest.raises(ValidationError):
        activity_log(actor=rep, lead=LeadFactory(owner=other_rep), kind="note", note="x")
    converted = LeadFactory(owner=rep, status=LeadStatus.CONVERTED)
    with pytest.raises(ValidationError):
        activity_log(actor=rep, lead=converted, kind="note", note="x")
    with pytest.raises(ValidationError):
        activity_log(actor=rep, kind="note", note="no record")


# --- the pages --------------------------------------------------------------------------------


def _records(rep):
    contact = ContactFactory(owner=rep, last_name="Contactson")
    return {
        "lead": LeadFactory(owner=rep, last_name="Leadson"),
        "contact": contact,
        "opportunity": OpportunityFactory(contact=contact, name="Dealio"),
    }


@pytest.mark.parametrize("model", ["lead", "contact", "opportunity"])
def test_the_dialog_is_on_the_page_prefilled(rep, rep_client, model):
    record = _records(rep)[model]
    html = rep_client.get(reverse(f"{model}-detail", args=[record.pk])).content.decode()
    assert 'id="log-dialog"' in html and 'data-dialog="log-dialog"' in html
    assert f'hx-post="{reverse("activity-log", args=[model, record.pk])}"' in html
    assert 'id="record-tasks"' in html and 'id="timeline"' in html
    # Prefilled: a call, answered, and a next task two working days out.
    assert 'value="call" ' in html and "checked" in html
    assert '<option value="answered" selected>' in html
    assert 'name="next_title"' in html and 'name="next_due_on" value="20' in html


@pytest.mark.parametrize("model", ["lead", "contact", "opportunity"])
def test_htmx_save_returns_the_updated_sections(rep, rep_client, model):
    record = _records(rep)[model]
    url = reverse("activity-log", args=[model, record.pk])
    response = rep_client.post(
        url,
        {
            "kind": "call",
            "outcome": "answered",
            "note": "Interested in the premium plan",
            "next_title": "Send the quote",
            "next_due_on": "2030-01-07",
        },
        HTTP_HX_REQUEST="true",
    )
    assert response.status_code == 200
    trigger = json.loads(response["HX-Trigger"])
    assert trigger["crm:announce"].startswith("Call logged. Next task “Send the quote” due")
    assert trigger["crm:activity-logged"] is True
    html = response.content.decode()
    # The record's page: the form picks the tasks, the history and the badge from it.
    assert 'id="record-tasks"' in html and "Send the quote" in html
    assert "logged a call: Answered." in html and "Interested in the premium plan" in html
    assert 'id="next-activity"' in html
    assert Task.objects.get(title="Send the quote").owner == rep
    assert Event.objects.filter(kind="activity_logged", **{model: record}).count() == 1


def test_htmx_errors_come_back_in_the_form(rep, rep_client):
    lead = _records(rep)["lead"]
    response = rep_client.post(
        reverse("activity-log", args=["lead", lead.pk]),
        {"kind": "call", "outcome": "", "next_title": "Again", "next_due_on": "2030-01-07"},
        HTTP_HX_REQUEST="true",
    )
    assert response.status_code == 200
    assert response["HX-Retarget"] == "#log-form" and response["HX-Reswap"] == "outerHTML"
    html = response.content.decode()
    assert 'id="log-form"' in html and "Choose an outcome" in html
    assert not Task.objects.exists() and not Event.objects.filter(kind="activity_logged").exists()


def test_without_javascript(rep, rep_client):
    opp = _records(rep)["opportunity"]
    url = reverse("activity-log", args=["opportunity", opp.pk])
    assert rep_client.get(url).status_code == 200
    response = rep_client.post(url, {"kind": "note", "note": "Met at the fair"})
    assert response.status_code == 302
    assert response["Location"] == reverse("opportunity-detail", args=[opp.pk])
    assert not Task.objects.exists()  # no next task asked for
    bad = rep_client.post(url, {"kind": "note", "note": "", "outcome": ""})
    assert bad.status_code == 400


def test_pages_of_records_out_of_reach_are_404(rep, other_rep, client):
    records = _records(other_rep)
    client.force_login(rep)
    for model, record in records.items():
        url = reverse("activity-log", args=[model, record.pk])
        assert client.get(url).status_code == 404
        assert client.post(url, {"kind": "note", "note": "x"}).status_code == 404
    assert client.get(reverse("activity-log", args=["account", 1])).status_code == 404
    assert not Event.objects.filter(kind="activity_logged").exists()


def test_converted_lead_has_no_dialog(rep, rep_client):
    lead = LeadFactory(owner=rep, status=LeadStatus.CONVERTED)
    html = rep_client.get(reverse("lead-detail", args=[lead.pk])).content.decode()
    assert 'id="log-dialog"' not in html


# --- the API twin ---------------------------------------------------------------------------------


def test_api_logs_and_schedules(rep, rep_api):
    lead = LeadFactory(owner=rep)
    response = rep_api.post(
        "/api/v1/activities/",
        {
            "lead": lead.pk,
            "kind": "call",
            "outcome": "no_answer",
            "next_title": "Try again",
            "next_due_on": "2030-01-07",
        },
        format="json",
    )
    assert response.status_code == 201, response.content
    body = response.json()
    assert (body["lead"], body["contact"], body["opportunity"]) == (lead.pk, None, None)
    assert (body["kind"], body["outcome"], body["note"]) == ("call", "no_answer", "")
    assert body["next_task"]["title"] == "Try again"
    assert body["next_task"]["due_on"] == "2030-01-07" and body["next_task"]["lead"] == lead.pk
    assert Event.objects.get(pk=body["id"]).kind == "activity_logged"

    only_note = rep_api.post(
        "/api/v1/activities/", {"lead": lead.pk, "kind": "note", "note": "hi"}, format="json"
    )
    assert only_note.status_code == 201 and only_note.json()["next_task"] is None


def test_api_visibility_is_404(rep, other_rep, rep_api):
    for model, record in _records(other_rep).items():
        response = rep_api.post(
            "/api/v1/activities/", {model: record.pk, "kind": "note", "note": "x"}, format="json"
        )
        assert response.status_code == 404, model
    missing = rep_api.post(
        "/api/v1/activities/", {"lead": 999999, "kind": "note", "note": "x"}, format="json"
    )
    assert missing.status_code == 404
    assert not Event.objects.filter(kind="activity_logged").exists()


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"kind": "note", "note": "x"}, "detail"),  # no record
        ({"kind": "call", "outcome": ""}, "outcome"),
        ({"kind": "chat", "note": "x"}, "kind"),
        ({"kind": "call", "outcome": "answered", "next_title": "Again"}, "next_due_on"),
        ({"kind": "call", "outcome": "answered", "next_due_on": "soon"}, "next_due_on"),
    ],
)
def test_api_bad_input_is_400(rep, rep_api, body, field):
    lead = LeadFactory(owner=rep)
    if field != "detail":
        body = {"lead": lead.pk, **body}
    response = rep_api.post("/api/v1/activities/", body, format="json")
    assert response.status_code == 400
    assert field in response.json()
    assert not Task.objects.exists()


def test_api_two_records_is_400(rep, rep_api):
    records = _records(rep)
    response = rep_api.post(
        "/api/v1/activities/",
        {"lead": records["lead"].pk, "contact": records["contact"].pk, "kind": "note", "note": "x"},
        format="json",
    )
    assert response.status_code == 400 and "detail" in response.json()


def test_api_anonymous_is_refused(api_anon):
    response = api_anon.post("/api/v1/activities/", {"kind": "note"}, format="json")
    assert response.status_code in (401, 403)


# --- the next activity and rotting in the lead and opportunity payloads --------------------------


def test_payloads_carry_next_activity_and_rotting(rep, rep_api):
    from django.utils import timezone

    from tests.factories import TaskFactory

    today = timezone.localdate()
    lead = LeadFactory(owner=rep)
    TaskFactory(owner=rep, lead=lead, due_on=today - dt.timedelta(days=2))
    listed = rep_api.get("/api/v1/leads/").json()["results"][0]
    assert listed["next_activity"] == {
        "state": "overdue",
        "due_on": (today - dt.timedelta(days=2)).isoformat(),
    }
    # A single lead returned by an action (not from the annotated list) says the same.
    classified = rep_api.post(f"/api/v1/leads/{lead.pk}/classify/", {"rating": None}, format="json")
    assert classified.json()["next_activity"]["state"] == "overdue"

    opp = OpportunityFactory(contact=ContactFactory(owner=rep))
    body = rep_api.get(f"/api/v1/opportunities/{opp.pk}/").json()
    assert body["next_activity"] == {"state": "none", "due_on": None}
    assert body["rotting"] is False


@pytest.mark.parametrize("url", ["/api/v1/leads/", "/api/v1/opportunities/"])
def test_api_list_queries_do_not_grow(rep, rep_api, url):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext
    from django.utils import timezone

    from tests.factories import TaskFactory

    def add(n):
        contact = ContactFactory(owner=rep)
        for _ in range(n):
            TaskFactory(owner=rep, lead=LeadFactory(owner=rep), due_on=timezone.localdate())
            TaskFactory(owner=rep, opportunity=OpportunityFactory(contact=contact))

    def count():
        with CaptureQueriesContext(connection) as ctx:
            assert rep_api.get(url).status_code == 200
        return len(ctx.captured_queries)

    add(2)
    small = count()
    add(10)
    assert count() == small


def test_a_shared_deal_and_its_granted_contact_can_be_logged_on(rep, other_rep, rep_api):
    from opportunities import services as opp_services

    opp = OpportunityFactory(contact=ContactFactory(owner=other_rep))
    body = {"opportunity": opp.pk, "kind": "call", "outcome": "answered"}
    assert rep_api.post("/api/v1/activities/", body, format="json").status_code == 404
    opp_services.opportunity_share(actor=other_rep, opportunity=opp, user=rep)
    response = rep_api.post("/api/v1/activities/", body, format="json")
    assert response.status_code == 201
    body = {"contact": opp.contact_id, "kind": "note", "note": "Met the buyer"}
    assert rep_api.post("/api/v1/activities/", body, format="json").status_code == 201
    assert Event.objects.filter(kind="activity_logged", actor=rep).count() == 2
