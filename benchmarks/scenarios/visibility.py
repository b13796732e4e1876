"""A rep's contact list under the sharing rules (the Sharing issue).

> A rep's contact list (50 rows) on 1,000,000 contacts with sharing rows: median at most 3× the
> hand-written SQL of the same visibility in the same run; the plan uses indexes (EXPLAIN shows no
> sequential scan of the big tables).

The data (built once in SQL, reused while its marker matches): ``CONTACTS`` contacts spread over
the 100 bench reps; an opportunity for every 4th contact, owned by another rep, which the rules
turn into an "assigned" contact grant; one opportunity in 5 shared with a third rep (a "shared"
grant). So a rep owns ~1 % of the contacts and is granted ~0.5 % more.

* ours: the first page of the contact list as the pages and the API build it:
  ``crm.selectors.contact_list(user=rep)`` (``crm.access.visible_contacts``, with its owner,
  account and rating joined and its tags prefetched), 50 rows in the list's order;
* reference: one hand-written statement of the same visibility (owned UNION granted ids), the
  same order and limit, through a bare cursor.

Both alternate over 15 runs for each of 5 reps (median). Then ``EXPLAIN`` of our statement must
show no sequential scan of contacts, grants, shares or opportunities.
"""

from __future__ import annotations

import json
import statistics

from django.db import connection

from benchmarks.framework import BenchmarkError, Check, Context, Timing, scenario, timed
from crm import selectors
from crm.models import User

CONTACTS = 1_000_000
CONTACTS_SMALL = 20_000
VERSION = 1
RUNS = 15
REPS = 5
BIG_TABLES = {
    "crm_contact",
    "opportunities_contactaccess",
    "opportunities_opportunityshare",
    "opportunities_opportunity",
}

REFERENCE = """
SELECT c.id, c.first_name, c.last_name, c.email
FROM crm_contact c
WHERE c.archived_at IS NULL
  AND c.id IN (SELECT id FROM crm_contact WHERE owner_id = %(rep)s
               UNION
               SELECT contact_id FROM opportunities_contactaccess WHERE user_id = %(rep)s)
ORDER BY c.last_name, c.first_name, c.id
LIMIT 50
"""

LAST_NAMES = [
    "García", "Fernández", "López", "Martínez", "Sánchez", "Pérez", "Gómez", "Martín", "Jiménez",
    "Ruiz", "Hernández", "Díaz", "Moreno", "Müller", "Schmidt", "Rossi", "Bianchi", "Dubois",
    "Silva", "Santos", "Jansen", "de Vries", "Novak", "Kowalski",
]  # fmt: skip


def _scalar(sql: str, params=None):
    with connection.cursor() as cur:
        cur.execute(sql, params)
        row = cur.fetchone()
    return row[0] if row else None


def _build(n: int, log) -> None:
    names = "ARRAY[" + ", ".join("%s" for _ in LAST_NAMES) + "]"
    with connection.cursor() as cur:
        cur.execute("CREATE TABLE IF NOT EXISTS bench_visibility (n int, version int)")
        cur.execute("SELECT n, version FROM bench_visibility")
        if cur.fetchone() == (n, VERSION):
            return
        log(f"visibility: building {n:,} contacts with opportunities and grants (SQL)")
        cur.execute(
            "DELETE FROM opportunities_contactaccess WHERE contact_id IN"
            " (SELECT id FROM crm_contact WHERE email LIKE '%%@vis.bench')"
        )
        cur.execute(
            "DELETE FROM opportunities_opportunityshare WHERE opportunity_id IN"
            " (SELECT o.id FROM opportunities_opportunity o JOIN crm_contact c"
            "  ON c.id = o.contact_id WHERE c.email LIKE '%%@vis.bench')"
        )
        cur.execute(
            "DELETE FROM opportunities_opportunity WHERE contact_id IN"
            " (SELECT id FROM crm_contact WHERE email LIKE '%%@vis.bench')"
        )
        cur.execute("DELETE FROM crm_contact WHERE email LIKE '%%@vis.bench'")
        cur.execute(
            "SELECT array_agg(id ORDER BY id) FROM crm_user WHERE username LIKE 'bench-rep-%%'"
        )
        reps = cur.fetchone()[0]
        if not reps:
            raise BenchmarkError("the bench reps are missing")
        cur.execute("SELECT default_stage_id FROM opportunities_opportunitysettings WHERE id = 1")
        stage = cur.fetchone()[0]
        cur.execute(
            f"""
            INSERT INTO crm_contact (first_name, last_name, email, phone, owner_id,
                                     created_at, updated_at)
            SELECT 'Client ' || g,
                   ({names})[1 + (hashtext('ln' || g) & 2147483647) %% {len(LAST_NAMES)}],
                   'c' || g || '@vis.bench', '',
                   (%s::bigint[])[1 + g %% array_length(%s::bigint[], 1)],
                   now(), now()
            FROM generate_series(1, %s) AS g
            """,  # noqa: S608 (only a placeholder list and a constant are formatted in)
            [*LAST_NAMES, reps, reps, n],
        )
        cur.execute(
            """
            INSERT INTO opportunities_opportunity (name, contact_id, owner_id, stage_id, amount,
                status, stage_entered_at, in_active_stage, created_at, updated_at)
            SELECT 'Deal ' || c.id, c.id,
                   (%s::bigint[])[1 + (c.id * 7) %% array_length(%s::bigint[], 1)],
                   %s, 1000, 'open', now(), true, now(), now()
            FROM crm_contact c WHERE c.email LIKE '%%@vis.bench' AND c.id %% 4 = 0
            """,
            [reps, reps, stage],
        )
        cur.execute(
            """
            INSERT INTO opportunities_contactaccess (contact_id, user_id, reason, opportunity_id,
                                                     created_at)
            SELECT o.contact_id, o.owner_id, 'assigned', o.id, now()
            FROM opportunities_opportunity o JOIN crm_contact c ON c.id = o.contact_id
            WHERE c.email LIKE '%%@vis.bench' AND o.owner_id <> c.owner_id
            """
        )
        cur.execute(
            """
            WITH s AS (
                SELECT o.id AS opp, o.contact_id,
                       (%s::bigint[])[1 + (o.id * 13) %% array_length(%s::bigint[], 1)] AS usr
                FROM opportunities_opportunity o JOIN crm_contact c ON c.id = o.contact_id
                WHERE c.email LIKE '%%@vis.bench' AND o.id %% 5 = 0
            ), shares AS (
                INSERT INTO opportunities_opportunityshare (opportunity_id, user_id, created_at)
                SELECT opp, usr, now() FROM s ON CONFLICT DO NOTHING
            )
            INSERT INTO opportunities_contactaccess (contact_id, user_id, reason, opportunity_id,
                                                     created_at)
            SELECT contact_id, usr, 'shared', opp, now() FROM s ON CONFLICT DO NOTHING
            """,
            [reps, reps],
        )
        cur.execute("DELETE FROM bench_visibility")
        cur.execute("INSERT INTO bench_visibility VALUES (%s, %s)", [n, VERSION])
    with connection.cursor() as cur:
        for table in sorted(BIG_TABLES):
            cur.execute(f"VACUUM ANALYZE {table}")


def _seq_scans(plan: dict) -> list[str]:
    found = []
    if plan.get("Node Type") == "Seq Scan" and plan.get("Relation Name") in BIG_TABLES:
        found.append(plan["Relation Name"])
    for child in plan.get("Plans", []):
        found += _seq_scans(child)
    return found


@scenario("visibility")
def visibility(ctx: Context):
    n = CONTACTS_SMALL if ctx.small else CONTACTS
    _build(n, ctx.log)
    total = _scalar("SELECT count(*) FROM crm_contact")
    grants = _scalar("SELECT count(*) FROM opportunities_contactaccess")
    reps = list(User.objects.filter(username__startswith="bench-rep-").order_by("id")[:REPS])
    ctx.log(f"visibility: {total:,} contacts, {grants:,} grants, {len(reps)} reps")

    def ours(rep):
        rows = list(selectors.contact_list(user=rep).order_by("last_name", "first_name", "id")[:50])
        return rows

    def ref(rep):
        with connection.cursor() as cur:
            cur.execute(REFERENCE, {"rep": rep.pk})
            return cur.fetchall()

    ours_t, ref_t = [], []
    for rep in reps:
        got = [c.pk for c in ours(rep)]
        want = [r[0] for r in ref(rep)]
        if got != want:
            raise BenchmarkError(f"rep {rep.pk}: the list differs from the reference")
        for i in range(RUNS):
            pair = [("ours", ours), ("ref", ref)] if i % 2 == 0 else [("ref", ref), ("ours", ours)]
            for which, fn in pair:
                seconds = timed(lambda fn=fn, rep=rep: fn(rep))
                (ours_t if which == "ours" else ref_t).append(seconds)

    qs = selectors.contact_list(user=reps[0]).order_by("last_name", "first_name", "id")[:50]
    plan = json.loads(qs.explain(format="json"))[0]["Plan"]
    scans = sorted(set(_seq_scans(plan)))
    if scans and not ctx.small:
        raise BenchmarkError(f"sequential scan of {', '.join(scans)}")
    if scans:  # on 20,000 rows a sequential scan is the planner's right choice
        ctx.notes.append(f"visibility (--small): the plan scans {', '.join(scans)} sequentially")
    else:
        ctx.log("visibility: EXPLAIN shows no sequential scan of the big tables")
    ctx.notes.append(
        f"visibility: {total:,} contacts, {grants:,} grant rows; ours p50 "
        f"{statistics.median(ours_t) * 1000:.1f} ms, hand-written SQL p50 "
        f"{statistics.median(ref_t) * 1000:.1f} ms ({len(reps)} reps × {RUNS} runs)"
    )
    yield Check(
        "visibility: rep's contact list (50 rows)",
        Timing.median(ours_t),
        Timing.median(ref_t),
        "at_most",
        3.0,
    )
