"""Scoring writes: criteria, settings, a lead's score, and set-based rescoring jobs."""

from __future__ import annotations

import contextlib
import queue
import threading
from collections.abc import Callable, Iterator

from django.core.exceptions import PermissionDenied
from django.db import connection, transaction
from django.db.models import Count, F, Max
from django.utils import timezone
from django.utils.translation import gettext as _

from crm import access
from crm.models import Event, Task, TaskKind, User
from crm.services import _apply, _clean, event_record, user_today
from leads.models import Lead, LeadEvent, LeadScore, LeadStatus
from scoring.engine import Rule, score_expression, score_lead
from scoring.models import Criterion, JobStatus, RescoreJob, ScoringSettings

#: Statuses whose score is kept up to date; a disqualified or converted lead is never changed.
SCORED_STATUSES = (LeadStatus.NEW, LeadStatus.WORKING, LeadStatus.QUALIFIED)
#: Statuses auto-qualify may move to ``qualified`` (scoring never disqualifies anyone).
QUALIFIABLE = (LeadStatus.NEW, LeadStatus.WORKING)
SCORED_FIELDS = frozenset(
    {
        "budget",
        "authority",
        "need",
        "timeline",
        "country",
        "industry",
        "company_size",
        "title",
        "source",
    }
)
CHUNK_SIZE = 10_000
#: Chunks rescored at the same time, each in its own connection (Postgres only). Rewriting a score
#: is index maintenance inside the database, which keeps one CPU busy per connection.
RESCORE_WORKERS = 2
_LOCK_KEY = 73011  # pg_advisory_lock key serializing rescore runs
#: Scoring locks (Postgres): one per span of lead ids, ``pg_advisory_xact_lock(_SPAN_LOCK_KEY, n)``
#: for ids ``n * LOCK_SPAN <= id < (n + 1) * LOCK_SPAN``. A rescore chunk holds its span's lock
#: exclusively; a transaction that scores leads (create, update, import) holds theirs shared,
#: from before it reads the rules until it commits. So a chunk sees every score written before it
#: (its statement starts after those commits), and a lead scored after the chunk was scored with
#: rules at least as new as the chunk's. Without it, a chunk that read a lead just before its
#: owner changed it would write a score computed from the old answers: the chunk's UPDATE locks
#: the score rows, not the lead rows it reads.
LOCK_SPAN = CHUNK_SIZE
_SPAN_LOCK_KEY = 73013


def _require_admin(actor: User) -> None:
    if not access.is_admin(actor):
        raise PermissionDenied(_("Only administrators can do this."))


def scoring_settings_get() -> ScoringSettings:
    obj, _created = ScoringSettings.objects.get_or_create(pk=1)
    return obj


def rules_get() -> list[Rule]:
    return [Rule.of(c) for c in Criterion.objects.order_by("id")]


# --- one lead ------------------------------------------------------------------------------------


def lead_score_apply(lead: Lead, *, rules: list[Rule] | None = None, threshold=None) -> bool:
    """Set ``score`` and ``sales_ready`` on the lead's score row (``lead.score_row()``, not
    saved); True when they changed."""
    if lead.status not in SCORED_STATUSES:
        return False
    rules = rules_get() if rules is None else rules
    threshold = scoring_settings_get().threshold if threshold is None else threshold
    score, _breakdown = score_lead(lead, rules)
    ready = score >= threshold
    row = lead.score_row()
    changed = (row.score, row.sales_ready) != (score, ready)
    row.score, row.sales_ready = score, ready
    return changed


def _span_locks(spans, *, exclusive: bool) -> None:
    """Take the scoring locks of these id spans until the end of the transaction (ascending, so
    that two lockers never wait for each other in a cycle)."""
    if connection.vendor != "postgresql":
        return  # one writer at a time (SQLite): nothing runs concurrently
    spans = sorted(set(spans))
    if not spans:
        return
    function = "pg_advisory_xact_lock" if exclusive else "pg_advisory_xact_lock_shared"
    sql = f"SELECT {function}(%s, s) FROM (SELECT unnest(%s::int[]) AS s ORDER BY 1) AS spans"  # noqa: S608 (a constant function name)
    with connection.cursor() as cur:
        cur.execute(sql, [_SPAN_LOCK_KEY, spans])


def lead_scoring_lock(*, lead_ids) -> None:
    """Before reading the rules to score these (saved) leads: see ``LOCK_SPAN``. Take it before
    locking the lead rows too: a rescore chunk holding it may wait for those rows."""
    _span_locks((i // LOCK_SPAN for i in lead_ids), exclusive=False)


def lead_scores_save(*, leads: list[Lead], new: bool = False) -> list[Lead]:
    """Score the saved ``leads`` with the current rules and store the scores that changed
    (one INSERT … ON CONFLICT DO UPDATE); returns those leads.

    ``leads`` come with their score row (``select_related("lead_score")``), or are ``new``: just
    inserted, their row is the one the database gave them (0, not sales-ready). Call it inside the
    transaction that wrote the leads: it takes their scoring locks (``lead_scoring_lock``).
    """
    if not leads:
        return []
    if new:
        for lead in leads:
            lead.lead_score = LeadScore(score=0, sales_ready=False)
    lead_scoring_lock(lead_ids=[lead.pk for lead in leads])
    rules, threshold = rules_get(), scoring_settings_get().threshold
    changed = [lead for lead in leads if lead_score_apply(lead, rules=rules, threshold=threshold)]
    rows = []
    for lead in changed:
        row = lead.score_row()
        row.lead_id = lead.pk
        rows.append(row)
    LeadScore.objects.bulk_create(
        rows,
        batch_size=1000,
        update_conflicts=True,
        unique_fields=["lead"],
        update_fields=["score", "sales_ready"],
    )
    return changed


def lead_auto_qualify(*, lead: Lead) -> bool:
    """With auto-qualify on, a new or working lead at the threshold becomes ``qualified``."""
    if not (lead.sales_ready and lead.status in QUALIFIABLE):
        return False
    if not scoring_settings_get().auto_qualify:
        return False
    previous = lead.status
    lead.status = LeadStatus.QUALIFIED
    lead.save(update_fields=["status", "updated_at"])
    event = event_record(
        actor=None,
        kind=LeadEvent.QUALIFIED,
        lead=lead,
        data={"from": previous, "score": lead.score, "auto": True},
    )
    _notify_owners([(event, lead.pk, lead.owner, lead.name)])
    return True


def _notify_owners(rows) -> None:
    """Tell each owner in the app: a task "Sales-ready: …" due today on their agenda.

    ``rows`` are (qualified event, lead id, owner, lead name); the event is the task's
    idempotency key, and one INSERT makes them all.
    """
    Task.objects.bulk_create(
        Task(
            title=(_("Sales-ready: %(name)s") % {"name": name})[:200],
            kind=TaskKind.CALL,
            due_on=user_today(owner),
            owner=owner,
            lead_id=lead_id,
            priority=0,
            source_event=event,
        )
        for event, lead_id, owner, name in rows
    )


def lead_score_breakdown(lead: Lead) -> dict:
    """The score explained: each matching criterion and its points, against the threshold."""
    settings = scoring_settings_get()
    score, breakdown = score_lead(lead, rules_get())
    return {
        "score": lead.score,
        "computed": score,
        "threshold": settings.threshold,
        "sales_ready": lead.sales_ready,
        "breakdown": breakdown,
    }


# --- criteria and settings -----------------------------------------------------------------------


def _changed_rules(actor: User) -> RescoreJob:
    ScoringSettings.objects.filter(pk=scoring_settings_get().pk).update(version=F("version") + 1)
    return rescore_start(actor=actor)


def _validate_criterion(criterion: Criterion) -> None:
    from django.core.exceptions import ValidationError

    from scoring.engine import CHOICES, OPERATORS_BY_FIELD, RANKS, split_values

    _clean(criterion)
    criterion.value = criterion.value.strip()
    allowed = OPERATORS_BY_FIELD.get(criterion.field, set())
    if criterion.operator not in allowed:
        raise ValidationError({"operator": [_("This operator cannot be used with this field.")]})
    values = split_values(criterion.value) if criterion.operator == "in" else [criterion.value]
    if not values or not all(values):
        raise ValidationError({"value": [_("Enter a value.")]})
    known = CHOICES.get(criterion.field)
    if known is not None and any(v not in known for v in values):
        raise ValidationError(
            {"value": [_("Use one of: %(values)s.") % {"values": ", ".join(sorted(known))}]}
        )
    if criterion.operator in ("gte", "lte") and criterion.value not in RANKS[criterion.field]:
        raise ValidationError({"value": [_("This value cannot be compared.")]})


@transaction.atomic
def criterion_create(
    *, actor: User, name: str, field: str, operator: str, value: str, points: int
) -> Criterion:
    _require_admin(actor)
    criterion = Criterion(
        name=name.strip(), field=field, operator=operator, value=value, points=points
    )
    _validate_criterion(criterion)
    criterion.save()
    event_record(
        actor=actor,
        kind="scoring_changed",
        data={"action": "created", "criterion": criterion.pk, "name": criterion.name},
    )
    _changed_rules(actor)
    return criterion


@transaction.atomic
def criterion_update(*, actor: User, criterion: Criterion, **fields) -> Criterion:
    _require_admin(actor)
    unknown = set(fields) - {"name", "field", "operator", "value", "points"}
    if unknown:
        raise TypeError(f"unexpected fields {unknown}")
    if "name" in fields:
        fields["name"] = fields["name"].strip()
    changes = _apply(criterion, fields)
    if changes:
        _validate_criterion(criterion)
        criterion.save()
        event_record(
            actor=actor,
            kind="scoring_changed",
            data={"action": "updated", "criterion": criterion.pk, "changes": changes},
        )
        _changed_rules(actor)
    return criterion


@transaction.atomic
def criterion_delete(*, actor: User, criterion: Criterion) -> None:
    """Criteria are configuration, not records: a deleted one is gone (the event keeps it)."""
    _require_admin(actor)
    data = {
        "action": "deleted",
        "criterion": criterion.pk,
        "name": criterion.name,
        "rule": [criterion.field, criterion.operator, criterion.value, criterion.points],
    }
    criterion.delete()
    event_record(actor=actor, kind="scoring_changed", data=data)
    _changed_rules(actor)


@transaction.atomic
def scoring_settings_update(
    *, actor: User, threshold: int | None = None, auto_qualify: bool | None = None
) -> ScoringSettings:
    _require_admin(actor)
    obj = ScoringSettings.objects.select_for_update().get(pk=scoring_settings_get().pk)
    fields = {}
    if threshold is not None:
        fields["threshold"] = threshold
    if auto_qualify is not None:
        fields["auto_qualify"] = auto_qualify
    changes = _apply(obj, fields)
    if changes:
        _clean(obj)
        obj.save()
        event_record(
            actor=actor, kind="scoring_changed", data={"action": "settings", "changes": changes}
        )
        _changed_rules(actor)
        obj.refresh_from_db()
    return obj


# --- rescoring -----------------------------------------------------------------------------------


def rescore_start(*, actor: User | None) -> RescoreJob:
    """Queue a rescore of every lead; the Celery task starts once this transaction commits."""
    job = RescoreJob.objects.create(created_by=actor, version=scoring_settings_get().version)

    def enqueue():
        from scoring.tasks import rescore_leads_task

        rescore_leads_task.delay(job.pk)

    transaction.on_commit(enqueue)
    return job


@contextlib.contextmanager
def _one_rescore_at_a_time():
    """Runs are serialized so that the last one to finish used the latest rules everywhere."""
    if connection.vendor != "postgresql":
        yield
        return
    with connection.cursor() as cur:
        cur.execute("SELECT pg_advisory_lock(%s)", [_LOCK_KEY])
    try:
        yield
    finally:
        with connection.cursor() as cur:
            cur.execute("SELECT pg_advisory_unlock(%s)", [_LOCK_KEY])


def rescore_sql(lo: int, hi: int, *, rules: list[Rule], threshold: int) -> tuple[str, list]:
    """The UPDATE of the stale score rows of the leads with ``lo <= id < hi``.

    Only the rows whose score or sales-ready flag is wrong are written (an unchanged score costs
    one evaluation of the expression, a written one a new row version and its index entries).
    The expression is evaluated once per lead, in the subquery (``OFFSET 0`` keeps Postgres from
    inlining it into every place that uses it); a right score implies the flag it should have.
    Both sides are bounded by the id range, so each uses its primary key.
    """
    computed = (
        Lead.objects.filter(id__gte=lo, id__lt=hi, status__in=SCORED_STATUSES)
        .order_by()
        .annotate(new_score=score_expression(rules))
        .values_list("id", "new_score")
    )
    select, params = computed.query.sql_with_params()
    if connection.vendor == "postgresql":
        select += " OFFSET 0"
    qn = connection.ops.quote_name
    t, pk = qn(LeadScore._meta.db_table), qn(LeadScore._meta.pk.column)
    score, ready, new, lead = qn("score"), qn("sales_ready"), qn("new_score"), qn("id")
    # Names from _meta and the compiled query only; every value is a parameter.
    sql = (
        f"UPDATE {t} SET {score} = x.{new}, {ready} = (x.{new} >= %s) FROM ({select}) AS x "  # noqa: S608
        f"WHERE {t}.{pk} >= %s AND {t}.{pk} < %s AND {t}.{pk} = x.{lead} "
        f"AND ({t}.{score} <> x.{new} OR {t}.{ready} <> ({t}.{score} >= %s))"
    )
    return sql, [threshold, *params, lo, hi, threshold]


def _rescore_chunk(lo: int, hi: int) -> None:
    """Rescore the leads with ``lo <= id < hi`` in one UPDATE of their score rows (``rescore_sql``)
    under their span locks (``LOCK_SPAN``); auto-qualify those that crossed the threshold."""
    with transaction.atomic():
        _span_locks(range(lo // LOCK_SPAN, (hi - 1) // LOCK_SPAN + 1), exclusive=True)
        rules = rules_get()
        settings = scoring_settings_get()
        with connection.cursor() as cur:
            cur.execute(*rescore_sql(lo, hi, rules=rules, threshold=settings.threshold))
        if settings.auto_qualify:
            crossing = Lead.objects.filter(
                id__gte=lo, id__lt=hi, status__in=QUALIFIABLE, lead_score__sales_ready=True
            )
            rows = list(
                crossing.select_related("owner", "lead_score").only(
                    "id",
                    "status",
                    "first_name",
                    "last_name",
                    "owner",
                    "lead_score__score",
                    "lead_score__sales_ready",
                )
            )
            if rows:
                Lead.objects.filter(id__in=[r.pk for r in rows]).update(
                    status=LeadStatus.QUALIFIED, updated_at=timezone.now()
                )
                events = Event.objects.bulk_create(
                    Event(
                        kind=LeadEvent.QUALIFIED,
                        lead_id=lead.pk,
                        data={"from": lead.status, "score": lead.score, "auto": True},
                    )
                    for lead in rows
                )
                _notify_owners(
                    (event, lead.pk, lead.owner, lead.name)
                    for event, lead in zip(events, rows, strict=True)
                )


def _rescore_chunks(ranges: list[tuple[int, int]], workers: int) -> Iterator[tuple[int, int]]:
    """Rescore the id ranges, ``workers`` at a time; yield each one as it is done.

    Each worker thread has its own connection, so the chunks run one per connection. Inside a
    transaction (a caller's, or a test's) other connections would not see its rows: one at a
    time on this connection then, as on databases other than Postgres.
    """
    if workers < 2 or len(ranges) < 2 or connection.vendor != "postgresql":
        workers = 1
    if workers == 1 or connection.in_atomic_block:
        for bounds in ranges:
            _rescore_chunk(*bounds)
            yield bounds
        return
    todo = iter(ranges)
    take = threading.Lock()
    stop = threading.Event()
    results: queue.SimpleQueue = queue.SimpleQueue()

    def work() -> None:
        try:
            while not stop.is_set():
                with take:
                    bounds = next(todo, None)
                if bounds is None:
                    break
                _rescore_chunk(*bounds)
                results.put(("chunk", bounds))
        except BaseException as exc:  # handed to the caller's thread, which raises it
            results.put(("error", exc))
        finally:
            connection.close()  # this thread's own connection
            results.put(("end", None))

    threads = [threading.Thread(target=work, name=f"rescore-{i}") for i in range(workers)]
    for thread in threads:
        thread.start()
    try:
        running = len(threads)
        while running:
            kind, value = results.get()
            if kind == "end":
                running -= 1
            elif kind == "error":
                raise value
            else:
                yield value
    finally:
        stop.set()  # after an error: the other workers finish their chunk and stop
        for thread in threads:
            thread.join()


def _last_lead_id() -> int | None:
    """The last lead id handed out, committed or not (Postgres: the sequence's)."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cur:
            cur.execute(
                "SELECT pg_sequence_last_value(pg_get_serial_sequence(%s, 'id')::regclass)",
                [Lead._meta.db_table],
            )
            return cur.fetchone()[0]
    return Lead.objects.aggregate(last=Max("id"))["last"]


def rescore_run(
    *,
    job_id: int,
    chunk_size: int = CHUNK_SIZE,
    on_chunk: Callable[[RescoreJob], None] | None = None,
    workers: int = RESCORE_WORKERS,
) -> RescoreJob:
    """Rescore every scored lead in id-range chunks: one UPDATE per chunk, never a Python loop
    over leads, ``workers`` chunks at a time. Rules are read again for each chunk; runs are
    serialized."""
    job = RescoreJob.objects.get(pk=job_id)
    if job.status in (JobStatus.DONE, JobStatus.FAILED):
        return job  # a redelivered task does not run a finished job again
    with _one_rescore_at_a_time():
        job.refresh_from_db()
        if job.status in (JobStatus.DONE, JobStatus.FAILED):
            return job  # a copy delivered while the first ran waited for it: nothing left to do
        # One scan counts the scored leads of every chunk (ids k * chunk_size to
        # (k + 1) * chunk_size, aligned with the span locks): the progress to report, and the
        # chunks without any, which are skipped.
        counts = dict(
            Lead.objects.filter(status__in=SCORED_STATUSES)
            .order_by()
            .annotate(chunk=F("id") / chunk_size)
            .values("chunk")
            .annotate(n=Count("id"))
            .values_list("chunk", "n")
        )
        # Leads being created now are not counted yet: their chunks are rescored too (their
        # span lock waits for them), so none keeps a score from the rules it was created with.
        last = _last_lead_id()
        if last is not None:
            for k in range(max(counts, default=last // chunk_size), last // chunk_size + 1):
                counts.setdefault(k, 0)
        job.status = JobStatus.RUNNING
        job.started_at = timezone.now()
        job.processed = 0
        job.total = sum(counts.values())
        job.save(update_fields=["status", "started_at", "processed", "total"])
        try:
            ranges = [(k * chunk_size, (k + 1) * chunk_size) for k in sorted(counts)]
            for lo, _hi in _rescore_chunks(ranges, workers):
                job.processed += counts[lo // chunk_size]
                job.save(update_fields=["processed"])
                if on_chunk:
                    on_chunk(job)
        except Exception as exc:
            job.status = JobStatus.FAILED
            job.error = str(exc)[:2000]
            job.finished_at = timezone.now()
            job.save(update_fields=["status", "error", "finished_at"])
            raise
        _statistics_refresh()
        job.status = JobStatus.DONE
        job.processed = job.total
        job.finished_at = timezone.now()
        job.save(update_fields=["status", "processed", "finished_at"])
    return job


def _statistics_refresh() -> None:
    """A rescore can flip which scores are common: refresh the planner's statistics of the score
    table at once (about 0.2 s at a million leads) rather than wait for autovacuum, or the
    sales-ready filter runs on a stale plan meanwhile (3.5 s instead of 1 ms measured)."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(f"ANALYZE {connection.ops.quote_name(LeadScore._meta.db_table)}")
