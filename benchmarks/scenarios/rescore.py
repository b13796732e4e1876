"""Rescoring every lead after a change of the rules (the Lead scoring issue).

The rules: the default criteria (their data migration) plus four fit criteria, an 8-branch CASE
using every kind of condition. Two versions alternate: ``A`` (those points) and ``B`` (every
criterion 5 points more). Each timed run rescores with the version the stored scores were NOT
computed with, so nearly every scored lead gets a new score: the worst case of a rescore, and the
same work for every run and every contestant.

Scores live in their own table (``leads.LeadScore``: ``leads_leadscore``, one row per lead).

* ours: ``scoring.services.rescore_run`` (chunked UPDATEs by id range), median of N runs;
* reference 1: ONE plain SQL ``UPDATE leads_leadscore SET score = <CASE…>, sales_ready = …
  FROM leads_lead WHERE lead_id = leads_lead.id AND status IN (…)``, the CASE and the condition
  compiled by Django from the same ``score_expression`` and queryset, executed with a bare
  cursor, median of N runs, interleaved with ours;
* reference 2: the per-lead ORM save loop (iterate the queryset, ``lead_score_apply``, save the
  lead's score row with ``save(update_fields=…)``) on the first leads by id, timed once and
  scaled to the number of leads the rescore scores.

Every timed run starts from the same state: the tables vacuumed, a CHECKPOINT taken. Right after
our first run every scored lead is compared with the expression in SQL, and a sample with the
Python engine (``score_lead``); unqualified and converted leads must keep their sentinel score.
A mismatch fails the scenario.
"""

from __future__ import annotations

import importlib

from django.db import connection
from django.db.models import F, Q

from benchmarks import dataset
from benchmarks.framework import BenchmarkError, Check, Context, Timing, scenario, timed
from leads.models import Lead, LeadScore
from scoring import services
from scoring.engine import sales_ready_expression, score_expression, score_lead
from scoring.models import Criterion, JobStatus, RescoreJob, ScoringSettings

EXTRA_CRITERIA = [
    ("Large company", "company_size", "gte", "201-1000", 15),
    ("Target country", "country", "in", "Spain, Mexico, Argentina", 10),
    ("Director", "title", "contains", "director", 10),
    ("Bought list", "source", "eq", "Purchased list", -20),
]
#: Version B of the rules: every criterion this many points more than in version A.
B_BONUS = 5
THRESHOLD = 100
LOOP_SAMPLE = 10_000
LOOP_SAMPLE_SMALL = 2_000
PYTHON_CHECK_SAMPLE = 5_000


def _rules_set(version: str) -> None:
    """Exactly the default criteria and the extras (version B: +5 points each); threshold 100,
    auto-qualify off. Written directly: the services would queue a rescore job."""
    defaults = importlib.import_module("scoring.migrations.0002_default_criteria").DEFAULT_CRITERIA
    bonus = B_BONUS if version == "B" else 0
    Criterion.objects.all().delete()
    Criterion.objects.bulk_create(
        Criterion(name=name, field=field, operator=op, value=value, points=points + bonus)
        for name, field, op, value, points in [*defaults, *EXTRA_CRITERIA]
    )
    services.scoring_settings_get()
    ScoringSettings.objects.filter(pk=1).update(threshold=THRESHOLD, auto_qualify=False)


def _scored():
    return Lead.objects.filter(status__in=services.SCORED_STATUSES)


def _reference_sql() -> tuple[str, tuple]:
    """The single UPDATE of every scored lead's score row, compiled from the current rules:
    what ``QuerySet.update(score=expr, sales_ready=expr >= threshold)`` would run if it could
    read the joined lead (the expression and the condition are Django's compilation)."""
    expr = score_expression(services.rules_get())
    query = _scored().annotate(new_score=expr).values("new_score").query
    compiler = query.get_compiler(connection.alias)
    score_sql, score_params = compiler.compile(query.annotations["new_score"])
    ready_sql, ready_params = compiler.compile(
        sales_ready_expression(query.annotations["new_score"], THRESHOLD)
    )
    where_sql, where_params = compiler.compile(query.where)
    qn = connection.ops.quote_name
    scores, leads = qn(LeadScore._meta.db_table), qn(Lead._meta.db_table)
    sql = (
        f"UPDATE {scores} SET {qn('score')} = {score_sql}, {qn('sales_ready')} = {ready_sql} "  # noqa: S608
        f"FROM {leads} WHERE {scores}.{qn('lead_id')} = {leads}.{qn('id')} AND {where_sql}"
    )
    if "SELECT" in sql.upper():
        raise BenchmarkError(f"the reference is not one plain UPDATE: {sql[:200]}")
    return sql, (*score_params, *ready_params, *where_params)


def _settle() -> None:
    """The same starting point for every timed run: no dead rows, nothing dirty to flush."""
    with connection.cursor() as cur:
        cur.execute("VACUUM leads_lead")
        cur.execute("VACUUM leads_leadscore")
        cur.execute("CHECKPOINT")


def _verify(ctx: Context) -> None:
    rules = services.rules_get()
    expr = score_expression(rules)
    wrong = (
        _scored()
        .alias(expected=expr)
        .filter(
            ~Q(lead_score__score=F("expected"))
            | Q(expected__gte=THRESHOLD, lead_score__sales_ready=False)
            | Q(expected__lt=THRESHOLD, lead_score__sales_ready=True)
        )
        .count()
    )
    if wrong:
        raise BenchmarkError(f"{wrong:,} scored leads differ from the SQL expression")
    touched = (
        LeadScore.objects.exclude(lead__status__in=services.SCORED_STATUSES)
        .exclude(score=dataset.UNSCORED_SENTINEL, sales_ready=False)
        .count()
    )
    if touched:
        raise BenchmarkError(f"{touched:,} unqualified or converted leads were rescored")
    # An independent check: the Python engine on a sample spread over the whole table.
    step = max(1, Lead.objects.count() // PYTHON_CHECK_SAMPLE)
    sample = (
        Lead.objects.select_related("lead_score").alias(m=F("id") % step).filter(m=0).order_by("id")
    )
    checked = 0
    for lead in sample.iterator(chunk_size=2000):
        if lead.status in services.SCORED_STATUSES:
            expected, _breakdown = score_lead(lead, rules)
            ready = expected >= THRESHOLD
        else:
            expected, ready = dataset.UNSCORED_SENTINEL, False
        if (lead.score, lead.sales_ready) != (expected, ready):
            raise BenchmarkError(
                f"lead {lead.pk}: score {lead.score}/{lead.sales_ready}, "
                f"score_lead says {expected}/{ready}"
            )
        checked += 1
    ctx.log(f"rescore: scores correct (all vs the SQL expression, {checked:,} vs score_lead)")


def _ours() -> float:
    job = RescoreJob.objects.create()
    seconds = timed(lambda: services.rescore_run(job_id=job.pk))
    job.refresh_from_db()
    if job.status != JobStatus.DONE or job.processed != job.total:
        raise BenchmarkError(f"rescore job ended {job.status} {job.processed}/{job.total}")
    return seconds


def _plain_update(sql: str, params: tuple) -> float:
    def run():
        with connection.cursor() as cur:
            cur.execute(sql, params)

    return timed(run)


def _loop(sample: int) -> float:
    rules = services.rules_get()
    leads = _scored().select_related("lead_score").order_by("id")[:sample]

    def run():
        for lead in leads:
            services.lead_score_apply(lead, rules=rules, threshold=THRESHOLD)
            lead.lead_score.save(update_fields=["score", "sales_ready"])

    return timed(run)


def _changed_share(version: str) -> float:
    """The share of scored leads whose stored score differs from ``version``'s."""
    _rules_set(version)
    expr = score_expression(services.rules_get())
    scored = _scored().count()
    changed = _scored().alias(new=expr).filter(~Q(lead_score__score=F("new"))).count()
    return changed / max(scored, 1)


@scenario("rescore")
def rescore(ctx: Context):
    n = Lead.objects.count()
    scored = _scored().count()
    # Prime: every score computed with B, so that the first timed run (A) changes them.
    _rules_set("B")
    ctx.log(f"rescore: priming with rules B in {timed(_ours):.1f} s")
    ctx.log(f"rescore: rules A change {_changed_share('A'):.1%} of {scored:,} scored scores")
    sql = {}
    for version in ("A", "B"):
        _rules_set(version)
        sql[version] = _reference_sql()
    ctx.log(f"rescore: {n:,} leads, {Criterion.objects.count()} criteria, reference: 1 UPDATE")

    ours, ref = [], []
    order = []
    for i in range(ctx.repeat):
        # Interleaved (ours first, then ref first, …) so that a drift hurts both alike.
        order += ["ours", "ref"] if i % 2 == 0 else ["ref", "ours"]
    for run, which in enumerate(order):
        version = "A" if run % 2 == 0 else "B"
        _rules_set(version)
        _settle()
        if which == "ours":
            ours.append(_ours())
            if len(ours) == 1:
                _verify(ctx)
        else:
            ref.append(_plain_update(*sql[version]))
        seconds = (ours if which == "ours" else ref)[-1]
        ctx.log(f"rescore: run {run + 1} {which:4} rules {version}: {seconds:.2f} s")

    # The loop does the same work: the stored scores are the other version's.
    version = "A" if len(order) % 2 == 0 else "B"
    _rules_set(version)
    sample = min(LOOP_SAMPLE_SMALL if ctx.small else LOOP_SAMPLE, scored)
    _settle()
    loop = _loop(sample)
    scale = scored / sample
    ctx.log(
        f"rescore: ORM loop, rules {version}: {sample:,} leads in {loop:.2f} s, "
        f"×{scale:,.1f} = {loop * scale:,.0f} s"
    )

    ours_t = Timing.median(ours)
    yield Check(
        f"rescore {n:,} leads vs one plain UPDATE", ours_t, Timing.median(ref), "at_most", 2.0
    )
    yield Check(
        f"rescore {n:,} leads vs per-lead ORM save loop",
        ours_t,
        Timing(loop * scale, f"{sample:,} leads ×{scale:,.1f}"),
        "at_least",
        50.0,
    )
