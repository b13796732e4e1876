"""Trigger actions (Settings > Automation): validation, firing at most once, each action type,
redelivery and transient failures."""

import datetime as dt
import smtplib
from unittest import mock

import pytest
from django.core import mail
from django.core.exceptions import PermissionDenied, ValidationError
from django.utils import timezone

from crm.models import Event, Tag
from leads.models import DisqualificationReason
from opportunities import services_automation as svc
from opportunities.models import (
    Enrollment,
    OpportunityEvent,
    StepRun,
    TriggerAction,
    TriggerRun,
)
from opportunities.tasks import run_trigger_action_task
from tests.factories import ContactFactory, LeadFactory, OpportunityFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def deal(rep, pipeline):
    return OpportunityFactory(owner=rep, contact=ContactFactory(owner=rep, email="pat@example.com"))


@pytest.fixture
def sequence(admin):
    return svc.sequence_create(
        actor=admin,
        name="Onboarding",
        steps=[
            {"day_offset": 0, "kind": "task", "title": "Call", "body": "Welcome call"},
            {"day_offset": 3, "kind": "email", "title": "Tips", "body": "Three tips"},
        ],
    )


def _fire(deal, occurrence="link:1:click", event="buy_now_clicked", capture=None):
    with capture(execute=True):
        return svc.trigger_fire(event=event, occurrence=occurrence, opportunity=deal)


# --- validation ----------------------------------------------------------------------------------


def test_reps_cannot_write_trigger_actions(rep):
    with pytest.raises(PermissionDenied):
        svc.trigger_action_create(actor=rep, event="buy_now_clicked", action="email_owner")


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"event": "buy_now_clicked", "action": "apply_tag"}, "tag"),
        ({"event": "buy_now_clicked", "action": "apply_tag", "tag": "   "}, "tag"),
        ({"event": "buy_now_purchased", "action": "start_sequence"}, "sequence"),
        ({"event": "lead_disqualified", "action": "apply_tag", "tag": "cold"}, "action"),
        ({"event": "nope", "action": "email_owner"}, "event"),
        ({"event": "buy_now_clicked", "action": "nope"}, "action"),
    ],
)
def test_trigger_action_validation(admin, kwargs, field):
    with pytest.raises(ValidationError) as exc:
        svc.trigger_action_create(actor=admin, **kwargs)
    assert field in exc.value.message_dict
    assert not TriggerAction.objects.exists() and not Tag.objects.exists()


def test_reasons_only_for_lead_disqualified(admin):
    reason = DisqualificationReason.objects.first()
    with pytest.raises(ValidationError) as exc:
        svc.trigger_action_create(
            actor=admin, event="buy_now_clicked", action="email_owner", reasons=[reason]
        )
    assert "reasons" in exc.value.message_dict


def test_archived_sequence_cannot_be_started(admin, sequence):
    svc.sequence_archive(actor=admin, sequence=sequence)
    with pytest.raises(ValidationError) as exc:
        svc.trigger_action_create(
            actor=admin, event="buy_now_clicked", action="start_sequence", sequence=sequence
        )
    assert "sequence" in exc.value.message_dict


def test_create_update_archive_write_events(admin, sequence):
    action = svc.trigger_action_create(
        actor=admin, event="buy_now_clicked", action="apply_tag", tag="  Hot   lead "
    )
    assert action.tag.name == "Hot lead"
    svc.trigger_action_update(
        actor=admin, trigger_action=action, action="start_sequence", sequence=sequence
    )
    action.refresh_from_db()
    assert (action.action, action.tag, action.sequence) == ("start_sequence", None, sequence)
    svc.trigger_action_archive(actor=admin, trigger_action=action)
    svc.trigger_action_archive(actor=admin, trigger_action=action)  # idempotent
    kinds = Event.objects.filter(kind=OpportunityEvent.TRIGGER_ACTIONS_CHANGED).order_by("id")
    assert [e.data["action"] for e in kinds] == ["created", "updated", "archived"]
    assert kinds[1].data["changes"]["kind"] == ["apply_tag", "start_sequence"]


# --- firing and running --------------------------------------------------------------------------


def test_apply_tag_runs_once_however_often_fired(admin, deal, django_capture_on_commit_callbacks):
    svc.trigger_action_create(actor=admin, event="buy_now_clicked", action="apply_tag", tag="hot")
    assert _fire(deal, capture=django_capture_on_commit_callbacks) == 1
    assert _fire(deal, capture=django_capture_on_commit_callbacks) == 0  # replay
    assert list(deal.contact.tags.values_list("name", flat=True)) == ["hot"]
    run = TriggerRun.objects.get()
    assert (run.status, run.contact_id, run.opportunity_id) == ("done", deal.contact_id, deal.pk)
    ran = Event.objects.get(kind=OpportunityEvent.TRIGGER_ACTION_RAN)
    assert (ran.opportunity_id, ran.contact_id) == (deal.pk, deal.contact_id)
    assert ran.data["tag"] == "hot" and ran.data["status"] == "done"


def test_email_owner_sends_one_email_even_when_redelivered(
    admin, rep, deal, django_capture_on_commit_callbacks
):
    svc.trigger_action_create(actor=admin, event="buy_now_purchased", action="email_owner")
    _fire(deal, "order:7", "buy_now_purchased", django_capture_on_commit_callbacks)
    run = TriggerRun.objects.get()
    assert run_trigger_action_task.delay(run.pk).get() == "done"  # redelivered: nothing
    assert svc.trigger_run_execute(run_id=run.pk) == "done"
    _fire(deal, "order:7", "buy_now_purchased", django_capture_on_commit_callbacks)
    assert len(mail.outbox) == 1
    assert mail.outbox[0].to == [rep.email]
    assert deal.contact.name in mail.outbox[0].subject


def test_start_sequence_enrolls_once(
    admin, rep, deal, sequence, django_capture_on_commit_callbacks
):
    svc.trigger_action_create(
        actor=admin, event="buy_now_clicked", action="start_sequence", sequence=sequence
    )
    for _ in range(3):
        _fire(deal, capture=django_capture_on_commit_callbacks)
    enrollment = Enrollment.objects.get()
    assert (enrollment.contact, enrollment.opportunity, enrollment.owner) == (
        deal.contact,
        deal,
        rep,
    )
    # The day-0 step (a task for the owner) ran at once; the day-3 email waits.
    runs = dict(StepRun.objects.values_list("step__day_offset", "status"))
    assert runs == {0: "done", 3: "pending"}
    assert rep.tasks.get().title == "Call"


def test_failing_email_goes_back_to_pending_then_runs(
    admin, deal, django_capture_on_commit_callbacks
):
    svc.trigger_action_create(actor=admin, event="buy_now_clicked", action="email_owner")
    with django_capture_on_commit_callbacks(execute=False):
        svc.trigger_fire(event="buy_now_clicked", occurrence="link:9:click", opportunity=deal)
    run = TriggerRun.objects.get()
    with (
        mock.patch(
            "opportunities.services_automation.EmailMessage.send",
            side_effect=smtplib.SMTPServerDisconnected("down"),
        ),
        pytest.raises(smtplib.SMTPServerDisconnected),
    ):
        svc.trigger_run_execute(run_id=run.pk)
    run.refresh_from_db()
    assert run.status == "pending" and not mail.outbox
    assert not Event.objects.filter(kind=OpportunityEvent.TRIGGER_ACTION_RAN).exists()
    assert svc.trigger_run_execute(run_id=run.pk) == "done"
    assert len(mail.outbox) == 1


def test_owner_without_email_fails_with_a_detail(admin, rep, deal):
    rep.email = ""
    rep.save()
    svc.trigger_action_create(actor=admin, event="buy_now_clicked", action="email_owner")
    svc.trigger_fire(event="buy_now_clicked", occurrence="link:3:click", opportunity=deal)
    run = TriggerRun.objects.get()
    assert svc.trigger_run_execute(run_id=run.pk) == "failed"
    run.refresh_from_db()
    assert run.detail and not mail.outbox


def test_archived_actions_do_not_fire(admin, deal):
    action = svc.trigger_action_create(actor=admin, event="buy_now_clicked", action="email_owner")
    svc.trigger_action_archive(actor=admin, trigger_action=action)
    assert svc.trigger_fire(event="buy_now_clicked", occurrence="x", opportunity=deal) == 0


def test_only_the_events_actions_fire(admin, deal):
    svc.trigger_action_create(actor=admin, event="buy_now_clicked", action="email_owner")
    svc.trigger_action_create(actor=admin, event="buy_now_purchased", action="email_owner")
    assert svc.trigger_fire(event="buy_now_purchased", occurrence="order:1", opportunity=deal) == 1
    assert TriggerRun.objects.get().action.event == "buy_now_purchased"


# --- nurture: lead disqualified ------------------------------------------------------------------


def test_lead_disqualified_narrowed_to_reasons(
    admin, rep, sequence, django_capture_on_commit_callbacks
):
    reasons = list(DisqualificationReason.objects.order_by("id")[:2])
    svc.trigger_action_create(
        actor=admin,
        event="lead_disqualified",
        action="start_sequence",
        sequence=sequence,
        reasons=[reasons[0]],
    )
    svc.trigger_action_create(actor=admin, event="lead_disqualified", action="email_owner")
    lead = LeadFactory(owner=rep)
    with django_capture_on_commit_callbacks(execute=True):
        n = svc.trigger_fire(
            event="lead_disqualified", occurrence="event:1", lead=lead, reason=reasons[1]
        )
    assert n == 1 and not Enrollment.objects.exists()  # only the email: another reason
    assert mail.outbox[0].to == [rep.email]
    with django_capture_on_commit_callbacks(execute=True):
        n = svc.trigger_fire(
            event="lead_disqualified", occurrence="event:2", lead=lead, reason=reasons[0]
        )
    assert n == 2
    enrollment = Enrollment.objects.get()
    assert (enrollment.lead, enrollment.contact, enrollment.owner) == (lead, None, rep)
    ran = Event.objects.filter(kind=OpportunityEvent.TRIGGER_ACTION_RAN, lead=lead)
    assert ran.count() == 3


def test_a_run_left_running_by_a_dead_worker_runs_once_after_its_lease(
    admin, rep, deal, django_capture_on_commit_callbacks
):
    """A worker killed mid-action rolled its transaction back: the run is ``running`` with
    nothing done. Within the lease a redelivery leaves it alone; after it, the run is run once."""
    svc.trigger_action_create(actor=admin, event="buy_now_purchased", action="email_owner")
    with django_capture_on_commit_callbacks(execute=False):
        svc.trigger_fire(event="buy_now_purchased", occurrence="order:9", opportunity=deal)
    run = TriggerRun.objects.get()
    claimed = timezone.now()
    TriggerRun.objects.filter(pk=run.pk).update(status="running", claimed_at=claimed, attempts=1)
    assert svc.trigger_run_execute(run_id=run.pk) == "running"  # the worker may still be alive
    assert mail.outbox == []
    TriggerRun.objects.filter(pk=run.pk).update(
        claimed_at=claimed - svc.TRIGGER_RUN_LEASE - dt.timedelta(seconds=1)
    )
    assert svc.trigger_run_execute(run_id=run.pk) == "done"
    assert svc.trigger_run_execute(run_id=run.pk) == "done"  # and never again
    run.refresh_from_db()
    assert (run.attempts, len(mail.outbox)) == (2, 1)


def test_a_run_whose_workers_keep_dying_fails_after_max_attempts(
    admin, deal, django_capture_on_commit_callbacks
):
    svc.trigger_action_create(actor=admin, event="buy_now_clicked", action="apply_tag", tag="hot")
    with django_capture_on_commit_callbacks(execute=False):
        svc.trigger_fire(event="buy_now_clicked", occurrence="link:3:click", opportunity=deal)
    run = TriggerRun.objects.get()
    TriggerRun.objects.filter(pk=run.pk).update(
        status="running",
        claimed_at=timezone.now() - svc.TRIGGER_RUN_LEASE - dt.timedelta(seconds=1),
        attempts=svc.TRIGGER_RUN_MAX_ATTEMPTS,
    )
    assert svc.trigger_run_execute(run_id=run.pk) == "failed"
    run.refresh_from_db()
    assert "5 attempts" in run.detail
    assert not deal.contact.tags.exists()
