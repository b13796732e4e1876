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


def _table(model: type[Model]) -> str:
    return connection.ops.quote_name(model._meta.db_table)


def _col(model: type[Model], name: str) -> str:
    return connection.ops.quote_name(model._meta.get_field(name).column)


@functools.cache
def _statement() -> tuple[str, list[str]]:
    """The SQL text (``%(name)s`` parameters) and the attnames of the row it returns, built
    once from the models' metadata: only names from ``_meta`` go into the text."""
    opp = Opportunity._meta
    returned = list(opp.concrete_fields)
    inserted = [f for f in returned if not f.primary_key]
    values = [
        f"plan.{f.attname}" if f.attname in _FROM_STATEMENT else f"%(o_{f.attname})s"
        for f in inserted
    ]
    returning = ", ".join(_col(Opportunity, f.name) for f in returned)
    o, c, s, st = _table(Opportunity), _table(Contact), _table(OpportunitySettings), _table(Stage)
    members = Team.members.through
    closed = ", ".join(f"'{v}'" for v in (OpportunityStatus.WON, OpportunityStatus.LOST))

    def oc(name: str) -> str:
        return _col(Opportunity, name)

    def sc(name: str) -> str:
        return _col(OpportunitySettings, name)

    sql = f"""
SELECT 1 FROM {c} WHERE {_col(Contact, "id")} = %(contact)s FOR UPDATE;
WITH engaged AS (
    SELECT {returning} FROM {o}
    WHERE {oc("contact")} = %(contact)s AND {oc("in_active_stage")} AND {oc("archived_at")} IS NULL
    ORDER BY {oc("id")} LIMIT 1
), plan AS (
    SELECT COALESCE(%(owner)s, contact.{_col(Contact, "owner")}) AS owner_id,
           stage.{_col(Stage, "id")} AS stage_id, stage.{_col(Stage, "name")} AS stage_name,
           settings.{sc("share_contact_when_assigned")} AS grant_contact
    FROM {c} contact
    JOIN {s} settings ON settings.{sc("id")} = {OpportunitySettings.SINGLETON_PK}
    JOIN {st} stage ON stage.{_col(Stage, "id")} = settings.{sc("default_stage")}
    JOIN {_table(User)} rep ON rep.{_col(User, "id")}
                                 = COALESCE(%(owner)s, contact.{_col(Contact, "owner")})
    WHERE contact.{_col(Contact, "id")} = %(contact)s
      AND contact.{_col(Contact, "archived_at")} IS NULL
      AND NOT EXISTS (SELECT 1 FROM engaged)
      AND stage.{_col(Stage, "archived_at")} IS NULL
      AND stage.{_col(Stage, "id")} IS DISTINCT FROM settings.{sc("win_stage")}
      AND stage.{_col(Stage, "id")} IS DISTINCT FROM settings.{sc("loss_stage")}
      -- a given owner's is_active was checked by the caller, as the ORM path does
      AND (%(owner)s IS NOT NULL OR rep.{_col(User, "is_active")})
      AND (%(owner)s IS NULL OR settings.{sc("assign_to_group")} IS NULL OR EXISTS (
            SELECT 1 FROM {_table(members)} m
            WHERE m.{_col(members, "team")} = settings.{sc("assign_to_group")}
              AND m.{_col(members, "user")} = %(owner)s))
      AND (NOT settings.{sc("sync_opportunity_and_contact_owners")} OR (
            contact.{_col(Contact, "owner")} = rep.{_col(User, "id")}
            AND (NOT settings.{sc("sync_owner_of_closed_leads")} OR NOT EXISTS (
                SELECT 1 FROM {o} old
                WHERE old.{oc("contact")} = contact.{_col(Contact, "id")}
                  AND old.{oc("status")} IN ({closed})
                  AND old.{oc("owner")} <> rep.{_col(User, "id")}))))
), created AS (
    INSERT INTO {o} ({", ".join(_col(Opportunity, f.name) for f in inserted)})
    SELECT {", ".join(values)} FROM plan
    RETURNING {returning}
), stage_history AS (
    INSERT INTO {_table(StageChange)} ({
        ", ".join(
            _col(StageChange, n)
            for n in (
                "opportunity",
                "from_stage",
                "to_stage",
                "status",
                "win_reason",
                "loss_reason",
                "owner",
                "actor",
                "at",
            )
        )
    })
    SELECT created.{oc("id")}, NULL, created.{oc("stage")}, created.{oc("status")}, NULL, NULL,
           created.{oc("owner")}, %(actor)s, %(now)s
    FROM created
), created_event AS (
    INSERT INTO {_table(Event)} ({
        ", ".join(_col(Event, n) for n in ("at", "actor", "kind", "opportunity", "data"))
    })
    SELECT %(now)s, %(actor)s, %(kind)s, created.{oc("id")},
           %(data)s::jsonb || jsonb_build_object('stage', plan.stage_id,
                                                 'stage_name', plan.stage_name)
    FROM created, plan
), grant_contact AS (
    INSERT INTO {_table(ContactAccess)} ({
        ", ".join(
            _col(ContactAccess, n)
            for n in ("contact", "user", "reason", "opportunity", "created_at")
        )
    })
    SELECT created.{oc("contact")}, created.{oc("owner")}, %(reason)s, created.{oc("id")}, %(now)s
    FROM created, plan WHERE plan.grant_contact
    ON CONFLICT DO NOTHING
)
SELECT {returning}, true FROM created
UNION ALL
SELECT {returning}, false FROM engaged
"""  # noqa: S608 - names from _meta only; every value is a parameter
    return sql, [f.attname for f in returned]


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
    actor: User,
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
        "actor": actor.pk,
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
