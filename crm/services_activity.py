"""Log a call or note and schedule the next task in one go (issue #9, point 3).

One service for the pages and the API. The logged call or note is an ``activity_logged`` event
on its lead, contact or opportunity (kind, outcome, note): it feeds the timeline and, for a deal,
its "last activity" (rotting). The next task is an ordinary open task of the same record, created
through ``task_create`` (its own ``created`` event). Both or neither: one transaction.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils.translation import gettext as _

from crm import access
from crm.activity import ACTIVITY_LOGGED, ActivityKind, Outcome
from crm.models import Contact, Event, Task, TaskKind, User
from crm.services import event_record, task_create


@dataclass
class LoggedActivity:
    event: Event
    next_task: Task | None


def next_working_day(start: dt.date, days: int = 2) -> dt.date:
    """``days`` working days (Monday to Friday) after ``start``: the next task's default date."""
    day = start
    while days > 0:
        day += dt.timedelta(days=1)
        if day.weekday() < 5:
            days -= 1
    return day


@transaction.atomic
def activity_log(
    *,
    actor: User,
    kind: str,
    outcome: str = "",
    note: str = "",
    lead=None,
    contact: Contact | None = None,
    opportunity=None,
    next_title: str = "",
    next_due_on: dt.date | None = None,
) -> LoggedActivity:
    """Record a call or note about exactly one visible record and, when ``next_title`` is given,
    schedule the next task (due ``next_due_on``, owned by ``actor``)."""
    subjects = {
        name: obj
        for name, obj in (("lead", lead), ("contact", contact), ("opportunity", opportunity))
        if obj is not None
    }
    if len(subjects) != 1:
        raise ValidationError(_("Choose exactly one lead, contact or opportunity."))
    ((field, record),) = subjects.items()
    if not access.can_see(actor, record):
        raise ValidationError({field: [_("Choose a record you can see.")]})
    if field == "lead" and record.is_read_only:
        raise ValidationError({field: [_("A converted lead is read-only.")]})
    if kind not in ActivityKind.values:
        raise ValidationError({"kind": [_("Choose a call or a note.")]})
    if outcome and outcome not in Outcome.values:
        raise ValidationError({"outcome": [_("Choose a valid outcome.")]})
    if kind == ActivityKind.CALL and not outcome:
        raise ValidationError({"outcome": [_("How did the call go? Choose an outcome.")]})
    note = (note or "").strip()
    if kind == ActivityKind.NOTE and not note and not outcome:
        raise ValidationError({"note": [_("Write the note.")]})
    next_title = (next_title or "").strip()
    if next_title and next_due_on is None:
        raise ValidationError({"next_due_on": [_("Choose when the next task is due.")]})
    if next_due_on is not None and not next_title:
        raise ValidationError({"next_title": [_("Give the next task a title.")]})

    event = event_record(
        actor=actor,
        kind=ACTIVITY_LOGGED,
        data={"kind": kind, "outcome": outcome, "note": note, "name": str(record)},
        **{field: record},
    )
    next_task = None
    if next_title:
        next_task = task_create(
            actor=actor,
            title=next_title,
            due_on=next_due_on,
            kind=TaskKind.CALL if kind == ActivityKind.CALL else TaskKind.FOLLOW_UP,
            **{field: record},
            # A deal's task also names its contact when the actor may see it (as "Add task" does).
            **(
                {"contact": record.contact}
                if field == "opportunity" and access.can_see(actor, record.contact)
                else {}
            ),
        )
    return LoggedActivity(event=event, next_task=next_task)
