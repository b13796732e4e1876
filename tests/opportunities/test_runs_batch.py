"""The worker's batch drain of trigger runs and step runs (``services_runs``): set-based, the
same outcomes and events as the one-at-a-time path, at most once, and safe when a batch fails."""

import datetime as dt
import smtplib
from unittest import mock

import pytest
from django.core import mail
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from crm.models import Event, EventKind, Task
from opportunities import services_automation as svc
from opportunities import services_runs as runs
from opportunities.models import (
    Enrollment,
    OpportunityEvent,
    StepRun,
    TriggerRun,
)
from opportunities.tasks import run_trigger_runs_task
from tests.factories import ContactFactory, OpportunityFactory, UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def actions(admin):
    """The three purchase actions; the sequence has a day-0 task and a day-2 email."""
    sequence = svc.sequence_create(
        actor=admin,
        name="After purchase",
        steps=[
            {"day_offset": 0, "kind": "task", "title": "Welcome call", "body": "Say hi"},
            {"day_offset": 2, "kind": "email", "title": "Tips", "body": "Three tips"},
        ],
    )
    event = "buy_now_purchased"
    return [
        svc.trigger_action_create(actor=admin, event=event, action="apply_tag", tag="Bought"),
        svc.trigger_action_create(actor=admin, event=event, action="email_owner"),
        svc.trigger_action_create(
            actor=admin, event=event, action="start_sequence", sequence=sequence
        ),
    ]


def _deals(rep, n):
    return [
        OpportunityFactory(
            owner=rep, contact=ContactFactory(owner=rep, email=f"buyer{i}@example.com")
        )
        for i in range(n)
    ]


def _purchase(deals, django_capture_on_commit_callbacks, *, start=0):
    """Fire the purchase of each deal without running the drain it enqueues."""
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        for i, deal in enumerate(deals, start):
            svc.trigger_fire(event="buy_now_purchased", occurrence=f"order:{i}", opportunity=deal)
    return callbacks


def _drain_queries(rep, n, django_capture_on_commit_callbacks):
    deals = _deals(rep, n)
    _purchase(deals, django_capture_on_commit_callbacks, start=1000 * n)
    with CaptureQueriesContext(connection) as queries:
        handled, more = runs.trigger_runs_drain()
    assert (handled, more) == (3 * n, False)
    return len(queries)


def test_a_burst_of_purchases_is_run_in_one_batch(rep, actions, django_capture_on_commit_callbacks):
    deals = _deals(rep, 6)
    callbacks = _purchase(deals, django_capture_on_commit_callbacks)
    assert len(callbacks) == 6  # one drain enqueued per purchase
    assert TriggerRun.objects.filter(status="pending").count() == 18

    assert runs.trigger_runs_drain() == (18, False)

    assert set(TriggerRun.objects.values_list("status", "detail")) == {("done", "")}
    for deal in deals:
        assert list(deal.contact.tags.values_list("name", flat=True)) == ["Bought"]
        enrollment = Enrollment.objects.get(contact=deal.contact)
        assert (enrollment.opportunity_id, enrollment.owner_id, enrollment.status) == (
            deal.pk,
            rep.pk,
            "active",
        )
        assert dict(
            StepRun.objects.filter(enrollment=enrollment).values_list("step__position", "status")
        ) == {1: "done", 2: "pending"}
        task = Task.objects.get(opportunity=deal)
        assert (task.title, task.owner, task.contact, task.note, task.due_on) == (
            "Welcome call",
            rep,
            deal.contact,
            "Say hi",
            timezone.localdate(),
        )
    assert sorted(m.to[0] for m in mail.outbox) == [rep.email] * 6
    events = Event.objects.filter(opportunity__in=deals)
    assert events.filter(kind=OpportunityEvent.TRIGGER_ACTION_RAN).count() == 18
    assert events.filter(kind=OpportunityEvent.ENROLLED).count() == 6
    assert events.filter(kind=OpportunityEvent.SEQUENCE_STEP_RAN).count() == 6
    assert Event.objects.filter(kind=EventKind.CREATED, task__opportunity__in=deals).count() == 6

    # Drained again, or the purchases replayed: nothing more.
    assert runs.trigger_runs_drain() == (0, False)
    assert _purchase(deals, django_capture_on_commit_callbacks) == []
    assert (TriggerRun.objects.count(), len(mail.outbox), Task.objects.count()) == (18, 6, 6)


def test_the_batch_costs_the_same_queries_for_2_or_12_purchases(
    rep, actions, django_capture_on_commit_callbacks
):
    few = _drain_queries(rep, 2, django_capture_on_commit_callbacks)
    many = _drain_queries(rep, 12, django_capture_on_commit_callbacks)
    assert few == many, (few, many)


def test_batch_outcomes_and_events_match_the_one_by_one_path(
    rep, actions, django_capture_on_commit_callbacks
):
    one, batch = _deals(rep, 2)
    _purchase([one], django_capture_on_commit_callbacks)
    for run in TriggerRun.objects.order_by("id"):
        assert svc.trigger_run_execute(run_id=run.pk) == "done"
    run_by_hand = StepRun.objects.get(enrollment__contact=one.contact, step__position=1)
    assert svc.step_run_execute(run_id=run_by_hand.pk) == "done"
    _purchase([batch], django_capture_on_commit_callbacks, start=1)
    runs.trigger_runs_drain()

    def shape(deal):
        found = []
        for event in Event.objects.filter(opportunity=deal).order_by("kind", "id"):
            data = {
                k: v
                for k, v in event.data.items()
                if k not in {"run", "enrollment", "occurrence", "task"}
            }
            same_contact = event.contact_id == deal.contact_id
            found.append((event.kind, event.actor_id, same_contact, event.lead_id, data))
        return found

    assert shape(one) == shape(batch)
    assert (
        Event.objects.get(kind=EventKind.CREATED, task__opportunity=one).data.keys()
        == Event.objects.get(kind=EventKind.CREATED, task__opportunity=batch).data.keys()
    )


def test_repeats_within_a_batch_tag_and_enroll_once(
    rep, actions, django_capture_on_commit_callbacks
):
    deal = _deals(rep, 1)[0]
    second = OpportunityFactory(owner=rep, contact=deal.contact)  # the same buyer, another deal
    _purchase([deal, second], django_capture_on_commit_callbacks)
    runs.trigger_runs_drain()
    details = dict(
        TriggerRun.objects.filter(opportunity=second).values_list("action__action", "detail")
    )
    assert details == {
        "apply_tag": "already tagged",
        "email_owner": "",
        "start_sequence": "already enrolled",
    }
    assert deal.contact.tags.count() == 1
    assert Enrollment.objects.filter(contact=deal.contact).count() == 1
    assert Task.objects.count() == 1


def test_what_cannot_run_fails_with_a_reason_and_the_rest_runs(
    rep, actions, django_capture_on_commit_callbacks
):
    ok, no_mail, archived = _deals(rep, 3)
    no_mail.owner = UserFactory(email="")
    no_mail.save(update_fields=["owner"])
    archived.contact.archived_at = timezone.now()
    archived.contact.save(update_fields=["archived_at"])
    _purchase([ok, no_mail, archived], django_capture_on_commit_callbacks)
    runs.trigger_runs_drain()
    by_deal = {
        (r.opportunity_id, r.action.action): (r.status, r.detail)
        for r in TriggerRun.objects.select_related("action")
    }
    assert by_deal[(no_mail.pk, "email_owner")] == ("failed", "The owner has no email address.")
    assert by_deal[(archived.pk, "start_sequence")] == (
        "failed",
        "An archived record cannot be enrolled.",
    )
    assert {v for k, v in by_deal.items() if k[0] == ok.pk} == {("done", "")}
    assert len(mail.outbox) == 2


def test_a_batch_that_breaks_is_run_one_by_one(rep, actions, django_capture_on_commit_callbacks):
    deals = _deals(rep, 3)
    _purchase(deals, django_capture_on_commit_callbacks)
    with (
        mock.patch.object(runs, "_apply_tags", side_effect=RuntimeError("boom")),
        django_capture_on_commit_callbacks(execute=True),  # the day-0 steps they enqueue
    ):
        assert runs.trigger_runs_drain() == (9, False)
    assert set(TriggerRun.objects.values_list("status", flat=True)) == {"done"}
    assert all(d.contact.tags.count() == 1 for d in deals)
    assert len(mail.outbox) == 3
    assert Task.objects.count() == 3


def test_the_mail_server_failing_mid_batch_keeps_what_was_sent(
    rep, actions, django_capture_on_commit_callbacks
):
    deals = _deals(rep, 4)
    _purchase(deals, django_capture_on_commit_callbacks)
    real_send = mail.EmailMessage.send
    sent = []

    def flaky(message, *args, **kwargs):
        if len(sent) == 2:
            raise smtplib.SMTPServerDisconnected("gone")
        sent.append(message.to)
        return real_send(message, *args, **kwargs)

    with (
        mock.patch.object(mail.EmailMessage, "send", flaky),
        pytest.raises(smtplib.SMTPServerDisconnected),
    ):
        runs.trigger_runs_drain()
    emails = TriggerRun.objects.filter(action__action="email_owner")
    assert sorted(emails.values_list("status", flat=True)) == ["done", "done", "pending", "pending"]
    assert TriggerRun.objects.exclude(action__action="email_owner").filter(status="done").count()
    assert len(mail.outbox) == 2

    assert runs.trigger_runs_drain() == (2, False)  # the retry sends only the rest
    assert len(mail.outbox) == 4
    assert sorted(m.to[0] for m in mail.outbox) == [rep.email] * 4
    assert set(TriggerRun.objects.values_list("status", flat=True)) == {"done"}
    assert Event.objects.filter(kind=OpportunityEvent.TRIGGER_ACTION_RAN).count() == 12


def test_the_drain_takes_over_runs_whose_worker_died_after_the_lease(
    rep, actions, django_capture_on_commit_callbacks
):
    deal = _deals(rep, 1)[0]
    _purchase([deal], django_capture_on_commit_callbacks)
    claimed = timezone.now()
    TriggerRun.objects.update(status="running", claimed_at=claimed, attempts=1)
    assert runs.trigger_runs_drain() == (0, False)  # its worker may still be alive
    assert mail.outbox == []
    TriggerRun.objects.update(claimed_at=claimed - svc.TRIGGER_RUN_LEASE - dt.timedelta(seconds=1))
    assert runs.trigger_runs_drain() == (3, False)
    assert set(TriggerRun.objects.values_list("status", "attempts")) == {("done", 2)}
    assert len(mail.outbox) == 1


def test_a_run_claimed_too_often_fails(rep, actions, django_capture_on_commit_callbacks):
    deal = _deals(rep, 1)[0]
    _purchase([deal], django_capture_on_commit_callbacks)
    TriggerRun.objects.update(
        status="running",
        claimed_at=timezone.now() - svc.TRIGGER_RUN_LEASE - dt.timedelta(seconds=1),
        attempts=svc.TRIGGER_RUN_MAX_ATTEMPTS,
    )
    assert runs.trigger_runs_drain() == (0, False)
    assert {r.detail for r in TriggerRun.objects.all()} == {"Gave up after 5 attempts."}
    assert not deal.contact.tags.exists() and mail.outbox == []


def test_a_long_drain_hands_the_rest_to_a_new_task(
    rep, actions, django_capture_on_commit_callbacks
):
    _purchase(_deals(rep, 2), django_capture_on_commit_callbacks)
    with (
        mock.patch.object(runs, "BATCH", 2),
        mock.patch.object(runs, "DRAIN_SECONDS", 0.0),
    ):
        assert runs.trigger_runs_drain() == (2, True)
        # Its own first batch, then (eager here) the task it enqueued for the rest.
        assert run_trigger_runs_task.delay().get() == 2
    assert set(TriggerRun.objects.values_list("status", flat=True)) == {"done"}


def test_due_steps_are_drained_in_batches(rep, actions, django_capture_on_commit_callbacks):
    deals = _deals(rep, 3)
    _purchase(deals, django_capture_on_commit_callbacks)
    runs.trigger_runs_drain()
    mail.outbox.clear()
    later = timezone.localdate() + dt.timedelta(days=2)
    with django_capture_on_commit_callbacks(execute=True):
        assert svc.step_runs_due_process(today=later) == 3
    assert sorted(m.to[0] for m in mail.outbox) == sorted(d.contact.email for d in deals)
    assert set(Enrollment.objects.values_list("status", flat=True)) == {"completed"}
    assert runs.step_runs_drain(today=later) == (0, False)
    assert len(mail.outbox) == 3
