"""``python -m benchmarks [--small] [--rebuild] [--only NAME …] [--repeat N]``

Prepares the benchmark database (created if missing, migrated, the dataset built or reused),
runs the registered scenarios, prints ONE table and exits 1 when a target is missed or a scenario
fails. See benchmarks/README.md.
"""

from __future__ import annotations

import argparse
import os
import platform
import secrets
import sys
import time
from urllib.parse import urlsplit

DEFAULT_DATABASE_URL = "postgres://postgres@127.0.0.1:5432/crm_bench"
#: --small has a database of its own, so that CI's small runs never wipe the full dataset.
SMALL_DATABASE_URL = "postgres://postgres@127.0.0.1:5432/crm_bench_small"
#: pg_advisory_lock key, taken in the maintenance database: one benchmark run at a time on this
#: server (two would rebuild each other's dataset and share the 2 cores).
_RUN_LOCK = 73012
FULL_LEADS = 1_000_000
SMALL_LEADS = 20_000


def _log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", flush=True)


def _parse(argv):
    p = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__.split("\n")[0])
    p.add_argument("--small", action="store_true", help=f"{SMALL_LEADS:,} leads (CI)")
    p.add_argument("--rebuild", action="store_true", help="build the dataset again")
    p.add_argument("--only", nargs="+", metavar="NAME", help="run only these scenarios")
    p.add_argument("--repeat", type=int, default=3, help="timed runs per side (median)")
    p.add_argument("--leads", type=int, help="dataset size (overrides --small)")
    p.add_argument("--strict", action="store_true", help="enforce the targets in a --small run too")
    p.add_argument("--list", action="store_true", help="list the scenarios and exit")
    return p.parse_args(argv)


def _environment(url: str) -> None:
    """Settings for a Postgres database, DEBUG off (no query log), no broker needed."""
    os.environ["DATABASE_URL"] = url
    os.environ["DJANGO_DEBUG"] = "0"
    os.environ.setdefault("DJANGO_SECRET_KEY", secrets.token_urlsafe(64))
    os.environ["CELERY_TASK_ALWAYS_EAGER"] = "1"
    os.environ.pop("REDIS_URL", None)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "crm.settings")


def _maintenance_connection(url: str):
    import psycopg2

    parts = urlsplit(url)
    conn = psycopg2.connect(
        host=parts.hostname,
        port=parts.port or 5432,
        user=parts.username,
        password=parts.password,
        dbname="postgres",
    )
    conn.autocommit = True
    return conn


def _lock_and_create_database(conn, url: str) -> None:
    """Wait for any other benchmark run on this server, then create the database if missing.
    The lock lasts as long as ``conn``: keep it open for the whole run."""
    from psycopg2 import sql

    name = urlsplit(url).path.lstrip("/")
    with conn.cursor() as cur:
        cur.execute("SELECT pg_try_advisory_lock(%s)", [_RUN_LOCK])
        if not cur.fetchone()[0]:
            _log("another benchmark run is going on: waiting for it to finish")
            cur.execute("SELECT pg_advisory_lock(%s)", [_RUN_LOCK])
        cur.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name])
        if cur.fetchone() is None:
            _log(f"creating database {name}")
            cur.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))


def _server_line() -> str:
    from django.db import connection

    with connection.cursor() as cur:
        cur.execute("SHOW server_version")
        version = cur.fetchone()[0]
        cur.execute("SHOW shared_buffers")
        buffers = cur.fetchone()[0]
    return (
        f"PostgreSQL {version} (shared_buffers {buffers}), Python {platform.python_version()}, "
        f"{os.cpu_count()} CPUs"
    )


def main(argv=None) -> int:
    args = _parse(argv)
    started = time.perf_counter()
    url = os.environ.get(
        "BENCH_DATABASE_URL", SMALL_DATABASE_URL if args.small else DEFAULT_DATABASE_URL
    )
    _environment(url)

    import django

    django.setup()  # before the scenarios import models; no database connection yet

    import benchmarks.scenarios  # noqa: F401  (registers the scenarios)
    from benchmarks.framework import REGISTRY, Check, Context, failed, render_table

    if args.list:
        print("\n".join(REGISTRY))
        return 0
    names = args.only or list(REGISTRY)
    unknown = [n for n in names if n not in REGISTRY]
    if unknown:
        print(f"unknown scenario(s): {', '.join(unknown)}; known: {', '.join(REGISTRY)}")
        return 2

    lock = _maintenance_connection(url)
    _lock_and_create_database(lock, url)
    from django.core.management import call_command

    _log("migrating")
    call_command("migrate", verbosity=0, interactive=False)

    from benchmarks import dataset

    n = args.leads or (SMALL_LEADS if args.small else FULL_LEADS)
    ctx = Context(
        small=args.small,
        rebuild=args.rebuild,
        database=urlsplit(url).path.lstrip("/"),
        repeat=args.repeat,
        log=_log,
    )
    dataset.ensure(n, rebuild=args.rebuild, log=_log)

    enforce = not args.small or args.strict
    checks: list[Check] = []
    for name in names:
        _log(f"scenario {name}")
        try:
            for check in REGISTRY[name](ctx):
                check.enforced = enforce
                checks.append(check)
        except Exception as exc:
            _log(f"scenario {name} failed: {exc!r}")
            checks.append(Check(name, None, None, "at_most", 0, error=str(exc)[:120]))

    elapsed = time.perf_counter() - started
    print()
    print(f"make bench{' --small' if args.small else ''}: {n:,} leads in {ctx.database}")
    print(_server_line())
    print(render_table(checks))
    for note in ctx.notes:
        print(f"  {note}")
    if not enforce:
        print("  --small: the timing targets are for the full size and are not enforced here;")
        print("  wrong scores and errors still fail (make bench for the real verdict).")
    bad = failed(checks)
    passed = sum(c.passed for c in checks)
    missed = len(checks) - passed - len(bad)
    verdict = f"{passed} passed, {len(bad)} failed" + (
        f", {missed} missed (not enforced)" if missed else ""
    )
    print(f"\nbench: {verdict} in {elapsed:.0f} s wall time")
    lock.close()
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
