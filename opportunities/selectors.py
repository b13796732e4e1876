"""Every read of the opportunities app, built on ``crm.access`` visibility."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal

from django.db import connection
from django.db.models import (
    BooleanField,
    Case,
    Count,
    DateTimeField,
    Exists,
    F,
    Func,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    Sum,
    Value,
    When,
)
from django.db.models.functions import Coalesce, Greatest, TruncMonth
from django.utils import timezone
from django.utils.translation import gettext as _

from crm import access
from crm.activity import ACTIVITY_LOGGED, open_tasks, with_next_activity
from crm.models import Event, Task, User
from opportunities.models import (
    LossReason,
    Opportunity,
    OpportunityStatus,
    Stage,
    StageChange,
    WinReason,
)
from opportunities.services import opportunity_settings_get


def opportunity_list(*, user: User) -> QuerySet[Opportunity]:
    return (
        access.visible_opportunities(user)
        .select_related("owner", "contact", "stage", "win_reason", "loss_reason")
        .prefetch_related("shares")
    )


def opportunity_get(*, user: User, pk: int) -> Opportunity:
    """The opportunity if visible; raises ``Opportunity.DoesNotExist`` otherwise (→ 404)."""
    return opportunity_list(user=user).get(pk=pk)


# --- next activity and rotting (issue #9) --------------------------------------------------------


def with_activity(qs: QuerySet[Opportunity], *, user: User, now: dt.datetime | None = None):
    """``qs`` annotated with its next activity (``crm.activity.with_next_activity``), its
    ``last_activity_at`` and ``is_rotting``, all in SQL.

    Last activity: the latest of entering its stage, completing one of its tasks and logging a
    call or note about it. A deal rots when it is open, its stage has ``rot_days``, its last
    activity is older than that many days and no open task of it is due today or later (a deal
    with something scheduled never rots, even if it is overdue elsewhere)."""
    return with_rotting(with_next_activity(qs, field="opportunity", user=user), now=now)


def with_rotting(qs: QuerySet[Opportunity], *, now: dt.datetime | None = None) -> QuerySet:
    """``last_activity_at`` and ``is_rotting`` (see ``with_activity``) for showing them."""
    now = now or timezone.now()
    entered = F("stage_entered_at")
    last_done = (
        Task.objects.filter(opportunity_id=OuterRef("pk"), done=True, completed_at__isnull=False)
        .order_by("-completed_at")
        .values("completed_at")[:1]
    )
    last_logged = (
        Event.objects.filter(opportunity_id=OuterRef("pk"), kind=ACTIVITY_LOGGED)
        .order_by("-at")
        .values("at")[:1]
    )
    qs = qs.annotate(
        last_activity_at=Greatest(
            entered,
            Coalesce(Subquery(last_done), entered),
            Coalesce(Subquery(last_logged), entered),
            output_field=DateTimeField(),
        )
    )
    return qs.annotate(
        is_rotting=Case(
            When(rotting_q(now=now), then=Value(True)),
            default=Value(False),
            output_field=BooleanField(),
        )
    )


class DaysBefore(Func):
    """``moment`` minus ``days`` (an integer expression) days: ``moment - days * '1 day'`` on
    PostgreSQL; SQLite (embedded mode) cannot multiply an interval, so there ``datetime(moment,
    '-N days')``, to the second (datetimes are stored as text, compared as text)."""

    output_field = DateTimeField()

    def __init__(self, moment: dt.datetime, days, **extra):
        super().__init__(Value(moment, output_field=DateTimeField()), days, **extra)

    def as_sql(self, compiler, connection, **extra_context):
        return super().as_sql(
            compiler,
            connection,
            template="(%(expressions)s * INTERVAL '1 day')",
            arg_joiner=" - ",
            **extra_context,
        )

    def as_sqlite(self, compiler, connection, **extra_context):
        return super().as_sql(
            compiler,
            connection,
            template="datetime(%(expressions)s || ' days')",
            arg_joiner=", '-' || ",
            **extra_context,
        )


def rotting_q(*, now: dt.datetime | None = None) -> Q:
    """The rotting rule as a WHERE condition (``?rotting=``): open, the stage has ``rot_days``,
    entered it, completed no task and logged nothing since ``now - rot_days``, and nothing open
    due today or later. Cheap column tests first; each ``NOT EXISTS`` is an index probe
    (task_open_opportunity_due_idx, the task FK index, event_opp_logged_idx)."""
    now = now or timezone.now()
    today = timezone.localdate(now)
    cutoff = DaysBefore(now, F("stage__rot_days"))
    outer_cutoff = DaysBefore(now, OuterRef("stage__rot_days"))
    done_since = Task.objects.filter(
        opportunity_id=OuterRef("pk"), done=True, completed_at__gte=outer_cutoff
    )
    logged_since = Event.objects.filter(
        opportunity_id=OuterRef("pk"), kind=ACTIVITY_LOGGED, at__gte=outer_cutoff
    )
    return (
        Q(status=OpportunityStatus.OPEN, stage__rot_days__isnull=False)
        & Q(stage_entered_at__lt=cutoff)
        & ~Q(Exists(open_tasks("opportunity").filter(due_on__gte=today)))
        & ~Q(Exists(done_since))
        & ~Q(Exists(logged_since))
    )


def attach_activity(opportunities, *, user: User, now: dt.datetime | None = None) -> list:
    """Next activity and rotting for a page of loaded deals: one query whatever their number.
    Sets ``next_task_*``, ``last_activity_at``, ``is_rotting`` and ``idle_days``."""
    now = now or timezone.now()
    opportunities = list(opportunities)
    if not opportunities:
        return opportunities
    rows = {
        row[0]: row[1:]
        for row in with_activity(
            Opportunity.objects.filter(pk__in=[o.pk for o in opportunities]).order_by(),
            user=user,
            now=now,
        ).values_list(
            "pk",
            "next_task_due",
            "next_task_id",
            "next_task_title",
            "last_activity_at",
            "is_rotting",
        )
    }
    for opp in opportunities:
        (
            opp.next_task_due,
            opp.next_task_id,
            opp.next_task_title,
            opp.last_activity_at,
            opp.is_rotting,
        ) = rows.get(opp.pk, (None, None, None, None, False))
        opp.idle_days = (now - opp.last_activity_at).days if opp.last_activity_at else None
    return opportunities


def stage_list(*, include_archived: bool = False) -> QuerySet[Stage]:
    """Stages with how many opportunities (archived ones included) are in each."""
    qs = Stage.objects.annotate(usage_count=Count("opportunities", distinct=True))
    if not include_archived:
        qs = qs.filter(archived_at__isnull=True)
    return qs.order_by("archived_at", "order", "id")


def stage_choices() -> QuerySet[Stage]:
    return Stage.objects.filter(archived_at__isnull=True).order_by("order", "id")


def reason_list(model, *, include_archived: bool = False) -> QuerySet:
    """Win or loss reasons with how many deals carry each."""
    qs = model.objects.annotate(usage_count=Count("opportunities", distinct=True))
    if not include_archived:
        qs = qs.filter(archived_at__isnull=True)
    return qs.order_by("archived_at", "order", "id")


def reason_choices(model) -> QuerySet:
    return model.objects.filter(archived_at__isnull=True).order_by("order", "id")


def win_reason_choices() -> QuerySet[WinReason]:
    return reason_choices(WinReason)


def loss_reason_choices() -> QuerySet[LossReason]:
    return reason_choices(LossReason)


# --- the board -----------------------------------------------------------------------------------


@dataclass
class BoardColumn:
    stage: Stage
    status: str
    active: bool
    count: int = 0
    total: Decimal = Decimal(0)
    cards: list[Opportunity] = field(default_factory=list)


def opportunity_board(
    *,
    user: User,
    owner_id: int | None = None,
    per_column: int = 25,
    per_closed_column: int = 10,
) -> list[BoardColumn]:
    """One column per active (not archived) stage, in pipeline order, with the total count and
    the deals that entered the stage most recently: ``per_column`` of an open stage,
    ``per_closed_column`` of the win and loss stages (history: the list shows the rest, and the
    column links to it). Each card costs about a millisecond of template (its badge, its "Move
    to stage" form), so an admin's board of the whole team stays fast. A constant number of
    queries whatever the number of stages or deals: settings, stages, counts and amount totals
    (one GROUP BY per part: a rep's own deals and those shared with them), the cards' ids (the
    newest of each stage), the cards."""
    settings = opportunity_settings_get()
    active = set(settings.active_stages.values_list("pk", flat=True))
    stages = list(stage_choices())
    closing = {pk for pk in (settings.win_stage_id, settings.loss_stage_id) if pk}
    limits = {s.pk: per_closed_column if s.pk in closing else per_column for s in stages}
    # A rep's deals in two parts (``access.disjoint_opportunity_parts``): their own, each
    # stage's newest and its count and total read from ``opp_owner_board_idx`` alone, and the
    # ones shared with them that they do not own. Over the ``id IN (owned UNION shared)`` form
    # every stage joined all their visible deals again (130 ms for 12,000 of 361,000); an
    # admin's one part is every deal, each column one scan of ``opp_board_idx``.
    parts = access.disjoint_opportunity_parts(user)
    if owner_id:
        parts = [part.filter(owner_id=owner_id) for part in parts]
    sums: dict[int, list] = {}
    for part in parts:
        for stage_id, n, total in (
            part.order_by()
            .values_list("stage_id")
            .annotate(n=Count("id"), total=Sum("amount"))
            .values_list("stage_id", "n", "total")
        ):
            column = sums.setdefault(stage_id, [0, Decimal(0)])
            column[0] += n
            column[1] += total or 0
    # Each column's cards: the newest deals of the stage, one index scan each, all in one UNION
    # ALL. Ranking every deal (ROW_NUMBER per stage) sorted them all: 270 ms for an admin's
    # 110,000 deals. A rep's shared deals are read whole (id, stage, date) and the newest of
    # each stage picked here: per stage with ORDER BY and LIMIT, the planner walked the stage's
    # index looking for them (180 ms when they are old ones). Then the cards are loaded with
    # their owner and contact, newest first, and each column keeps its limit.
    newest = [
        parts[0]
        .filter(stage_id=s.pk)
        .order_by("-stage_entered_at", "-id")
        .values_list("pk", flat=True)[: limits[s.pk]]
        for s in stages
    ]
    if newest and connection.features.supports_slicing_ordering_in_compound:
        ids = list(newest[0].union(*newest[1:], all=True))
    else:  # SQLite (embedded mode) refuses a LIMIT inside a UNION: a query per stage
        ids = [pk for part in newest for pk in part]
    for part in parts[1:]:
        by_stage: dict[int, list] = {}
        for pk, stage_id, entered in part.order_by().values_list(
            "pk", "stage_id", "stage_entered_at"
        ):
            by_stage.setdefault(stage_id, []).append((entered, pk))
        for stage_id, rows in by_stage.items():
            rows.sort(reverse=True)
            ids.extend(pk for _, pk in rows[: limits.get(stage_id, 0)])
    cards = Opportunity.objects.filter(pk__in=ids)
    columns = {
        s.pk: BoardColumn(
            stage=s,
            status=(
                OpportunityStatus.WON
                if s.pk == settings.win_stage_id
                else OpportunityStatus.LOST
                if s.pk == settings.loss_stage_id
                else OpportunityStatus.OPEN
            ),
            active=s.pk in active,
            count=sums.get(s.pk, (0, 0))[0],
            total=sums.get(s.pk, (0, Decimal(0)))[1],
        )
        for s in stages
    }
    cards = attach_activity(
        cards.select_related("owner", "contact").order_by("stage_id", "-stage_entered_at", "-id"),
        user=user,
    )
    for opp in cards:  # newest first in each stage: a column keeps its limit of both parts
        column = columns.get(opp.stage_id)
        if column is not None and len(column.cards) < limits[opp.stage_id]:
            column.cards.append(opp)
    return list(columns.values())


# --- reports -------------------------------------------------------------------------------------


def _range(field_name: str, since: dt.date | None, until: dt.date | None) -> Q:
    cond = Q()
    tz = timezone.get_current_timezone()
    if since:
        cond &= Q(**{f"{field_name}__gte": dt.datetime.combine(since, dt.time.min, tzinfo=tz)})
    if until:
        end = dt.datetime.combine(until + dt.timedelta(days=1), dt.time.min, tzinfo=tz)
        cond &= Q(**{f"{field_name}__lt": end})
    return cond


def _owner_label(first: str, last: str, username: str) -> str:
    return f"{first} {last}".strip() or username


def _rate(won: int, lost: int) -> float | None:
    return round(won / (won + lost), 4) if won + lost else None


def _by_reason(qs, key: str, none_label: str) -> list[dict]:
    rows = qs.values(f"{key}_id", f"{key}__name", f"{key}__archived_at").annotate(n=Count("id"))
    out = [
        {
            "key": r[f"{key}_id"],
            "label": _(r[f"{key}__name"]) if r[f"{key}__name"] else none_label,
            "count": r["n"],
            "archived": r[f"{key}__archived_at"] is not None,
        }
        for r in rows
    ]
    out.sort(key=lambda r: (-r["count"], str(r["label"]).lower()))
    return out


def win_loss_report(
    *, user: User, since: dt.date | None = None, until: dt.date | None = None
) -> dict:
    """Deals closed in the range (by ``closed_at``): win rate, won by win reason, lost by loss
    reason, win rate by owner and by month, the stage at which deals were lost, and the stage
    funnel of the deals created in the range. SQL aggregation only; archived reasons and stages
    still appear (they are history)."""
    visible = access.visible_opportunities(user, include_archived=True)
    closed = visible.filter(_range("closed_at", since, until), closed_at__isnull=False)
    won = closed.filter(status=OpportunityStatus.WON)
    lost = closed.filter(status=OpportunityStatus.LOST)

    won_lost = {
        "won": Count("id", filter=Q(status=OpportunityStatus.WON)),
        "lost": Count("id", filter=Q(status=OpportunityStatus.LOST)),
    }
    owner_rows = closed.values(
        "owner_id", "owner__first_name", "owner__last_name", "owner__username"
    ).annotate(**won_lost)
    totals = closed.aggregate(**won_lost)
    by_owner = []
    for r in owner_rows:
        by_owner.append(
            {
                "key": r["owner_id"],
                "label": _owner_label(
                    r["owner__first_name"], r["owner__last_name"], r["owner__username"]
                ),
                "won": r["won"],
                "lost": r["lost"],
                "win_rate": _rate(r["won"], r["lost"]),
            }
        )
    by_owner.sort(key=lambda r: (-(r["won"] + r["lost"]), str(r["label"]).lower()))

    by_month = [
        {
            "month": r["month"].date().isoformat()[:7],
            "won": r["won"],
            "lost": r["lost"],
            "win_rate": _rate(r["won"], r["lost"]),
        }
        for r in closed.annotate(month=TruncMonth("closed_at"))
        .values("month")
        .annotate(**won_lost)
        .order_by("month")
    ]

    # The stage a lost deal was in when it was lost: the from-stage of its move into the loss.
    # The stage a lost deal was in when it was lost: the from-stage of its latest move into the
    # loss (a deal lost, reopened and lost again counts once, where it was lost last).
    last_loss = (
        StageChange.objects.filter(
            opportunity=OuterRef("opportunity"), status=OpportunityStatus.LOST
        )
        .order_by("-id")
        .values("id")[:1]
    )
    lost_at = [
        {
            "key": r["from_stage_id"],
            "label": _(r["from_stage__name"]) if r["from_stage__name"] else _("Created lost"),
            "count": r["n"],
            "archived": r["from_stage__archived_at"] is not None,
        }
        for r in StageChange.objects.filter(
            status=OpportunityStatus.LOST,
            opportunity__in=lost.values("pk"),
            id=Subquery(last_loss),
        )
        .values("from_stage_id", "from_stage__name", "from_stage__order", "from_stage__archived_at")
        .annotate(n=Count("opportunity_id"))
        .order_by("from_stage__order", "from_stage_id")
    ]

    # Funnel: of the deals created in the range, how many ever entered each stage.
    created = visible.filter(_range("created_at", since, until))
    created_count = created.count()
    reached = dict(
        StageChange.objects.filter(opportunity__in=created.values("pk"))
        .values("to_stage_id")
        .annotate(n=Count("opportunity_id", distinct=True))
        .values_list("to_stage_id", "n")
    )
    funnel = [
        {"key": s.pk, "label": str(s), "count": reached.get(s.pk, 0), "archived": s.archived}
        for s in Stage.objects.filter(
            Q(archived_at__isnull=True) | Q(pk__in=list(reached))
        ).order_by("order", "id")
    ]

    return {
        "win_rate": _rate(totals["won"], totals["lost"]),
        "won_count": totals["won"],
        "created_count": created_count,
        "lost_count": totals["lost"],
        "won": _by_reason(won, "win_reason", _("No reason given")),
        "lost": _by_reason(lost, "loss_reason", _("No reason given")),
        "by_owner": by_owner,
        "by_month": by_month,
        "lost_at_stage": lost_at,
        "funnel": funnel,
    }
