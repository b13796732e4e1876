"""Mass assignment: a PATCH that names read-only fields (ids, scores, status, timestamps,
conversion results) or an owner that may not own records changes nothing stored."""

import pytest

from leads.models import Lead
from tests.factories import ContactFactory, LeadFactory, UserFactory

pytestmark = pytest.mark.django_db

STAMP = "2001-01-01T00:00:00Z"


def _stored(obj):
    """Every column as stored (non-editable ones such as ``created_at`` too: ``model_to_dict``
    would skip them), but the modification time an accepted PATCH may touch."""
    values = type(obj)._base_manager.filter(pk=obj.pk).values().get()
    values.pop("updated_at", None)
    return values


def _lead_score(lead):
    lead.lead_score.refresh_from_db()
    return lead.lead_score.score, lead.lead_score.sales_ready


@pytest.mark.parametrize(
    "payload",
    [
        {"id": 999999},
        {"score": 500, "sales_ready": True},
        {"created_at": STAMP, "converted_at": STAMP, "disqualified_at": STAMP},
        {"rating": 1, "revisit_on": "2001-01-01", "disqualification_note": "x"},
        {"converted_account": 1, "converted_contact": 1},
    ],
    ids=["id", "score", "timestamps", "rating-revisit-note", "conversion"],
)
def test_lead_read_only_fields_are_ignored(rep, rep_api, payload):
    lead = LeadFactory(owner=rep)
    before, score = _stored(lead), _lead_score(lead)
    response = rep_api.patch(f"/api/v1/leads/{lead.pk}/", payload, format="json")
    assert response.status_code == 200, response.content
    assert _stored(lead) == before
    assert _lead_score(lead) == score
    assert Lead.objects.count() == 1


def test_lead_status_is_refused_and_unchanged(rep, rep_api):
    lead = LeadFactory(owner=rep)
    before = _stored(lead)
    response = rep_api.patch(f"/api/v1/leads/{lead.pk}/", {"status": "converted"}, format="json")
    assert response.status_code == 400
    assert "status" in str(response.json())
    assert _stored(lead) == before


@pytest.mark.parametrize("resource", ["leads", "contacts"])
def test_an_owner_who_may_not_own_records_is_refused(rep, rep_api, resource):
    inactive = UserFactory(is_active=False)
    obj = LeadFactory(owner=rep) if resource == "leads" else ContactFactory(owner=rep)
    before = _stored(obj)
    response = rep_api.patch(
        f"/api/v1/{resource}/{obj.pk}/",
        {"owner": inactive.pk, "first_name": "Changed"},
        format="json",
    )
    assert response.status_code == 400
    assert _stored(obj) == before


def test_contact_read_only_fields_are_ignored(rep, rep_api):
    contact = ContactFactory(owner=rep)
    before = _stored(contact)
    response = rep_api.patch(
        f"/api/v1/contacts/{contact.pk}/",
        {"id": 999999, "created_at": STAMP, "rating": 1},
        format="json",
    )
    assert response.status_code == 200, response.content
    assert _stored(contact) == before


def test_a_rep_cannot_patch_a_record_out_of_reach(rep_api, other_rep):
    lead = LeadFactory(owner=other_rep)
    before = _stored(lead)
    response = rep_api.patch(f"/api/v1/leads/{lead.pk}/", {"first_name": "Mine"}, format="json")
    assert response.status_code == 404
    assert _stored(lead) == before
