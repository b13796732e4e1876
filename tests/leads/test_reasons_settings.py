import pytest

from crm.models import Event
from leads import services
from leads.models import DisqualificationReason, Lead
from tests.factories import LeadFactory

pytestmark = pytest.mark.django_db
URL = "/api/v1/disqualification-reasons/"


def test_list_shows_usage_counts(rep, rep_api, reasons):
    for _ in range(3):
        services.lead_disqualify(actor=rep, lead=LeadFactory(owner=rep), reason=reasons["No need"])
    rows = {r["name"]: r for r in rep_api.get(URL).json()["results"]}
    assert rows["No need"]["usage_count"] == 3
    assert rows["No budget"]["usage_count"] == 0
    assert set(rows["No need"]) == {"id", "name", "order", "archived", "usage_count"}


def test_rep_cannot_write_reasons(rep_api, reasons):
    assert rep_api.post(URL, {"name": "Too small"}, format="json").status_code == 403
    reason = reasons["No need"]
    assert rep_api.patch(f"{URL}{reason.pk}/", {"name": "x"}, format="json").status_code == 403
    assert rep_api.delete(f"{URL}{reason.pk}/").status_code == 403
    assert DisqualificationReason.objects.filter(pk=reason.pk, name="No need").exists()


def test_admin_adds_renames_and_reorders(admin_api):
    r = admin_api.post(URL, {"name": "  Too small "}, format="json")
    assert r.status_code == 201
    assert r.json()["name"] == "Too small" and r.json()["usage_count"] == 0
    pk = r.json()["id"]
    r = admin_api.patch(f"{URL}{pk}/", {"name": "Company too small"}, format="json")
    assert r.status_code == 200 and r.json()["name"] == "Company too small"
    ids = [x["id"] for x in admin_api.get(URL + "?archived=false").json()["results"]]
    r = admin_api.post(URL + "reorder/", {"ids": list(reversed(ids))}, format="json")
    assert r.status_code == 200
    assert [x["id"] for x in r.json()] == list(reversed(ids))
    assert Event.objects.filter(kind="disqualification_reason_changed").count() == 3


def test_duplicate_name_is_400(admin_api, reasons):
    r = admin_api.post(URL, {"name": "no BUDGET"}, format="json")
    assert r.status_code == 400
    assert DisqualificationReason.objects.filter(name__iexact="no budget").count() == 1


def test_reorder_must_list_every_active_reason(admin_api, reasons):
    r = admin_api.post(URL + "reorder/", {"ids": [reasons["No need"].pk]}, format="json")
    assert r.status_code == 400 and "ids" in r.json()


def test_deleting_unused_reason_removes_it(admin_api, reasons):
    pk = reasons["Duplicate"].pk
    assert admin_api.delete(f"{URL}{pk}/").status_code == 204
    assert not DisqualificationReason.objects.filter(pk=pk).exists()


def test_deleting_used_reason_archives_it_and_report_still_counts_it(
    rep, admin, admin_api, reasons
):
    reason = reasons["Chose a competitor"]
    lead = LeadFactory(owner=rep)
    services.lead_disqualify(actor=rep, lead=lead, reason=reason)
    assert admin_api.delete(f"{URL}{reason.pk}/").status_code == 204
    reason.refresh_from_db()
    assert reason.archived
    assert Lead.objects.get(pk=lead.pk).disqualification_reason == reason
    # pickers hide it, the full list still has it, flagged archived
    active = admin_api.get(URL + "?archived=false").json()["results"]
    assert reason.pk not in [x["id"] for x in active]
    everything = {x["id"]: x for x in admin_api.get(URL).json()["results"]}
    assert everything[reason.pk]["archived"] is True
    report = admin_api.get("/api/v1/reports/disqualification/").json()
    assert {"key": reason.pk, "label": "Chose a competitor", "count": 1} in report["results"]


def test_settings_get_and_patch(rep_api, admin_api):
    assert rep_api.get("/api/v1/settings/leads/").json() == {"ask_disqualification_reason": True}
    r = rep_api.patch(
        "/api/v1/settings/leads/", {"ask_disqualification_reason": False}, format="json"
    )
    assert r.status_code == 403
    r = admin_api.patch(
        "/api/v1/settings/leads/", {"ask_disqualification_reason": False}, format="json"
    )
    assert r.status_code == 200 and r.json() == {"ask_disqualification_reason": False}
    assert services.lead_settings_get().ask_disqualification_reason is False
    r = admin_api.patch(
        "/api/v1/settings/leads/", {"ask_disqualification_reason": "maybe"}, format="json"
    )
    assert r.status_code == 400
