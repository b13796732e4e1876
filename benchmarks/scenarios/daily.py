"""The pages a rep and an admin use all day, timed as server time (issue #9).

> Performance: Search p95 ≤ 300 ms and list/board pages p95 ≤ 200 ms server time with 10,000
> opportunities and 50,000 contacts.

The data (built once in SQL, reused while its marker matches the size, the builder's version and
today's date: the tasks' due dates are relative to the day they were built): ``CONTACTS``
contacts over the 100 bench reps, each with an account (one per 10 contacts) and a phone in one of
five formats (or none); an opportunity for every 5th contact (``OPPORTUNITIES``), owned by the
contact's rep or another one (an "assigned" grant), spread over the six stages (won and lost
closed), every 5th one shared with a third rep; open tasks overdue, due today and later (and done
ones) on 60 % of the opportunities, on some contacts and on 2 % of the shared dataset's leads, so
that the next-activity badges, ``?next_activity=none`` and ``?rotting=true`` have work. The active
stages get a ``rot_days`` when they have none.

Timed: each URL requested through Django's test ``Client`` in this process (the whole request
handling: middleware, session, view, queries, template), as a bench rep and as an admin, after two
warm-up requests; p50 and p95 of the wall times. Search p95 must be at most 300 ms, pages at most
200 ms: absolute limits (``Check`` kind ``within``). ``--small`` runs everything on a tenth of the
data with fewer iterations, so CI keeps the code path alive.
"""

from __future__ import annotations

import statistics
import time
import warnings
from urllib.parse import urlencode

from django.conf import settings
from django.db import connection, reset_queries
from django.test import Client, override_settings
from django.test.utils import CaptureQueriesContext

from benchmarks import dataset
from benchmarks.dataset import ADMIN_USERNAME
from benchmarks.framework import BenchmarkError, Check, Context, Timing, scenario
from crm.models import User

CONTACTS = 50_000
CONTACTS_SMALL = 5_000
VERSION = 3  # 3: choices by hash, spread over every rep (2: by id modulo: one stage a rep)
ITERATIONS = 30
ITERATIONS_SMALL = 5
WARMUP = 2
SEARCH_LIMIT = 0.300
PAGE_LIMIT = 0.200
#: Marks the scenario's rows: contacts' e-mail domain, accounts' name, tasks' title.
DOMAIN = "daily.bench"

FIRST_NAMES = [
    "Lucía", "María", "Carmen", "Ana", "Laura", "Javier", "Carlos", "José", "Miguel", "David",
    "Sofía", "Elena", "Pablo", "Jorge", "Marta", "Anna", "Peter", "Julia", "Marco", "Chloé",
]  # fmt: skip
LAST_NAMES = [
    "García", "Fernández", "López", "Martínez", "Sánchez", "Pérez", "Gómez", "Martín", "Jiménez",
    "Ruiz", "Hernández", "Díaz", "Moreno", "Müller", "Schmidt", "Rossi", "Bianchi", "Dubois",
    "Silva", "Santos", "Jansen", "de Vries", "Novak", "Kowalski", "Núñez", "Castillo",
]  # fmt: skip
COMPANY_WORDS = [
    "Norbridge", "Altamira", "Bluepeak", "Cobalto", "Duna", "Estrella", "Fjord", "Granada",
    "Helios", "Iberia", "Jade", "Kestrel", "Lumen", "Meridian", "Nimbus", "Orion",
]  # fmt: skip
COMPANY_KINDS = ["Logistics", "Software", "Foods", "Energía", "Consulting", "Textiles", "Labs"]
STAGE_NAMES = ["Prospecting", "Negotiation", "Proposal", "Renewal", "Upsell", "Pilot"]

SEARCHES = [
    ("surname", "ernánd"),  # Fernández, Hernández: a fragment, accents folded
    ("company", "bridge"),  # Norbridge …
    ("email", "c4242"),  # c4242@…, c42420@… …
    ("phone", None),  # digits of a phone of the dataset, found at run time
]


def _array(values: list[str]) -> str:
    return "ARRAY[" + ", ".join("'" + v.replace("'", "''") + "'" for v in values) + "]::text[]"


def _h(expr: str, salt: int) -> str:
    """A non-negative hash of ``expr`` (an integer): choices made with it are spread over every
    rep. Plain ``id %% k`` would not be: a rep owns the contacts whose number is the rep's modulo
    100, so ``id %% 5`` (or 10, 20…) is the same for all of one rep's rows."""
    return f"(hashint8(({expr}) * 31 + {salt})::bigint + 2147483648)"


def _pick(values: list[str], expr: str, salt: int) -> str:
    """SQL picking one of ``values`` by hashing ``expr`` (deterministic; ``%%``: parameters)."""
    return f"({_array(values)})[1 + {_h(expr, salt)} %% {len(values)}]"


def _phone(d: str, g: str) -> str:
    """One of five phone formats of the 9 digits ``d`` (or none), by ``g``."""
    return f"""CASE {_h(g, 7)} %% 5
        WHEN 0 THEN '+34 ' || substr({d}, 1, 3) || ' ' || substr({d}, 4, 2) || ' '
                    || substr({d}, 6, 2) || ' ' || substr({d}, 8, 2)
        WHEN 1 THEN substr({d}, 1, 3) || '-' || substr({d}, 4, 3) || '-' || substr({d}, 7, 3)
        WHEN 2 THEN '(' || substr({d}, 1, 3) || ') ' || substr({d}, 4)
        WHEN 3 THEN {d}
        ELSE '' END"""


def _scalar(sql: str, params=None):
    with connection.cursor() as cur:
        cur.execute(sql, params)
        row = cur.fetchone()
    return row[0] if row else None


def _ready(n: int) -> bool:
    marker = _scalar(
        "SELECT n || ':' || version || ':' || built_on FROM bench_daily"
        " WHERE built_on = current_date"
    )
    if marker != f"{n}:{VERSION}:{_scalar('SELECT current_date')}":
        return False
    contacts = _scalar("SELECT count(*) FROM crm_contact WHERE email LIKE %s", [f"%@%.{DOMAIN}"])
    return contacts == n


def _delete(cur) -> None:
    # Constants only are formatted into these statements (S608).
    mine = f"(SELECT id FROM crm_contact WHERE email LIKE '%%@%%.{DOMAIN}')"  # noqa: S608
    opps = f"(SELECT id FROM opportunities_opportunity WHERE contact_id IN {mine})"  # noqa: S608
    for statement in (
        f"DELETE FROM crm_task WHERE title LIKE '{DOMAIN}: %%'",  # noqa: S608
        f"DELETE FROM opportunities_contactaccess WHERE contact_id IN {mine}",  # noqa: S608
        f"DELETE FROM opportunities_opportunityshare WHERE opportunity_id IN {opps}",  # noqa: S608
        f"DELETE FROM opportunities_opportunity WHERE id IN {opps}",  # noqa: S608
        f"DELETE FROM crm_contact WHERE id IN {mine}",  # noqa: S608
        f"DELETE FROM crm_account WHERE name LIKE '%% #{DOMAIN}'",  # noqa: S608
    ):
        cur.execute(statement, [])


def _build(n: int, log) -> None:
    with connection.cursor() as cur:
        cur.execute("CREATE TABLE IF NOT EXISTS bench_daily (n int, version int, built_on date)")
    if _ready(n):
        return
    log(f"daily: building {n:,} contacts, {n // 5:,} opportunities, tasks and grants (SQL)")
    with connection.cursor() as cur:
        _delete(cur)
        cur.execute(
            "SELECT array_agg(id ORDER BY id) FROM crm_user WHERE username LIKE 'bench-rep-%%'"
        )
        reps = cur.fetchone()[0]
        if not reps:
            raise BenchmarkError("the bench reps are missing")
        cur.execute(
            'SELECT array_agg(id ORDER BY "order") FROM opportunities_stage'
            " WHERE archived_at IS NULL"
        )
        stages = cur.fetchone()[0]
        cur.execute(
            "SELECT win_stage_id, loss_stage_id FROM opportunities_opportunitysettings WHERE id = 1"
        )
        won, lost = cur.fetchone()
        active = [s for s in stages if s not in (won, lost)]
        if len(active) < 2 or won is None or lost is None:
            raise BenchmarkError("the pipeline needs active, won and lost stages")
        a = (active * 4)[:4]  # the first four active stages (repeated when there are fewer)
        buckets = [a[0], a[0], a[0], a[1], a[1], a[2], a[2], a[3], won, lost]
        # Rotting needs a stage limit: 14 days on the active stages that have none.
        cur.execute(
            "UPDATE opportunities_stage SET rot_days = 14 WHERE rot_days IS NULL AND id = ANY(%s)",
            [active],
        )
        rep = "(%(reps)s::bigint[])[1 + ({x}) %% array_length(%(reps)s::bigint[], 1)]"
        cur.execute(
            f"""
            INSERT INTO crm_account (name, industry, country, company_size, owner_id,
                                     created_at, updated_at)
            SELECT {_pick(COMPANY_WORDS, "g", 1)} || ' ' || {_pick(COMPANY_KINDS, "g", 2)}
                   || ' ' || g || ' #{DOMAIN}', '', '', '', {rep.format(x="g")}, now(), now()
            FROM generate_series(1, %(accounts)s) AS g
            """,  # noqa: S608 (constants and placeholders only)
            {"reps": reps, "accounts": max(n // 10, 1)},
        )
        digits = "(600000000 + (g * 7919) %% 100000000)::text"
        cur.execute(
            f"""
            INSERT INTO crm_contact (first_name, last_name, email, phone, owner_id, account_id,
                                     created_at, updated_at)
            SELECT {_pick(FIRST_NAMES, "g", 3)}, {_pick(LAST_NAMES, "g", 4)},
                   'c' || g || '@' || {_pick(["acme", "globex", "initech", "umbrella"], "g", 5)}
                   || '.{DOMAIN}',
                   {_phone(digits, "g")}, {rep.format(x="g")},
                   a.ids[1 + g %% array_length(a.ids, 1)],
                   now() - (g %% 400) * interval '1 day', now()
            FROM generate_series(1, %(n)s) AS g,
                 (SELECT array_agg(id ORDER BY id) AS ids FROM crm_account
                  WHERE name LIKE '%% #{DOMAIN}') AS a
            """,  # noqa: S608
            {"reps": reps, "n": n},
        )
        # Every 5th contact has a deal: the contact's rep's own for 2 in 3, another rep's
        # otherwise. Stages: 30 / 20 / 20 / 10 % over the first four active ones (or fewer),
        # 10 % won, 10 % lost; entered up to 60 days ago (a 14-day rot limit: many rot).
        cur.execute(
            f"""
            INSERT INTO opportunities_opportunity (name, contact_id, owner_id, stage_id, amount,
                status, closed_at, stage_entered_at, in_active_stage, created_at, updated_at)
            SELECT 'Deal ' || s.company || ' ' || s.id, s.id, s.owner, s.stage,
                   1000 + (s.id %% 97) * 250,
                   CASE s.stage WHEN %(won)s THEN 'won' WHEN %(lost)s THEN 'lost' ELSE 'open' END,
                   CASE WHEN s.stage IN (%(won)s, %(lost)s) THEN s.entered END,
                   s.entered, s.stage NOT IN (%(won)s, %(lost)s), s.entered, now()
            FROM (
                SELECT c.id, split_part(a.name, ' ', 1) AS company,
                       CASE WHEN {_h("c.id", 8)} %% 3 = 0 THEN {rep.format(x=_h("c.id", 9))}
                            ELSE c.owner_id END AS owner,
                       (%(buckets)s::bigint[])[1 + {_h("c.id", 10)} %% 10] AS stage,
                       now() - ((c.id * 13) %% 60) * interval '1 day' AS entered
                FROM crm_contact c JOIN crm_account a ON a.id = c.account_id
                WHERE c.email LIKE '%%@%%.{DOMAIN}'
                ORDER BY {_h("c.id", 11)} LIMIT %(deals)s
            ) AS s
            """,  # noqa: S608
            {"reps": reps, "buckets": buckets, "won": won, "lost": lost, "deals": n // 5},
        )
        mine = f"c.email LIKE '%%@%%.{DOMAIN}'"
        cur.execute(
            f"""
            INSERT INTO opportunities_contactaccess (contact_id, user_id, reason, opportunity_id,
                                                     created_at)
            SELECT o.contact_id, o.owner_id, 'assigned', o.id, now()
            FROM opportunities_opportunity o JOIN crm_contact c ON c.id = o.contact_id
            WHERE {mine} AND o.owner_id <> c.owner_id
            ON CONFLICT DO NOTHING
            """,  # noqa: S608
            [],
        )
        cur.execute(
            f"""
            WITH s AS (
                SELECT o.id AS opp, o.contact_id, {rep.format(x=_h("o.id", 13))} AS usr
                FROM opportunities_opportunity o JOIN crm_contact c ON c.id = o.contact_id
                WHERE {mine} AND {_h("o.id", 12)} %% 5 = 0
            ), shares AS (
                INSERT INTO opportunities_opportunityshare (opportunity_id, user_id, created_at)
                SELECT opp, usr, now() FROM s ON CONFLICT DO NOTHING
            )
            INSERT INTO opportunities_contactaccess (contact_id, user_id, reason, opportunity_id,
                                                     created_at)
            SELECT contact_id, usr, 'shared', opp, now() FROM s ON CONFLICT DO NOTHING
            """,  # noqa: S608
            {"reps": reps},
        )
        # Tasks: for 6 deals in 10, one open task (overdue, today or later: a third each) and,
        # for half of them, a done one; for every 10th contact and every 50th lead an open one.
        due = (
            f"current_date + (CASE {_h('x', 17)} %% 3 WHEN 0 THEN -1 - x %% 20 WHEN 1 THEN 0"
            " ELSE 1 + x %% 30 END)::int"
        )
        cur.execute(
            f"""
            INSERT INTO crm_task (title, kind, due_on, done, completed_at, note, created_at,
                                  updated_at, opportunity_id, owner_id, is_follow_up, priority)
            SELECT '{DOMAIN}: call about ' || o.name, 'call', {due.replace("x", "o.id")},
                   false, NULL, '', now(), now(), o.id, o.owner_id, false, 0
            FROM opportunities_opportunity o JOIN crm_contact c ON c.id = o.contact_id
            WHERE {mine} AND {_h("o.id", 14)} %% 10 < 6
            UNION ALL
            SELECT '{DOMAIN}: sent the proposal', 'email', current_date - 3, true,
                   now() - ((o.id * 11) %% 30) * interval '1 day', '', now(), now(), o.id,
                   o.owner_id, false, 0
            FROM opportunities_opportunity o JOIN crm_contact c ON c.id = o.contact_id
            WHERE {mine} AND {_h("o.id", 14)} %% 10 < 3
            """,  # noqa: S608
            [],
        )
        cur.execute(
            f"""
            INSERT INTO crm_task (title, kind, due_on, done, note, created_at, updated_at,
                                  contact_id, owner_id, is_follow_up, priority)
            SELECT '{DOMAIN}: follow up', 'todo', {due.replace("x", "c.id")}, false, '', now(),
                   now(), c.id, c.owner_id, false, 0
            FROM crm_contact c WHERE {mine} AND {_h("c.id", 15)} %% 10 = 0
            """,  # noqa: S608
            [],
        )
        cur.execute(
            f"""
            INSERT INTO crm_task (title, kind, due_on, done, note, created_at, updated_at,
                                  lead_id, owner_id, is_follow_up, priority)
            SELECT '{DOMAIN}: first call', 'call', {due.replace("x", "l.id")}, false, '', now(),
                   now(), l.id, l.owner_id, false, 0
            FROM leads_lead l WHERE {_h("l.id", 16)} %% 50 = 0
            """,  # noqa: S608
            [],
        )
        dataset.ensure_admin(cur)
        cur.execute("DELETE FROM bench_daily")
        cur.execute("INSERT INTO bench_daily VALUES (%s, %s, current_date)", [n, VERSION])
    with connection.cursor() as cur:
        for table in (
            "crm_account",
            "crm_contact",
            "crm_task",
            "opportunities_opportunity",
            "opportunities_opportunityshare",
            "opportunities_contactaccess",
        ):
            cur.execute(f"VACUUM ANALYZE {table}")


def _phone_digits() -> str:
    """Six digits from the middle of a phone of the dataset (``600-112-233`` → ``011223``)."""
    digits = _scalar(
        "SELECT regexp_replace(phone, '\\D', '', 'g') FROM crm_contact"
        " WHERE email LIKE %s AND phone <> '' ORDER BY id OFFSET 777 LIMIT 1",
        [f"%@%.{DOMAIN}"],
    )
    if not digits:
        raise BenchmarkError("daily: no phone in the dataset")
    return digits[-7:-1]


def _urls(phone: str) -> list[tuple[str, str, float]]:
    """(label, URL, limit in seconds)."""
    urls = []
    for what, q in SEARCHES:
        q = q or phone
        urls.append((f"search page, {what}", "/search/?" + urlencode({"q": q}), SEARCH_LIMIT))
        urls.append((f"API search, {what}", "/api/v1/search/?" + urlencode({"q": q}), SEARCH_LIMIT))
    urls += [
        ("opportunity list", "/opportunities/", PAGE_LIMIT),
        ("opportunity list, no next activity", "/opportunities/?next_activity=none", PAGE_LIMIT),
        ("opportunity list, rotting", "/opportunities/?rotting=true", PAGE_LIMIT),
        ("pipeline board", "/opportunities/board/", PAGE_LIMIT),
        ("lead list", "/leads/", PAGE_LIMIT),
        ("lead list, no next activity", "/leads/?next_activity=none", PAGE_LIMIT),
        ("contact list", "/contacts/", PAGE_LIMIT),
    ]
    return urls


def _p95(samples: list[float]) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, max(0, round(0.95 * len(ordered)) - 1))]


#: No collectstatic here: static URLs from the source folders (a production manifest lookup is one
#: dict access, so this changes no timing).
STATIC_FROM_FOLDERS = {
    **settings.STORAGES,
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}


@scenario("daily")
def daily(ctx: Context):
    with override_settings(STORAGES=STATIC_FROM_FOLDERS), warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="No directory at", module="django")
        yield from _daily(ctx)


def _daily(ctx: Context):
    n = CONTACTS_SMALL if ctx.small else CONTACTS
    iterations = ITERATIONS_SMALL if ctx.small else ITERATIONS
    _build(n, ctx.log)
    counts = {
        "contacts": _scalar("SELECT count(*) FROM crm_contact WHERE archived_at IS NULL"),
        "opportunities": _scalar(
            "SELECT count(*) FROM opportunities_opportunity WHERE archived_at IS NULL"
        ),
        "leads": _scalar("SELECT count(*) FROM leads_lead"),
        "open tasks": _scalar("SELECT count(*) FROM crm_task WHERE NOT done"),
    }
    ctx.log("daily: " + ", ".join(f"{v:,} {k}" for k, v in counts.items()))
    # The process as the server prepares its own (crm/wsgi.py): what exists now is frozen out of
    # the garbage collector's full passes, which walked it on every few requests (50-70 ms).
    from crm.wsgi import freeze_startup_heap

    freeze_startup_heap()
    rep = User.objects.filter(username__startswith="bench-rep-").order_by("id").first()
    admin = User.objects.get(username=ADMIN_USERNAME)
    phone = _phone_digits()
    for who, user in (("rep", rep), ("admin", admin)):
        client = Client(HTTP_HOST="localhost")
        client.force_login(user)
        for label, url, limit in _urls(phone):
            samples = []
            for i in range(WARMUP + iterations):
                reset_queries()
                start = time.perf_counter()
                if i == 0:  # a warm-up request: counting queries costs a little
                    with CaptureQueriesContext(connection) as queries:
                        response = client.get(url, secure=True)
                    query_count = len(queries)
                else:
                    response = client.get(url, secure=True)
                seconds = time.perf_counter() - start
                if response.status_code != 200:
                    raise BenchmarkError(f"daily: {who} GET {url}: {response.status_code}")
                if i >= WARMUP:
                    samples.append(seconds)
            p50, p95 = statistics.median(samples), _p95(samples)
            ctx.log(
                f"daily: {who:5} {label:38} p50 {p50 * 1000:6.1f} ms  p95 {p95 * 1000:6.1f} ms"
                f"  {query_count} queries"
            )
            yield Check(
                f"daily: {label} ({who}, p95)",
                Timing(p95, f"p50 {p50 * 1000:.0f} ms, {len(samples)} requests"),
                None,
                "within",
                limit,
            )
