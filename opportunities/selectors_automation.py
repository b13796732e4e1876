"""Reads of the automation: trigger actions, sequences and enrollments (with their counts as
subqueries: a fixed number of queries whatever the number of rows)."""

from __future__ import annotations

from django.db.models import Count, IntegerField, Min, OuterRef, Prefetch, Q, QuerySet, Subquery
from django.db.models.functions import Coalesce
from django.utils.translation import gettext as _

from crm import access
from crm.models import User
from opportunities.models import (
    Enrollment,
    EnrollmentStatus,
    Sequence,
    SequenceStep,
    StepRun,
    StepRunStatus,
    TriggerAction,
    TriggerEvent,
    TriggerRun,
)
from opportunities.services_automation import STOP_OPPORTUNITY_CLOSED, STOP_SEQUENCE_ARCHIVED


def _count(qs: QuerySet) -> Coalesce:
    """``(SELECT COUNT(*) …)`` of a queryset filtered on ``OuterRef``s."""
    return Coalesce(
        Subquery(
            qs.order_by().annotate(_n=Count("pk")).values("_n")[:1],
            output_field=IntegerField(),
        ),
        0,
    )


def trigger_action_list(*, event: str | None = None) -> QuerySet[TriggerAction]:
    """Active trigger actions by event, with their tag, sequence, reasons and run counts."""
    runs = TriggerRun.objects.filter(action=OuterRef("pk")).values("action")
    qs = (
        TriggerAction.objects.filter(archived_at__isnull=True)
        .select_related("tag", "sequence")
        .prefetch_related("reasons")
        .annotate(
            run_count=_count(runs),
            failed_count=_count(runs.filter(status=StepRunStatus.FAILED)),
        )
        .order_by("event", "id")
    )
    if event:
        qs = qs.filter(event=event)
    return qs


def trigger_actions_by_event() -> list[dict]:
    """The three events, each with its actions (Settings > Automation)."""
    actions = list(trigger_action_list())
    return [
        {
            "event": value,
            "label": label,
            "actions": [a for a in actions if a.event == value],
        }
        for value, label in TriggerEvent.choices
    ]


def _active_steps() -> Prefetch:
    return Prefetch(
        "steps",
        queryset=SequenceStep.objects.filter(archived_at__isnull=True).order_by("position"),
        to_attr="active_steps",
    )


def sequence_list(*, include_archived: bool = False) -> QuerySet[Sequence]:
    """Sequences with their active steps and enrollment counts."""
    enrollments = Enrollment.objects.filter(sequence=OuterRef("pk")).values("sequence")
    qs = Sequence.objects.prefetch_related(_active_steps()).annotate(
        active_count=_count(enrollments.filter(status=EnrollmentStatus.ACTIVE)),
        enrollment_count=_count(enrollments),
    )
    if not include_archived:
        qs = qs.filter(archived_at__isnull=True)
    return qs.order_by("archived_at", "name", "id")


def sequence_choices() -> QuerySet[Sequence]:
    return Sequence.objects.filter(archived_at__isnull=True).order_by("name", "id")


def enrollment_list(*, user: User) -> QuerySet[Enrollment]:
    """Enrollments of the contacts and leads ``user`` may see, with their progress."""
    qs = Enrollment.objects.all()
    if not access.is_admin(user):
        qs = qs.filter(
            Q(contact__in=access.visible_contacts(user, include_archived=True).values("pk"))
            | Q(lead__in=access.visible_leads(user, include_archived=True).values("pk"))
        )
    runs = StepRun.objects.filter(enrollment=OuterRef("pk")).values("enrollment")
    next_due = (
        StepRun.objects.filter(enrollment=OuterRef("pk"), status=StepRunStatus.PENDING)
        .values("enrollment")
        .annotate(d=Min("due_on"))
        .values("d")[:1]
    )
    return (
        qs.select_related("sequence", "contact", "lead", "owner", "opportunity")
        .annotate(
            steps_total=_count(runs),
            steps_done=_count(runs.filter(status=StepRunStatus.DONE)),
            next_due_on=Subquery(next_due),
        )
        .order_by("-id")
    )


_STOP_REASONS = {
    STOP_OPPORTUNITY_CLOSED: lambda: _("The opportunity was won or lost."),
    STOP_SEQUENCE_ARCHIVED: lambda: _("The sequence was archived."),
}


def stop_reason_label(code: str) -> str:
    """``Enrollment.stop_reason`` as shown: system codes translated, a user's words as typed."""
    label = _STOP_REASONS.get(code)
    return label() if label else code
