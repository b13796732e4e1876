"""The benchmark dataset: 100 reps and N leads, built in SQL (``INSERT … SELECT … FROM
generate_series``), never with ORM saves.

Values are picked by hashing the row number, so the same N always gives the same data. A marker
row (table ``bench_dataset``) records the size and the version of this builder: a database that
already holds the right dataset is reused, ``--rebuild`` (or a size or version change) builds it
again from empty tables.
"""

from __future__ import annotations

from django.db import connection

from benchmarks.framework import BenchmarkError, fmt_seconds, timed

#: Bump when the generated data changes, so that old datasets are rebuilt.
#: 2: scores in their own table (leads_leadscore).
VERSION = 2
REPS = 100
#: A fixed unusable password ("!" prefix, as Django's set_unusable_password): nobody logs in.
UNUSABLE_PASSWORD = "!bench-rep-cannot-log-in"  # noqa: S105 (not a secret: no hash matches it)
#: The score of leads whose status is never scored: a rescore must leave it alone.
UNSCORED_SENTINEL = -7

# Weighted choices: a value listed twice is twice as likely. Mixed case on purpose (the engine
# folds A-Z), empty values too (they never satisfy a criterion).
STATUS = ["new"] * 45 + ["working"] * 35 + ["qualified"] * 8 + ["unqualified"] * 8
STATUS += ["converted"] * 4
ANSWER = ["yes"] * 4 + ["no"] * 3 + ["unknown"] * 3
TIMELINE = ["lt_3m", "lt_3m", "3_6m", "3_6m", "6_12m", "6_12m", "gt_12m", "unknown", "unknown"]
COMPANY_SIZE = ["1-10", "11-50", "11-50", "51-200", "51-200", "201-1000", "1000+", ""]
COUNTRY = ["Spain", "SPAIN", "spain", "Mexico", "Argentina", "United States", "Germany", "France"]
COUNTRY += ["Chile", ""]
INDUSTRY = ["Software", "software", "Manufacturing", "Retail", "Healthcare", "Finance", ""]
TITLE = ["IT Director", "Director of Sales", "VP Engineering", "CTO", "Software Engineer"]
TITLE += ["Office Manager", "Head of Operations", "Purchasing DIRECTOR", "Analyst", ""]
SOURCE = ["Website", "Website", "Referral", "Trade show", "Purchased list", "Cold call"]
SOURCE += ["Partner", ""]


def _pick(values: list[str], salt: int) -> str:
    """SQL choosing one of ``values`` from the row number ``g``, deterministically (``%%``: the
    statement runs with parameters)."""
    items = ", ".join("'" + v.replace("'", "''") + "'" for v in values)
    return (
        f"(ARRAY[{items}]::text[])"
        f"[1 + ((hashint8(g * 31 + {salt})::bigint + 2147483648) %% {len(values)})]"
    )


# Literals only come from the constant lists above (S608).
LEADS_SQL = f"""
INSERT INTO leads_lead (
    created_at, updated_at, first_name, last_name, company, title, email, phone, source,
    industry, country, company_size, status, owner_id, disqualification_note, disqualified_at,
    budget, authority, need, timeline
)
SELECT
    created, created, 'First' || g, 'Lead ' || g, 'Company ' || (g %% 50000), {_pick(TITLE, 1)},
    'lead' || g || '@example.com', '', {_pick(SOURCE, 2)}, {_pick(INDUSTRY, 3)},
    {_pick(COUNTRY, 4)}, {_pick(COMPANY_SIZE, 5)}, status, reps[1 + g %% %(reps)s], '',
    CASE WHEN status = 'unqualified' THEN created + interval '1 day' END,
    {_pick(ANSWER, 6)}, {_pick(ANSWER, 7)}, {_pick(ANSWER, 8)}, {_pick(TIMELINE, 9)}
FROM (
    SELECT g, {_pick(STATUS, 0)} AS status,
           timestamptz '2025-01-01 09:00+00' - (g %% 730) * interval '1 day' AS created
    FROM generate_series(1, %(n)s) AS g
) AS s,
(SELECT array_agg(id ORDER BY id) AS reps FROM crm_user WHERE username LIKE 'bench-rep-%%') AS r
"""  # noqa: S608

# The database gave every lead its score row (0, not sales-ready): the leads that are not scored
# hold the sentinel instead.
SENTINEL_SQL = """
UPDATE leads_leadscore SET score = %(sentinel)s
FROM leads_lead
WHERE leads_leadscore.lead_id = leads_lead.id
  AND leads_lead.status NOT IN ('new', 'working', 'qualified')
"""

USERS_SQL = """
INSERT INTO crm_user (
    password, is_superuser, username, first_name, last_name, email, is_staff, is_active,
    date_joined, role, time_zone
)
SELECT %(password)s, false, 'bench-rep-' || lpad(g::text, 3, '0'), 'Rep', 'Number ' || g,
       'rep' || g || '@example.com', false, true, timestamptz '2024-01-01 09:00+00', 'rep', ''
FROM generate_series(1, %(reps)s) AS g
"""


def _one(sql: str, params=None):
    with connection.cursor() as cur:
        cur.execute(sql, params)
        return cur.fetchone()


def _execute(sql: str, params=None) -> None:
    with connection.cursor() as cur:
        cur.execute(sql, params)


def _marker() -> tuple[int, int] | None:
    _execute("CREATE TABLE IF NOT EXISTS bench_dataset (leads integer, version integer)")
    return _one("SELECT leads, version FROM bench_dataset")


def is_ready(n: int) -> bool:
    """The database holds exactly this builder's dataset of ``n`` leads."""
    if _marker() != (n, VERSION):
        return False
    leads = _one("SELECT count(*) FROM leads_lead")[0]
    scores = _one("SELECT count(*) FROM leads_leadscore")[0]
    reps = _one("SELECT count(*) FROM crm_user WHERE username LIKE 'bench-rep-%%'")[0]
    return (leads, scores, reps) == (n, n, REPS)


def build(n: int, *, log=print) -> None:
    """Empty the tables and load ``REPS`` users and ``n`` leads, then VACUUM ANALYZE."""
    db = connection.settings_dict["NAME"]
    if "bench" not in db:
        raise BenchmarkError(f"refusing to empty the tables of {db!r}: not a benchmark database")
    log(f"dataset: building {n:,} leads and {REPS} reps in {db}")

    def load():
        _execute("DELETE FROM bench_dataset")
        # Every table that points at leads or users goes too: this database is ours alone.
        _execute("TRUNCATE leads_lead, crm_user RESTART IDENTITY CASCADE")
        _execute("SET synchronous_commit = off")
        _execute("SET maintenance_work_mem = '512MB'")
        _execute(USERS_SQL, {"password": UNUSABLE_PASSWORD, "reps": REPS})
        _execute(LEADS_SQL, {"n": n, "reps": REPS})
        _execute(SENTINEL_SQL, {"sentinel": UNSCORED_SENTINEL})
        _execute("INSERT INTO bench_dataset VALUES (%s, %s)", [n, VERSION])
        _execute("RESET synchronous_commit")

    log(f"dataset: loaded in {fmt_seconds(timed(load))}")
    log(f"dataset: VACUUM ANALYZE in {fmt_seconds(timed(vacuum_analyze))}")


def vacuum_analyze() -> None:
    tables = ("crm_user", "leads_lead", "leads_leadscore")
    for table in (*tables, "scoring_criterion", "scoring_scoringsettings"):
        _execute(f"VACUUM ANALYZE {table}")


def ensure(n: int, *, rebuild: bool, log=print) -> None:
    if not rebuild and is_ready(n):
        log(f"dataset: reusing {n:,} leads (--rebuild to build it again)")
        return
    build(n, log=log)
