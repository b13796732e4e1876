"""Automation: trigger actions (Settings > Automation) and sequences (Settings > Sequences).

Trigger actions run at most once per (action, occurrence): ``trigger_fire`` writes the
``TriggerRun`` ledger in the transaction of the occurrence (one INSERT … SELECT … ON CONFLICT DO
NOTHING), and the worker claims a run (pending → running, committed) before acting, so a replayed
occurrence or a redelivered task does nothing twice. Sequence step runs follow the same claim.

Every write is keyword-only, atomic, validated (translated, field-keyed ``ValidationError``) and
audited with one ``Event``; Celery work is enqueued with ``transaction.on_commit``.
"""

from __future__ import annotations

import datetime as dt
import smtplib
from typing import Any

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.mail import EmailMessage
from django.db import IntegrityError, OperationalError, connection, transaction
from django.db.models import DateField, Exists, ExpressionWrapper, F, OuterRef, Q
from django.template.loader import render_to_string
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from crm import access, mail
from crm.models import Contact, Event, EventKind, Tag, Task, TaskKind, User
from crm.services import event_record, tag_get_or_create
from leads.models import DisqualificationReason, Lead
from opportunities.models import (
    Enrollment,
    EnrollmentStatus,
    Opportunity,
    OpportunityEvent,
    Sequence,
    SequenceStep,
    StepKind,
    StepRun,
    StepRunStatus,
    TriggerAction,
    TriggerActionKind,
    TriggerEvent,
    TriggerRun,
)

#: Errors after which nothing was done and a retry may succeed (mail server down, lost DB link).
TRANSIENT_ERRORS: tuple[type[BaseException], ...] = (
    smtplib.SMTPException,
    ConnectionError,
    TimeoutError,
    OperationalError,
)

MAX_DAY_OFFSET = 365
#: A trigger or step run claimed longer ago than this lost its worker (by default the worker's
#: hard time limit: a live task is killed by then).
TRIGGER_RUN_LEASE = dt.timedelta(seconds=settings.AUTOMATION_RUN_LEASE_SECONDS)
TRIGGER_RUN_MAX_ATTEMPTS = 5

#: ``Enrollment.stop_reason`` codes written by the system (shown translated by the pages).
STOP_OPPORTUNITY_CLOSED = "opportunity_closed"
STOP_SEQUENCE_ARCHIVED = "sequence_archived"


def _require_admin(actor: User) -> None:
    if not access.is_admin(actor):
        raise PermissionDenied(_("Only administrators can do this."))


def _detail(text: str) -> str:
    return text[: StepRun._meta.get_field("detail").max_length]


# --- trigger actions -----------------------------------------------------------------------------


def _trigger_clean(
    *,
    event: str,
    action: str,
    tag: str | Tag | None,
    sequence: Sequence | None,
    reasons: list[DisqualificationReason],
    current_reason_ids: set[int] = frozenset(),
) -> dict[str, Any]:
    """The one place of the trigger action rules. Returns the values to store (the tag not yet
    created: see ``_trigger_tag``)."""
    errors: dict[str, list[str]] = {}
    if event not in TriggerEvent.values:
        errors["event"] = [_("Choose when the action runs.")]
    if action not in TriggerActionKind.values:
        errors["action"] = [_("Choose what the action does.")]
    tag_name = tag.name if isinstance(tag, Tag) else " ".join((tag or "").split())
    if action == TriggerActionKind.APPLY_TAG:
        if event == TriggerEvent.LEAD_DISQUALIFIED:
            errors.setdefault("action", []).append(
                _(
                    "Leads have no tags, so a tag cannot be applied when a lead is disqualified. "
                    "Choose another action."
                )
            )
        elif not tag_name:
            errors["tag"] = [_("Enter the tag to apply.")]
        elif len(tag_name) > Tag._meta.get_field("name").max_length:
            errors["tag"] = [_("A tag can have at most 50 characters.")]
    if action == TriggerActionKind.START_SEQUENCE:
        if sequence is None:
            errors["sequence"] = [_("Choose the sequence to start.")]
        elif sequence.archived_at is not None:
            errors["sequence"] = [_("That sequence is archived; choose an active one.")]
    if reasons and event != TriggerEvent.LEAD_DISQUALIFIED:
        errors["reasons"] = [_("Reasons only narrow the “Lead disqualified” event.")]
    elif any(r.archived_at is not None and r.pk not in current_reason_ids for r in reasons):
        errors["reasons"] = [_("That reason is archived; choose active reasons only.")]
    if errors:
        raise ValidationError(errors)
    return {
        "event": event,
        "action": action,
        "tag_name": tag_name if action == TriggerActionKind.APPLY_TAG else "",
        "sequence": sequence if action == TriggerActionKind.START_SEQUENCE else None,
        "reasons": reasons if event == TriggerEvent.LEAD_DISQUALIFIED else [],
    }


def _trigger_tag(name: str) -> Tag | None:
    if not name:
        return None
    try:
        return tag_get_or_create(name=name)
    except ValidationError as exc:
        raise ValidationError({"tag": exc.messages}) from exc


def _trigger_data(obj: TriggerAction, reason_ids: list[int]) -> dict[str, Any]:
    return {
        "trigger_action": obj.pk,
        "event": obj.event,
        "kind": obj.action,
        "tag": obj.tag.name if obj.tag_id else "",
        "sequence": obj.sequence_id,
        "sequence_name": obj.sequence.name if obj.sequence_id else "",
        "reasons": sorted(reason_ids),
    }


@transaction.atomic
def trigger_action_create(
    *,
    actor: User,
    event: str,
    action: str,
    tag: str | None = None,
    sequence: Sequence | None = None,
    reasons: list[DisqualificationReason] | None = None,
) -> TriggerAction:
    """A new automation step: ``tag`` is a tag NAME (created when new)."""
    _require_admin(actor)
    values = _trigger_clean(
        event=event, action=action, tag=tag, sequence=sequence, reasons=list(reasons or [])
    )
    obj = TriggerAction.objects.create(
        event=values["event"],
        action=values["action"],
        tag=_trigger_tag(values["tag_name"]),
        sequence=values["sequence"],
    )
    reason_ids = sorted({r.pk for r in values["reasons"]})
    obj.reasons.set(reason_ids)
    event_record(
        actor=actor,
        kind=OpportunityEvent.TRIGGER_ACTIONS_CHANGED,
        data={"action": "created", **_trigger_data(obj, reason_ids)},
    )
    return obj


TRIGGER_FIELDS = ("event", "action", "tag", "sequence", "reasons")


@transaction.atomic
def trigger_action_update(*, actor: User, trigger_action: TriggerAction, **fields) -> TriggerAction:
    """Change any of ``TRIGGER_FIELDS`` (validated as a whole); an archived one cannot change."""
    _require_admin(actor)
    unknown = set(fields) - set(TRIGGER_FIELDS)
    if unknown:
        raise TypeError(f"unexpected fields {unknown}")
    obj = (
        TriggerAction.objects.select_for_update(of=("self",))
        .select_related("tag", "sequence")
        .get(pk=trigger_action.pk)
    )
    if obj.archived_at is not None:
        raise ValidationError(_("This action was removed; add a new one instead."))
    current_reasons = list(obj.reasons.all())
    current_ids = sorted(r.pk for r in current_reasons)
    values = _trigger_clean(
        event=fields.get("event", obj.event),
        action=fields.get("action", obj.action),
        tag=fields.get("tag", obj.tag),
        sequence=fields.get("sequence", obj.sequence),
        reasons=list(fields["reasons"]) if "reasons" in fields else current_reasons,
        current_reason_ids=set(current_ids),
    )
    before = _trigger_data(obj, current_ids)
    obj.event, obj.action, obj.sequence = values["event"], values["action"], values["sequence"]
    obj.tag = _trigger_tag(values["tag_name"])
    obj.save(update_fields=["event", "action", "tag", "sequence"])
    new_ids = sorted({r.pk for r in values["reasons"]})
    if new_ids != current_ids:
        obj.reasons.set(new_ids)
    after = _trigger_data(obj, new_ids)
    changes = {k: [before[k], after[k]] for k in after if before[k] != after[k]}
    changes.pop("sequence_name", None)
    if changes:
        event_record(
            actor=actor,
            kind=OpportunityEvent.TRIGGER_ACTIONS_CHANGED,
            data={"action": "updated", **after, "changes": changes},
        )
    trigger_action.__dict__.update(obj.__dict__)
    return obj


@transaction.atomic
def trigger_action_archive(*, actor: User, trigger_action: TriggerAction) -> TriggerAction:
    """Remove an action from the automation: it is archived, so its runs keep it."""
    _require_admin(actor)
    obj = TriggerAction.objects.select_for_update().get(pk=trigger_action.pk)
    if obj.archived_at is None:
        obj.archived_at = timezone.now()
        obj.save(update_fields=["archived_at"])
        event_record(
            actor=actor,
            kind=OpportunityEvent.TRIGGER_ACTIONS_CHANGED,
            data={
                "action": "archived",
                **_trigger_data(obj, list(obj.reasons.values_list("pk", flat=True))),
            },
        )
    trigger_action.archived_at = obj.archived_at
    return obj


def trigger_fire(
    *,
    event: str,
    occurrence: str,
    opportunity: Opportunity | None = None,
    contact: Contact | None = None,
    lead: Lead | None = None,
    reason: DisqualificationReason | None = None,
) -> int:
    """Record that ``event`` happened (``occurrence`` names it: ``link:12:click``, ``order:5``,
    ``event:991``) and have its actions run after commit. Call it INSIDE the transaction of the
    occurrence. One statement inserts a pending ``TriggerRun`` per matching active action; a
    replayed occurrence inserts nothing (unique per action and occurrence). For
    ``lead_disqualified``, an action narrowed to reasons matches only those. Returns how many
    runs were inserted now."""
    if event not in TriggerEvent.values:
        raise ValueError(f"unknown trigger event {event!r}")
    if contact is None and opportunity is not None:
        contact = opportunity.contact
    run_table = TriggerRun._meta.db_table
    action_table = TriggerAction._meta.db_table
    through = TriggerAction.reasons.through._meta.db_table
    params: list[Any] = [
        occurrence[: TriggerRun._meta.get_field("occurrence").max_length],
        opportunity.pk if opportunity else None,
        contact.pk if contact else None,
        lead.pk if lead else None,
        StepRunStatus.PENDING,
        timezone.now(),
        event,
    ]
    narrowing = ""
    if event == TriggerEvent.LEAD_DISQUALIFIED:
        narrowing = (
            "AND (NOT EXISTS (SELECT 1 FROM {t} r WHERE r.triggeraction_id = a.id)"
            " OR EXISTS (SELECT 1 FROM {t} r"
            " WHERE r.triggeraction_id = a.id AND r.disqualificationreason_id = %s))"
        )
        narrowing = narrowing.format(t=connection.ops.quote_name(through))
        params.append(reason.pk if reason else None)
    qn = connection.ops.quote_name
    sql = f"""
        INSERT INTO {qn(run_table)}
            (action_id, occurrence, opportunity_id, contact_id, lead_id, status, created_at, detail)
        SELECT a.id, %s, %s, %s, %s, %s, %s, ''
        FROM {qn(action_table)} a
        WHERE a.event = %s AND a.archived_at IS NULL {narrowing}
        ON CONFLICT (action_id, occurrence) DO NOTHING
    """  # noqa: S608 - names from _meta only; every value is a parameter
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        inserted = max(cursor.rowcount, 0)
    if inserted:
        from opportunities.tasks import run_trigger_runs_task

        # One drain per occurrence; under a burst most find their runs already taken.
        transaction.on_commit(run_trigger_runs_task.delay)
    return inserted


#: What running a trigger run or a step run reads, loaded with it (one query a run or a batch).
TRIGGER_RUN_RELATED = (
    "action__tag",
    "action__sequence",
    "opportunity__owner",
    "opportunity__contact",
    "contact__owner",
    "lead__owner",
    "lead__disqualification_reason",
)
STEP_RUN_RELATED = (
    "step",
    "enrollment__sequence",
    "enrollment__owner",
    "enrollment__contact",
    "enrollment__lead",
    "enrollment__opportunity",
)


def claim(model, *, limit: int, **filters) -> list[int]:
    """Claim up to ``limit`` runs of ``model`` (trigger or step runs): pending → running,
    committed before returning, so a redelivered task finds nothing to claim; or running again
    when the worker that claimed it died (its lease, ``TRIGGER_RUN_LEASE``, is over: its
    transaction rolled back, nothing was done). Oldest first, skipping rows another worker
    holds. A run already claimed ``TRIGGER_RUN_MAX_ATTEMPTS`` times is failed instead, with the
    reason in its detail. Returns the claimed ids."""
    now = timezone.now()
    stale = Q(status=StepRunStatus.RUNNING, claimed_at__lt=now - TRIGGER_RUN_LEASE)
    with transaction.atomic():
        rows = list(
            model.objects.filter(Q(status=StepRunStatus.PENDING) | stale, **filters)
            .order_by("id")
            .select_for_update(skip_locked=True, of=("self",))
            .values_list("id", "attempts")[:limit]
        )
        spent = [pk for pk, attempts in rows if attempts >= TRIGGER_RUN_MAX_ATTEMPTS]
        ids = [pk for pk, attempts in rows if attempts < TRIGGER_RUN_MAX_ATTEMPTS]
        if spent:
            model.objects.filter(pk__in=spent).update(
                status=StepRunStatus.FAILED,
                ran_at=now,
                detail=_detail(f"Gave up after {TRIGGER_RUN_MAX_ATTEMPTS} attempts."),
            )
        if ids:
            model.objects.filter(pk__in=ids).update(
                status=StepRunStatus.RUNNING, claimed_at=now, attempts=F("attempts") + 1
            )
    return ids


def _claim(model, pk: int, **extra) -> bool:
    """``claim`` of the one run ``pk`` (the one-by-one tasks)."""
    return bool(claim(model, limit=1, pk=pk, **extra))


def _language_of(user: User | None) -> str:
    return getattr(user, "language", "") or settings.LANGUAGE_CODE


def owner_email(run: TriggerRun) -> tuple[str, str, dict, EmailMessage | None]:
    """The email to the owner of the deal (or of the lead), not sent yet.
    Returns (status, detail, data, message); no message when there is nobody to send it to."""
    subject_record = run.opportunity or run.lead or run.contact
    owner = subject_record.owner if subject_record is not None else None
    if owner is None or not owner.email:
        return StepRunStatus.FAILED, "The owner has no email address.", {}, None
    context = {
        "owner": owner,
        "event": run.action.event,
        "opportunity": run.opportunity,
        "contact": run.contact,
        "lead": run.lead,
        "reason": getattr(run.lead, "disqualification_reason", None) if run.lead else None,
    }
    with translation.override(_language_of(owner)):
        subjects = {
            TriggerEvent.BUY_NOW_CLICKED: _("%(name)s clicked your buy-now link"),
            TriggerEvent.BUY_NOW_PURCHASED: _("%(name)s bought through your buy-now link"),
            TriggerEvent.LEAD_DISQUALIFIED: _("Lead %(name)s was disqualified"),
        }
        name = (run.contact or run.lead).name if (run.contact or run.lead) else ""
        subject = subjects[run.action.event] % {"name": name}
        body = render_to_string("opportunities/email/trigger_owner.txt", context)
    message = EmailMessage(
        subject, body, to=[owner.email], headers=mail.headers(f"trigger-run-{run.pk}")
    )
    return StepRunStatus.DONE, "", {"to": owner.pk}, message


def _send(message: EmailMessage | None) -> None:
    if message is not None:
        message.send()


def _email_owner(run: TriggerRun) -> tuple[str, str, dict]:
    status, detail, data, message = owner_email(run)
    _send(message)
    return status, detail, data


def step_run_event_data(run: StepRun, extra: dict) -> dict:
    """The data of a step run's ``SEQUENCE_STEP_RAN`` event (its outcome already set on
    ``run``), one shape for the one-by-one path and the batches."""
    enrollment, step = run.enrollment, run.step
    return {
        "sequence": enrollment.sequence_id,
        "sequence_name": enrollment.sequence.name,
        "enrollment": enrollment.pk,
        "step": step.pk,
        "position": step.position,
        "step_kind": step.kind,
        "title": step.title,
        "status": run.status,
        "detail": run.detail,
        **extra,
    }


def trigger_run_event_data(run: TriggerRun, extra: dict) -> dict:
    """The data of a run's ``TRIGGER_ACTION_RAN`` event (its outcome already set on ``run``),
    one shape for the one-by-one path and the batches."""
    return {
        "trigger_action": run.action_id,
        "event": run.action.event,
        "kind": run.action.action,
        "occurrence": run.occurrence,
        "run": run.pk,
        "status": run.status,
        "detail": run.detail,
        **extra,
    }


def _act(run: TriggerRun) -> tuple[str, str, dict]:
    action = run.action
    if action.action == TriggerActionKind.APPLY_TAG:
        if run.contact is None:
            return StepRunStatus.FAILED, "There is no contact to tag.", {}
        had = run.contact.tags.filter(pk=action.tag_id).exists()
        if not had:
            run.contact.tags.add(action.tag)
        return StepRunStatus.DONE, "already tagged" if had else "", {"tag": action.tag.name}
    if action.action == TriggerActionKind.START_SEQUENCE:
        target = {"lead": run.lead} if run.lead_id else {"contact": run.contact}
        if not any(target.values()):
            return StepRunStatus.FAILED, "There is no contact or lead to enroll.", {}
        try:
            with transaction.atomic():
                enrollment, created = enrollment_start(
                    actor=None,
                    sequence=action.sequence,
                    opportunity=run.opportunity if not run.lead_id else None,
                    **target,
                )
        except ValidationError as exc:
            return StepRunStatus.FAILED, " ".join(exc.messages), {}
        data = {
            "sequence": action.sequence_id,
            "sequence_name": action.sequence.name,
            "enrollment": enrollment.pk,
        }
        return StepRunStatus.DONE, "" if created else "already enrolled", data
    return _email_owner(run)


def trigger_run_execute(*, run_id: int) -> str:
    """Run one trigger run. Claims it first: a run that is done, failed, or being run by a live
    worker is left alone. Returns the run's status. (The worker runs them in batches:
    ``services_runs``; this is the one-at-a-time path, also its fallback.)"""
    if not _claim(TriggerRun, run_id):
        return TriggerRun.objects.filter(pk=run_id).values_list("status", flat=True).first() or ""
    return trigger_run_perform(run_id=run_id)


def trigger_run_perform(*, run_id: int) -> str:
    """Run a trigger run this worker has claimed (status ``running``)."""
    run = TriggerRun.objects.select_related(*TRIGGER_RUN_RELATED).get(pk=run_id)
    try:
        with transaction.atomic():
            status, detail, data = _act(run)
            run.status, run.detail, run.ran_at = status, _detail(detail), timezone.now()
            run.save(update_fields=["status", "detail", "ran_at"])
            event_record(
                actor=None,
                kind=OpportunityEvent.TRIGGER_ACTION_RAN,
                opportunity=run.opportunity,
                contact=run.contact,
                lead=run.lead,
                data=trigger_run_event_data(run, data),
            )
    except TRANSIENT_ERRORS:
        # Nothing was done (the transaction rolled back): give it back for the retry.
        TriggerRun.objects.filter(pk=run_id, status=StepRunStatus.RUNNING).update(
            status=StepRunStatus.PENDING
        )
        raise
    except Exception as exc:  # a permanent error: record it, do not retry
        TriggerRun.objects.filter(pk=run_id).update(
            status=StepRunStatus.FAILED,
            ran_at=timezone.now(),
            detail=_detail(f"{type(exc).__name__}: {exc}"),
        )
        return StepRunStatus.FAILED
    return status


# --- sequences -----------------------------------------------------------------------------------


def _steps_clean(steps: list[dict]) -> list[dict]:
    """The one place of the step rules: at least one; day 0–365; a title; a known kind."""
    if not steps:
        raise ValidationError({"steps": [_("Add at least one step.")]})
    errors: list[str] = []
    cleaned = []
    max_title = SequenceStep._meta.get_field("title").max_length
    for number, raw in enumerate(steps, start=1):
        day = raw.get("day_offset")
        kind = raw.get("kind") or StepKind.TASK
        title = " ".join(str(raw.get("title") or "").split())
        body = str(raw.get("body") or "").strip()
        if isinstance(day, bool) or not isinstance(day, int) or not 0 <= day <= MAX_DAY_OFFSET:
            errors.append(
                _("Step %(number)s: the day must be a whole number from 0 to %(max)s.")
                % {"number": number, "max": MAX_DAY_OFFSET}
            )
        if kind not in StepKind.values:
            errors.append(_("Step %(number)s: choose a task or an email.") % {"number": number})
        if not title:
            errors.append(
                _("Step %(number)s: enter a title (the subject of an email).") % {"number": number}
            )
        elif len(title) > max_title:
            errors.append(
                _("Step %(number)s: the title can have at most %(max)s characters.")
                % {"number": number, "max": max_title}
            )
        cleaned.append({"day_offset": day, "kind": kind, "title": title, "body": body})
    if errors:
        raise ValidationError({"steps": errors})
    return cleaned


def _name_clean(name: str, sequence: Sequence | None = None) -> str:
    name = " ".join((name or "").split())
    if not name:
        raise ValidationError({"name": [_("Enter a name for the sequence.")]})
    if len(name) > Sequence._meta.get_field("name").max_length:
        raise ValidationError({"name": [_("The name can have at most 100 characters.")]})
    others = Sequence.objects.filter(name__iexact=name, archived_at__isnull=True)
    if sequence is not None:
        others = others.exclude(pk=sequence.pk)
    if others.exists():
        raise ValidationError({"name": [_("A sequence with this name already exists.")]})
    return name


def _save_sequence(sequence: Sequence, update_fields: list[str] | None = None) -> None:
    try:
        with transaction.atomic():
            sequence.save(update_fields=update_fields)
    except IntegrityError as exc:  # the same name saved concurrently
        raise ValidationError({"name": [_("A sequence with this name already exists.")]}) from exc


def _steps_data(steps: list[dict]) -> list[dict]:
    return [{k: s[k] for k in ("day_offset", "kind", "title")} for s in steps]


@transaction.atomic
def sequence_create(
    *, actor: User, name: str, stop_when_closed: bool = True, steps: list[dict]
) -> Sequence:
    """A named sequence; ``steps`` in order: ``{day_offset, kind, title, body}``."""
    _require_admin(actor)
    errors = {}
    try:
        name = _name_clean(name)
    except ValidationError as exc:
        errors.update(exc.message_dict)
    try:
        steps = _steps_clean(steps)
    except ValidationError as exc:
        errors.update(exc.message_dict)
    if errors:
        raise ValidationError(errors)
    sequence = Sequence(name=name, stop_when_closed=stop_when_closed)
    _save_sequence(sequence)
    SequenceStep.objects.bulk_create(
        SequenceStep(sequence=sequence, position=i, **step) for i, step in enumerate(steps, 1)
    )
    event_record(
        actor=actor,
        kind=OpportunityEvent.SEQUENCE_CHANGED,
        data={
            "action": "created",
            "sequence": sequence.pk,
            "name": sequence.name,
            "steps": _steps_data(steps),
        },
    )
    return sequence


def _plus_days(field: str, days: int):
    return ExpressionWrapper(F(field) + dt.timedelta(days=days), output_field=DateField())


@transaction.atomic
def sequence_update(
    *,
    actor: User,
    sequence: Sequence,
    name: str | None = None,
    stop_when_closed: bool | None = None,
    steps: list[dict] | None = None,
) -> Sequence:
    """Rename, switch ``stop_when_closed`` or replace the steps. Steps are edited IN PLACE by
    position (runs keep pointing at them); positions beyond the new list are archived. Active
    enrollments follow, set-based: new steps get pending runs, a changed day moves the due date
    of pending runs, removed steps' pending runs are skipped."""
    _require_admin(actor)
    seq = Sequence.objects.select_for_update().get(pk=sequence.pk)
    if seq.archived_at is not None:
        raise ValidationError(_("This sequence is archived; it cannot be changed."))
    errors: dict[str, list[str]] = {}
    changes: dict[str, Any] = {}
    if name is not None:
        try:
            name = _name_clean(name, seq)
        except ValidationError as exc:
            errors.update(exc.message_dict)
    if steps is not None:
        try:
            steps = _steps_clean(steps)
        except ValidationError as exc:
            errors.update(exc.message_dict)
    if errors:
        raise ValidationError(errors)
    fields = []
    if name is not None and name != seq.name:
        changes["name"] = [seq.name, name]
        seq.name = name
        fields.append("name")
    if stop_when_closed is not None and stop_when_closed != seq.stop_when_closed:
        changes["stop_when_closed"] = [seq.stop_when_closed, stop_when_closed]
        seq.stop_when_closed = stop_when_closed
        fields.append("stop_when_closed")
    if fields:
        _save_sequence(seq, update_fields=fields)
    if steps is not None:
        step_changes = _steps_replace(seq, steps)
        if step_changes:
            changes["steps"] = step_changes
    if changes:
        event_record(
            actor=actor,
            kind=OpportunityEvent.SEQUENCE_CHANGED,
            data={"action": "updated", "sequence": seq.pk, "name": seq.name, "changes": changes},
        )
    sequence.__dict__.update(seq.__dict__)
    return seq


def _steps_replace(seq: Sequence, steps: list[dict]) -> list:
    """Apply ``steps`` by position; returns ``[before, after]`` (``_steps_data``) or ``[]``."""
    current = list(seq.steps.filter(archived_at__isnull=True).order_by("position"))
    before = _steps_data(
        [{f: getattr(s, f) for f in ("day_offset", "kind", "title")} for s in current]
    )
    if before == _steps_data(steps) and all(
        s.body == n["body"] for s, n in zip(current, steps, strict=True)
    ):
        return []
    now = timezone.now()
    today = timezone.localdate()
    # Removed positions: archived; their pending runs are skipped.
    removed = [s.pk for s in current[len(steps) :]]
    if removed:
        SequenceStep.objects.filter(pk__in=removed).update(archived_at=now)
        StepRun.objects.filter(step_id__in=removed, status=StepRunStatus.PENDING).update(
            status=StepRunStatus.SKIPPED, detail="step removed", ran_at=now
        )
    # Kept positions: edited in place; a changed day moves the pending runs by the difference.
    edited = []
    for step, new in zip(current, steps, strict=False):
        delta = new["day_offset"] - step.day_offset
        if delta:
            StepRun.objects.filter(
                step=step, status=StepRunStatus.PENDING, enrollment__status=EnrollmentStatus.ACTIVE
            ).update(due_on=_plus_days("due_on", delta))
        if any(getattr(step, k) != v for k, v in new.items()):
            for k, v in new.items():
                setattr(step, k, v)
            edited.append(step)
    if edited:
        SequenceStep.objects.bulk_update(edited, ["day_offset", "kind", "title", "body"])
    # New positions: created, with a pending run for every active enrollment.
    added = SequenceStep.objects.bulk_create(
        SequenceStep(sequence=seq, position=i, **new)
        for i, new in enumerate(steps[len(current) :], start=len(current) + 1)
    )
    if added:
        enrollments = Enrollment.objects.filter(
            sequence=seq, status=EnrollmentStatus.ACTIVE
        ).values_list("pk", "started_on")
        StepRun.objects.bulk_create(
            (
                StepRun(
                    enrollment_id=pk,
                    step=step,
                    due_on=started_on + dt.timedelta(days=step.day_offset),
                )
                for pk, started_on in enrollments.iterator(chunk_size=2000)
                for step in added
            ),
            batch_size=1000,
            ignore_conflicts=True,
        )
    if removed:
        _complete_finished(Enrollment.objects.filter(sequence=seq, status=EnrollmentStatus.ACTIVE))
    if added or edited:
        _enqueue_due(
            StepRun.objects.filter(
                enrollment__sequence=seq,
                enrollment__status=EnrollmentStatus.ACTIVE,
                status=StepRunStatus.PENDING,
                due_on__lte=today,
            )
        )
    return [before, _steps_data(steps)]


def _complete_finished(enrollments) -> int:
    """Active enrollments without a pending or running run left are completed (one UPDATE)."""
    left = StepRun.objects.filter(
        enrollment=OuterRef("pk"), status__in=[StepRunStatus.PENDING, StepRunStatus.RUNNING]
    )
    return (
        enrollments.filter(status=EnrollmentStatus.ACTIVE)
        .exclude(Exists(left))
        .update(status=EnrollmentStatus.COMPLETED, ended_at=timezone.now())
    )


def _stop_enrollments(enrollments, *, reason: str, actor: User | None) -> list[int]:
    """Stop the given active enrollments, set-based, with one event each (one INSERT)."""
    rows = list(
        enrollments.filter(status=EnrollmentStatus.ACTIVE)
        .select_for_update(of=("self",))
        .values_list(
            "pk", "sequence_id", "sequence__name", "contact_id", "lead_id", "opportunity_id"
        )
    )
    if not rows:
        return []
    ids = [r[0] for r in rows]
    now = timezone.now()
    Enrollment.objects.filter(pk__in=ids).update(
        status=EnrollmentStatus.STOPPED, ended_at=now, stop_reason=reason[:200]
    )
    StepRun.objects.filter(enrollment_id__in=ids, status=StepRunStatus.PENDING).update(
        status=StepRunStatus.SKIPPED, detail="enrollment stopped", ran_at=now
    )
    Event.objects.bulk_create(
        Event(
            actor=actor,
            kind=OpportunityEvent.ENROLLMENT_STOPPED,
            contact_id=contact_id,
            lead_id=lead_id,
            opportunity_id=opportunity_id,
            data={
                "sequence": sequence_id,
                "sequence_name": sequence_name,
                "enrollment": pk,
                "reason": reason,
            },
        )
        for pk, sequence_id, sequence_name, contact_id, lead_id, opportunity_id in rows
    )
    return ids


@transaction.atomic
def sequence_archive(*, actor: User, sequence: Sequence) -> Sequence:
    """Archive a sequence: no longer offered, its active enrollments stop, and the automation
    actions that start it are removed (they could only fail)."""
    _require_admin(actor)
    seq = Sequence.objects.select_for_update().get(pk=sequence.pk)
    if seq.archived_at is None:
        seq.archived_at = timezone.now()
        seq.save(update_fields=["archived_at"])
        stopped = _stop_enrollments(
            Enrollment.objects.filter(sequence=seq), reason=STOP_SEQUENCE_ARCHIVED, actor=actor
        )
        actions = list(
            TriggerAction.objects.filter(sequence=seq, archived_at__isnull=True).values_list(
                "pk", flat=True
            )
        )
        if actions:
            TriggerAction.objects.filter(pk__in=actions).update(archived_at=seq.archived_at)
        event_record(
            actor=actor,
            kind=OpportunityEvent.SEQUENCE_CHANGED,
            data={
                "action": "archived",
                "sequence": seq.pk,
                "name": seq.name,
                "stopped": len(stopped),
                "trigger_actions_removed": actions,
            },
        )
    sequence.archived_at = seq.archived_at
    return seq


# --- enrollments ---------------------------------------------------------------------------------


def _enqueue_due(runs) -> None:
    if runs.exists():
        from opportunities.tasks import run_sequence_steps_task

        transaction.on_commit(run_sequence_steps_task.delay)


@transaction.atomic
def enrollment_start(
    *,
    actor: User | None,
    sequence: Sequence,
    contact: Contact | None = None,
    lead: Lead | None = None,
    opportunity: Opportunity | None = None,
) -> tuple[Enrollment, bool]:
    """Enroll a contact or a lead (exactly one) in ``sequence``: once per sequence while active,
    so a second start (or a concurrent one) returns the active enrollment with ``False``.
    ``actor`` None is the automation. Steps already due (day 0) run right after commit."""
    if (contact is None) == (lead is None):
        raise ValidationError(_("Enroll either a contact or a lead."))
    subject_field = "contact" if contact is not None else "lead"
    subject = contact if contact is not None else lead
    if actor is not None:
        for field, obj in ((subject_field, subject), ("opportunity", opportunity)):
            if obj is not None and not access.can_see(actor, obj):
                raise ValidationError({field: [_("That record does not exist.")]})
    if sequence.archived_at is not None:
        raise ValidationError({"sequence": [_("That sequence is archived; choose an active one.")]})
    if subject.archived_at is not None:
        raise ValidationError({subject_field: [_("An archived record cannot be enrolled.")]})
    active = Enrollment.objects.filter(
        sequence=sequence, status=EnrollmentStatus.ACTIVE, **{subject_field: subject}
    )
    existing = active.first()
    if existing is not None:
        return existing, False
    owner = opportunity.owner if opportunity is not None else subject.owner
    today = timezone.localdate()
    try:
        with transaction.atomic():
            enrollment = Enrollment.objects.create(
                sequence=sequence,
                opportunity=opportunity,
                owner=owner,
                started_on=today,
                enrolled_by=actor,
                **{subject_field: subject},
            )
    except IntegrityError:  # started concurrently: theirs is the one
        existing = active.first()
        if existing is None:
            raise
        return existing, False
    steps = list(sequence.steps.filter(archived_at__isnull=True).order_by("position"))
    StepRun.objects.bulk_create(
        StepRun(enrollment=enrollment, step=step, due_on=today + dt.timedelta(days=step.day_offset))
        for step in steps
    )
    event_record(
        actor=actor,
        kind=OpportunityEvent.ENROLLED,
        opportunity=opportunity,
        data={
            "sequence": sequence.pk,
            "sequence_name": sequence.name,
            "enrollment": enrollment.pk,
            "owner": owner.pk,
        },
        **{subject_field: subject},
    )
    if not steps:
        enrollment.status, enrollment.ended_at = EnrollmentStatus.COMPLETED, timezone.now()
        enrollment.save(update_fields=["status", "ended_at"])
    _enqueue_due(
        StepRun.objects.filter(
            enrollment=enrollment, status=StepRunStatus.PENDING, due_on__lte=today
        )
    )
    return enrollment, True


@transaction.atomic
def enrollment_stop(*, actor: User | None, enrollment: Enrollment, reason: str = "") -> Enrollment:
    """Stop an active enrollment (its pending steps are skipped). Idempotent."""
    if actor is not None:
        subject = enrollment.contact if enrollment.contact_id else enrollment.lead
        if not access.can_see(actor, subject):
            raise PermissionDenied(_("You cannot change this record."))
    _stop_enrollments(
        Enrollment.objects.filter(pk=enrollment.pk), reason=reason.strip(), actor=actor
    )
    enrollment.refresh_from_db()
    return enrollment


def enrollments_stop_for_closed(*, opportunity: Opportunity) -> int:
    """The deal was won or lost: stop its active enrollments whose sequence says so (set-based).
    Call it inside the transaction that closed the deal. Returns how many stopped."""
    with transaction.atomic():
        return len(
            _stop_enrollments(
                Enrollment.objects.filter(opportunity=opportunity, sequence__stop_when_closed=True),
                reason=STOP_OPPORTUNITY_CLOSED,
                actor=None,
            )
        )


def step_runs_due_process(*, today: dt.date | None = None) -> int:
    """The beat job: the pending runs of active enrollments due by ``today`` are run by a drain
    (``services_runs.step_runs_drain``), in batches. Returns how many were due."""
    today = today or timezone.localdate()
    due = StepRun.objects.filter(
        status=StepRunStatus.PENDING,
        due_on__lte=today,
        enrollment__status=EnrollmentStatus.ACTIVE,
    ).count()
    if due:
        from opportunities.tasks import run_sequence_steps_task

        run_sequence_steps_task.delay(today.isoformat())
    return due


def step_task_fields(run: StepRun) -> dict[str, Any]:
    """The task a task step makes for the enrollment's owner."""
    enrollment, step = run.enrollment, run.step
    return {
        "title": step.title[: Task._meta.get_field("title").max_length],
        "kind": TaskKind.TODO,
        "due_on": timezone.localdate(),
        "owner": enrollment.owner,
        "contact": enrollment.contact,
        "lead": enrollment.lead,
        "opportunity": enrollment.opportunity,
        "note": step.body,
    }


def step_email(run: StepRun) -> tuple[str, str, dict, EmailMessage | None]:
    """An email step's message to the contact or lead, not sent yet (as ``owner_email``)."""
    enrollment, step = run.enrollment, run.step
    subject = enrollment.contact or enrollment.lead
    if not subject.email:
        return StepRunStatus.FAILED, "No email address.", {}, None
    body = render_to_string(
        "opportunities/email/sequence_step.txt", {"step": step, "recipient": subject}
    )
    message = EmailMessage(
        step.title, body, to=[subject.email], headers=mail.headers(f"step-run-{run.pk}")
    )
    return StepRunStatus.DONE, "", {"to": subject.email}, message


def _run_step(run: StepRun) -> tuple[str, str, dict]:
    if run.step.kind == StepKind.TASK:
        task = Task.objects.create(**step_task_fields(run))
        event_record(
            actor=None,
            kind=EventKind.CREATED,
            task=task,
            data={"title": task.title, "due_on": task.due_on, "step_run": run.pk},
        )
        run.task = task
        return StepRunStatus.DONE, "", {"task": task.pk}
    status, detail, data, message = step_email(run)
    _send(message)
    return status, detail, data


def step_run_execute(*, run_id: int) -> str:
    """Run one due step (the worker's job), claimed first like trigger runs: a task for the
    owner or an email to the contact or lead. The last step completes the enrollment."""
    if not _claim(StepRun, run_id, enrollment__status=EnrollmentStatus.ACTIVE):
        return StepRun.objects.filter(pk=run_id).values_list("status", flat=True).first() or ""
    return step_run_perform(run_id=run_id)


def step_run_perform(*, run_id: int) -> str:
    """Run a step run this worker has claimed (status ``running``)."""
    run = StepRun.objects.select_related(*STEP_RUN_RELATED).get(pk=run_id)
    enrollment = run.enrollment
    try:
        with transaction.atomic():
            status, detail, data = _run_step(run)
            run.status, run.detail, run.ran_at = status, _detail(detail), timezone.now()
            run.save(update_fields=["status", "detail", "ran_at", "task"])
            event_record(
                actor=None,
                kind=OpportunityEvent.SEQUENCE_STEP_RAN,
                contact=enrollment.contact,
                lead=enrollment.lead,
                opportunity=enrollment.opportunity,
                data=step_run_event_data(run, data),
            )
            _complete_finished(Enrollment.objects.filter(pk=enrollment.pk))
    except TRANSIENT_ERRORS:
        StepRun.objects.filter(pk=run_id, status=StepRunStatus.RUNNING).update(
            status=StepRunStatus.PENDING
        )
        raise
    except Exception as exc:
        with transaction.atomic():
            StepRun.objects.filter(pk=run_id).update(
                status=StepRunStatus.FAILED,
                ran_at=timezone.now(),
                detail=_detail(f"{type(exc).__name__}: {exc}"),
            )
            _complete_finished(Enrollment.objects.filter(pk=enrollment.pk))
        return StepRunStatus.FAILED
    return status
