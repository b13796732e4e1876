"""The contact list under the sharing rules and the disqualification report, through a real HTTP
server (issue #10).

> rep's contact list API, 50 rows, sharing on | ref: hand-written visibility SQL, served the same
> bare way | target ours ≤ 3×
> disqualification report API | ref: raw GROUP BY, served the same bare way | ≤ 1.3× + 5 ms

Both on the shared dataset (``benchmarks.dataset``: 200,000 contacts of the 100 reps, 100,000
deals, a third of them owned by another rep than the contact's, 1 in 5 shared with a third rep,
and the contact grants the sharing rules give for them; ~117,000 disqualification decisions of
the 1,000,000 leads), served by gunicorn (2 sync workers) and loaded with ``wrk`` like
``scenarios/api.py``, ours and the reference alternating, the median of the p50s.

* ``api-contacts``: ``GET /api/v1/contacts/?page_size=50`` with the first bench rep's token (its
  contacts and the ones granted to it, newest first: the API's cursor order). Reference: one
  hand-written statement of the same visibility (``id IN (owned UNION granted)``), the
  serializer's columns (tags as an array), the same order and limit, rows → ``json.dumps`` by the
  bare WSGI function of ``benchmarks.wsgi``. Ours and the reference must list the same 50 ids.
* ``api-report``: ``GET /api/v1/reports/disqualification/?since=…&until=…`` (a year, by reason)
  as the first bench rep (their leads' decisions) and as an admin (every decision). Reference:
  the raw ``GROUP BY`` of the standing decisions in the range (joined to the rep's leads for the
  rep), served bare. Ours and the reference must give the same count per reason, and our total
  must be their sum.
"""

from __future__ import annotations

import datetime as dt

from django.db import connection
from django.utils import timezone
from rest_framework.authtoken.models import Token

from benchmarks import dataset
from benchmarks.dataset import ADMIN_USERNAME
from benchmarks.framework import BenchmarkError, Check, Context, scenario
from benchmarks.http import Server
from benchmarks.scenarios.api import _median
from crm.models import User

CONTACTS_PATH = "/api/v1/contacts/?page_size=50"
SINCE, UNTIL = dt.date(2024, 1, 1), dt.date(2024, 12, 31)
REPORT_PATH = f"/api/v1/reports/disqualification/?since={SINCE}&until={UNTIL}&group_by=reason"

# The contact list's visibility written by hand (%(rep)s: an integer, formatted in).
CONTACTS_SQL = """
SELECT c.id, c.first_name, c.last_name, c.email, c.phone, c.account_id AS account,
       c.owner_id AS owner,
       ARRAY(SELECT t.name FROM crm_contact_tags ct JOIN crm_tag t ON t.id = ct.tag_id
             WHERE ct.contact_id = c.id ORDER BY t.name) AS tags,
       c.rating_id AS rating, c.created_at, c.updated_at
FROM crm_contact c
WHERE c.archived_at IS NULL
  AND c.id IN (SELECT id FROM crm_contact WHERE owner_id = {rep}
               UNION
               SELECT contact_id FROM opportunities_contactaccess WHERE user_id = {rep})
ORDER BY c.id DESC
LIMIT 50
"""

# The report's raw GROUP BY: standing decisions (not superseded) in [start, end), by reason.
REPORT_SQL = """
SELECT d.reason_id AS key, r.name AS label, count(*) AS count
FROM leads_leaddisqualification d
LEFT JOIN leads_disqualificationreason r ON r.id = d.reason_id
WHERE d.superseded_at IS NULL AND d.at >= '{start}' AND d.at < '{end}'{rep_filter}
GROUP BY d.reason_id, r.name
ORDER BY count(*) DESC
"""
REP_FILTER = "\n  AND d.lead_id IN (SELECT id FROM leads_lead WHERE owner_id = {rep})"


def report_sql(rep_id: int | None) -> str:
    """The reference of the report for a rep (their leads) or, with None, an admin (every lead):
    the range's bounds as ``leads.selectors`` computes them, in the current time zone."""
    tz = timezone.get_current_timezone()
    start = dt.datetime.combine(SINCE, dt.time.min, tzinfo=tz)
    end = dt.datetime.combine(UNTIL + dt.timedelta(days=1), dt.time.min, tzinfo=tz)
    rep_filter = "" if rep_id is None else REP_FILTER.format(rep=int(rep_id))
    return REPORT_SQL.format(start=start.isoformat(), end=end.isoformat(), rep_filter=rep_filter)


def contacts_sql(rep_id: int) -> str:
    return CONTACTS_SQL.format(rep=int(rep_id))


def same_contacts(ours: dict, ref: list[dict]) -> None:
    """Our first page and the reference list the same contacts (50, or all the rep sees when
    fewer: a --small rep) in the same order."""
    ours_ids = [row["id"] for row in ours["results"]]
    ref_ids = [row["id"] for row in ref]
    if not ours_ids or ours_ids != ref_ids:
        raise BenchmarkError(
            f"contact list: ours returned {len(ours_ids)} ids {ours_ids[:5]}…, "
            f"the reference {len(ref_ids)} {ref_ids[:5]}…"
        )


def same_report(ours: dict, ref: list[dict], who: str) -> None:
    """Same count per reason (None: no reason given), and our total is their sum."""
    ours_counts = {row["key"]: row["count"] for row in ours["results"]}
    ref_counts = {row["key"]: row["count"] for row in ref}
    if ours_counts != ref_counts or ours["total"] != sum(ref_counts.values()):
        raise BenchmarkError(
            f"report ({who}): ours {ours_counts} total {ours['total']}, "
            f"the reference {ref_counts} total {sum(ref_counts.values())}"
        )
    if not ref_counts:
        raise BenchmarkError(f"report ({who}): no disqualification in the range")


def _admin() -> User:
    with connection.cursor() as cur:
        dataset.ensure_admin(cur)
    return User.objects.get(username=ADMIN_USERNAME)


@scenario("api-sharing")
def run(ctx: Context):
    rep = User.objects.filter(username__startswith="bench-rep-").order_by("id").first()
    if rep is None:
        raise BenchmarkError("no bench rep in the dataset")
    admin = _admin()
    tokens = {u.pk: Token.objects.get_or_create(user=u)[0].key for u in (rep, admin)}
    with connection.cursor() as cur:
        cur.execute("SELECT count(*) FROM crm_contact")
        contacts = cur.fetchone()[0]
        cur.execute("SELECT count(*) FROM opportunities_contactaccess WHERE user_id = %s", [rep.pk])
        grants = cur.fetchone()[0]
        cur.execute("SELECT count(*) FROM leads_leaddisqualification")
        decisions = cur.fetchone()[0]
    ctx.log(
        f"api-sharing: {contacts:,} contacts ({grants:,} granted to the rep), "
        f"{decisions:,} disqualification decisions"
    )
    rows = [
        # (row name, our path, user, bare name, reference SQL, check, kind of target)
        ("api: rep's contact list, 50 rows (p50)", CONTACTS_PATH, rep, "contacts",
         contacts_sql(rep.pk), same_contacts, (3.0, 0.0)),
        ("api: disqualification report, rep (p50)", REPORT_PATH, rep, "report_rep",
         report_sql(rep.pk), lambda o, r: same_report(o, r, "rep"), (1.3, 0.005)),
        ("api: disqualification report, admin (p50)", REPORT_PATH, admin, "report_admin",
         report_sql(None), lambda o, r: same_report(o, r, "admin"), (1.3, 0.005)),
    ]  # fmt: skip
    rounds, duration, connections = (1, 2, 2) if ctx.small else (3, 5, 4)
    how = f"-c{connections} -d{duration}s"
    checks = []
    with Server(bare_sql={bare: [sql] for _, _, _, bare, sql, _, _ in rows}) as server:
        for name, path, user, bare, _sql, check, (target, allowance) in rows:
            headers = {"Authorization": f"Token {tokens[user.pk]}"}
            ours_first = server.get_ok(path, headers)
            ref_first = server.get_ok(f"/bare/{bare}")
            check(ours_first.json(), ref_first.json())
            ours, ref = [], []
            for i in range(rounds):
                sides = [("ours", path, headers), ("ref", f"/bare/{bare}", None)]
                for side, url, hdrs in sides if i % 2 == 0 else sides[::-1]:
                    timing = server.load(url, hdrs, connections=connections, duration=duration)
                    (ours if side == "ours" else ref).append(timing)
            checks.append(
                Check(
                    name,
                    _median(ours, how),
                    _median(ref, how),
                    "at_most",
                    target,
                    allowance=allowance,
                    enforced=not ctx.small,
                    queries=ours_first.queries,
                )
            )
    return checks
