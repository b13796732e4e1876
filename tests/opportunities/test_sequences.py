"""Sequences (Settings > Sequences): validation, enrollment once while active, due steps, stop,
stop when closed, editing steps in place."""

import datetime as dt
import smtplib
from unittest import mock

import pytest
from django.core import mail
from django.core.exceptions import PermissionDenied, ValidationError
from django.utils import timezone

from crm.models import Event, Task
from opportunities import services_automation as svc
from opportunities.models import (
    Enrollment,
    OpportunityEvent,
    SequenceStep,
    StepRun,
    TriggerAction,
)
from tests.factories import ContactFactory, LeadFactory, OpportunityFactory

pytestmark = pytest.mark.django_db

TODAY = dt.date.today


def _steps(*specs):
    return [
        {"day_offset": d, "kind": k, "title": f"{k} on day {d}", "body": f"body {d}"}
        for d, k in specs
    ]


@pytest.fixture
def sequence(admin):
    return svc.sequence_create(
        actor=admin, name="Nurture", steps=_steps((0, "task"), (3, "email"), (7, "task"))
    )


@pytest.fixture
def contact(rep):
    return ContactFactory(owner=rep, email="pat@example.com")


def _runs(enrollment):
    return dict(
        StepRun.objects.filter(enrollment=enrollment).values_list("step__position", "status")
    )


# --- validation ----------------------------------------------------------------------------------


def test_reps_cannot_write_sequences(rep, sequence):
    with pytest.raises(PermissionDenied):
        svc.sequence_create(actor=rep, name="X", steps=_steps((0, "task")))
    with pytest.raises(PermissionDenied):
        svc.sequence_update(actor=rep, sequence=sequence, name="Y")
    with pytest.raises(PermissionDenied):
        svc.sequence_archive(actor=rep, sequence=sequence)


@pytest.mark.parametrize(
    ("name", "steps", "field"),
    [
        ("A", [], "steps"),
        ("A", [{"day_offset": 366, "kind": "task", "title": "t"}], "steps"),
        ("A", [{"day_offset": -1, "kind": "task", "title": "t"}], "steps"),
        ("A", [{"day_offset": 0, "kind": "task", "title": "  "}], "steps"),
        ("A", [{"day_offset": 0, "kind": "sms", "title": "t"}], "steps"),
        ("  ", _steps((0, "task")), "name"),
        ("nurture", _steps((0, "task")), "name"),  # duplicate active name, any case
    ],
)
def test_sequence_validation(admin, sequence, name, steps, field):
    with pytest.raises(ValidationError) as exc:
        svc.sequence_create(actor=admin, name=name, steps=steps)
    assert field in exc.value.message_dict


def test_archived_name_can_be_reused(admin, sequence):
    svc.sequence_archive(actor=admin, sequence=sequence)
    assert svc.sequence_create(actor=admin, name="Nurture", steps=_steps((0, "task"))).pk


# --- enrollment ----------------------------------------------------------------------------------


def test_enroll_once_while_active_and_again_after_stop(
    rep, contact, sequence, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        first, created = svc.enrollment_start(actor=rep, sequence=sequence, contact=contact)
    assert created and first.owner == rep and first.enrolled_by == rep
    again, created = svc.enrollment_start(actor=rep, sequence=sequence, contact=contact)
    assert (again, created) == (first, False)
    assert StepRun.objects.count() == 3
    svc.enrollment_stop(actor=rep, enrollment=first, reason="Replied")
    first.refresh_from_db()
    assert (first.status, first.stop_reason) == ("stopped", "Replied")
    assert _runs(first) == {1: "done", 2: "skipped", 3: "skipped"}
    second, created = svc.enrollment_start(actor=rep, sequence=sequence, contact=contact)
    assert created and second != first
    kinds = list(Event.objects.filter(contact=contact).values_list("kind", flat=True))
    assert kinds.count(OpportunityEvent.ENROLLED) == 2
    assert OpportunityEvent.ENROLLMENT_STOPPED in kinds


def test_rep_cannot_enroll_a_record_they_cannot_see(rep, other_rep, sequence):
    with pytest.raises(ValidationError) as exc:
        svc.enrollment_start(actor=rep, sequence=sequence, contact=ContactFactory(owner=other_rep))
    assert "contact" in exc.value.message_dict
    with pytest.raises(ValidationError):
        svc.enrollment_start(actor=rep, sequence=sequence, lead=LeadFactory(owner=other_rep))
    assert not Enrollment.objects.exists()


def test_exactly_one_of_contact_or_lead(rep, contact, sequence):
    with pytest.raises(ValidationError):
        svc.enrollment_start(actor=rep, sequence=sequence)
    with pytest.raises(ValidationError):
        svc.enrollment_start(
            actor=rep, sequence=sequence, contact=contact, lead=LeadFactory(owner=rep)
        )


def test_day_zero_runs_at_once_later_days_when_due(
    rep, contact, sequence, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        enrollment, _ = svc.enrollment_start(actor=rep, sequence=sequence, contact=contact)
    assert _runs(enrollment) == {1: "done", 2: "pending", 3: "pending"}
    task = Task.objects.get()
    assert (task.owner, task.contact, task.title, task.note, task.due_on) == (
        rep,
        contact,
        "task on day 0",
        "body 0",
        timezone.localdate(),
    )
    today = timezone.localdate()
    assert svc.step_runs_due_process(today=today + dt.timedelta(days=2)) == 0
    assert svc.step_runs_due_process(today=today + dt.timedelta(days=3)) == 1
    assert _runs(enrollment) == {1: "done", 2: "done", 3: "pending"}
    assert mail.outbox[0].to == ["pat@example.com"]
    assert mail.outbox[0].subject == "email on day 3"
    assert "body 3" in mail.outbox[0].body
    assert svc.step_runs_due_process(today=today + dt.timedelta(days=30)) == 1
    enrollment.refresh_from_db()
    assert enrollment.status == "completed" and enrollment.ended_at
    ran = Event.objects.filter(kind=OpportunityEvent.SEQUENCE_STEP_RAN, contact=contact)
    assert ran.count() == 3


def test_redelivered_step_does_nothing(rep, contact, sequence):
    enrollment, _ = svc.enrollment_start(actor=rep, sequence=sequence, contact=contact)
    run = StepRun.objects.get(enrollment=enrollment, step__position=1)
    assert svc.step_run_execute(run_id=run.pk) == "done"
    assert svc.step_run_execute(run_id=run.pk) == "done"
    assert Task.objects.count() == 1


def test_email_step_without_address_fails_and_failing_smtp_retries(admin, rep):
    seq = svc.sequence_create(actor=admin, name="Mail", steps=_steps((0, "email")))
    lead = LeadFactory(owner=rep, email="")
    enrollment, _ = svc.enrollment_start(actor=None, sequence=seq, lead=lead)
    run = StepRun.objects.get(enrollment=enrollment)
    assert svc.step_run_execute(run_id=run.pk) == "failed"
    run.refresh_from_db()
    assert run.detail
    enrollment.refresh_from_db()
    assert enrollment.status == "completed"

    other = LeadFactory(owner=rep)
    enrollment, _ = svc.enrollment_start(actor=None, sequence=seq, lead=other)
    run = StepRun.objects.get(enrollment=enrollment)
    with (
        mock.patch(
            "opportunities.services_automation.EmailMessage.send", side_effect=smtplib.SMTPException
        ),
        pytest.raises(smtplib.SMTPException),
    ):
        svc.step_run_execute(run_id=run.pk)
    run.refresh_from_db()
    assert run.status == "pending"
    assert svc.step_run_execute(run_id=run.pk) == "done"
    assert mail.outbox[-1].to == [other.email]


def test_stop_when_closed(admin, rep, contact, sequence, pipeline):
    keep = svc.sequence_create(
        actor=admin, name="Keep", stop_when_closed=False, steps=_steps((5, "task"))
    )
    deal = OpportunityFactory(owner=rep, contact=contact)
    stops, _ = svc.enrollment_start(
        actor=None, sequence=sequence, contact=contact, opportunity=deal
    )
    stays, _ = svc.enrollment_start(actor=None, sequence=keep, contact=contact, opportunity=deal)
    assert svc.enrollments_stop_for_closed(opportunity=deal) == 1
    assert svc.enrollments_stop_for_closed(opportunity=deal) == 0
    stops.refresh_from_db()
    stays.refresh_from_db()
    assert (stops.status, stops.stop_reason, stays.status) == (
        "stopped",
        svc.STOP_OPPORTUNITY_CLOSED,
        "active",
    )
    assert not StepRun.objects.filter(enrollment=stops, status="pending").exists()
    assert (
        Event.objects.filter(kind=OpportunityEvent.ENROLLMENT_STOPPED, opportunity=deal).count()
        == 1
    )


def test_owner_is_the_opportunity_owner(admin, rep, other_rep, contact, sequence, pipeline):
    deal = OpportunityFactory(owner=other_rep, contact=contact)
    enrollment, _ = svc.enrollment_start(
        actor=None, sequence=sequence, contact=contact, opportunity=deal
    )
    assert enrollment.owner == other_rep


# --- editing a sequence with active enrollments --------------------------------------------------


def test_sequence_edit_moves_adds_and_skips_pending_runs(admin, rep, contact, sequence):
    enrollment, _ = svc.enrollment_start(actor=None, sequence=sequence, contact=contact)
    started = enrollment.started_on
    steps_before = list(SequenceStep.objects.filter(sequence=sequence).values_list("pk", flat=True))
    svc.sequence_update(
        actor=admin,
        sequence=sequence,
        name="Nurture 2",
        steps=[
            {"day_offset": 0, "kind": "task", "title": "task on day 0", "body": "body 0"},
            {"day_offset": 5, "kind": "email", "title": "later email", "body": "b"},
        ],
    )
    steps = {s.position: s for s in SequenceStep.objects.filter(sequence=sequence)}
    assert [steps[1].pk, steps[2].pk, steps[3].pk] == steps_before  # edited in place
    assert steps[3].archived_at is not None
    runs = {r.step.position: r for r in StepRun.objects.filter(enrollment=enrollment)}
    assert runs[2].due_on == started + dt.timedelta(days=5) and runs[2].status == "pending"
    assert runs[3].status == "skipped"

    svc.sequence_update(
        actor=admin,
        sequence=sequence,
        steps=[
            {"day_offset": 0, "kind": "task", "title": "task on day 0", "body": "body 0"},
            {"day_offset": 5, "kind": "email", "title": "later email", "body": "b"},
            {"day_offset": 10, "kind": "task", "title": "new", "body": ""},
        ],
    )
    new = SequenceStep.objects.get(sequence=sequence, position=3, archived_at__isnull=True)
    run = StepRun.objects.get(enrollment=enrollment, step=new)
    assert (run.status, run.due_on) == ("pending", started + dt.timedelta(days=10))
    changed = Event.objects.filter(kind=OpportunityEvent.SEQUENCE_CHANGED).order_by("id")
    assert [e.data["action"] for e in changed] == ["created", "updated", "updated"]


def test_archive_stops_enrollments_and_removes_trigger_actions(admin, rep, contact, sequence):
    enrollment, _ = svc.enrollment_start(actor=None, sequence=sequence, contact=contact)
    action = svc.trigger_action_create(
        actor=admin, event="buy_now_clicked", action="start_sequence", sequence=sequence
    )
    svc.sequence_archive(actor=admin, sequence=sequence)
    enrollment.refresh_from_db()
    action.refresh_from_db()
    assert enrollment.status == "stopped" and action.archived_at is not None
    assert TriggerAction.objects.filter(archived_at__isnull=True).count() == 0
    with pytest.raises(ValidationError):
        svc.enrollment_start(actor=None, sequence=sequence, contact=contact)


def test_due_process_ignores_stopped_enrollments(rep, contact, sequence):
    enrollment, _ = svc.enrollment_start(actor=None, sequence=sequence, contact=contact)
    svc.enrollment_stop(actor=None, enrollment=enrollment)
    assert svc.step_runs_due_process(today=timezone.localdate() + dt.timedelta(days=99)) == 0
