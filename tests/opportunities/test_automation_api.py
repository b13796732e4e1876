"""API.md: ``/api/v1/trigger-actions/``, ``/api/v1/sequences/`` (+ ``enroll``) and
``/api/v1/enrollments/`` (+ ``stop``)."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from leads.models import DisqualificationReason
from opportunities import services_automation as svc
from opportunities.models import Enrollment, Sequence, TriggerAction
from tests.factories import ContactFactory, LeadFactory

pytestmark = pytest.mark.django_db

TA = "/api/v1/trigger-actions/"
SEQ = "/api/v1/sequences/"
ENR = "/api/v1/enrollments/"

STEPS = [
    {"day_offset": 0, "kind": "task", "title": "Call", "body": "Say hi"},
    {"day_offset": 2, "kind": "email", "title": "Hello", "body": "Text"},
]


@pytest.fixture
def sequence(admin):
    return svc.sequence_create(actor=admin, name="Welcome", steps=[dict(s) for s in STEPS])


# --- trigger actions -----------------------------------------------------------------------------


def test_trigger_action_crud_contract(admin_api, sequence):
    reason = DisqualificationReason.objects.first()
    r = admin_api.post(TA, {"event": "buy_now_clicked", "action": "apply_tag", "tag": "hot"})
    assert r.status_code == 201, r.json()
    body = r.json()
    assert {k: body[k] for k in ("event", "action", "tag", "sequence", "reasons")} == {
        "event": "buy_now_clicked",
        "action": "apply_tag",
        "tag": "hot",
        "sequence": None,
        "reasons": [],
    }
    r = admin_api.post(
        TA,
        {
            "event": "lead_disqualified",
            "action": "start_sequence",
            "sequence": sequence.pk,
            "reasons": [reason.pk],
        },
    )
    assert r.status_code == 201, r.json()
    assert r.json()["reasons"] == [reason.pk]
    pk = r.json()["id"]
    r = admin_api.patch(f"{TA}{pk}/", {"reasons": []}, format="json")
    assert r.status_code == 200 and r.json()["reasons"] == []
    assert admin_api.delete(f"{TA}{pk}/").status_code == 204
    assert TriggerAction.objects.get(pk=pk).archived_at is not None
    assert admin_api.get(f"{TA}{pk}/").status_code == 404
    assert [a["event"] for a in admin_api.get(TA).json()["results"]] == ["buy_now_clicked"]


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"event": "buy_now_clicked", "action": "apply_tag"}, "tag"),
        ({"event": "lead_disqualified", "action": "apply_tag", "tag": "x"}, "action"),
        ({"event": "buy_now_clicked", "action": "start_sequence"}, "sequence"),
        ({"event": "buy_now_clicked", "action": "email_owner", "reasons": [1]}, "reasons"),
        ({"event": "later", "action": "email_owner"}, "event"),
    ],
)
def test_trigger_action_validation_is_400_with_the_field(admin_api, payload, field):
    r = admin_api.post(TA, payload)
    assert r.status_code == 400 and field in r.json(), r.json()


def test_spanish_validation_message(admin_api):
    r = admin_api.post(
        TA,
        {"event": "lead_disqualified", "action": "apply_tag", "tag": "x"},
        HTTP_ACCEPT_LANGUAGE="es",
    )
    assert r.status_code == 400 and r.json()["action"][0]


def test_reps_read_but_cannot_write_trigger_actions(admin, rep_api):
    action = svc.trigger_action_create(actor=admin, event="buy_now_clicked", action="email_owner")
    assert rep_api.get(TA).status_code == 200
    assert (
        rep_api.post(TA, {"event": "buy_now_clicked", "action": "email_owner"}).status_code == 403
    )
    assert rep_api.patch(f"{TA}{action.pk}/", {"event": "buy_now_purchased"}).status_code == 403
    assert rep_api.delete(f"{TA}{action.pk}/").status_code == 403


def test_trigger_action_list_query_count(admin, admin_api):
    def count():
        with CaptureQueriesContext(connection) as ctx:
            r = admin_api.get(TA + "?page_size=200")
        assert r.status_code == 200
        return len(ctx.captured_queries), len(r.json()["results"])

    reasons = list(DisqualificationReason.objects.all()[:2])
    for i in range(3):
        svc.trigger_action_create(
            actor=admin, event="buy_now_clicked", action="apply_tag", tag=f"t{i}"
        )
    few = count()
    for _ in range(20):
        svc.trigger_action_create(
            actor=admin, event="lead_disqualified", action="email_owner", reasons=reasons
        )
    many = count()
    assert (few[1], many[1]) == (3, 23)
    assert few[0] == many[0]


# --- sequences -----------------------------------------------------------------------------------


def test_sequence_crud_contract(admin_api):
    r = admin_api.post(SEQ, {"name": "Onboarding", "steps": STEPS}, format="json")
    assert r.status_code == 201, r.json()
    body = r.json()
    assert body["name"] == "Onboarding"
    assert [
        {k: s[k] for k in ("day_offset", "kind", "title", "body")} for s in body["steps"]
    ] == STEPS
    step_ids = [s["id"] for s in body["steps"]]
    r = admin_api.patch(
        f"{SEQ}{body['id']}/",
        {"steps": [{**STEPS[0], "day_offset": 1}]},
        format="json",
    )
    assert r.status_code == 200, r.json()
    assert [(s["id"], s["day_offset"]) for s in r.json()["steps"]] == [(step_ids[0], 1)]
    assert admin_api.delete(f"{SEQ}{body['id']}/").status_code == 204
    assert Sequence.objects.get().archived_at is not None
    assert admin_api.get(SEQ).json()["results"] == []
    assert len(admin_api.get(SEQ + "?archived=true").json()["results"]) == 1


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"name": "X", "steps": []}, "steps"),
        ({"name": "X", "steps": [{"day_offset": 400, "kind": "task", "title": "t"}]}, "steps"),
        ({"name": "X", "steps": [{"day_offset": 1, "kind": "task", "title": ""}]}, "steps"),
        ({"name": "welcome", "steps": STEPS}, "name"),
        ({"name": "", "steps": STEPS}, "name"),
    ],
)
def test_sequence_validation_is_400_with_the_field(admin_api, sequence, payload, field):
    r = admin_api.post(SEQ, payload, format="json")
    assert r.status_code == 400 and field in r.json(), r.json()


def test_reps_read_sequences_but_cannot_write(rep_api, sequence):
    assert rep_api.get(SEQ).json()["results"][0]["name"] == "Welcome"
    assert rep_api.post(SEQ, {"name": "Mine", "steps": STEPS}, format="json").status_code == 403
    assert rep_api.patch(f"{SEQ}{sequence.pk}/", {"name": "Z"}, format="json").status_code == 403
    assert rep_api.delete(f"{SEQ}{sequence.pk}/").status_code == 403


def test_sequence_list_query_count(admin, admin_api):
    def count():
        with CaptureQueriesContext(connection) as ctx:
            r = admin_api.get(SEQ + "?page_size=200")
        assert r.status_code == 200
        return len(ctx.captured_queries), len(r.json()["results"])

    for i in range(2):
        svc.sequence_create(actor=admin, name=f"S{i}", steps=[dict(s) for s in STEPS])
    few = count()
    for i in range(15):
        seq = svc.sequence_create(actor=admin, name=f"T{i}", steps=[dict(s) for s in STEPS])
        svc.enrollment_start(actor=None, sequence=seq, contact=ContactFactory())
    many = count()
    assert (few[1], many[1]) == (2, 17)
    assert few[0] == many[0]


# --- enroll and enrollments ----------------------------------------------------------------------


def test_enroll_201_then_200_and_stop(rep, rep_api, sequence, django_capture_on_commit_callbacks):
    contact = ContactFactory(owner=rep)
    with django_capture_on_commit_callbacks(execute=True):
        r = rep_api.post(f"{SEQ}{sequence.pk}/enroll/", {"contact": contact.pk})
    assert r.status_code == 201, r.json()
    body = r.json()
    assert (body["contact"], body["lead"], body["status"], body["owner"]) == (
        contact.pk,
        None,
        "active",
        rep.pk,
    )
    progress = rep_api.get(f"{ENR}{body['id']}/").json()
    assert (progress["steps_total"], progress["steps_done"]) == (2, 1)  # day 0 ran at once
    r2 = rep_api.post(f"{SEQ}{sequence.pk}/enroll/", {"contact": contact.pk})
    assert r2.status_code == 200 and r2.json()["id"] == body["id"]
    r = rep_api.post(f"{ENR}{body['id']}/stop/", {"reason": "Replied"})
    assert r.status_code == 200 and r.json()["status"] == "stopped", r.json()
    assert r.json()["stop_reason"] == "Replied"
    r3 = rep_api.post(f"{SEQ}{sequence.pk}/enroll/", {"contact": contact.pk})
    assert r3.status_code == 201 and r3.json()["id"] != body["id"]


def test_enroll_a_lead(rep, rep_api, sequence):
    lead = LeadFactory(owner=rep)
    r = rep_api.post(f"{SEQ}{sequence.pk}/enroll/", {"lead": lead.pk})
    assert r.status_code == 201 and r.json()["lead"] == lead.pk


def test_reps_cannot_enroll_or_see_invisible_records(rep_api, other_rep, sequence):
    contact = ContactFactory(owner=other_rep)
    lead = LeadFactory(owner=other_rep)
    assert rep_api.post(f"{SEQ}{sequence.pk}/enroll/", {"contact": contact.pk}).status_code == 404
    assert rep_api.post(f"{SEQ}{sequence.pk}/enroll/", {"lead": lead.pk}).status_code == 404
    assert not Enrollment.objects.exists()
    theirs, _ = svc.enrollment_start(actor=None, sequence=sequence, contact=contact)
    assert rep_api.get(ENR).json()["results"] == []
    assert rep_api.get(f"{ENR}{theirs.pk}/").status_code == 404
    assert rep_api.post(f"{ENR}{theirs.pk}/stop/").status_code == 404


def test_enroll_needs_exactly_one_record(rep, rep_api, sequence):
    r = rep_api.post(f"{SEQ}{sequence.pk}/enroll/", {})
    assert r.status_code == 400 and "detail" in r.json()
    r = rep_api.post(
        f"{SEQ}{sequence.pk}/enroll/",
        {"contact": ContactFactory(owner=rep).pk, "lead": LeadFactory(owner=rep).pk},
    )
    assert r.status_code == 400


def test_enrollment_filters(admin, admin_api, rep, sequence):
    other = svc.sequence_create(actor=admin, name="Other", steps=[dict(s) for s in STEPS])
    contact = ContactFactory(owner=rep)
    lead = LeadFactory(owner=rep)
    a, _ = svc.enrollment_start(actor=None, sequence=sequence, contact=contact)
    b, _ = svc.enrollment_start(actor=None, sequence=other, lead=lead)
    svc.enrollment_stop(actor=None, enrollment=b)

    def ids(query):
        r = admin_api.get(ENR + query)
        assert r.status_code == 200, r.json()
        return {e["id"] for e in r.json()["results"]}

    assert ids(f"?sequence={sequence.pk}") == {a.pk}
    assert ids(f"?contact={contact.pk}") == {a.pk}
    assert ids(f"?lead={lead.pk}") == {b.pk}
    assert ids("?status=stopped") == {b.pk}
    assert admin_api.get(ENR + "?sequence=x").status_code == 400


def test_enrollment_list_query_count(admin, rep, rep_api, sequence):
    def count():
        with CaptureQueriesContext(connection) as ctx:
            r = rep_api.get(ENR + "?page_size=200")
        assert r.status_code == 200
        return len(ctx.captured_queries), len(r.json()["results"])

    for _ in range(3):
        svc.enrollment_start(actor=None, sequence=sequence, contact=ContactFactory(owner=rep))
    few = count()
    for _ in range(20):
        svc.enrollment_start(actor=None, sequence=sequence, lead=LeadFactory(owner=rep))
    many = count()
    assert (few[1], many[1]) == (3, 23)
    assert few[0] == many[0] <= 4
