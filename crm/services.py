"""Every write to the shared core: accounts, contacts, tasks, tags, users, teams and the audit log.

Services are keyword-only, atomic, validate their input (raising Django ``ValidationError`` with
translated, field-keyed messages) and record one append-only ``Event`` per state change.
"""

from __future__ import annotations

import datetime as dt
import functools
import zoneinfo
from decimal import Decimal
from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, models, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from crm import access
from crm.models import (
    Account,
    Contact,
    Event,
    EventKind,
    Role,
    Tag,
    Task,
    TaskKind,
    Team,
    User,
)

# --- audit ---------------------------------------------------------------------------------------


def _jsonable(value: Any) -> Any:
    if isinstance(value, models.Model):
        return value.pk
    if isinstance(value, dt.datetime | dt.date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, list | tuple | set):
        return [_jsonable(v) for v in value]
    return value


def event_build(*, actor: User | None, kind: str, data: dict | None = None, **subjects) -> Event:
    """An unsaved event, for ``Event.objects.bulk_create`` in set-based work."""
    return Event(
        actor=actor, kind=kind, data={k: _jsonable(v) for k, v in (data or {}).items()}, **subjects
    )


def event_record(*, actor: User | None, kind: str, data: dict | None = None, **subjects) -> Event:
    """Append one event. ``subjects`` are the records it concerns (account=, contact=, task=...)."""
    event = event_build(actor=actor, kind=kind, data=data, **subjects)
    event.save(force_insert=True)
    return event


def _apply(instance: models.Model, fields: dict[str, Any]) -> dict[str, list]:
    """Set ``fields`` on ``instance`` and return ``{field: [old, new]}`` for what really changed."""
    changes = {}
    for name, new in fields.items():
        old = getattr(instance, name)
        if old != new:
            changes[name] = [_jsonable(old), _jsonable(new)]
            setattr(instance, name, new)
    return changes


def _clean(instance: models.Model, exclude: list[str] | None = None) -> None:
    instance.full_clean(exclude=exclude)


def _validate_new_owner(instance: models.Model, fields: dict) -> None:
    """An owner being set must be active; an unchanged owner is kept even if since deactivated."""
    if "owner" in fields and fields["owner"] != getattr(instance, "owner", None):
        _validate_owner(fields["owner"])


def _validate_owner(owner: User | None, field: str = "owner") -> None:
    if owner is None or not owner.is_active:
        raise ValidationError({field: [_("Choose an active user as the owner.")]})


def _validate_visible(actor: User, obj, field: str) -> None:
    """A record linked by id must be one the actor may see; otherwise it is 'not found'."""
    if obj is not None and not access.can_see(actor, obj):
        raise ValidationError({field: [_("That record does not exist.")]})


def _record_update(*, actor, subject_kw: dict, changes: dict) -> None:
    owner_change = changes.pop("owner", None)
    if changes:
        event_record(actor=actor, kind=EventKind.UPDATED, data={"changes": changes}, **subject_kw)
    if owner_change:
        event_record(
            actor=actor,
            kind=EventKind.OWNER_CHANGED,
            data={"from": owner_change[0], "to": owner_change[1]},
            **subject_kw,
        )


# --- accounts ------------------------------------------------------------------------------------

ACCOUNT_FIELDS = ("name", "industry", "country", "company_size", "owner")


@transaction.atomic
def account_create(
    *,
    actor: User,
    name: str,
    industry: str = "",
    country: str = "",
    company_size: str = "",
    owner: User | None = None,
) -> Account:
    owner = owner or actor
    _validate_owner(owner)
    account = Account(
        name=name.strip(),
        industry=industry,
        country=country,
        company_size=company_size,
        owner=owner,
    )
    _clean(account)
    account.save()
    event_record(actor=actor, kind=EventKind.CREATED, account=account, data={"name": account.name})
    return account


@transaction.atomic
def account_update(*, actor: User, account: Account, **fields) -> Account:
    unknown = set(fields) - set(ACCOUNT_FIELDS)
    if unknown:
        raise TypeError(f"unexpected fields {unknown}")
    _validate_new_owner(account, fields)
    if "name" in fields:
        fields["name"] = fields["name"].strip()
    changes = _apply(account, fields)
    if changes:
        _clean(account)
        account.save()
        _record_update(actor=actor, subject_kw={"account": account}, changes=changes)
    return account


@transaction.atomic
def account_archive(*, actor: User, account: Account) -> Account:
    if account.archived_at is None:
        account.archived_at = timezone.now()
        account.save(update_fields=["archived_at", "updated_at"])
        event_record(actor=actor, kind=EventKind.ARCHIVED, account=account)
    return account


# --- tags ----------------------------------------------------------------------------------------


def tag_get_or_create(*, name: str) -> Tag:
    name = " ".join(name.split())
    if not name:
        raise ValidationError({"tags": [_("A tag cannot be empty.")]})
    if len(name) > Tag._meta.get_field("name").max_length:
        raise ValidationError({"tags": [_("A tag can have at most 50 characters.")]})
    tag = Tag.objects.filter(name__iexact=name).first()
    if tag:
        return tag
    try:
        with transaction.atomic():
            return Tag.objects.create(name=name)
    except IntegrityError:  # created concurrently
        return Tag.objects.get(name__iexact=name)


def _tags_from_names(names: list[str]) -> list[Tag]:
    seen: dict[str, Tag] = {}
    for n in names:
        tag = tag_get_or_create(name=n)
        seen[tag.name.lower()] = tag
    return list(seen.values())


# --- contacts ------------------------------------------------------------------------------------

CONTACT_FIELDS = ("first_name", "last_name", "email", "phone", "account", "owner")


@transaction.atomic
def contact_create(
    *,
    actor: User,
    last_name: str,
    first_name: str = "",
    email: str = "",
    phone: str = "",
    account: Account | None = None,
    owner: User | None = None,
    tags: list[str] | None = None,
) -> Contact:
    owner = owner or actor
    _validate_owner(owner)
    _validate_visible(actor, account, "account")
    contact = Contact(
        first_name=first_name.strip(),
        last_name=last_name.strip(),
        email=email.strip(),
        phone=phone.strip(),
        account=account,
        owner=owner,
    )
    _clean(contact)
    contact.save()
    tag_objs = _tags_from_names(tags or [])
    if tag_objs:
        contact.tags.set(tag_objs)
    event_record(
        actor=actor,
        kind=EventKind.CREATED,
        contact=contact,
        data={"name": contact.name, "tags": [t.name for t in tag_objs]},
    )
    return contact


def contact_reassign_check(*, actor: User, owners: list[int]) -> None:
    """THE rule on a contact's owner change (one edit or a bulk "change owner"): only its owner
    or an admin hands it over; ``owners`` are the current owners of the contacts concerned."""
    if not all(access.can_reassign(actor, owner_id) for owner_id in owners):
        raise PermissionDenied(_("Only the owner of the contact or an administrator can do this."))


@transaction.atomic
def contact_update(
    *, actor: User, contact: Contact, tags: list[str] | None = None, **fields
) -> Contact:
    unknown = set(fields) - set(CONTACT_FIELDS)
    if unknown:
        raise TypeError(f"unexpected fields {unknown}")
    _validate_new_owner(contact, fields)
    if "owner" in fields and fields["owner"] != contact.owner:
        contact_reassign_check(actor=actor, owners=[contact.owner_id])
    if "account" in fields and fields["account"] != contact.account:
        _validate_visible(actor, fields["account"], "account")
    for f in ("first_name", "last_name", "email", "phone"):
        if f in fields:
            fields[f] = fields[f].strip()
    changes = _apply(contact, fields)
    if changes:
        _clean(contact)
        contact.save()
    if tags is not None:
        before = sorted(t.name for t in contact.tags.all())
        tag_objs = _tags_from_names(tags)
        after = sorted(t.name for t in tag_objs)
        if before != after:
            contact.tags.set(tag_objs)
            changes["tags"] = [before, after]
    _record_update(actor=actor, subject_kw={"contact": contact}, changes=changes)
    return contact


@transaction.atomic
def contact_archive(*, actor: User, contact: Contact) -> Contact:
    """Archive (owner or admin: ``access.can_archive_contact``)."""
    if not access.can_archive_contact(actor, contact):
        raise PermissionDenied(_("Only the owner of the contact or an administrator can do this."))
    if contact.archived_at is None:
        contact.archived_at = timezone.now()
        contact.save(update_fields=["archived_at", "updated_at"])
        event_record(actor=actor, kind=EventKind.ARCHIVED, contact=contact)
    return contact


# --- tasks ---------------------------------------------------------------------------------------

TASK_FIELDS = ("title", "kind", "due_on", "owner", "lead", "contact", "opportunity", "note")


def _validate_task_links(actor: User, fields: dict, task: Task | None = None) -> None:
    for name in ("lead", "contact", "opportunity"):
        if name in fields and (task is None or getattr(task, name) != fields[name]):
            _validate_visible(actor, fields[name], name)


@transaction.atomic
def task_create(
    *,
    actor: User,
    title: str,
    due_on: dt.date,
    kind: str = "todo",
    owner: User | None = None,
    lead=None,
    contact: Contact | None = None,
    opportunity=None,
    note: str = "",
) -> Task:
    owner = owner or actor
    _validate_owner(owner)
    _validate_task_links(actor, {"lead": lead, "contact": contact, "opportunity": opportunity})
    task = Task(
        title=title.strip(),
        kind=kind,
        due_on=due_on,
        owner=owner,
        lead=lead,
        contact=contact,
        opportunity=opportunity,
        note=note,
    )
    _clean(task)
    task.save()
    event_record(
        actor=actor,
        kind=EventKind.CREATED,
        task=task,
        data={"title": task.title, "due_on": task.due_on},
    )
    return task


def _lock_prospect(*, lead_id: int | None, contact_id: int | None) -> None:
    """Lock the lead's or contact's row, as ``follow_up_create`` does before it touches the
    prospect's follow-ups: whoever changes which follow-up is open goes one at a time."""
    from leads.models import Lead

    if lead_id is not None:
        Lead.objects.select_for_update().filter(pk=lead_id).first()
    elif contact_id is not None:
        Contact.objects.select_for_update().filter(pk=contact_id).first()


def _follow_up_slot_check(
    *, task: Task, lead_id: int | None, contact_id: int | None, field: str
) -> None:
    """THE "one open follow-up per lead or contact" rule for edits by users (reopening a
    follow-up, moving an open one to another prospect): the other open one is what to work on.
    The database enforces it too (partial unique constraints); this says it in words."""
    others = Task.objects.filter(is_follow_up=True, done=False).exclude(pk=task.pk)
    if lead_id is not None:
        clash = others.filter(lead_id=lead_id).exists()
    elif contact_id is not None:
        clash = others.filter(contact_id=contact_id).exists()
    else:
        clash = False
    if clash:
        raise ValidationError(
            {field: [_("Another follow-up is open for this prospect: work on that one instead.")]}
        )


@transaction.atomic
def task_update(*, actor: User, task: Task, **fields) -> Task:
    unknown = set(fields) - set(TASK_FIELDS)
    if unknown:
        raise TypeError(f"unexpected fields {unknown}")
    _validate_new_owner(task, fields)
    _validate_task_links(actor, fields, task)
    if task.is_follow_up and not task.done:
        for name in ("lead", "contact"):
            if name in fields and fields[name] != getattr(task, name):
                new = fields[name]
                lead_id = new.pk if name == "lead" and new is not None else None
                contact_id = new.pk if name == "contact" and new is not None else None
                _lock_prospect(lead_id=lead_id, contact_id=contact_id)
                _follow_up_slot_check(task=task, lead_id=lead_id, contact_id=contact_id, field=name)
    if "title" in fields:
        fields["title"] = fields["title"].strip()
    changes = _apply(task, fields)
    if changes:
        _clean(task)
        task.save()
        _record_update(actor=actor, subject_kw={"task": task}, changes=changes)
    return task


@transaction.atomic
def task_complete(*, actor: User, task: Task, note: str = "") -> Task:
    """Mark a task done (idempotent: completing a done task changes nothing)."""
    task = Task.objects.select_for_update().get(pk=task.pk)
    if task.done:
        return task
    task.done = True
    task.completed_at = timezone.now()
    if note:
        task.note = f"{task.note}\n\n{note}".strip() if task.note else note
    task.save(update_fields=["done", "completed_at", "note", "updated_at"])
    event_record(
        actor=actor, kind=EventKind.COMPLETED, task=task, data={"note": note} if note else {}
    )
    return task


@transaction.atomic
def task_reopen(*, actor: User, task: Task) -> Task:
    """Undo "done". A follow-up reopens only while its lead or contact has no other open one
    (400 under ``done`` otherwise)."""
    if task.is_follow_up:
        _lock_prospect(lead_id=task.lead_id, contact_id=task.contact_id)
    task = Task.objects.select_for_update().get(pk=task.pk)
    if not task.done:
        return task
    if task.is_follow_up:
        _follow_up_slot_check(
            task=task, lead_id=task.lead_id, contact_id=task.contact_id, field="done"
        )
    task.done = False
    task.completed_at = None
    task.save(update_fields=["done", "completed_at", "updated_at"])
    event_record(actor=actor, kind=EventKind.REOPENED, task=task)
    return task


@transaction.atomic
def task_edit(*, actor: User, task: Task, done: bool | None = None, **fields) -> Task:
    """An edit that may also complete (``done=True``) or reopen (``done=False``) the task, as the
    API's PATCH does: all or nothing, so a refused reopen leaves the other fields unchanged."""
    task = task_update(actor=actor, task=task, **fields)
    if done is True:
        task = task_complete(actor=actor, task=task)
    elif done is False:
        task = task_reopen(actor=actor, task=task)
    return task


@transaction.atomic
def task_archive(*, actor: User, task: Task) -> Task:
    if task.archived_at is None:
        task.archived_at = timezone.now()
        task.save(update_fields=["archived_at", "updated_at"])
        event_record(actor=actor, kind=EventKind.ARCHIVED, task=task)
    return task


def user_today(user: User, at: dt.datetime | None = None) -> dt.date:
    """The calendar date in the user's own time zone (the default zone when they set none)."""
    import zoneinfo

    at = at or timezone.now()
    try:
        tz = zoneinfo.ZoneInfo(user.time_zone) if user.time_zone else None
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        tz = None
    return timezone.localtime(at, tz).date()


def follow_up_create(
    *,
    event: Event,
    owner: User,
    title: str,
    due_on: dt.date,
    priority: int = 100,
    lead=None,
    contact: Contact | None = None,
) -> Task | None:
    """Create the automatic follow-up caused by ``event`` exactly once.

    The causing event is the idempotency key (``Task.source_event`` is unique), so a retried or
    redelivered Celery task returns the task it already made. The prospect's row is locked, and the
    open follow-up it had is closed as superseded: a lead or contact has at most one. An event
    older than the one behind an existing follow-up changes nothing (returns ``None``).
    """
    existing = Task.objects.filter(source_event=event).first()
    if existing is not None:
        return existing
    with transaction.atomic():
        subject = lead if lead is not None else contact
        type(subject).objects.select_for_update().filter(pk=subject.pk).first()
        existing = Task.objects.filter(source_event=event).first()
        if existing is not None:
            return existing
        link = {"lead": lead} if lead is not None else {"contact": contact}
        newer = Task.objects.filter(is_follow_up=True, source_event_id__gt=event.pk, **link)
        if newer.exists():
            return None  # a later event already scheduled the follow-up: this one is stale
        now = timezone.now()
        for old in Task.objects.select_for_update().filter(is_follow_up=True, done=False, **link):
            old.done = True
            old.superseded_at = now
            old.completed_at = now
            old.save(update_fields=["done", "superseded_at", "completed_at", "updated_at"])
            event_record(
                actor=None, kind=EventKind.SUPERSEDED, task=old, data={"by_event": event.pk}
            )
        task = Task.objects.create(
            title=title[: Task._meta.get_field("title").max_length],
            kind=TaskKind.FOLLOW_UP,
            due_on=due_on,
            owner=owner,
            priority=priority,
            is_follow_up=True,
            source_event=event,
            **link,
        )
        event_record(
            actor=None,
            kind=EventKind.CREATED,
            task=task,
            data={"title": task.title, "due_on": task.due_on, "source_event": event.pk},
        )
    return task


def task_reminders_send(*, today: dt.date | None = None) -> int:
    """Morning job: email each active user whose open tasks are due today one digest.

    Idempotent: a ``ReminderDigest`` row per user and day is written in the same transaction as
    the sending, so a re-run (or a redelivered task) sends nothing twice. Returns the count sent.
    """
    from django.core.mail import EmailMessage
    from django.template.loader import render_to_string

    from crm import mail
    from crm.models import ReminderDigest

    today = today or timezone.localdate()
    due = (
        Task.objects.filter(
            done=False,
            archived_at__isnull=True,
            due_on=today,
            owner__is_active=True,
        )
        .exclude(owner__email="")
        .select_related("owner", "lead", "contact", "opportunity")
        .order_by("owner_id", "priority", "id")
    )
    by_owner: dict[int, list[Task]] = {}
    for task in due:
        by_owner.setdefault(task.owner_id, []).append(task)
    sent = 0
    for tasks in by_owner.values():
        owner = tasks[0].owner
        with transaction.atomic():
            _digest, created = ReminderDigest.objects.get_or_create(
                user=owner, on=today, defaults={"task_count": len(tasks)}
            )
            if not created:
                continue
            context = {"user": owner, "tasks": tasks, "today": today}
            EmailMessage(
                _("Your tasks for today (%(count)s)") % {"count": len(tasks)},
                render_to_string("crm/email/reminder_digest.txt", context),
                to=[owner.email],
                headers=mail.headers(f"digest-{owner.pk}-{today.isoformat()}"),
            ).send()
        sent += 1
    return sent


# --- users and teams -----------------------------------------------------------------------------


def _require_admin(actor: User) -> None:
    if not access.is_admin(actor):
        raise PermissionDenied(_("Only administrators can do this."))


@transaction.atomic
def user_create(
    *,
    actor: User,
    username: str,
    password: str,
    role: str = Role.REP,
    first_name: str = "",
    last_name: str = "",
    email: str = "",
) -> User:
    from django.contrib.auth.password_validation import validate_password

    _require_admin(actor)
    user = User(
        username=username.strip(),
        role=role,
        first_name=first_name.strip(),
        last_name=last_name.strip(),
        email=email.strip(),
    )
    _clean(user, exclude=["password"])
    try:
        validate_password(password, user)
    except ValidationError as exc:
        raise ValidationError({"password": exc.messages}) from exc
    user.set_password(password)
    user.save()
    event_record(
        actor=actor,
        kind=EventKind.USER_CREATED,
        subject_user=user,
        data={"username": user.username, "role": user.role},
    )
    return user


@functools.cache
def _time_zones() -> frozenset[str]:
    return frozenset(zoneinfo.available_timezones())


def _validate_time_zone(name: str) -> None:
    if name not in _time_zones():
        raise ValidationError(
            {"time_zone": [_("Choose a valid time zone, such as Europe/Madrid.")]}
        )


USER_FIELDS = ("first_name", "last_name", "email", "role", "is_active", "time_zone")


@transaction.atomic
def user_update(*, actor: User, user: User, **fields) -> User:
    unknown = set(fields) - set(USER_FIELDS)
    if unknown:
        raise TypeError(f"unexpected fields {unknown}")
    _require_admin(actor)
    if user.pk == actor.pk and (
        fields.get("is_active") is False or fields.get("role", Role.ADMIN) != Role.ADMIN
    ):
        raise ValidationError(_("You cannot deactivate yourself or remove your own admin role."))
    if fields.get("time_zone"):
        _validate_time_zone(fields["time_zone"])
    changes = _apply(user, fields)
    if changes:
        _clean(user, exclude=["password"])
        user.save()
        kind = (
            EventKind.USER_DEACTIVATED
            if changes.get("is_active") == [True, False]
            else EventKind.USER_UPDATED
        )
        event_record(actor=actor, kind=kind, subject_user=user, data={"changes": changes})
    return user


def user_deactivate(*, actor: User, user: User) -> User:
    """Users are never deleted: deactivation keeps their records and history."""
    return user_update(actor=actor, user=user, is_active=False)


def _validate_team_name(name: str, team: Team | None = None) -> None:
    """Team names are unique regardless of case; the error belongs to the ``name`` field."""
    others = Team.objects.filter(name__iexact=name)
    if team is not None and team.pk:
        others = others.exclude(pk=team.pk)
    if others.exists():
        raise ValidationError({"name": [_("A team with this name already exists.")]})


def _save_team(team: Team) -> None:
    _validate_team_name(team.name, team)
    _clean(team)
    try:
        with transaction.atomic():
            team.save()
    except IntegrityError as exc:  # the same name saved concurrently
        raise ValidationError({"name": [_("A team with this name already exists.")]}) from exc


@transaction.atomic
def team_create(*, actor: User, name: str, members: list[User] | None = None) -> Team:
    _require_admin(actor)
    team = Team(name=name.strip())
    _save_team(team)
    team.members.set(members or [])
    event_record(
        actor=actor,
        kind=EventKind.TEAM_CHANGED,
        team=team,
        data={"name": team.name, "members": sorted({u.pk for u in members or []})},
    )
    return team


@transaction.atomic
def team_update(
    *, actor: User, team: Team, name: str | None = None, members: list[User] | None = None
) -> Team:
    _require_admin(actor)
    data: dict[str, Any] = {}
    if name is not None and name.strip() != team.name:
        data["name"] = [team.name, name.strip()]
        team.name = name.strip()
        _save_team(team)
    if members is not None:
        before = sorted(team.members.values_list("pk", flat=True))
        after = sorted({u.pk for u in members})
        if before != after:
            team.members.set(members)
            data["members"] = [before, after]
    if data:
        event_record(actor=actor, kind=EventKind.TEAM_CHANGED, team=team, data=data)
    return team


# --- admin-ordered, archivable lists (reasons, ratings, stages) ----------------------------------


def list_item_create(*, actor: User, model, event_kind: str, key: str, name: str, **fields):
    """A new row at the end of an admin-ordered list, validated, with its audit event."""
    obj = model(name=name.strip(), order=list_item_next_order(model), **fields)
    _clean(obj)
    obj.save()
    event_record(
        actor=actor, kind=event_kind, data={"action": "created", key: obj.pk, "name": obj.name}
    )
    return obj


def list_item_next_order(model) -> int:
    from django.db.models import Max

    return (model.objects.aggregate(m=Max("order"))["m"] or 0) + 1


def list_item_archive_or_delete(
    *, actor: User, obj, in_use: bool, event_kind: str, key: str
) -> str:
    """Archive a row that records use (it stays in their history); remove an unused one."""
    data = {key: obj.pk, "name": obj.name}
    if in_use:
        if obj.archived_at is None:
            obj.archived_at = timezone.now()
            obj.save(update_fields=["archived_at"])
            event_record(actor=actor, kind=event_kind, data={"action": "archived", **data})
        return "archived"
    obj.delete()
    event_record(actor=actor, kind=event_kind, data={"action": "deleted", **data})
    return "deleted"


def list_item_reorder(*, actor: User, model, ids: list[int], event_kind: str, message: str) -> None:
    """Set the order of the active rows to the given id order (every one listed exactly once)."""
    rows = {r.pk: r for r in model.objects.select_for_update().filter(archived_at__isnull=True)}
    if sorted(ids) != sorted(rows) or len(set(ids)) != len(ids):
        raise ValidationError({"ids": [message]})
    for i, pk in enumerate(ids):
        rows[pk].order = i
    model.objects.bulk_update(rows.values(), ["order"])
    event_record(actor=actor, kind=event_kind, data={"action": "reordered", "ids": ids})


# --- saved views ---------------------------------------------------------------------------------

SAVED_VIEW_EVENT = "saved_view_changed"


def _saved_view_query(list_key: str, query: str) -> str:
    from crm.lists import list_specs, query_normalize

    if list_key not in list_specs():
        raise ValidationError({"list": [_("Choose one of the lists.")]})
    if len(query) > 2000:
        raise ValidationError({"query": [_("This view has too many filters to save.")]})
    normalized, errors = query_normalize(list_key, query)
    if errors:
        raise ValidationError(
            {"query": [_("These filters are not valid for this list; fix them and try again.")]}
        )
    if len(normalized) > 1000:
        raise ValidationError({"query": [_("This view has too many filters to save.")]})
    return normalized


def _saved_view_require_manage(actor: User, view) -> None:
    """A rep manages their own views; default views (no user) are for admins to manage."""
    if view.user_id is None:
        if not access.is_admin(actor):
            raise PermissionDenied(_("Only administrators can change the default views."))
    elif view.user_id != actor.pk:
        raise PermissionDenied(_("You can only change your own views."))


def _saved_view_save(view) -> None:
    view.name = " ".join(view.name.split())
    if not view.name:
        raise ValidationError({"name": [_("Give the view a name.")]})
    try:
        _clean(view)
        with transaction.atomic():
            view.save()
    except ValidationError as exc:
        # The unique name constraints carry their own messages; they belong to "name".
        if hasattr(exc, "error_dict") and "__all__" in exc.error_dict:
            raise ValidationError({"name": exc.error_dict["__all__"]}) from exc
        raise
    except IntegrityError as exc:  # the same name saved concurrently
        raise ValidationError({"name": [_("You already have a view with this name.")]}) from exc


@transaction.atomic
def saved_view_create(
    *, actor: User, list_key: str, name: str, query: str, for_everyone: bool = False
):
    """Save the list's current filters and sort as a named view (a default view for everyone
    when an admin asks for it)."""
    from django.db.models import Max

    from crm.models import SavedView

    if for_everyone and not access.is_admin(actor):
        raise PermissionDenied(_("Only administrators can change the default views."))
    query = _saved_view_query(list_key, query)
    user = None if for_everyone else actor
    last = SavedView.objects.filter(list_key=list_key, user=user).aggregate(m=Max("order"))["m"]
    view = SavedView(user=user, list_key=list_key, name=name, query=query, order=(last or 0) + 1)
    _saved_view_save(view)
    event_record(
        actor=actor,
        kind=SAVED_VIEW_EVENT,
        data={
            "action": "created",
            "saved_view": view.pk,
            "name": view.name,
            "list": list_key,
            "query": query,
            "default": user is None,
        },
    )
    return view


@transaction.atomic
def saved_view_update(
    *,
    actor: User,
    view,
    name: str | None = None,
    query: str | None = None,
    order: int | None = None,
):
    _saved_view_require_manage(actor, view)
    fields: dict[str, Any] = {}
    if name is not None:
        fields["name"] = " ".join(name.split())
    if query is not None:
        fields["query"] = _saved_view_query(view.list_key, query)
    if order is not None:
        fields["order"] = order
    changes = _apply(view, fields)
    if changes:
        _saved_view_save(view)
        event_record(
            actor=actor,
            kind=SAVED_VIEW_EVENT,
            data={"action": "updated", "saved_view": view.pk, "changes": changes},
        )
    return view


@transaction.atomic
def saved_view_delete(*, actor: User, view) -> None:
    _saved_view_require_manage(actor, view)
    data = {"action": "deleted", "saved_view": view.pk, "name": view.name, "list": view.list_key}
    view.delete()
    event_record(actor=actor, kind=SAVED_VIEW_EVENT, data=data)
