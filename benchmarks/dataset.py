"""The benchmark dataset: 100 reps and N leads with their disqualification history, N/5
contacts (N/50 accounts), N/10 opportunities with their stage history, shares and contact
grants, and ~N/9 tasks, built in SQL (``INSERT … SELECT … FROM generate_series``), never with
ORM saves. At the full size (N = 1,000,000): 200,000 contacts, 100,000 opportunities.

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
#: 3: contacts (tags), accounts, opportunities (stage history, shares, contact grants), tasks,
#: disqualification reasons on the unqualified leads and the disqualification history.
VERSION = 3
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


def _h(expr: str, salt: int) -> str:
    """A non-negative hash of the integer ``expr``: choices spread over every rep (an
    ``id %% k`` would give all of one rep's rows the same choice)."""
    return f"(hashint8(({expr}) * 31 + {salt})::bigint + 2147483648)"


# Literals only come from the constant lists above (S608).
LEADS_SQL = f"""
INSERT INTO leads_lead (
    created_at, updated_at, first_name, last_name, company, title, email, phone, source,
    industry, country, company_size, status, owner_id, disqualification_note, disqualified_at,
    disqualification_reason_id, budget, authority, need, timeline
)
SELECT
    created, created, 'First' || g, 'Lead ' || g, 'Company ' || (g %% 50000), {_pick(TITLE, 1)},
    'lead' || g || '@example.com', '', {_pick(SOURCE, 2)}, {_pick(INDUSTRY, 3)},
    {_pick(COUNTRY, 4)}, {_pick(COMPANY_SIZE, 5)}, status, reps[1 + g %% %(reps)s], '',
    CASE WHEN status = 'unqualified' THEN created + interval '1 day' END,
    -- one of the reasons, or none given (the index past the array's end: NULL)
    CASE WHEN status = 'unqualified' THEN (%(reasons)s::bigint[])
        [1 + {_h("g", 10)} %% (array_length(%(reasons)s::bigint[], 1) + 1)] END,
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

# The disqualification history (``leads.LeadDisqualification``, what the disqualification report
# aggregates), as ``lead_disqualify`` and ``lead_requalify`` leave it: the standing decision of
# every unqualified lead (its reason, owner and source, at its ``disqualified_at``); for 1 in 4 of
# them an earlier decision, superseded by that one (a changed reason); and for 1 in 10 working
# leads a decision that stands in the history although the lead was requalified since.
DISQUALIFICATIONS_SQL = f"""
INSERT INTO leads_leaddisqualification (
    lead_id, reason_id, owner_id, actor_id, source, note, at, superseded_at
)
SELECT id, disqualification_reason_id, owner_id, owner_id, source, '', disqualified_at,
       NULL
FROM leads_lead WHERE status = 'unqualified'
UNION ALL
SELECT id, (%(reasons)s::bigint[])[1 + {_h("id", 11)} %% array_length(%(reasons)s::bigint[], 1)],
       owner_id, owner_id, source, '', created_at + interval '6 hours', disqualified_at
FROM leads_lead WHERE status = 'unqualified' AND {_h("id", 12)} %% 4 = 0
UNION ALL
SELECT id, (%(reasons)s::bigint[])[1 + {_h("id", 13)} %% array_length(%(reasons)s::bigint[], 1)],
       owner_id, owner_id, source, '', created_at + interval '2 days', NULL
FROM leads_lead WHERE status = 'working' AND {_h("id", 14)} %% 10 = 0
"""  # noqa: S608

FIRST_NAMES = ["Lucía", "María", "Carmen", "Ana", "Laura", "Javier", "Carlos", "José", "Miguel"]
FIRST_NAMES += ["David", "Sofía", "Elena", "Pablo", "Jorge", "Marta", "Peter", "Julia", "Marco"]
LAST_NAMES = ["García", "Fernández", "López", "Martínez", "Sánchez", "Pérez", "Gómez", "Ruiz"]
LAST_NAMES += ["Hernández", "Díaz", "Moreno", "Müller", "Schmidt", "Rossi", "Dubois", "Silva"]
LAST_NAMES += ["Santos", "Jansen", "Novak", "Kowalski", "Núñez", "Castillo", "O'Brien", "Smith"]
#: the dataset's contacts' e-mail domain (other scenarios' contacts have their own)
CONTACT_DOMAIN = "data.bench"
CREATED = "timestamptz '2025-01-01 09:00+00'"
REP = "(%(reps)s::bigint[])[1 + ({x}) %% array_length(%(reps)s::bigint[], 1)]"


def _other_rep(expr: str, owner: str, salt: int) -> str:
    """A rep picked by hashing ``expr``, never ``owner`` (then the next one)."""
    pick, following = REP.format(x=_h(expr, salt)), REP.format(x=_h(expr, salt) + " + 1")
    return f"CASE WHEN {pick} <> {owner} THEN {pick} ELSE {following} END"


ACCOUNTS_SQL = f"""
INSERT INTO crm_account (name, industry, country, company_size, owner_id, created_at, updated_at)
SELECT 'Account ' || g, {_pick(INDUSTRY, 20)}, {_pick(COUNTRY, 21)},
       {_pick(["1-10", "11-50", "51-200", "201-1000", "1000+", ""], 22)}, {REP.format(x="g")},
       {CREATED} - (g %% 700) * interval '1 day', {CREATED}
FROM generate_series(1, %(accounts)s) AS g
"""  # noqa: S608

# Contacts over the reps (the g-th is rep g mod 100's, as leads), 3 in 4 at an account.
CONTACTS_SQL = f"""
INSERT INTO crm_contact (first_name, last_name, email, phone, owner_id, account_id, created_at,
                         updated_at)
SELECT {_pick(FIRST_NAMES, 23)}, {_pick(LAST_NAMES, 24)}, 'contact' || g || '@{CONTACT_DOMAIN}',
       '', {REP.format(x="g")},
       CASE WHEN {_h("g", 25)} %% 4 <> 0
            THEN a.ids[1 + {_h("g", 26)} %% array_length(a.ids, 1)] END,
       {CREATED} - (g %% 600) * interval '1 day', {CREATED}
FROM generate_series(1, %(contacts)s) AS g,
     (SELECT array_agg(id ORDER BY id) AS ids FROM crm_account) AS a
"""  # noqa: S608

TAG_NAMES = ["VIP", "Newsletter", "Partner", "Event 2025", "Churn risk", "Renewal", "Upsell"]
TAG_NAMES += ["Decision maker", "Influencer", "Champion", "Trial", "Reference", "Press"]
TAG_NAMES += ["Webinar", "Conference", "Referral", "Inbound", "Outbound", "Enterprise", "SMB"]
# The tags (kept when they exist: tags are not emptied with the users), then 1 to 3 of them on
# 1 contact in 3.
TAGS_SQL = """
INSERT INTO crm_tag (name) SELECT unnest(%(names)s::text[]) ON CONFLICT DO NOTHING
"""
CONTACT_TAGS_SQL = f"""
INSERT INTO crm_contact_tags (contact_id, tag_id)
SELECT DISTINCT c.id, t.ids[1 + ({_h("c.id", 40)} + k * 7) %% array_length(t.ids, 1)]
FROM crm_contact c,
     (SELECT array_agg(id ORDER BY id) AS ids FROM crm_tag
      WHERE lower(name) = ANY(SELECT lower(unnest(%(names)s::text[])))) AS t,
     generate_series(0, 2) AS k
WHERE c.email LIKE '%%@{CONTACT_DOMAIN}' AND {_h("c.id", 41)} %% 3 = 0
  AND k <= {_h("c.id", 42)} %% 3
"""  # noqa: S608

# A deal for every 2nd contact. Its owner is the contact's rep (``sync opportunity and contact
# owners`` made them the same when it was created) for 2 in 3, another rep for 1 in 3 (the deal
# was reassigned since: the contact keeps its owner). Stages 30/20/20/10 % over the first four
# active ones, 10 % won, 10 % lost (%(buckets)s), status and active flag as the services set them.
OPPORTUNITIES_SQL = f"""
INSERT INTO opportunities_opportunity (
    name, contact_id, owner_id, stage_id, amount, status, closed_at, stage_entered_at,
    in_active_stage, created_at, updated_at
)
SELECT 'Deal ' || s.id, s.id, s.owner, s.stage, 1000 + (s.id %% 97) * 250,
       CASE s.stage WHEN %(won)s THEN 'won' WHEN %(lost)s THEN 'lost' ELSE 'open' END,
       CASE WHEN s.stage IN (%(won)s, %(lost)s) THEN s.entered END,
       s.entered, s.stage = ANY(%(active)s::bigint[]), s.created, s.entered
FROM (
    SELECT c.id, c.created_at + interval '3 days' AS created,
           c.created_at + (3 + c.id %% 60) * interval '1 day' AS entered,
           (%(buckets)s::bigint[])[1 + {_h("c.id", 27)} %% 10] AS stage,
           CASE WHEN {_h("c.id", 28)} %% 3 <> 0 THEN c.owner_id
                ELSE {_other_rep("c.id", "c.owner_id", 29)} END AS owner
    FROM (SELECT c.*, row_number() OVER (ORDER BY c.id) AS rn
          FROM crm_contact c WHERE c.email LIKE '%%@{CONTACT_DOMAIN}') AS c
    WHERE c.rn %% 2 = 0
) AS s
"""  # noqa: S608

# Each deal's creation in its stage history, as ``_create`` writes it.
STAGE_CHANGES_SQL = """
INSERT INTO opportunities_stagechange (opportunity_id, from_stage_id, to_stage_id, status,
                                       owner_id, actor_id, at)
SELECT id, NULL, stage_id, status, owner_id, owner_id, created_at
FROM opportunities_opportunity
"""

# 1 in 5 deals shared with a rep other than its owner (``opportunity_share``).
SHARES_SQL = f"""
INSERT INTO opportunities_opportunityshare (opportunity_id, user_id, created_at)
SELECT o.id, {_other_rep("o.id", "o.owner_id", 31)}, o.created_at + interval '1 day'
FROM opportunities_opportunity o WHERE {_h("o.id", 30)} %% 5 = 0
"""  # noqa: S608

# The contact grants the sharing rules give (``opportunities.services._assigned`` and
# ``opportunity_share``): "share contact when assigned" grants every deal's owner its contact
# (also when they own the contact already: the service grants without looking), "share contact
# when shared" every user a deal is shared with; a rule that is off grants nothing.
GRANTS_SQL = """
INSERT INTO opportunities_contactaccess (contact_id, user_id, reason, opportunity_id, created_at)
SELECT o.contact_id, o.owner_id, 'assigned', o.id, o.created_at
FROM opportunities_opportunity o, opportunities_opportunitysettings s
WHERE s.id = 1 AND s.share_contact_when_assigned
UNION ALL
SELECT o.contact_id, sh.user_id, 'shared', o.id, sh.created_at
FROM opportunities_opportunityshare sh
JOIN opportunities_opportunity o ON o.id = sh.opportunity_id,
     opportunities_opportunitysettings s
WHERE s.id = 1 AND s.share_contact_when_shared
"""

# Tasks, owned by their record's owner, due between 2026-01-01 and 2027-06-30: an open one on 6
# deals in 10, a done one on 2 in 10, an open one on 1 contact in 10 and 1 lead in 100.
DUE = "date '2026-01-01' + ({h} %% 546)::int"
TASKS_SQL = f"""
INSERT INTO crm_task (title, kind, due_on, done, completed_at, note, created_at, updated_at,
                      opportunity_id, contact_id, lead_id, owner_id, is_follow_up, priority)
SELECT 'Call about ' || o.name, 'call', {DUE.format(h=_h("o.id", 32))}, false,
       NULL::timestamptz, '', o.created_at, o.created_at, o.id, NULL::bigint, NULL::bigint,
       o.owner_id, false, 100
FROM opportunities_opportunity o WHERE {_h("o.id", 33)} %% 10 < 6
UNION ALL
SELECT 'Send the proposal', 'email', {DUE.format(h=_h("o.id", 34))}, true,
       o.created_at + interval '2 days', '', o.created_at, o.created_at, o.id, NULL, NULL,
       o.owner_id, false, 100
FROM opportunities_opportunity o WHERE {_h("o.id", 33)} %% 10 >= 8
UNION ALL
SELECT 'Follow up', 'todo', {DUE.format(h=_h("c.id", 35))}, false, NULL, '', c.created_at,
       c.created_at, NULL, c.id, NULL, c.owner_id, false, 100
FROM crm_contact c WHERE c.email LIKE '%%@{CONTACT_DOMAIN}' AND {_h("c.id", 36)} %% 10 = 0
UNION ALL
SELECT 'First call', 'call', {DUE.format(h=_h("l.id", 37))}, false, NULL, '', l.created_at,
       l.created_at, NULL, NULL, l.id, l.owner_id, false, 100
FROM leads_lead l WHERE {_h("l.id", 38)} %% 100 = 0
"""  # noqa: S608

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


def sizes(n: int) -> dict[str, int]:
    """The dataset's sizes for ``n`` leads (1,000,000: 200,000 contacts, 100,000 deals)."""
    contacts = max(n // 5, 10)
    return {
        "leads": n,
        "accounts": max(n // 50, 1),
        "contacts": contacts,
        "opportunities": contacts // 2,
    }


def counts() -> dict[str, int]:
    """The live counts of the dataset's rows (other scenarios' contacts and deals left out)."""
    mine = f"(SELECT id FROM crm_contact WHERE email LIKE '%%@{CONTACT_DOMAIN}')"  # noqa: S608
    return {
        "leads": _one("SELECT count(*) FROM leads_lead")[0],
        "scores": _one("SELECT count(*) FROM leads_leadscore")[0],
        "reps": _one("SELECT count(*) FROM crm_user WHERE username LIKE 'bench-rep-%%'")[0],
        "contacts": _one(f"SELECT count(*) FROM crm_contact WHERE id IN {mine}")[0],  # noqa: S608
        "opportunities": _one(
            f"SELECT count(*) FROM opportunities_opportunity WHERE contact_id IN {mine}"  # noqa: S608
        )[0],
        "disqualifications": _one("SELECT count(*) FROM leads_leaddisqualification")[0],
    }


def is_ready(n: int) -> bool:
    """The database holds exactly this builder's dataset of ``n`` leads."""
    if _marker() != (n, VERSION):
        return False
    got = counts()
    want = sizes(n)
    return (
        (got["leads"], got["scores"], got["reps"]) == (n, n, REPS)
        and got["contacts"] == want["contacts"]
        and got["opportunities"] == want["opportunities"]
        and got["disqualifications"] > 0
    )


def _reasons() -> list[int]:
    """The active disqualification reasons (the data migration's eight), created if missing."""
    ids = _one(
        'SELECT array_agg(id ORDER BY "order", id) FROM leads_disqualificationreason'
        " WHERE archived_at IS NULL"
    )[0]
    if ids and len(ids) >= 2:
        return ids
    for i, name in enumerate(("No budget", "Bad timing", "Chose a competitor", "No need")):
        _execute(
            'INSERT INTO leads_disqualificationreason (name, "order", created_at)'
            " SELECT %s, %s, now() WHERE NOT EXISTS (SELECT 1 FROM leads_disqualificationreason"
            " WHERE lower(name) = lower(%s) AND archived_at IS NULL)",
            [name, 100 + i, name],
        )
    return _reasons()


def _pipeline() -> dict:
    """The stage buckets of the deals and the settings' won, lost and active stages."""
    won, lost, default = _one(
        "SELECT win_stage_id, loss_stage_id, default_stage_id"
        " FROM opportunities_opportunitysettings WHERE id = 1"
    )
    stages = _one(
        'SELECT array_agg(id ORDER BY "order", id) FROM opportunities_stage'
        " WHERE archived_at IS NULL"
    )[0]
    active = (
        _one(
            "SELECT array_agg(stage_id) FROM opportunities_opportunitysettings_active_stages"
            " WHERE opportunitysettings_id = 1"
        )[0]
        or []
    )
    active = sorted({*active, default} - {None})
    open_stages = [s for s in stages if s not in (won, lost)]
    if not open_stages or won is None or lost is None:
        raise BenchmarkError("the pipeline needs open, won and lost stages")
    a = (open_stages * 4)[:4]
    return {
        "buckets": [a[0], a[0], a[0], a[1], a[1], a[2], a[2], a[3], won, lost],
        "won": won,
        "lost": lost,
        "active": active,
    }


def insert_rows(n: int) -> list[str]:
    """Insert the dataset of ``n`` leads into empty tables (the reps first); returns the time
    of each step. The tests run it on a small ``n`` in the test database."""
    size = sizes(n)
    steps: list[str] = []

    def step(name: str, sql: str, params=()) -> None:
        steps.append(f"{name} {fmt_seconds(timed(lambda: _execute(sql, params or [])))}")

    _execute(USERS_SQL, {"password": UNUSABLE_PASSWORD, "reps": REPS})
    reps = _one(
        "SELECT array_agg(id ORDER BY id) FROM crm_user WHERE username LIKE 'bench-rep-%%'"
    )[0]
    reasons = _reasons()
    step("leads", LEADS_SQL, {"n": n, "reps": REPS, "reasons": reasons})
    step("scores", SENTINEL_SQL, {"sentinel": UNSCORED_SENTINEL})
    step("disqualifications", DISQUALIFICATIONS_SQL, {"reasons": reasons})
    step("accounts", ACCOUNTS_SQL, {"reps": reps, "accounts": size["accounts"]})
    step("contacts", CONTACTS_SQL, {"reps": reps, "contacts": size["contacts"]})
    step("tags", TAGS_SQL, {"names": TAG_NAMES})
    step("contact tags", CONTACT_TAGS_SQL, {"names": TAG_NAMES})
    step("opportunities", OPPORTUNITIES_SQL, {"reps": reps, **_pipeline()})
    step("stage history", STAGE_CHANGES_SQL)
    step("shares", SHARES_SQL, {"reps": reps})
    step("grants", GRANTS_SQL)
    step("tasks", TASKS_SQL)
    return steps


def build(n: int, *, log=print) -> None:
    """Empty the tables and load the dataset of ``n`` leads, then VACUUM ANALYZE."""
    db = connection.settings_dict["NAME"]
    if "bench" not in db:
        raise BenchmarkError(f"refusing to empty the tables of {db!r}: not a benchmark database")
    size = sizes(n)
    log(
        f"dataset: building {n:,} leads, {REPS} reps, {size['contacts']:,} contacts and "
        f"{size['opportunities']:,} opportunities in {db}"
    )
    steps: list[str] = []

    def load():
        _execute("DELETE FROM bench_dataset")
        # Every table that points at leads or users goes too: this database is ours alone. The
        # other scenarios' rows go with them, so their markers go too (they build them again).
        _execute("TRUNCATE leads_lead, crm_user RESTART IDENTITY CASCADE")
        _execute("DROP TABLE IF EXISTS bench_visibility, bench_daily")
        _execute("SET synchronous_commit = off")
        _execute("SET maintenance_work_mem = '512MB'")
        steps.extend(insert_rows(n))
        _execute("INSERT INTO bench_dataset VALUES (%s, %s)", [n, VERSION])
        _execute("RESET synchronous_commit")

    log(f"dataset: loaded in {fmt_seconds(timed(load))} ({', '.join(steps)})")
    log(f"dataset: VACUUM ANALYZE in {fmt_seconds(timed(vacuum_analyze))}")
    log("dataset: " + ", ".join(f"{v:,} {k}" for k, v in counts().items()))


TABLES = (
    "crm_user",
    "leads_lead",
    "leads_leadscore",
    "leads_leaddisqualification",
    "crm_account",
    "crm_contact",
    "crm_contact_tags",
    "opportunities_opportunity",
    "opportunities_stagechange",
    "opportunities_opportunityshare",
    "opportunities_contactaccess",
    "crm_task",
)


def vacuum_analyze() -> None:
    for table in (*TABLES, "scoring_criterion", "scoring_scoringsettings"):
        _execute(f"VACUUM ANALYZE {table}")


def ensure(n: int, *, rebuild: bool, log=print) -> None:
    if not rebuild and is_ready(n):
        log(f"dataset: reusing {n:,} leads (--rebuild to build it again)")
        return
    build(n, log=log)


#: the admin the ``daily`` and ``api-sharing`` scenarios time (sees everything; cannot log in)
ADMIN_USERNAME = "bench-admin"


def ensure_admin(cur) -> None:
    """Create the bench admin (``ADMIN_USERNAME``) if it is not there yet."""
    cur.execute(
        "INSERT INTO crm_user (password, is_superuser, username, first_name, last_name,"
        " email, is_staff, is_active, date_joined, role, time_zone)"
        " VALUES ('!bench-admin-cannot-log-in', false, %s, 'Bench', 'Admin',"
        " 'admin@example.com', false, true, now(), 'admin', '')"
        " ON CONFLICT (username) DO NOTHING",
        [ADMIN_USERNAME],
    )
