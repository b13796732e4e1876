"""Every read of the shared core, built on the visibility querysets of ``crm.access``."""

from __future__ import annotations

from django.db.models import Count, Prefetch, Q, QuerySet

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
