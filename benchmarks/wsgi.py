"""The WSGI app the API benchmarks serve with gunicorn (``benchmarks.http.Server``).

``/bare/<name>`` is the limit reference: a bare WSGI function that runs the SQL a scenario wrote
for ``name`` (``BENCH_BARE_SQL``: a JSON file ``{name: [statement, ...]}``) on one psycopg2
connection per process, and answers the last statement's rows as ``json.dumps`` of a list of
objects. No Django on that path: no middleware, no auth, no serializer, no pagination.

Everything else goes to Django's ``crm.wsgi.application``, with the number of SQL queries the
request ran in the ``X-Bench-Queries`` response header (``connection.execute_wrapper``), so the
table can show queries per request.
"""

from __future__ import annotations

import json
import os

import psycopg2

from benchmarks.http import QUERIES_HEADER
from crm.wsgi import application as django_application

BARE_PREFIX = "/bare/"

_bare_connection = None
_bare_sql: dict[str, list[str]] | None = None


def _bare_statements(name: str) -> list[str] | None:
    global _bare_sql
    if _bare_sql is None:
        path = os.environ.get("BENCH_BARE_SQL", "")
        _bare_sql = {}
        if path:
            with open(path, encoding="utf-8") as f:
                _bare_sql = json.load(f)
    return _bare_sql.get(name)


def _connection():
    global _bare_connection
    if _bare_connection is None or _bare_connection.closed:
        # the session settings Django's connections get (random_page_cost): the same planner
        from django.conf import settings

        options = settings.DATABASES["default"].get("OPTIONS", {}).get("options")
        extra = {"options": options} if options else {}
        _bare_connection = psycopg2.connect(os.environ["DATABASE_URL"], **extra)
        _bare_connection.autocommit = True
    return _bare_connection


def _unique(names: list[str]) -> list[str]:
    """Column names as JSON keys: a joined table's ``id`` becomes ``id_2``, never overwrites."""
    seen: dict[str, int] = {}
    out = []
    for name in names:
        seen[name] = seen.get(name, 0) + 1
        out.append(name if seen[name] == 1 else f"{name}_{seen[name]}")
    return out


def bare(environ, start_response):
    name = environ.get("PATH_INFO", "")[len(BARE_PREFIX) :].strip("/")
    if name == "ping":
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [b"ok"]
    statements = _bare_statements(name)
    if not statements:
        start_response("404 Not Found", [("Content-Type", "text/plain")])
        return [b"no bare SQL named " + name.encode()]
    with _connection().cursor() as cur:
        for sql in statements:
            cur.execute(sql)
        columns = _unique([c.name for c in cur.description])
        rows = [dict(zip(columns, row, strict=True)) for row in cur.fetchall()]
    body = json.dumps(rows, default=str).encode()
    start_response(
        "200 OK", [("Content-Type", "application/json"), ("Content-Length", str(len(body)))]
    )
    return [body]


class QueryCounter:
    """``connection.execute_wrapper`` hook: counts every statement Django sends."""

    def __init__(self):
        self.count = 0

    def __call__(self, execute, sql, params, many, context):
        self.count += 1
        return execute(sql, params, many, context)


def counted(app):
    """Wrap a Django WSGI app so each response carries its query count in ``QUERIES_HEADER``.

    Django's handler calls ``start_response`` after the view and the middleware have run, so
    the count is complete by then (streaming responses would under-count; the API has none).
    """
    from django.db import connection

    def wrapped(environ, start_response):
        counter = QueryCounter()

        def start(status, headers, exc_info=None):
            count = (QUERIES_HEADER, str(counter.count))
            return start_response(status, [*headers, count], exc_info)

        with connection.execute_wrapper(counter):
            return app(environ, start)

    return wrapped


_django = counted(django_application)


def application(environ, start_response):
    if environ.get("PATH_INFO", "").startswith(BARE_PREFIX):
        return bare(environ, start_response)
    return _django(environ, start_response)
