"""The worker side of the automation: trigger runs and sequence step runs, claimed and run in
batches.

A burst of purchases makes thousands of runs. One task per run spends most of its time in the
broker and in per-row queries, so a backlog builds up behind the burst. Instead, every
occurrence enqueues one *drain* (``trigger_runs_drain``): it claims up to ``BATCH`` runs at a time
(``FOR UPDATE SKIP LOCKED``, committed at once, so two workers never claim the same run) and runs
them set-based: tags in one INSERT, enrollments, their step runs and day-0 tasks in a few bulk
INSERTs, one event per run in one INSERT, emails over one connection. A drain that finds nothing
to claim costs one query. The claim has a lease: a run left ``running`` by a worker that died is
claimed again after ``TRIGGER_RUN_LEASE``, at most ``TRIGGER_RUN_MAX_ATTEMPTS`` times.

Each batch commits in one transaction. An unexpected error in it rolls the batch back and its
runs are run one at a time (``services_automation``'s path), so one bad row holds up nobody. A
transient error (the database or the mail server gone) gives the batch back for the retry.
Emails are sent last, just before the commit: a worker killed between the two is the only way
an email goes out twice.
"""

from __future__ import annotations

import datetime as dt
import logging
import smtplib
import time
from dataclasses import dataclass, field
from typing import Any

from django.core.mail import EmailMessage, get_connection
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _

from crm.models import Contact, Event, EventKind, Task
from crm.services import event_build
from opportunities import services_automation as automation
from opportunities.models import (
    Enrollment,
    EnrollmentStatus,
    OpportunityEvent,
    SequenceStep,
    StepKind,
    StepRun,
    StepRunStatus,
    TriggerActionKind,
    TriggerRun,
)

logger = logging.getLogger(__name__)

#: Runs claimed at a time: large enough to make a burst cheap, small enough to commit quickly.
BATCH = 200
#: A drain stops claiming after this long and hands the rest to a new task (well within the task
#: time limit, so the lease of its last batch never runs out while it works).
DRAIN_SECONDS = 60.0


@dataclass
class _Batch:
    """What one batch decided, written at the end in a few statements."""

    trigger_runs: list[TriggerRun] = field(default_factory=list)
    step_runs: list[StepRun] = field(default_factory=list)
    events: list[Event] = field(default_factory=list)
    #: (run, message): sent last; the run's outcome depends on it.
    mail: list[tuple[Any, EmailMessage]] = field(default_factory=list)
    data: dict[int, dict] = field(default_factory=dict)  # id(run) → event data
    enrollments: set[int] = field(default_factory=set)

    def outcome(self, run, status: str, detail: str = "", data: dict | None = None) -> None:
        run.status, run.detail, run.ran_at = status, automation._detail(detail), timezone.now()
        self.data[id(run)] = data or {}


# --- trigger runs --------------------------------------------------------------------------------


def trigger_runs_drain(*, seconds: float | None = None) -> tuple[int, bool]:
    """Run pending trigger runs, a batch at a time, until none is left or ``seconds`` (by
    default ``DRAIN_SECONDS``) have passed. Returns (runs handled, whether some may be left)."""
    return _drain(TriggerRun, trigger_runs_perform, seconds)


def _drain(model, perform, seconds: float | None, **filters) -> tuple[int, bool]:
    """Claim and ``perform`` batches of ``model`` runs matching ``filters`` until none is left
    or ``seconds`` (by default ``DRAIN_SECONDS``) have passed."""
    seconds = DRAIN_SECONDS if seconds is None else seconds
    handled, deadline = 0, time.monotonic() + seconds
    while True:
        ids = automation.claim(model, limit=BATCH, **filters)
        if not ids:
            return handled, False
        perform(ids)
        handled += len(ids)
        if time.monotonic() > deadline:
            return handled, True


def trigger_runs_perform(ids: list[int]) -> None:
    """Run claimed trigger runs as one batch, or one by one when the batch fails."""
    _perform(TriggerRun, ids, _trigger_batch, automation.trigger_run_perform)


def _perform(model, ids: list[int], batch_run, one_run) -> None:
    """``batch_run(ids)`` in one transaction. A transient error gives the runs back (pending)
    for the task's retry; any other rolls the batch back and runs them one at a time with
    ``one_run(run_id=…)``. A mail failure the batch returned is raised after the commit."""
    try:
        with transaction.atomic():
            failure = batch_run(ids)
    except automation.TRANSIENT_ERRORS:
        # Nothing was done (rolled back): give them back for the retry.
        model.objects.filter(pk__in=ids, status=StepRunStatus.RUNNING).update(
            status=StepRunStatus.PENDING
        )
        raise
    except Exception:
        logger.exception(
            "%s batch failed; running its %d runs one by one", model.__name__, len(ids)
        )
        for pk in ids:
            one_run(run_id=pk)
        return
    if failure is not None:
        raise failure


def _trigger_batch(ids: list[int]) -> Exception | None:
    runs = list(
        TriggerRun.objects.select_related(*automation.TRIGGER_RUN_RELATED)
        .filter(pk__in=ids)
        .order_by("id")
    )
    batch = _Batch(trigger_runs=runs)
    by_kind: dict[str, list[TriggerRun]] = {}
    for run in runs:
        by_kind.setdefault(run.action.action, []).append(run)
    _apply_tags(batch, by_kind.get(TriggerActionKind.APPLY_TAG, []))
    _start_sequences(batch, by_kind.get(TriggerActionKind.START_SEQUENCE, []))
    for run in by_kind.get(TriggerActionKind.EMAIL_OWNER, []):
        status, detail, data, message = automation.owner_email(run)
        batch.outcome(run, status, detail, data)
        if message is not None:
            batch.mail.append((run, message))
    failure = _send(batch)
    _write(batch)
    return failure


def _apply_tags(batch: _Batch, runs: list[TriggerRun]) -> None:
    """Every tag in one INSERT; a contact that already had the tag is 'already tagged'."""
    through = Contact.tags.through
    wanted = {(r.contact_id, r.action.tag_id) for r in runs if r.contact_id}
    had = set()
    if wanted:
        had = set(
            through.objects.filter(
                contact_id__in={c for c, _t in wanted}, tag_id__in={t for _c, t in wanted}
            ).values_list("contact_id", "tag_id")
        )
        through.objects.bulk_create(
            [through(contact_id=c, tag_id=t) for c, t in sorted(wanted - had)],
            ignore_conflicts=True,
        )
    for run in runs:
        if run.contact_id is None:
            batch.outcome(run, StepRunStatus.FAILED, "There is no contact to tag.")
            continue
        pair = (run.contact_id, run.action.tag_id)
        batch.outcome(
            run,
            StepRunStatus.DONE,
            "already tagged" if pair in had else "",
            {"tag": run.action.tag.name},
        )
        had.add(pair)  # a second run for the same contact and tag in this batch


def _start_sequences(batch: _Batch, runs: list[TriggerRun]) -> None:
    """``enrollment_start`` for many runs at once (the automation's: no actor), with its
    rules: one active enrollment per sequence and contact or lead, an archived sequence or
    record is refused, the owner is the deal's (or the record's). Steps already due run now."""
    if not runs:
        return
    today = timezone.localdate()
    starts = []  # (run, subject_field, subject, opportunity)
    for run in runs:
        sequence = run.action.sequence
        subject_field, subject = ("lead", run.lead) if run.lead_id else ("contact", run.contact)
        if subject is None:
            batch.outcome(run, StepRunStatus.FAILED, "There is no contact or lead to enroll.")
        elif sequence.archived_at is not None:
            batch.outcome(
                run, StepRunStatus.FAILED, _("That sequence is archived; choose an active one.")
            )
        elif subject.archived_at is not None:
            batch.outcome(run, StepRunStatus.FAILED, _("An archived record cannot be enrolled."))
        else:
            opportunity = run.opportunity if subject_field == "contact" else None
            starts.append((run, subject_field, subject, opportunity))
    if not starts:
        return
    key = lambda seq_id, field_name, pk: (seq_id, field_name, pk)  # noqa: E731
    active = {
        key(seq_id, "contact" if contact_id else "lead", contact_id or lead_id): pk
        for pk, seq_id, contact_id, lead_id in Enrollment.objects.filter(
            status=EnrollmentStatus.ACTIVE,
            sequence_id__in={r.action.sequence_id for r, *_ in starts},
        )
        .filter(
            Q(contact_id__in={s.pk for _r, f, s, _o in starts if f == "contact"})
            | Q(lead_id__in={s.pk for _r, f, s, _o in starts if f == "lead"})
        )
        .values_list("pk", "sequence_id", "contact_id", "lead_id")
    }
    new: dict[tuple, Enrollment] = {}
    for run, subject_field, subject, opportunity in starts:
        k = key(run.action.sequence_id, subject_field, subject.pk)
        if k in active or k in new:
            continue
        owner = opportunity.owner if opportunity is not None else subject.owner
        new[k] = Enrollment(
            sequence=run.action.sequence,
            opportunity=opportunity,
            owner=owner,
            started_on=today,
            enrolled_by=None,
            **{subject_field: subject},
        )
    try:
        with transaction.atomic():
            Enrollment.objects.bulk_create(new.values())
    except IntegrityError:
        # One was started concurrently elsewhere: the one-by-one path sorts that out.
        for run, *_rest in starts:
            batch.outcome(run, *automation._act(run))
        return
    for enrollment in new.values():
        active[
            key(
                enrollment.sequence_id,
                "contact" if enrollment.contact_id else "lead",
                enrollment.contact_id or enrollment.lead_id,
            )
        ] = enrollment.pk
    created = {e.pk for e in new.values()}
    for run, subject_field, subject, _opportunity in starts:
        pk = active[key(run.action.sequence_id, subject_field, subject.pk)]
        batch.outcome(
            run,
            StepRunStatus.DONE,
            "" if pk in created else "already enrolled",
            {
                "sequence": run.action.sequence_id,
                "sequence_name": run.action.sequence.name,
                "enrollment": pk,
            },
        )
        if pk in created:
            created.discard(pk)  # "already enrolled" for a second run of the same subject
    _enroll_steps(batch, list(new.values()), today)


def _enroll_steps(batch: _Batch, enrollments: list[Enrollment], today: dt.date) -> None:
    steps: dict[int, list[SequenceStep]] = {}
    for step in SequenceStep.objects.filter(
        sequence_id__in={e.sequence_id for e in enrollments}, archived_at__isnull=True
    ).order_by("sequence_id", "position"):
        steps.setdefault(step.sequence_id, []).append(step)
    runs = StepRun.objects.bulk_create(
        StepRun(
            enrollment=enrollment,
            step=step,
            due_on=today + dt.timedelta(days=step.day_offset),
        )
        for enrollment in enrollments
        for step in steps.get(enrollment.sequence_id, [])
    )
    for enrollment in enrollments:
        subject_field = "contact" if enrollment.contact_id else "lead"
        batch.events.append(
            event_build(
                actor=None,
                kind=OpportunityEvent.ENROLLED,
                opportunity_id=enrollment.opportunity_id,
                data={
                    "sequence": enrollment.sequence_id,
                    "sequence_name": enrollment.sequence.name,
                    "enrollment": enrollment.pk,
                    "owner": enrollment.owner_id,
                },
                **{f"{subject_field}_id": getattr(enrollment, f"{subject_field}_id")},
            )
        )
        batch.enrollments.add(enrollment.pk)
    due = [run for run in runs if run.due_on <= today]
    for run in due:
        run.status, run.claimed_at, run.attempts = StepRunStatus.RUNNING, timezone.now(), 1
    _perform_steps(batch, due)


# --- sequence step runs --------------------------------------------------------------------------


def step_runs_drain(*, today: dt.date | None = None, seconds: float | None = None):
    """Run the due step runs of active enrollments, a batch at a time, until none is left or
    ``seconds`` have passed (as ``trigger_runs_drain``). Returns (runs handled, whether some may
    be left)."""
    today = today or timezone.localdate()
    return _drain(
        StepRun,
        step_runs_perform,
        seconds,
        due_on__lte=today,
        enrollment__status=EnrollmentStatus.ACTIVE,
    )


def step_runs_perform(ids: list[int]) -> None:
    """Run claimed step runs as one batch, or one by one when the batch fails."""
    _perform(StepRun, ids, _step_batch, automation.step_run_perform)


def _step_batch(ids: list[int]) -> Exception | None:
    batch = _Batch()
    runs = (
        StepRun.objects.select_related(*automation.STEP_RUN_RELATED)
        .filter(pk__in=ids)
        .order_by("id")
    )
    _perform_steps(batch, list(runs))
    failure = _send(batch)
    _write(batch)
    return failure


def _perform_steps(batch: _Batch, runs: list[StepRun]) -> None:
    """Task steps: the tasks (and their 'created' events) in one INSERT each. Email steps:
    queued for ``_send``."""
    tasks = []
    for run in runs:
        enrollment = run.enrollment
        batch.step_runs.append(run)
        batch.enrollments.add(enrollment.pk)
        if run.step.kind == StepKind.TASK:
            run.task = Task(**automation.step_task_fields(run))
            tasks.append(run)
            continue
        status, detail, data, message = automation.step_email(run)
        batch.outcome(run, status, detail, data)
        if message is not None:
            batch.mail.append((run, message))
    Task.objects.bulk_create(run.task for run in tasks)
    for run in tasks:
        run.task = run.task  # now saved: sets task_id and keeps the object (no query)
        batch.outcome(run, StepRunStatus.DONE, "", {"task": run.task.pk})
        batch.events.append(
            event_build(
                actor=None,
                kind=EventKind.CREATED,
                task=run.task,
                data={"title": run.task.title, "due_on": run.task.due_on, "step_run": run.pk},
            )
        )


# --- both ----------------------------------------------------------------------------------------


def _send(batch: _Batch) -> Exception | None:
    """Send the batch's emails over one connection. A message the server refuses for its
    address fails its own run. When the server itself fails, the runs whose message was not sent
    are given back (pending) and the error is returned, to be raised after the commit: the sent
    ones are recorded, and the retry sends only the rest."""
    if not batch.mail:
        return None
    sent = 0
    try:
        with get_connection() as connection:
            for run, message in batch.mail:
                message.connection = connection
                try:
                    message.send()
                except smtplib.SMTPRecipientsRefused as exc:
                    batch.outcome(run, StepRunStatus.FAILED, f"{type(exc).__name__}: {exc}")
                sent += 1
    except automation.TRANSIENT_ERRORS as exc:
        for run, _message in batch.mail[sent:]:
            run.status, run.ran_at, run.detail = StepRunStatus.PENDING, None, ""
        return exc
    return None


def _write(batch: _Batch) -> None:
    """The outcomes, one event per run, and the enrollments whose last step ran."""
    for run in batch.trigger_runs:
        if run.status == StepRunStatus.PENDING:  # given back
            continue
        batch.events.append(
            event_build(
                actor=None,
                kind=OpportunityEvent.TRIGGER_ACTION_RAN,
                opportunity_id=run.opportunity_id,
                contact_id=run.contact_id,
                lead_id=run.lead_id,
                data=automation.trigger_run_event_data(run, batch.data.get(id(run), {})),
            )
        )
    for run in batch.step_runs:
        if run.status == StepRunStatus.PENDING:  # given back
            continue
        enrollment = run.enrollment
        batch.events.append(
            event_build(
                actor=None,
                kind=OpportunityEvent.SEQUENCE_STEP_RAN,
                contact_id=enrollment.contact_id,
                lead_id=enrollment.lead_id,
                opportunity_id=enrollment.opportunity_id,
                data=automation.step_run_event_data(run, batch.data.get(id(run), {})),
            )
        )
    if batch.trigger_runs:
        TriggerRun.objects.bulk_update(batch.trigger_runs, ["status", "detail", "ran_at"])
    if batch.step_runs:
        StepRun.objects.bulk_update(
            batch.step_runs, ["status", "detail", "ran_at", "task", "claimed_at", "attempts"]
        )
    Event.objects.bulk_create(batch.events)
    if batch.enrollments:
        automation._complete_finished(Enrollment.objects.filter(pk__in=batch.enrollments))
