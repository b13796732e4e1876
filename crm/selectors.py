"""Every read of the shared core, built on the visibility querysets of ``crm.access``."""

from __future__ import annotations

from django.contrib.postgres.expressions import ArraySubquery
from django.db import connection
from django.db.models import Count, OuterRef, Prefetch, Q, QuerySet

from crm import access
from crm.models import Account, Contact, Event, Tag, Task, Team, User


def account_list(*, user: User) -> QuerySet[Account]:
    return access.visible_accounts(user).select_related("owner")


def contact_list(*, user: User) -> QuerySet[Contact]:
    return (
        access.visible_contacts(user)
        .select_related("owner", "account", "rating")
        .prefetch_related(Prefetch("tags", queryset=Tag.objects.order_by("name")))
    )


def contact_api_list(*, user: User) -> QuerySet[Contact]:
    """Visible contacts for the API's list, with their tag names (``tag_names``, by name).

    The API shows the owner, account and rating by id: none of them is joined or built. The
    tag names come as one array per row of the page, in the same statement, instead of a
    prefetch (a second query, a Tag and a related manager per contact): on a 50-row page the
    two together were half of our time in Python.
    """
    contacts = access.visible_contacts(user)
    if connection.vendor != "postgresql":  # embedded mode (SQLite) has no arrays: prefetch
        return contacts.prefetch_related(Prefetch("tags", Tag.objects.order_by("name")))
    names = Tag.objects.filter(contacts=OuterRef("pk")).order_by("name").values("name")
    return contacts.annotate(tag_names=ArraySubquery(names))


def task_list(*, user: User) -> QuerySet[Task]:
    return access.visible_tasks(user).select_related("owner", "contact", "lead", "opportunity")


def task_open_count(*, user: User) -> dict[str, int]:
    """Overdue and due-today counts of the user's own open tasks (for the navigation)."""
    from django.utils import timezone

    today = timezone.localdate()
    return Task.objects.filter(owner=user, done=False, archived_at__isnull=True).aggregate(
        overdue=Count("id", filter=Q(due_on__lt=today)),
        today=Count("id", filter=Q(due_on=today)),
    )


def event_list(*, user: User) -> QuerySet[Event]:
    return access.visible_events(user).select_related("actor")


def timeline(*, user: User, **subject) -> QuerySet[Event]:
    """Events of one record, including those of its tasks, newest first."""
    ((field, obj),) = subject.items()
    if field in ("contact", "lead", "opportunity"):
        cond = Q(**{field: obj}) | Q(**{f"task__{field}": obj})
    else:
        cond = Q(**{field: obj})
    return event_list(user=user).filter(cond).select_related("task").order_by("-at", "-id")


def user_list(*, user: User) -> QuerySet[User]:
    return access.visible_users(user)


def team_list(*, user: User) -> QuerySet[Team]:
    return access.visible_teams(user).prefetch_related(
        Prefetch("members", queryset=User.objects.only("id").order_by("id"))
    )


def owner_choices() -> QuerySet[User]:
    """Users a record may be assigned to."""
    return User.objects.filter(is_active=True).order_by("first_name", "last_name", "username")


def task_agenda(*, user: User, days: int = 7) -> QuerySet[Task]:
    """The user's own open tasks due up to ``days`` days from today (overdue ones included).

    Most urgent first: by priority (follow-ups take theirs from the rating's order), then due date.
    """
    import datetime as dt

    from django.utils import timezone

    until = timezone.localdate() + dt.timedelta(days=days)
    return (
        access.visible_tasks(user)
        .filter(owner_id=user.pk, done=False, due_on__lte=until)
        .select_related("contact", "lead", "opportunity", "source_event")
        .order_by("priority", "due_on", "id")
    )


def team_roster(*, user: User) -> QuerySet[Team]:
    """Teams with their members' names (for the settings pages)."""
    return access.visible_teams(user).prefetch_related(
        Prefetch("members", queryset=User.objects.order_by("first_name", "last_name", "username"))
    )


def record_names(*, user: User, model: type, ids) -> dict[int, str]:
    """``{id: name}`` of the ``model`` records among ``ids`` that ``user`` may see (archived too).

    Used to describe events that mention other records by id; ids out of reach are left out.
    """
    from leads.models import Lead
    from opportunities.models import Opportunity

    ids = {i for i in ids if isinstance(i, int)}
    if not ids:
        return {}
    visible = {
        Account: access.visible_accounts,
        Contact: access.visible_contacts,
        Task: access.visible_tasks,
        Lead: access.visible_leads,
        Opportunity: access.visible_opportunities,
    }
    if model is User:
        qs = access.visible_users(user)
    else:
        qs = visible[model](user, include_archived=True)
    return {obj.pk: str(obj) for obj in qs.filter(pk__in=ids)}


def saved_view_list(*, user: User, list_key: str | None = None) -> QuerySet:
    """The user's own views and the default views for everyone (defaults first, then by order)."""
    from django.db.models import F

    from crm.models import SavedView

    qs = SavedView.objects.filter(Q(user=user) | Q(user__isnull=True))
    if list_key is not None:
        qs = qs.filter(list_key=list_key)
    return qs.order_by("list_key", F("user_id").asc(nulls_first=True), "order", "id")


ARCHIVE_KINDS = ("lead", "contact", "account", "opportunity", "task")


def archived_record_list(*, kind: str | None = None, before=None, since=None):
    """Archived records of every kind (or one), newest archived first, as one UNION query of
    ``{"kind", "pk", "label", "owner_id", "archived_at"}`` rows (for Settings > Archive; admins
    see everything, so no visibility filter here: the page is admin-only)."""
    from django.db.models import CharField, F, Value
    from django.db.models.functions import Concat

    from leads.models import Lead
    from opportunities.models import Opportunity

    person = Concat("first_name", Value(" "), "last_name", output_field=CharField())
    sources = {
        "lead": (Lead, person),
        "contact": (Contact, person),
        "account": (Account, F("name")),
        "opportunity": (Opportunity, F("name")),
        "task": (Task, F("title")),
    }
    parts = []
    for name, (model, label) in sources.items():
        if kind and name != kind:
            continue
        qs = model.objects.filter(archived_at__isnull=False)
        if since is not None:
            qs = qs.filter(archived_at__gte=since)
        if before is not None:
            qs = qs.filter(archived_at__lt=before)
        parts.append(
            qs.annotate(
                record_kind=Value(name, output_field=CharField()),
                label=Concat(label, Value(""), output_field=CharField()),
            )
            .values("record_kind", "pk", "label", "owner_id", "archived_at")
            .order_by()
        )
    combined = parts[0].union(*parts[1:], all=True) if len(parts) > 1 else parts[0]
    return combined.order_by("-archived_at", "-pk")


def archive_events(rows: list[dict]) -> dict[tuple[str, int], Event]:
    """The latest "archived" event of each row (who archived it and when), in one query."""
    wanted: dict[str, list[int]] = {}
    for row in rows:
        wanted.setdefault(row["record_kind"], []).append(row["pk"])
    if not wanted:
        return {}
    cond = Q()
    for name, ids in wanted.items():
        cond |= Q(**{f"{name}_id__in": ids})
    events = Event.objects.filter(cond, kind="archived").select_related("actor").order_by("-id")
    found: dict[tuple[str, int], Event] = {}
    for event in events:
        for name in wanted:
            pk = getattr(event, f"{name}_id")
            if pk is not None and (name, pk) not in found:
                found[(name, pk)] = event
    return found
