"""API list endpoints through a real HTTP server (issue #10).

> rep's lead list API, 50 rows, visibility on | ref: the same SQL through psycopg, rows to JSON,
> served by a bare WSGI function on the same gunicorn | target ours ≤ 2×

Ours: ``GET /api/v1/leads/?page_size=50`` with the first bench rep's API token, served by
gunicorn (``benchmarks.http``). The reference: the SQL that request runs for its data (captured
once through the test client, without the auth/session lookups), run with psycopg2 by a bare
WSGI function on the same gunicorn, rows → ``json.dumps``. Both under the same ``wrk`` settings,
alternating; the table shows p50 and p99 of each and our queries per request. Before timing,
ours and the reference must return the same lead ids, or the row fails.
"""

from __future__ import annotations

import re

from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from rest_framework.authtoken.models import Token

from benchmarks.framework import BenchmarkError, Check, Context, Timing, scenario
from benchmarks.http import Server
from crm.models import User

LEADS_PATH = "/api/v1/leads/?page_size=50"
#: tables of the request's bookkeeping (who is asking), not of its data: a statement that reads
#: FROM one of them (the token's or the session's lookup of the user) is left out of the
#: reference; a data statement that joins one (owner names) is kept.
_AUTH_TABLES = frozenset({"authtoken_token", "django_session", "crm_user"})
_TOP_FROM = re.compile(r'\sFROM\s+"([^"]+)"', re.IGNORECASE)


def _main_table(sql: str) -> str | None:
    """The table a SELECT reads FROM at its top level (not in a subquery of its select list)."""
    depth, top = 0, []
    for char in sql:
        if char == "(":
            depth += 1
        elif char == ")":
            depth -= 1
        top.append(char if depth == 0 else " ")
    found = _TOP_FROM.search("".join(top))
    return found.group(1) if found else None


def _data_statements(path: str, token: str) -> list[str]:
    """The SQL one API request runs for its data, with the parameters inlined."""
    client = Client()
    with CaptureQueriesContext(connection) as captured:
        response = client.get(
            path, secure=True, HTTP_HOST="127.0.0.1", HTTP_AUTHORIZATION=f"Token {token}"
        )
    if response.status_code != 200:
        raise BenchmarkError(f"GET {path} through the test client answered {response.status_code}")
    statements = [
        q["sql"]
        for q in captured.captured_queries
        if q["sql"].lstrip().upper().startswith("SELECT")
        and _main_table(q["sql"]) not in _AUTH_TABLES
    ]
    if not statements:
        raise BenchmarkError(f"GET {path} ran no data query")
    return statements


def _median(samples: list[Timing], how: str) -> Timing:
    samples = sorted(samples, key=lambda t: t.seconds)
    mid = samples[len(samples) // 2]
    return Timing(mid.seconds, f"{how}, median of {len(samples)} wrk runs", p99=mid.p99)


@scenario("api")
def run(ctx: Context):
    rep = User.objects.filter(username__startswith="bench-rep-").order_by("id").first()
    if rep is None:
        raise BenchmarkError("no bench rep in the dataset")
    token, _ = Token.objects.get_or_create(user=rep)
    headers = {"Authorization": f"Token {token.key}"}
    statements = _data_statements(LEADS_PATH, token.key)
    rounds, duration, connections = (1, 2, 2) if ctx.small else (3, 5, 4)

    with Server(bare_sql={"leads": statements}) as server:
        ours_first = server.get_ok(LEADS_PATH, headers)
        # queries of a request once its worker remembers the token (API_TOKEN_CACHE_SECONDS):
        # each worker's first request also reads the token
        warm_queries = min(server.get_ok(LEADS_PATH, headers).queries for _ in range(4))
        ref_first = server.get_ok("/bare/leads")
        ours_ids = [row["id"] for row in ours_first.json()["results"]]
        ref_ids = [row["id"] for row in ref_first.json()]
        if ours_ids != ref_ids[: len(ours_ids)] or len(ours_ids) != 50:
            raise BenchmarkError(
                f"lead list: ours returned {len(ours_ids)} ids {ours_ids[:5]}…, "
                f"the reference {ref_ids[:5]}…"
            )
        ours, ref = [], []
        for _ in range(rounds):
            ours.append(
                server.load(LEADS_PATH, headers, connections=connections, duration=duration)
            )
            ref.append(server.load("/bare/leads", connections=connections, duration=duration))
    how = f"-c{connections} -d{duration}s"
    return [
        Check(
            "api: rep's lead list, 50 rows (p50)",
            _median(ours, how),
            _median(ref, how),
            "at_most",
            2,
            enforced=not ctx.small,
            queries=warm_queries,
        )
    ]
