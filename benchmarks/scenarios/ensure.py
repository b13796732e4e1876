"""50 concurrent ``ensure`` clients (the Opportunities issue).

> 50 concurrent ensure clients: throughput at least 1/3 of a raw ``INSERT … ON CONFLICT DO
> NOTHING`` loop doing the same in the same run, with exactly one active opportunity per contact.

The work: ``CONTACTS`` contacts (their own, made in SQL for this scenario); each of 50 client
processes, with its own database connection, goes through every contact in its own shuffled order
(a fixed seed) and asks for that contact's opportunity. 50 × contacts calls in all: the first call
for a contact creates, the 49 others find it (or wait for it to be committed).

Each client is a process (forked, with its own connection), as real clients are (web and Celery
worker processes); threads of one interpreter would mostly measure its GIL.

* ours: ``opportunities.services.opportunity_ensure`` — the service the API and lead conversion
  call (the active-stage lookup; for a new deal the contact row lock, the re-check, the
  opportunity, its stage history, its audit event and its contact grant: one round trip,
  ``opportunities.ensure_sql``);
* reference: the same kind of clients, the same orders, one raw ``INSERT INTO bench_ensure_ref … ON
  CONFLICT (contact_id) DO NOTHING`` per call in autocommit on a table with a unique contact
  column: the cheapest way a database can promise one row per contact.

Throughput is calls per second of wall time; the target "ours ≥ 1/3 of the reference" is "our
wall time ≤ 3× the reference's". The runs alternate (ours, ref, ref, ours, ours, ref), each from
empty tables. After each of our runs: exactly one live opportunity per contact, in an active
stage, one "created" event and one stage history row each, its owner's contact grant (with
"share contact when assigned"), and every client got that opportunity back.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import random
import threading
import time

from django.db import connection, connections

from benchmarks.framework import BenchmarkError, Check, Context, Timing, scenario
from crm.models import Contact, User
from opportunities import services
from opportunities.models import Opportunity

CLIENTS = 50
CONTACTS = 400
CONTACTS_SMALL = 40
MARKER = "bench-ensure"
TARGET = 3.0


def _contacts(n: int) -> list[int]:
    """``n`` contacts of this scenario's own (made once, in SQL), owned by the bench reps."""
    with connection.cursor() as cur:
        cur.execute("SELECT count(*) FROM crm_contact WHERE last_name = %s", [MARKER])
        have = cur.fetchone()[0]
        if have < n:
            cur.execute(
                """
                INSERT INTO crm_contact (first_name, last_name, email, phone, owner_id,
                                         created_at, updated_at)
                SELECT 'Client ' || g, %s, 'ensure' || g || '@bench.test', '',
                       (SELECT id FROM crm_user ORDER BY id OFFSET (g %% 100) LIMIT 1),
                       now(), now()
                FROM generate_series(%s, %s) AS g
                """,
                [MARKER, have + 1, n],
            )
    return list(
        Contact.objects.filter(last_name=MARKER).order_by("id").values_list("pk", flat=True)[:n]
    )


def _reset(contact_ids: list[int]) -> None:
    """Empty tables for the next run (raw SQL: the audit log refuses ORM deletes by design)."""
    with connection.cursor() as cur:
        cur.execute(
            "CREATE TABLE IF NOT EXISTS bench_ensure_ref ("
            " id bigserial PRIMARY KEY, contact_id bigint NOT NULL UNIQUE,"
            " owner_id bigint NOT NULL, stage_id bigint NOT NULL, name varchar(200) NOT NULL,"
            " created_at timestamptz NOT NULL DEFAULT now())"
        )
        cur.execute("TRUNCATE bench_ensure_ref")
        for sql in (
            "DELETE FROM crm_event WHERE opportunity_id IN"
            " (SELECT id FROM opportunities_opportunity WHERE contact_id = ANY(%s))",
            "DELETE FROM opportunities_contactaccess WHERE contact_id = ANY(%s)",
            "DELETE FROM opportunities_opportunityshare WHERE opportunity_id IN"
            " (SELECT id FROM opportunities_opportunity WHERE contact_id = ANY(%s))",
            "DELETE FROM opportunities_stagechange WHERE opportunity_id IN"
            " (SELECT id FROM opportunities_opportunity WHERE contact_id = ANY(%s))",
        ):
            cur.execute(sql, [contact_ids])
        cur.execute(
            "DELETE FROM opportunities_opportunity WHERE contact_id = ANY(%s)", [contact_ids]
        )
        cur.execute("VACUUM ANALYZE opportunities_opportunity")
        cur.execute("VACUUM ANALYZE bench_ensure_ref")


def _orders(contact_ids: list[int]) -> list[list[int]]:
    orders = []
    for i in range(CLIENTS):
        order = list(contact_ids)
        random.Random(i).shuffle(order)
        orders.append(order)
    return orders


def _client(work, i: int, barrier, results) -> None:
    """One client process: its own database connection, released with the others."""
    connections.close_all()  # never share the parent's connection
    try:
        connection.ensure_connection()
        barrier.wait(timeout=120)
        results.put((i, work(i), None))
    except Exception as exc:
        barrier.abort()
        results.put((i, None, repr(exc)))
    finally:
        connections.close_all()


def _run_clients(work) -> tuple[float, list]:
    """Start ``CLIENTS`` processes that each call ``work(i)`` once, released together; returns
    the wall time and what each returned. Processes, not threads: real clients (web and Celery
    workers) are separate processes, and threads of one interpreter would measure its GIL.
    Any error fails the scenario."""
    ctx = multiprocessing.get_context("fork")
    barrier = ctx.Barrier(CLIENTS + 1)
    queue = ctx.Queue()
    connections.close_all()  # the children must not inherit an open connection
    procs = [ctx.Process(target=_client, args=(work, i, barrier, queue)) for i in range(CLIENTS)]
    for p in procs:
        p.start()
    with contextlib.suppress(threading.BrokenBarrierError):
        barrier.wait(timeout=120)  # broken when a client failed before the start: see below
    start = time.perf_counter()
    results: list = [None] * CLIENTS
    errors: list[str] = []
    for _ in procs:
        i, value, error = queue.get(timeout=600)
        results[i] = value
        if error:
            errors.append(error)
    seconds = time.perf_counter() - start
    for p in procs:
        p.join()
    if errors:
        raise BenchmarkError(f"{len(errors)} clients failed: {errors[0][:200]}")
    return seconds, results


def _ours(orders, actor: User) -> tuple[float, list]:
    contacts = {pk: Contact(pk=pk) for pk in orders[0]}

    def work(i: int) -> list[tuple[int, int, bool]]:  # runs in a client process
        got = []
        for pk in orders[i]:
            opp, created = services.opportunity_ensure(
                actor=actor, contact=contacts[pk], name=f"Deal {pk}"
            )
            got.append((pk, opp.pk, created))
        return got

    return _run_clients(work)


def _reference(orders, owner_id: int, stage_id: int) -> float:
    sql = (
        "INSERT INTO bench_ensure_ref (contact_id, owner_id, stage_id, name)"
        " VALUES (%s, %s, %s, %s) ON CONFLICT (contact_id) DO NOTHING"
    )

    def work(i: int) -> None:
        with connection.cursor() as cur:
            for pk in orders[i]:
                cur.execute(sql, [pk, owner_id, stage_id, f"Deal {pk}"])

    seconds, _ = _run_clients(work)
    with connection.cursor() as cur:
        cur.execute("SELECT count(*) FROM bench_ensure_ref")
        if cur.fetchone()[0] != len(orders[0]):
            raise BenchmarkError("the reference did not make one row per contact")
    return seconds


def _verify(contact_ids: list[int], results: list) -> None:
    active = services.active_stage_ids()
    live = Opportunity.objects.filter(contact_id__in=contact_ids, archived_at__isnull=True)
    per_contact = dict(live.values_list("contact_id", "pk"))
    if live.count() != len(contact_ids) or len(per_contact) != len(contact_ids):
        raise BenchmarkError(
            f"{live.count()} opportunities for {len(contact_ids)} contacts (expected one each)"
        )
    if live.exclude(stage_id__in=active).exists():
        raise BenchmarkError("an ensured opportunity is not in an active stage")
    created = sum(c for got in results for _pk, _opp, c in got)
    if created != len(contact_ids):
        raise BenchmarkError(f"{created} calls reported a creation for {len(contact_ids)} contacts")
    for got in results:
        for pk, opp_id, _created in got:
            if per_contact[pk] != opp_id:
                raise BenchmarkError(f"contact {pk}: a client got opportunity {opp_id}")
    with connection.cursor() as cur:
        cur.execute(
            "SELECT count(*) FROM crm_event WHERE kind = 'created' AND opportunity_id = ANY(%s)",
            [list(per_contact.values())],
        )
        if cur.fetchone()[0] != len(contact_ids):
            raise BenchmarkError("not exactly one 'created' event per opportunity")
        # The rest of a creation's rows (written in SQL by ``opportunities.ensure_sql``): one
        # stage history row each, and the owner's contact grant when the rule asks for it.
        cur.execute(
            "SELECT count(*) FROM opportunities_stagechange"
            " WHERE from_stage_id IS NULL AND opportunity_id = ANY(%s)",
            [list(per_contact.values())],
        )
        if cur.fetchone()[0] != len(contact_ids):
            raise BenchmarkError("not exactly one stage history row per opportunity")
        cur.execute(
            "SELECT count(*) FROM opportunities_contactaccess a"
            " JOIN opportunities_opportunity o ON o.id = a.opportunity_id"
            " WHERE a.reason = 'assigned' AND a.user_id = o.owner_id AND o.id = ANY(%s)",
            [list(per_contact.values())],
        )
        grants = (
            len(contact_ids)
            if services.opportunity_settings_get().share_contact_when_assigned
            else 0
        )
        if cur.fetchone()[0] != grants:
            raise BenchmarkError(f"not {grants} contact grants to the owners")


@scenario("ensure")
def ensure(ctx: Context):
    n = CONTACTS_SMALL if ctx.small else CONTACTS
    contact_ids = _contacts(n)
    orders = _orders(contact_ids)
    actor = User.objects.order_by("id").first()
    if actor is None:
        raise BenchmarkError("the dataset has no users")
    settings = services.opportunity_settings_get()
    default_stage = settings.default_stage_id
    calls = CLIENTS * n
    ctx.log(f"ensure: {CLIENTS} clients × {n:,} contacts = {calls:,} calls per run")

    ours, ref = [], []
    plan = []
    for i in range(ctx.repeat):
        plan += ["ours", "ref"] if i % 2 == 0 else ["ref", "ours"]
    for run, which in enumerate(plan):
        _reset(contact_ids)
        if which == "ours":
            seconds, results = _ours(orders, actor)
            _verify(contact_ids, results)
            ours.append(seconds)
        else:
            ref.append(_reference(orders, actor.pk, default_stage))
        seconds = (ours if which == "ours" else ref)[-1]
        ctx.log(f"ensure: run {run + 1} {which:4}: {seconds:.2f} s, {calls / seconds:,.0f} calls/s")
    _reset(contact_ids)
    o, r = Timing.median(ours), Timing.median(ref)
    ctx.notes.append(
        f"ensure: ours {calls / o.seconds:,.0f} calls/s, raw INSERT … ON CONFLICT "
        f"{calls / r.seconds:,.0f} calls/s ({CLIENTS} clients, {n:,} contacts; one opportunity "
        "per contact checked after every run of ours)"
    )
    yield Check("ensure: 50 clients vs INSERT … ON CONFLICT", o, r, "at_most", TARGET)
