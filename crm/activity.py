"""Next activity (issue #9): the earliest open task of a lead, contact or opportunity, computed
in SQL, and the "Log an activity" outcomes.

A record's *next activity* is its open (not done, not archived) task with the earliest due date,
whoever owns it. Lists never compute it per row in Python: ``with_next_activity`` annotates a
queryset (two correlated subqueries on the ``task_open_<record>_due_idx`` partial indexes) and
``attach_next_activity`` runs that annotation once for a page of records already loaded. The
task's title is only shown to users who may see the task (``crm.access.visible_tasks``); the due
date is a fact about the record.

The badge states: ``overdue`` (due before today), ``today``, ``later`` and ``none`` (no open
task). ``next_activity_filter`` is the same rule as a WHERE clause (``?next_activity=`` on the
lead and opportunity FilterSets, shared by the API and the pages).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass

from django.db import models
from django.db.models import Exists, OuterRef, Q, QuerySet, Subquery
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from crm import access
from crm.models import Task

#: The records a task (and a logged activity) can be about.
RECORDS = ("lead", "contact", "opportunity")

ACTIVITY_LOGGED = "activity_logged"


class NextActivity(models.TextChoices):
    NONE = "none", _("No next activity")
    OVERDUE = "overdue", _("Overdue")
    TODAY = "today", _("Today")
    LATER = "later", _("Later")


class ActivityKind(models.TextChoices):
    CALL = "call", _("Call")
    NOTE = "note", _("Note")


class Outcome(models.TextChoices):
    ANSWERED = "answered", _("Answered")
    NO_ANSWER = "no_answer", _("No answer")
    VOICEMAIL = "voicemail", _("Left a voicemail")
    MEETING_HELD = "meeting_held", _("Meeting held")


def open_tasks(field: str, ref: str = "pk") -> QuerySet[Task]:
    """The open tasks of the outer record (``field``: ``lead``, ``contact`` or ``opportunity``)."""
    if field not in RECORDS:
        raise ValueError(field)
    return Task.objects.filter(
        **{f"{field}_id": OuterRef(ref)}, done=False, archived_at__isnull=True
    ).order_by()


def next_task_due(field: str) -> Subquery:
    """The due date of the outer record's next activity (None without an open task): for
    readers that need the date only (the API's ``{"state", "due_on"}``), not the task."""
    return Subquery(open_tasks(field).order_by("due_on", "id").values("due_on")[:1])


def with_next_activity(qs: QuerySet, *, field: str, user) -> QuerySet:
    """``qs`` annotated with ``next_task_due`` (date or None), ``next_task_id`` and
    ``next_task_title`` (None when ``user`` may not see that task)."""
    first = open_tasks(field).order_by("due_on", "id")
    qs = qs.annotate(
        next_task_due=next_task_due(field),
        next_task_id=Subquery(first.values("id")[:1]),
    )
    return qs.annotate(
        next_task_title=Subquery(
            access.visible_tasks(user).filter(pk=OuterRef("next_task_id")).values("title")[:1]
        )
    )


def attach_next_activity(records: Iterable, *, field: str, user) -> list:
    """Set ``next_task_due``/``next_task_id``/``next_task_title`` on loaded records: one query
    for the whole page (the list and board pages call this on their page of rows)."""
    records = list(records)
    if not records:
        return records
    model = type(records[0])
    rows = {
        pk: (due, task_id, title)
        for pk, due, task_id, title in with_next_activity(
            model.objects.filter(pk__in=[r.pk for r in records]).order_by(), field=field, user=user
        ).values_list("pk", "next_task_due", "next_task_id", "next_task_title")
    }
    for record in records:
        record.next_task_due, record.next_task_id, record.next_task_title = rows.get(
            record.pk, (None, None, None)
        )
    return records


def next_activity_state(due: dt.date | None, today: dt.date | None = None) -> str:
    if due is None:
        return NextActivity.NONE
    today = today or timezone.localdate()
    if due < today:
        return NextActivity.OVERDUE
    if due == today:
        return NextActivity.TODAY
    return NextActivity.LATER


def next_activity_filter(field: str, state: str, today: dt.date | None = None) -> list:
    """WHERE conditions selecting the records whose next activity is in ``state``."""
    today = today or timezone.localdate()
    tasks = open_tasks(field)
    if state == NextActivity.NONE:
        return [~Exists(tasks)]
    if state == NextActivity.OVERDUE:
        return [Exists(tasks.filter(due_on__lt=today))]
    if state == NextActivity.TODAY:
        return [Exists(tasks.filter(due_on=today)), ~Exists(tasks.filter(due_on__lt=today))]
    if state == NextActivity.LATER:
        return [Exists(tasks.filter(due_on__gt=today)), ~Exists(tasks.filter(due_on__lte=today))]
    raise ValueError(state)


@dataclass
class Badge:
    state: str
    text: str
    due: dt.date | None
    title: str | None
    task_id: int | None

    @property
    def icon(self) -> str:
        return {"overdue": "⚠", "today": "●", "later": "→", "none": "○"}[self.state]


def badge(record, today: dt.date | None = None) -> Badge:
    """The badge of a record annotated by ``with_next_activity``/``attach_next_activity``."""
    from django.utils.formats import date_format

    today = today or timezone.localdate()
    due = getattr(record, "next_task_due", None)
    state = next_activity_state(due, today)
    if state == NextActivity.OVERDUE:
        days = (today - due).days
        text = ngettext("Overdue · %(count)s day", "Overdue · %(count)s days", days) % {
            "count": days
        }
    elif state == NextActivity.TODAY:
        text = str(NextActivity.TODAY.label)
    elif state == NextActivity.LATER:
        # "Tue 11/25/2026" (es: "mar 25/11/2026"): the weekday and the locale's short date.
        text = f"{date_format(due, 'D')} {date_format(due, 'SHORT_DATE_FORMAT')}"
    else:
        text = str(NextActivity.NONE.label)
    return Badge(
        state=state,
        text=text,
        due=due,
        title=getattr(record, "next_task_title", None),
        task_id=getattr(record, "next_task_id", None),
    )


def has_other_open_task(task: Task) -> bool | None:
    """For a task just completed: does its record still have an open task? None when the task
    is about no lead, contact or opportunity."""
    for field in ("opportunity", "lead", "contact"):
        record_id = getattr(task, f"{field}_id")
        if record_id:
            return (
                Task.objects.filter(
                    Q(**{f"{field}_id": record_id}), done=False, archived_at__isnull=True
                )
                .exclude(pk=task.pk)
                .exists()
            )
    return None


def describe_logged(event, params: dict) -> tuple[str, list[str]]:
    """The timeline sentence of an ``activity_logged`` event."""
    from django.utils.translation import gettext as _t

    data = event.data or {}
    outcome = dict(Outcome.choices).get(data.get("outcome") or "")
    values = {"actor": params["actor"], "outcome": outcome}
    if data.get("kind") == ActivityKind.CALL:
        summary = _t("%(actor)s logged a call: %(outcome)s.") % values
    elif outcome:
        summary = _t("%(actor)s added a note: %(outcome)s.") % values
    else:
        summary = _t("%(actor)s added a note.") % values
    details = [data["note"]] if data.get("note") else []
    return summary, details
