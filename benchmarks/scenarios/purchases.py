"""1,000 buy-now purchases → all their actions done (issue #10).

> 1,000 buy-now purchases → all actions done; limit reference: the same handlers called
> in-process; target: purchases 99% done within 10 s.

Its own rows: ``N`` contacts (SQL), a deal each (``opportunity_ensure``), a buy-now link each
(``bulk_create`` with keys like the service's); three "purchase" trigger actions (apply a tag,
email the owner, start a sequence whose only step is a day-0 task) and a buy-now win reason.
All made fresh per run and the actions archived at the end.

* ours: a real Celery worker (``celery -A crm worker``, prefork, concurrency 2: this machine
  has 2 cores) on a private Redis database and queue; ``CLIENTS`` forked client processes, each
  with its own connection, call ``buy_now_purchase`` (what the checkout page and the webhook
  call) for their share of the links as fast as they can, all released together. Latency of a
  purchase = the last ``ran_at`` of its trigger runs and of its day-0 step run − the wall
  time its purchase committed.
* reference: the same handlers in-process, sequentially, no broker (eager tasks run on commit):
  the time of one purchase including its actions.

Checked after: one order per link, every deal won, one tag per contact, one email per
purchase, one enrollment and one day-0 task per deal, no run pending or running.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
import math
import multiprocessing
import os
import secrets
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from decimal import Decimal
from pathlib import Path

from django.conf import settings
from django.db import connection, connections
from django.utils import timezone

from benchmarks.framework import BenchmarkError, Check, Context, Timing, scenario
from crm.celery import app as celery_app
from crm.models import Tag, User
from opportunities import services
from opportunities.models import (
    BuyNowLink,
    Opportunity,
    OpportunityStatus,
    Order,
    Sequence,
    SequenceStep,
    StepKind,
    TriggerAction,
    TriggerActionKind,
    TriggerEvent,
    WinReason,
)
from opportunities.services_buynow import buy_now_purchase

ROOT = Path(__file__).resolve().parents[2]
PURCHASES, PURCHASES_SMALL = 1000, 100
REFERENCE, REFERENCE_SMALL = 100, 20
CLIENTS = 4
BROKER = "redis://127.0.0.1:6379/13"
LIMIT = 10.0
WAIT = 300.0


def _rows(marker: str, n: int, actor: User) -> list[int]:
    """``n`` contacts with a deal and a buy-now link each; returns the link ids."""
    with connection.cursor() as cur:
        cur.execute(
            """
            INSERT INTO crm_contact (first_name, last_name, email, phone, owner_id,
                                     created_at, updated_at)
            SELECT 'Buyer ' || g, %s, 'buyer' || g || '@bench.test', '',
                   (SELECT id FROM crm_user WHERE email <> '' ORDER BY id
                    OFFSET (g %% 50) LIMIT 1),
                   now(), now()
            FROM generate_series(1, %s) AS g
            RETURNING id
            """,
            [marker, n],
        )
        contact_ids = sorted(r[0] for r in cur.fetchall())
    from crm.models import Contact

    opps = [
        services.opportunity_ensure(actor=actor, contact=Contact(pk=pk), name=f"Deal {pk}")[0]
        for pk in contact_ids
    ]
    expires = timezone.now() + dt.timedelta(days=30)
    links = BuyNowLink.objects.bulk_create(
        BuyNowLink(
            opportunity_id=o.pk,
            key=secrets.token_urlsafe(32),
            product="Bench plan",
            amount=Decimal("99.00"),
            currency=settings.DEFAULT_CURRENCY,
            skin="classic",
            expires_at=expires,
            created_by=actor,
        )
        for o in opps
    )
    return [link.pk for link in links]


def _config(marker: str) -> list[TriggerAction]:
    """The purchase actions of every kind, and a buy-now win reason in the settings."""
    tag = Tag.objects.create(name=marker[:50])
    sequence = Sequence.objects.create(name=marker)
    SequenceStep.objects.create(
        sequence=sequence, position=1, day_offset=0, kind=StepKind.TASK, title="Welcome call"
    )
    reason = WinReason.objects.filter(name="Bench buy-now", archived_at__isnull=True).first()
    if reason is None:
        reason = WinReason.objects.create(name="Bench buy-now")
    opp_settings = services.opportunity_settings_get()
    opp_settings.buy_now_win_reason = reason
    opp_settings.save(update_fields=["buy_now_win_reason"])
    TriggerAction.objects.filter(
        event=TriggerEvent.BUY_NOW_PURCHASED, archived_at__isnull=True
    ).update(archived_at=timezone.now())
    event = TriggerEvent.BUY_NOW_PURCHASED
    return [
        TriggerAction.objects.create(event=event, action=TriggerActionKind.APPLY_TAG, tag=tag),
        TriggerAction.objects.create(event=event, action=TriggerActionKind.EMAIL_OWNER),
        TriggerAction.objects.create(
            event=event, action=TriggerActionKind.START_SEQUENCE, sequence=sequence
        ),
    ]


def _use_broker(url: str, queue: str, eager: bool) -> None:
    celery_app.conf.task_always_eager = eager
    celery_app.conf.broker_url = url
    celery_app.conf.task_default_queue = queue
    celery_app._pool = None
    celery_app.amqp._producer_pool = None


def _database_url() -> str:
    db = connection.settings_dict
    password = f":{db['PASSWORD']}" if db.get("PASSWORD") else ""
    return (
        f"postgres://{db.get('USER') or 'postgres'}{password}@{db.get('HOST') or '127.0.0.1'}"
        f":{db.get('PORT') or 5432}/{db['NAME']}"
    )


def _purge(queue: str) -> None:
    import redis

    r = redis.Redis.from_url(BROKER)
    keys = r.keys(f"{queue}*")
    if keys:
        r.delete(*keys)


@contextlib.contextmanager
def _worker(queue: str, mail_dir: str, log_path: Path):
    env = {
        **os.environ,
        "DATABASE_URL": _database_url(),
        "REDIS_URL": BROKER,
        "CELERY_TASK_ALWAYS_EAGER": "0",
        "CELERY_TASK_DEFAULT_QUEUE": queue,
        "EMAIL_URL": f"filemail:///{mail_dir}",
    }
    log = open(log_path, "w")  # noqa: SIM115
    proc = subprocess.Popen(  # noqa: S603 (our interpreter, our arguments)
        [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "crm",
            "worker",
            "--concurrency=2",
            "-l",
            "info",
            "--without-heartbeat",
            "--without-mingle",
            "--without-gossip",
            "-Q",
            queue,
        ],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 60
        while " ready." not in log_path.read_text(errors="replace"):
            if proc.poll() is not None or time.monotonic() > deadline:
                raise BenchmarkError(f"the worker did not start: see {log_path}")
            time.sleep(0.1)
        yield proc
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        log.close()


def _client(i: int, link_ids: list[int], barrier, results) -> None:
    connections.close_all()
    try:
        connection.ensure_connection()
        barrier.wait(timeout=120)
        got = []
        for pk in link_ids:
            result = buy_now_purchase(
                link=BuyNowLink(pk=pk),
                name="Bench Buyer",
                email="buyer@bench.test",
                provider="manual",
            )
            got.append((result.order.pk, result.order.opportunity_id, time.time()))
        results.put((i, got, None))
    except Exception as exc:
        barrier.abort()
        results.put((i, None, repr(exc)))
    finally:
        connections.close_all()


def _purchase_all(link_ids: list[int]) -> list[tuple[int, int, float]]:
    ctx = multiprocessing.get_context("fork")
    barrier = ctx.Barrier(CLIENTS + 1)
    queue = ctx.Queue()
    shares = [link_ids[i::CLIENTS] for i in range(CLIENTS)]
    connections.close_all()
    procs = [
        ctx.Process(target=_client, args=(i, shares[i], barrier, queue)) for i in range(CLIENTS)
    ]
    for p in procs:
        p.start()
    try:
        with contextlib.suppress(threading.BrokenBarrierError):
            barrier.wait(timeout=120)
        got, errors = [], []
        for _ in procs:
            _i, value, error = queue.get(timeout=600)
            if error:
                errors.append(error)
            else:
                got += value
    finally:
        for p in procs:
            p.join(timeout=30)
            if p.is_alive():
                p.kill()
    if errors:
        raise BenchmarkError(f"{len(errors)} clients failed: {errors[0][:200]}")
    return got


def _done_times(opp_ids: list[int], actions: list[TriggerAction]) -> dict[int, tuple]:
    """Per deal: (trigger runs, of them finished, step runs done, last ran_at epoch)."""
    with connection.cursor() as cur:
        cur.execute(
            """
            SELECT o.id,
                   (SELECT count(*) FROM opportunities_triggerrun r
                     WHERE r.opportunity_id = o.id AND r.action_id = ANY(%s)),
                   (SELECT count(*) FROM opportunities_triggerrun r
                     WHERE r.opportunity_id = o.id AND r.action_id = ANY(%s)
                       AND r.status IN ('done', 'failed')),
                   (SELECT count(*) FROM opportunities_steprun s
                     JOIN opportunities_enrollment e ON e.id = s.enrollment_id
                     WHERE e.opportunity_id = o.id AND s.status = 'done'),
                   extract(epoch FROM greatest(
                     (SELECT max(r.ran_at) FROM opportunities_triggerrun r
                       WHERE r.opportunity_id = o.id AND r.action_id = ANY(%s)),
                     (SELECT max(s.ran_at) FROM opportunities_steprun s
                       JOIN opportunities_enrollment e ON e.id = s.enrollment_id
                       WHERE e.opportunity_id = o.id)))
            FROM opportunities_opportunity o WHERE o.id = ANY(%s)
            """,
            [[a.pk for a in actions]] * 3 + [opp_ids],
        )
        return {row[0]: row[1:] for row in cur.fetchall()}


def _wait_done(opp_ids, actions, timeout: float) -> dict[int, tuple]:
    deadline = time.monotonic() + timeout
    while True:
        state = _done_times(opp_ids, actions)
        if all(t == len(actions) and f == t and s >= 1 for t, f, s, _ in state.values()):
            return state
        if time.monotonic() > deadline:
            left = sum(1 for t, f, s, _ in state.values() if not (t == f == len(actions) and s))
            raise BenchmarkError(f"{left} purchases not done after {timeout:.0f} s")
        time.sleep(0.25)


def _verify(marker: str, opp_ids: list[int], actions, emails: int) -> None:
    n = len(opp_ids)
    orders = Order.objects.filter(opportunity_id__in=opp_ids).count()
    if orders != n:
        raise BenchmarkError(f"{orders} orders for {n} purchases")
    won = Opportunity.objects.filter(pk__in=opp_ids, status=OpportunityStatus.WON).count()
    if won != n:
        raise BenchmarkError(f"{won} of {n} deals won")
    with connection.cursor() as cur:
        cur.execute(
            "SELECT count(*), count(DISTINCT ct.contact_id) FROM crm_contact_tags ct"
            " JOIN crm_tag t ON t.id = ct.tag_id WHERE t.name = %s AND ct.contact_id IN"
            " (SELECT contact_id FROM opportunities_opportunity WHERE id = ANY(%s))",
            [marker[:50], opp_ids],
        )
        tags, tagged = cur.fetchone()
        if tags != n or tagged != n:
            raise BenchmarkError(f"{tags} tag applications on {tagged} contacts for {n}")
        cur.execute(
            "SELECT count(*) FROM opportunities_enrollment WHERE opportunity_id = ANY(%s)",
            [opp_ids],
        )
        if (got := cur.fetchone()[0]) != n:
            raise BenchmarkError(f"{got} enrollments for {n} purchases")
        cur.execute("SELECT count(*) FROM crm_task WHERE opportunity_id = ANY(%s)", [opp_ids])
        if (got := cur.fetchone()[0]) != n:
            raise BenchmarkError(f"{got} day-0 tasks for {n} purchases")
        cur.execute(
            "SELECT count(*) FROM opportunities_triggerrun WHERE opportunity_id = ANY(%s)"
            " AND status <> 'done'",
            [opp_ids],
        )
        if (got := cur.fetchone()[0]) != 0:
            raise BenchmarkError(f"{got} trigger runs not done")
    if emails != n:
        raise BenchmarkError(f"{emails} emails for {n} purchases")


def _count_mail(mail_dir: str) -> int:
    return sum(
        p.read_text(errors="replace").count("\nSubject: ")
        + p.read_text(errors="replace").startswith("Subject: ")
        for p in Path(mail_dir).glob("*")
    )


def _pct(values: list[float], q: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, max(0, math.ceil(q * len(values)) - 1))]


@scenario("purchases")
def purchases(ctx: Context):
    n = PURCHASES_SMALL if ctx.small else PURCHASES
    n_ref = REFERENCE_SMALL if ctx.small else REFERENCE
    actor = User.objects.filter(is_superuser=True).order_by("id").first() or User.objects.first()
    if actor is None:
        raise BenchmarkError("the dataset has no users")
    marker = f"bench-purchase-{uuid.uuid4().hex[:8]}"
    actions = _config(marker)
    eager = celery_app.conf.task_always_eager
    queue = f"bench-purchases-{uuid.uuid4().hex}"
    try:
        link_ids = _rows(marker, n + n_ref, actor)
        ours_links, ref_links = link_ids[:n], link_ids[n:]
        # Reference: in-process, the tasks run eagerly at each purchase's commit.
        backend = settings.EMAIL_BACKEND
        settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
        ref_times = []
        try:
            _use_broker("memory://", queue, True)
            logging.getLogger("celery.app.trace").setLevel(logging.WARNING)
            for pk in ref_links:
                start = time.perf_counter()
                buy_now_purchase(
                    link=BuyNowLink(pk=pk),
                    name="Bench Buyer",
                    email="buyer@bench.test",
                    provider="manual",
                )
                ref_times.append(time.perf_counter() - start)
        finally:
            settings.EMAIL_BACKEND = backend
        ctx.log(
            f"purchases: reference {n_ref} in-process, "
            f"median {statistics.median(ref_times) * 1000:.0f} ms"
        )
        with tempfile.TemporaryDirectory() as mail_dir:
            _purge(queue)
            try:
                with _worker(queue, mail_dir, ROOT / "var" / "bench-purchases-worker.log"):
                    _use_broker(BROKER, queue, False)
                    ctx.log(
                        f"purchases: {n} purchases from {CLIENTS} clients, worker concurrency 2"
                    )
                    start = time.time()
                    got = _purchase_all(ours_links)
                    committed = {opp: t for _order, opp, t in got}
                    state = _wait_done(list(committed), actions, WAIT)
                    wall = time.time() - start
            finally:
                _use_broker(settings.CELERY_BROKER_URL, settings.CELERY_TASK_DEFAULT_QUEUE, eager)
                _purge(queue)
            emails = _count_mail(mail_dir)
        latencies = [max(0.0, float(state[opp][3]) - t) for opp, t in committed.items()]
        _verify(marker, list(committed), actions, emails)
    finally:
        TriggerAction.objects.filter(pk__in=[a.pk for a in actions]).update(
            archived_at=timezone.now()
        )
    p50, p99 = statistics.median(latencies), _pct(latencies, 0.99)
    r50, r99 = statistics.median(ref_times), _pct(ref_times, 0.99)
    ctx.notes.append(
        f"purchases: {n:,} purchases ({CLIENTS} clients, 1 worker × 2 processes) all done in "
        f"{wall:.1f} s; latency median {p50:.2f} s, p99 {p99:.2f} s; in-process reference "
        f"({n_ref} purchases) median {r50 * 1000:.0f} ms, p99 {r99 * 1000:.0f} ms; ratio p99 "
        f"{p99 / r99:.0f}×"
    )
    yield Check(
        f"purchases: {n:,} buy-now → actions done (p99)",
        Timing(p99, f"p99 of {n:,}"),
        Timing(r99, f"p99 of {n_ref} in-process"),
        "within",
        LIMIT,
        enforced=not ctx.small,
    )
