import datetime as dt

import pytest
import time_machine
from django.utils import timezone

from crm.models import Event, Task
from leads import services
from leads.models import Lead, LeadDisqualification, LeadStatus
from tests.factories import LeadFactory

pytestmark = pytest.mark.django_db


def _url(lead, action):
    return f"/api/v1/leads/{lead.pk}/{action}/"


def test_fresh_install_has_default_reasons_and_asks_for_a_reason(reasons):
    assert {
        "No budget",
        "Not the decision maker",
        "No need",
        "Bad timing",
        "Outside our territory",
        "Chose a competitor",
        "Unresponsive",
        "Duplicate",
    } <= set(reasons)
    assert services.lead_settings_get().ask_disqualification_reason is True


def test_toggle_on_requires_a_reason_and_leaves_lead_unchanged(rep, rep_api, ask_reason):
    ask_reason(True)
    lead = LeadFactory(owner=rep, status=LeadStatus.WORKING)
    r = rep_api.post(_url(lead, "disqualify"), {"note": "meh"}, format="json")
    assert r.status_code == 400
    assert "reason" in r.json()
    lead.refresh_from_db()
    assert lead.status == LeadStatus.WORKING
    assert lead.disqualification_note == ""
    assert not LeadDisqualification.objects.exists()
    assert not Event.objects.filter(kind="disqualified").exists()


def test_toggle_on_null_reason_is_rejected_too(rep, rep_api, ask_reason):
    ask_reason(True)
    lead = LeadFactory(owner=rep)
    r = rep_api.post(_url(lead, "disqualify"), {"reason": None}, format="json")
    assert r.status_code == 400 and "reason" in r.json()


def test_archived_reason_is_rejected(rep, admin, rep_api, reasons, ask_reason):
    ask_reason(False)
    used = LeadFactory(owner=rep)
    services.lead_disqualify(actor=rep, lead=used, reason=reasons["No budget"])
    assert services.disqualification_reason_delete(actor=admin, reason=reasons["No budget"]) == (
        "archived"
    )
    lead = LeadFactory(owner=rep)
    r = rep_api.post(_url(lead, "disqualify"), {"reason": reasons["No budget"].pk}, format="json")
    assert r.status_code == 400
    assert "reason" in r.json()
    lead.refresh_from_db()
    assert lead.status == LeadStatus.NEW


def test_toggle_off_accepts_no_reason(rep, rep_api, ask_reason):
    ask_reason(False)
    lead = LeadFactory(owner=rep)
    r = rep_api.post(_url(lead, "disqualify"), {}, format="json")
    assert r.status_code == 200, r.json()
    body = r.json()
    assert body["status"] == "unqualified"
    assert body["disqualification_reason"] is None


def test_disqualify_with_reason_records_history_and_event(rep, rep_api, reasons):
    lead = LeadFactory(owner=rep, source="Webinar")
    reason = reasons["Bad timing"]
    r = rep_api.post(
        _url(lead, "disqualify"), {"reason": reason.pk, "note": "Call in Q3"}, format="json"
    )
    assert r.status_code == 200
    assert r.json()["disqualification_reason"] == reason.pk
    assert r.json()["disqualification_note"] == "Call in Q3"
    row = LeadDisqualification.objects.get(lead=lead)
    assert (row.reason, row.owner, row.source) == (reason, rep, "Webinar")
    event = Event.objects.get(lead=lead, kind="disqualified")
    assert event.actor == rep and event.data["reason"] == reason.pk


def test_disqualify_another_reps_lead_is_404(rep_api, other_rep, reasons):
    lead = LeadFactory(owner=other_rep)
    r = rep_api.post(_url(lead, "disqualify"), {"reason": reasons["No need"].pk}, format="json")
    assert r.status_code == 404
    lead.refresh_from_db()
    assert lead.status == LeadStatus.NEW


def test_unknown_reason_id_is_400(rep, rep_api):
    lead = LeadFactory(owner=rep)
    r = rep_api.post(_url(lead, "disqualify"), {"reason": 999999}, format="json")
    assert r.status_code == 400 and "reason" in r.json()


def test_revisit_date_must_be_in_the_future(rep, rep_api, reasons):
    lead = LeadFactory(owner=rep)
    today = timezone.localdate().isoformat()
    r = rep_api.post(
        _url(lead, "disqualify"),
        {"reason": reasons["Bad timing"].pk, "revisit_on": today},
        format="json",
    )
    assert r.status_code == 400 and "revisit_on" in r.json()


def test_requalify_clears_reason_and_keeps_history(rep, rep_api, reasons):
    lead = LeadFactory(owner=rep)
    services.lead_disqualify(actor=rep, lead=lead, reason=reasons["No need"], note="x")
    r = rep_api.post(_url(lead, "requalify"), format="json")
    assert r.status_code == 200
    assert r.json()["status"] == "working"
    assert r.json()["disqualification_reason"] is None
    assert LeadDisqualification.objects.filter(lead=lead, reason=reasons["No need"]).exists()
    kinds = list(Event.objects.filter(lead=lead).order_by("id").values_list("kind", flat=True))
    assert kinds[-2:] == ["disqualified", "requalified"]


def test_requalify_of_a_working_lead_is_400(rep, rep_api):
    lead = LeadFactory(owner=rep, status=LeadStatus.WORKING)
    assert rep_api.post(_url(lead, "requalify")).status_code == 400


def test_patching_status_is_rejected(rep, rep_api):
    lead = LeadFactory(owner=rep)
    r = rep_api.patch(f"/api/v1/leads/{lead.pk}/", {"status": "qualified"}, format="json")
    assert r.status_code == 400 and "status" in r.json()
    lead.refresh_from_db()
    assert lead.status == LeadStatus.NEW


def test_frozen_lead_comes_back_on_its_date(rep, reasons):
    lead = LeadFactory(owner=rep, first_name="Ana", last_name="Gil")
    with time_machine.travel(dt.datetime(2026, 11, 23, 10, tzinfo=dt.UTC), tick=False):
        services.lead_disqualify(
            actor=rep, lead=lead, reason=reasons["No budget"], revisit_on=dt.date(2027, 1, 15)
        )
    lead.refresh_from_db()
    assert lead.is_frozen
    with time_machine.travel(dt.datetime(2027, 1, 14, 7, tzinfo=dt.UTC), tick=False):
        assert services.lead_revisit_due_process() == 0
    lead.refresh_from_db()
    assert lead.status == LeadStatus.UNQUALIFIED
    with time_machine.travel(dt.datetime(2027, 1, 15, 7, tzinfo=dt.UTC), tick=False):
        assert services.lead_revisit_due_process() == 1
        assert services.lead_revisit_due_process() == 0  # a re-run changes nothing
    lead.refresh_from_db()
    assert lead.status == LeadStatus.WORKING
    assert lead.revisit_on is None
    task = Task.objects.get(lead=lead)
    assert task.owner == rep
    assert task.due_on == dt.date(2027, 1, 15)
    assert "Ana Gil" in task.title
    assert Event.objects.filter(lead=lead, kind="revisit_due").count() == 1


def test_frozen_filter_lists_frozen_leads_with_revisit_dates(rep, rep_api, reasons):
    frozen = LeadFactory(owner=rep)
    plain = LeadFactory(owner=rep)
    LeadFactory(owner=rep)
    revisit = timezone.localdate() + dt.timedelta(days=30)
    services.lead_disqualify(
        actor=rep, lead=frozen, reason=reasons["No budget"], revisit_on=revisit
    )
    services.lead_disqualify(actor=rep, lead=plain, reason=reasons["No need"])
    r = rep_api.get("/api/v1/leads/?frozen=true")
    assert [x["id"] for x in r.json()["results"]] == [frozen.pk]
    assert r.json()["results"][0]["revisit_on"] == revisit.isoformat()


def test_converted_lead_cannot_be_disqualified(rep, rep_api, reasons):
    lead = LeadFactory(owner=rep, company="")
    services.lead_convert(actor=rep, lead=lead)
    r = rep_api.post(_url(lead, "disqualify"), {"reason": reasons["No need"].pk}, format="json")
    assert r.status_code == 400
    assert Lead.objects.get(pk=lead.pk).status == LeadStatus.CONVERTED
