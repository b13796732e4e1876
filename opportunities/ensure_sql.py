"""The creation path of ``opportunity_ensure`` in one round trip (PostgreSQL).

``opportunity_ensure`` is called for every purchase, click and lead conversion; when the lookup
misses, the ORM path (``services.opportunity_ensure``) costs ~10 round trips, most of them under
the contact's row lock: the settings, BEGIN, the lock, the re-check, four INSERTs, COMMIT. Under
50 concurrent clients the other clients asking for that contact queue behind that lock
(``make bench``, scenario ``ensure``).

Here the same work is two statements sent together, so one round trip:

1. ``SELECT … FROM crm_contact … FOR UPDATE``: the contact's lock, as in the ORM path;
2. one statement that starts after the lock is held, so that it has a fresh snapshot under read
   committed (a subquery of the locking statement would not see a deal committed by the
   transaction we waited for): it reads the settings, finds the contact's engaged deal, and when
   there is none and the case is the plain one, inserts the opportunity, its stage history row,
   its "created" event and its contact grant (data-modifying CTEs), and returns the new row or
   the engaged one.

Outside a transaction the server runs the two statements as one implicit transaction (the lock
is held until both are done); inside one (lead conversion) a savepoint keeps an error from
spoiling the caller's transaction, as the ORM path's inner ``atomic`` did.

"The plain case" is everything the ORM path would do with no other write and no error: the
contact exists and is not archived; the settings name a default stage that is not archived and
neither the win nor the loss stage (so the deal is open, with no reason to check); the new owner
is active and, with an assign-to group, one of its members; and "sync opportunity and contact
owners" has nothing to change (the contact is the owner's already, and none of its closed deals
belongs to anyone else). Anything else returns ``None`` and the caller runs the ORM path, which
writes or raises exactly as before. ``tests/opportunities/test_ensure_sql.py`` checks that both
paths write the same rows.
"""

from __future__ import annotations

import contextlib
import functools
import json
from decimal import Decimal

from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.db.models import Model
from django.utils import timezone

from crm.models import Contact, Event, EventKind, Team, User
from opportunities.models import (
    AccessReason,
    ContactAccess,
    Opportunity,
    OpportunitySettings,
    OpportunityStatus,
    Stage,
    StageChange,
)

# Set by the statement, from the locked contact and the settings: not parameters.
_FROM_STATEMENT = ("owner_id", "stage_id")


class _Names:
    """SQL names from a model's ``_meta``, quoted: ``{OPP}`` is the table, ``{OPP.contact}``
    the column of the field ``contact``."""

    def __init__(self, model: type[Model]):
        self._meta = model._meta

    def __str__(self) -> str:
        return connection.ops.quote_name(self._meta.db_table)

    def __getattr__(self, field: str) -> str:
        return connection.ops.quote_name(self._meta.get_field(field).column)

    def columns(self, *fields: str) -> str:
        return ", ".join(getattr(self, f) for f in fields)


@functools.cache
def _statement() -> tuple[str, list[str]]:
    """The SQL text (``%(name)s`` parameters) and the attnames of the row it returns, built
    once; only names from the models' ``_meta`` go into the text, every value is a parameter."""
    OPP, CONTACT, SETTINGS = _Names(Opportunity), _Names(Contact), _Names(OpportunitySettings)
    STAGE, USER, MEMBER = _Names(Stage), _Names(User), _Names(Team.members.through)
    HISTORY, EVENT, GRANT = _Names(StageChange), _Names(Event), _Names(ContactAccess)
    fields = Opportunity._meta.concrete_fields
    row = OPP.columns(*(f.name for f in fields))
    inserted = [f for f in fields if not f.primary_key]
    values = ", ".join(
        f"plan.{f.attname}" if f.attname in _FROM_STATEMENT else f"%(o_{f.attname})s"
        for f in inserted
    )
    won, lost = OpportunityStatus.WON, OpportunityStatus.LOST
    history_fields = "opportunity from_stage to_stage status win_reason loss_reason owner actor at"
    history_columns = HISTORY.columns(*history_fields.split())
    rep_id = f"COALESCE(%(owner)s, contact.{CONTACT.owner})"  # the given owner, or the contact's
    sql = f"""
SELECT 1 FROM {CONTACT} WHERE {CONTACT.id} = %(contact)s FOR UPDATE;
WITH engaged AS (
    SELECT {row} FROM {OPP}
    WHERE {OPP.contact} = %(contact)s AND {OPP.in_active_stage} AND {OPP.archived_at} IS NULL
    ORDER BY {OPP.id} LIMIT 1
), plan AS (
    SELECT rep.{USER.id} AS owner_id,
           stage.{STAGE.id} AS stage_id, stage.{STAGE.name} AS stage_name,
           settings.{SETTINGS.share_contact_when_assigned} AS grant_contact
    FROM {CONTACT} contact
    JOIN {SETTINGS} settings ON settings.{SETTINGS.id} = {OpportunitySettings.SINGLETON_PK}
    JOIN {STAGE} stage ON stage.{STAGE.id} = settings.{SETTINGS.default_stage}
    JOIN {USER} rep ON rep.{USER.id} = {rep_id}
    WHERE contact.{CONTACT.id} = %(contact)s AND contact.{CONTACT.archived_at} IS NULL
      AND NOT EXISTS (SELECT 1 FROM engaged)
      -- the default stage is usable and open (neither the win nor the loss stage)
      AND stage.{STAGE.archived_at} IS NULL
      AND stage.{STAGE.id} IS DISTINCT FROM settings.{SETTINGS.win_stage}
      AND stage.{STAGE.id} IS DISTINCT FROM settings.{SETTINGS.loss_stage}
      -- the owner is active (a given owner: checked by the caller, as the ORM path does) ...
      AND (%(owner)s IS NOT NULL OR rep.{USER.is_active})
      -- ... and a given owner is in the assign-to group, if any
      AND (%(owner)s IS NULL OR settings.{SETTINGS.assign_to_group} IS NULL OR EXISTS (
            SELECT 1 FROM {MEMBER} m
            WHERE m.{MEMBER.team} = settings.{SETTINGS.assign_to_group}
              AND m.{MEMBER.user} = %(owner)s))
      -- the owner sync has nothing to change: the contact's owner, no closed deal of another
      AND (NOT settings.{SETTINGS.sync_opportunity_and_contact_owners} OR (
            contact.{CONTACT.owner} = rep.{USER.id}
            AND (NOT settings.{SETTINGS.sync_owner_of_closed_leads} OR NOT EXISTS (
                SELECT 1 FROM {OPP} old
                WHERE old.{OPP.contact} = contact.{CONTACT.id}
                  AND old.{OPP.status} IN ('{won}', '{lost}')
                  AND old.{OPP.owner} <> rep.{USER.id}))))
), created AS (
    INSERT INTO {OPP} ({OPP.columns(*(f.name for f in inserted))})
    SELECT {values} FROM plan
    RETURNING {row}
), stage_history AS (
    INSERT INTO {HISTORY} ({history_columns})
    SELECT {OPP.id}, NULL, {OPP.stage}, {OPP.status}, NULL, NULL, {OPP.owner}, %(actor)s, %(now)s
    FROM created
), created_event AS (
    INSERT INTO {EVENT} ({EVENT.columns("at", "actor", "kind", "opportunity", "data")})
    SELECT %(now)s, %(actor)s, %(kind)s, created.{OPP.id},
           %(data)s::jsonb || jsonb_build_object('stage', plan.stage_id,
                                                 'stage_name', plan.stage_name)
    FROM created, plan
), grant_contact AS (
    INSERT INTO {GRANT} ({GRANT.columns("contact", "user", "reason", "opportunity", "created_at")})
    SELECT created.{OPP.contact}, created.{OPP.owner}, %(reason)s, created.{OPP.id}, %(now)s
    FROM created, plan WHERE plan.grant_contact
    ON CONFLICT DO NOTHING
)
SELECT {row}, true FROM created
UNION ALL
SELECT {row}, false FROM engaged
"""  # noqa: S608 - names from _meta only; every value is a parameter
    return sql, [f.attname for f in fields]


def _draft(
    *, name: str, contact_id: int, owner: User | None, amount: Decimal, lead, now
) -> Opportunity | None:
    """The new deal as ``services._create`` builds it, validated the same way; ``None`` when a
    field is invalid (the ORM path then raises the error, in its order)."""
    opportunity = Opportunity(
        name=(name or "").strip(),
        contact_id=contact_id,
        owner=owner,
        amount=amount,
        status=OpportunityStatus.OPEN,
        win_reason=None,
        loss_reason=None,
        closed_at=None,
        stage_entered_at=now,
        in_active_stage=True,  # the default stage is always active (settings validation)
        lead=lead,
    )
    try:
        opportunity.full_clean(
            exclude=["contact", "owner", "stage", "lead"], validate_constraints=False
        )
    except ValidationError:
        return None
    return opportunity


def ensure_create(
    *,
    actor: User | None,
    contact_id: int,
    name: str,
    owner: User | None,
    amount: Decimal,
    lead,
    via: str,
) -> tuple[Opportunity, bool] | None:
    """Under the contact's lock: the engaged deal ``(opportunity, False)``, or a new one in the
    plain case ``(opportunity, True)``, or ``None`` for the ORM path (see the module)."""
    if connection.vendor != "postgresql" or (owner is not None and not owner.is_active):
        return None
    now = timezone.now()
    draft = _draft(name=name, contact_id=contact_id, owner=owner, amount=amount, lead=lead, now=now)
    if draft is None:
        return None
    sql, attnames = _statement()
    params = {
        f"o_{f.attname}": f.get_db_prep_save(f.pre_save(draft, add=True), connection)
        for f in Opportunity._meta.concrete_fields
        if not f.primary_key and f.attname not in _FROM_STATEMENT
    }
    data = {
        "name": draft.name,
        "status": draft.status,
        "via": via,
        "win_reason": None,
        "win_reason_name": "",
        "loss_reason": None,
        "loss_reason_name": "",
    }  # + "stage" and "stage_name", from the statement: the ORM path's event data
    params |= {
        "contact": contact_id,
        "owner": owner.pk if owner is not None else None,
        "actor": actor.pk if actor is not None else None,
        "now": now,
        "kind": EventKind.CREATED,
        "data": json.dumps(data),
        "reason": AccessReason.ASSIGNED,
    }
    savepoint = transaction.atomic() if connection.in_atomic_block else contextlib.nullcontext()
    with savepoint, connection.cursor() as cur:
        cur.execute(sql, params)
        row = cur.fetchone()
    if row is None:
        return None
    opportunity = Opportunity.from_db(connection.alias, attnames, row[:-1])
    if row[-1]:
        # What the ORM path's instance holds too (the contact and the stage load on access).
        if owner is not None:
            opportunity.owner = owner
        if lead is not None:
            opportunity.lead = lead
    return opportunity, row[-1]
