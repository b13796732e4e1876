"""Every write of the opportunities app: the pipeline (stages), the opportunity defaults, win and
loss reasons, opportunities and their moves through the pipeline, and ``opportunity_ensure``,
the one rule by which automation creates opportunities without duplicating an engaged one."""

from __future__ import annotations

import functools
import weakref
from decimal import Decimal
from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import DEFAULT_DB_ALIAS, connection, connections, transaction
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.backends.utils import CursorWrapper
from django.db.models import Case, Exists, OuterRef, Value, When
from django.utils import timezone
from django.utils.translation import gettext as _

from crm import access
from crm.models import Contact, EventKind, User
from crm.services import (
    _apply,
    _clean,
    _record_update,
    _validate_new_owner,
    _validate_owner,
    event_record,
    list_item_archive_or_delete,
    list_item_create,
    list_item_reorder,
)
from opportunities import ensure_sql
from opportunities.models import (
    AccessReason,
    BuyNowSkin,
    ContactAccess,
    LossReason,
    Opportunity,
    OpportunityEvent,
    OpportunitySettings,
    OpportunityShare,
    OpportunityStatus,
    Stage,
    StageChange,
    WinReason,
)


def _require_admin(actor: User) -> None:
    if not access.is_admin(actor):
        raise PermissionDenied(_("Only administrators can do this."))


# --- settings ------------------------------------------------------------------------------------

SETTINGS_FIELDS = (
    "active_stages",
    "default_stage",
    "win_stage",
    "require_win_reason",
    "loss_stage",
    "require_loss_reason",
    "assign_to_group",
    "share_contact_when_shared",
    "share_contact_when_assigned",
    "unshare_contact_when_unshared",
    "unshare_contact_when_unassigned",
    "sync_opportunity_and_contact_owners",
    "sync_owner_of_closed_leads",
    "buy_now_expire_days",
    "buy_now_skin",
    "buy_now_win_reason",
)


def opportunity_settings_get() -> OpportunitySettings:
    """The single settings row (created on first read), with its stages loaded."""
    obj, _created = OpportunitySettings.objects.select_related(
        "default_stage", "win_stage", "loss_stage", "assign_to_group", "buy_now_win_reason"
    ).get_or_create(pk=1)
    return obj


def _settings_validate(values: dict) -> None:
    errors: dict[str, list[str]] = {}
    for field in ("default_stage", "win_stage", "loss_stage"):
        stage = values[field]
        if stage is not None and stage.archived:
            errors.setdefault(field, []).append(_("That stage is archived; choose an active one."))
    if any(s.archived for s in values["active_stages"]):
        errors.setdefault("active_stages", []).append(
            _("An archived stage cannot be active; choose active stages only.")
        )
    win, loss, default = values["win_stage"], values["loss_stage"], values["default_stage"]
    required = {
        "default_stage": _("Choose the stage new opportunities start in."),
        "win_stage": _("Choose the stage that means a deal is won."),
        "loss_stage": _("Choose the stage that means a deal is lost."),
    }
    for field, message in required.items():
        if values[field] is None:
            errors.setdefault(field, []).append(message)
    if win is not None and win == loss:
        errors.setdefault("loss_stage", []).append(
            _("The loss stage must be another stage than the win stage.")
        )
    if default is not None and default in (win, loss):
        errors.setdefault("default_stage", []).append(
            _("New opportunities cannot start won or lost: choose an open stage.")
        )
    closing = {s for s in (win, loss) if s is not None}
    if closing & set(values["active_stages"]):
        errors.setdefault("active_stages", []).append(
            _("The win and loss stages close a deal; they cannot be active stages.")
        )
    elif default is not None and default not in closing and default not in values["active_stages"]:
        # Automation puts new deals in the default stage: were it not active, every ensure would
        # create yet another opportunity for the same contact.
        errors.setdefault("active_stages", []).append(
            _("The default stage must be one of the active stages.")
        )
    days = values["buy_now_expire_days"]
    if not 1 <= days <= 365:
        errors["buy_now_expire_days"] = [_("Enter a number of days from 1 to 365.")]
    if values["buy_now_skin"] not in BuyNowSkin.values:
        errors["buy_now_skin"] = [_("Choose one of the checkout skins.")]
    reason = values["buy_now_win_reason"]
    if reason is not None and reason.archived:
        errors["buy_now_win_reason"] = [_("That reason is archived; choose an active one.")]
    if errors:
        raise ValidationError(errors)


@transaction.atomic
def opportunity_settings_update(*, actor: User, **fields) -> OpportunitySettings:
    """Change any of ``SETTINGS_FIELDS``; every change is one audit event."""
    _require_admin(actor)
    unknown = set(fields) - set(SETTINGS_FIELDS)
    if unknown:
        raise TypeError(f"unexpected fields {unknown}")
    obj = OpportunitySettings.objects.select_for_update().get(pk=opportunity_settings_get().pk)
    current_active = list(obj.active_stages.order_by("order", "id"))
    values = {f: getattr(obj, f) for f in SETTINGS_FIELDS if f != "active_stages"}
    values["active_stages"] = current_active
    values.update(fields)
    _settings_validate(values)
    changes = {}
    if "active_stages" in fields:
        before = sorted(s.pk for s in current_active)
        after = sorted({s.pk for s in fields["active_stages"]})
        if before != after:
            obj.active_stages.set(after)
            _active_flags_refresh(set(before) ^ set(after))
            changes["active_stages"] = [before, after]
    changes.update(_apply(obj, {k: v for k, v in fields.items() if k != "active_stages"}))
    if changes:
        obj.save()
        event_record(actor=actor, kind=OpportunityEvent.SETTINGS_CHANGED, data={"changes": changes})
    return obj


def active_stage_ids() -> list[int]:
    return list(
        OpportunitySettings.active_stages.through.objects.filter(
            opportunitysettings_id=OpportunitySettings.SINGLETON_PK
        ).values_list("stage_id", flat=True)
    )


def _active_flags_refresh(stage_ids: set[int]) -> None:
    """Set ``in_active_stage`` of every opportunity in ``stage_ids`` from the settings: one
    UPDATE, whatever the number of deals."""
    if stage_ids:
        active = set(active_stage_ids())
        Opportunity.objects.filter(stage_id__in=stage_ids).update(
            in_active_stage=Case(
                When(stage_id__in=active & stage_ids, then=Value(True)), default=Value(False)
            )
        )


# --- stages --------------------------------------------------------------------------------------


@transaction.atomic
def stage_create(
    *, actor: User, name: str, probability: int = 0, rot_days: int | None = None
) -> Stage:
    _require_admin(actor)
    return list_item_create(
        actor=actor,
        model=Stage,
        event_kind=OpportunityEvent.STAGE_LIST_CHANGED,
        key="stage",
        name=name,
        probability=probability,
        rot_days=rot_days,
    )


#: "Not given" for ``stage_update``'s ``rot_days``, where ``None`` means "never rots".
UNCHANGED: Any = object()


@transaction.atomic
def stage_update(
    *,
    actor: User,
    stage: Stage,
    name: str | None = None,
    probability: int | None = None,
    rot_days: int | None = UNCHANGED,
) -> Stage:
    _require_admin(actor)
    fields = {}
    if name is not None:
        fields["name"] = name.strip()
    if probability is not None:
        fields["probability"] = probability
    if rot_days is not UNCHANGED:
        fields["rot_days"] = rot_days
    changes = _apply(stage, fields)
    if changes:
        _clean(stage)
        stage.save()
        event_record(
            actor=actor,
            kind=OpportunityEvent.STAGE_LIST_CHANGED,
            data={"action": "updated", "stage": stage.pk, "changes": changes},
        )
    return stage


@transaction.atomic
def stage_delete(*, actor: User, stage: Stage) -> str:
    """Remove an unused stage; archive one that any opportunity has been in.

    The default, win and loss stages cannot go: the admin picks others first. An archived stage
    stops being active. Returns ``"deleted"`` or ``"archived"``.
    """
    _require_admin(actor)
    stage = Stage.objects.select_for_update().get(pk=stage.pk)
    settings = opportunity_settings_get()
    if stage.pk in (settings.default_stage_id, settings.win_stage_id, settings.loss_stage_id):
        raise ValidationError(
            _(
                "This stage is the default, win or loss stage: choose another one in the "
                "opportunity defaults first."
            )
        )
    in_use = (
        Opportunity.objects.filter(stage=stage).exists()
        or StageChange.objects.filter(to_stage=stage).exists()
    )
    if settings.active_stages.filter(pk=stage.pk).exists():
        before = sorted(settings.active_stages.values_list("pk", flat=True))
        settings.active_stages.remove(stage)
        _active_flags_refresh({stage.pk})
        event_record(
            actor=actor,
            kind=OpportunityEvent.SETTINGS_CHANGED,
            data={"changes": {"active_stages": [before, [pk for pk in before if pk != stage.pk]]}},
        )
    return list_item_archive_or_delete(
        actor=actor,
        obj=stage,
        in_use=in_use,
        event_kind=OpportunityEvent.STAGE_LIST_CHANGED,
        key="stage",
    )


@transaction.atomic
def stage_reorder(*, actor: User, ids: list[int]) -> None:
    _require_admin(actor)
    list_item_reorder(
        actor=actor,
        model=Stage,
        ids=ids,
        event_kind=OpportunityEvent.STAGE_LIST_CHANGED,
        message=_("List every active stage exactly once."),
    )


# --- win and loss reasons ------------------------------------------------------------------------

_REASON_KIND = {
    WinReason: (OpportunityEvent.WIN_REASON_CHANGED, "win_reason"),
    LossReason: (OpportunityEvent.LOSS_REASON_CHANGED, "loss_reason"),
}


def _reason_create(*, actor: User, model, name: str):
    _require_admin(actor)
    kind, key = _REASON_KIND[model]
    return list_item_create(actor=actor, model=model, event_kind=kind, key=key, name=name)


def _reason_update(*, actor: User, reason, name: str | None):
    _require_admin(actor)
    if name is not None and name.strip() != reason.name:
        old = reason.name
        reason.name = name.strip()
        _clean(reason)
        reason.save()
        kind, key = _REASON_KIND[type(reason)]
        event_record(
            actor=actor,
            kind=kind,
            data={"action": "renamed", key: reason.pk, "name": [old, reason.name]},
        )
    return reason


def _reason_delete(*, actor: User, reason) -> str:
    _require_admin(actor)
    model = type(reason)
    reason = model.objects.select_for_update().get(pk=reason.pk)
    kind, key = _REASON_KIND[model]
    in_use = (
        Opportunity.objects.filter(**{key: reason}).exists()
        or StageChange.objects.filter(**{key: reason}).exists()
    )
    return list_item_archive_or_delete(
        actor=actor, obj=reason, in_use=in_use, event_kind=kind, key=key
    )


def _reason_reorder(*, actor: User, model, ids: list[int]) -> None:
    _require_admin(actor)
    list_item_reorder(
        actor=actor,
        model=model,
        ids=ids,
        event_kind=_REASON_KIND[model][0],
        message=_("List every active reason exactly once."),
    )


@transaction.atomic
def win_reason_create(*, actor: User, name: str) -> WinReason:
    return _reason_create(actor=actor, model=WinReason, name=name)


@transaction.atomic
def win_reason_update(*, actor: User, reason: WinReason, name: str | None = None) -> WinReason:
    return _reason_update(actor=actor, reason=reason, name=name)


@transaction.atomic
def win_reason_delete(*, actor: User, reason: WinReason) -> str:
    """Remove an unused win reason; archive one that a deal has used."""
    return _reason_delete(actor=actor, reason=reason)


@transaction.atomic
def win_reason_reorder(*, actor: User, ids: list[int]) -> None:
    _reason_reorder(actor=actor, model=WinReason, ids=ids)


@transaction.atomic
def loss_reason_create(*, actor: User, name: str) -> LossReason:
    return _reason_create(actor=actor, model=LossReason, name=name)


@transaction.atomic
def loss_reason_update(*, actor: User, reason: LossReason, name: str | None = None) -> LossReason:
    return _reason_update(actor=actor, reason=reason, name=name)


@transaction.atomic
def loss_reason_delete(*, actor: User, reason: LossReason) -> str:
    """Remove an unused loss reason; archive one that a deal has used."""
    return _reason_delete(actor=actor, reason=reason)


@transaction.atomic
def loss_reason_reorder(*, actor: User, ids: list[int]) -> None:
    _reason_reorder(actor=actor, model=LossReason, ids=ids)


# --- the reason rule -----------------------------------------------------------------------------


def stage_status(stage: Stage, settings: OpportunitySettings | None = None) -> str:
    """Won in the win stage, lost in the loss stage, open anywhere else."""
    settings = settings or opportunity_settings_get()
    if stage.pk == settings.win_stage_id:
        return OpportunityStatus.WON
    if stage.pk == settings.loss_stage_id:
        return OpportunityStatus.LOST
    return OpportunityStatus.OPEN


def close_reason_check(
    *,
    status: str,
    win_reason: WinReason | None,
    loss_reason: LossReason | None,
    settings: OpportunitySettings | None = None,
) -> tuple[WinReason | None, LossReason | None]:
    """THE win/loss reason rule, for the API, the pages, the board and automation alike.

    Returns the reasons the deal keeps: a won deal keeps only a win reason, a lost one only a loss
    reason, an open one none (reopening clears them; the history keeps them). A required reason
    that is missing, or an archived one, is a field error.
    """
    settings = settings or opportunity_settings_get()
    checks = {
        OpportunityStatus.WON: ("win_reason", win_reason, settings.require_win_reason),
        OpportunityStatus.LOST: ("loss_reason", loss_reason, settings.require_loss_reason),
    }
    if status not in checks:
        return None, None
    field, reason, required = checks[status]
    if reason is None and required:
        if status == OpportunityStatus.WON:
            message = _("Choose why this deal was won.")
        else:
            message = _("Choose why this deal was lost.")
        raise ValidationError({field: [message]})
    if reason is not None and reason.archived:
        raise ValidationError({field: [_("That reason has been archived; choose an active one.")]})
    if status == OpportunityStatus.WON:
        return reason, None
    return None, reason


def _is_active(stage: Stage, settings: OpportunitySettings) -> bool:
    # The default stage is always active (``_settings_validate``): no query for automation.
    if stage.pk == settings.default_stage_id:
        return True
    return settings.active_stages.filter(pk=stage.pk).exists()


def _check_stage(stage: Stage) -> None:
    if stage.archived:
        raise ValidationError({"stage": [_("That stage is archived; choose an active one.")]})


def _default_stage(settings: OpportunitySettings) -> Stage:
    stage = settings.default_stage
    if stage is None or stage.archived:
        raise ValidationError(
            {
                "stage": [
                    _("No default stage is set: an administrator sets it in Opportunity defaults.")
                ]
            }
        )
    return stage


# --- opportunities -------------------------------------------------------------------------------


def _reason_data(prefix: str, reason) -> dict:
    return {prefix: reason.pk if reason else None, f"{prefix}_name": reason.name if reason else ""}


def _create(
    *,
    actor: User,
    settings: OpportunitySettings,
    name: str,
    contact: Contact,
    owner: User,
    stage: Stage,
    amount: Decimal,
    win_reason: WinReason | None = None,
    loss_reason: LossReason | None = None,
    lead=None,
    via: str,
) -> Opportunity:
    _validate_owner(owner)
    _check_stage(stage)
    status = stage_status(stage, settings)
    win_reason, loss_reason = close_reason_check(
        status=status, win_reason=win_reason, loss_reason=loss_reason, settings=settings
    )
    now = timezone.now()
    opportunity = Opportunity(
        name=(name or "").strip(),
        contact=contact,
        owner=owner,
        stage=stage,
        amount=amount,
        status=status,
        win_reason=win_reason,
        loss_reason=loss_reason,
        closed_at=None if status == OpportunityStatus.OPEN else now,
        stage_entered_at=now,
        in_active_stage=_is_active(stage, settings),
        lead=lead,
    )
    # Field validation only: status, reasons and closed_at are set above by the rule, and the
    # database checks them again (CheckConstraints) without three extra queries per deal.
    opportunity.full_clean(
        exclude=["contact", "owner", "stage", "lead"], validate_constraints=False
    )
    opportunity.save()
    StageChange.objects.create(
        opportunity=opportunity,
        from_stage=None,
        to_stage=stage,
        status=status,
        win_reason=win_reason,
        loss_reason=loss_reason,
        owner=owner,
        actor=actor,
    )
    event_record(
        actor=actor,
        kind=EventKind.CREATED,
        opportunity=opportunity,
        data={
            "name": opportunity.name,
            "stage": stage.pk,
            "stage_name": stage.name,
            "status": status,
            "via": via,
            **_reason_data("win_reason", win_reason),
            **_reason_data("loss_reason", loss_reason),
        },
    )
    _assigned(actor=actor, opportunity=opportunity, settings=settings, previous_owner_id=None)
    _sync_contact_owner(
        actor=actor, opportunity=opportunity, settings=settings, contact_locked=via != "manual"
    )
    return opportunity


# --- sharing rules -------------------------------------------------------------------------------


def _validate_group_owner(settings: OpportunitySettings, owner: User | None) -> None:
    """With an assign-to group set, owners of opportunities are chosen among its members."""
    group = settings.assign_to_group
    if owner is not None and group is not None and not group.members.filter(pk=owner.pk).exists():
        raise ValidationError(
            {"owner": [_("Choose an owner from the team “%(team)s”.") % {"team": group.name}]}
        )


def _grant(opportunity: Opportunity, user_id: int, reason: str) -> None:
    """Record the grant (one INSERT … ON CONFLICT DO NOTHING: granting twice is a no-op)."""
    ContactAccess.objects.bulk_create(
        [
            ContactAccess(
                contact_id=opportunity.contact_id,
                user_id=user_id,
                reason=reason,
                opportunity=opportunity,
            )
        ],
        ignore_conflicts=True,
    )


def _revoke(opportunity: Opportunity, user_id: int, reason: str) -> None:
    ContactAccess.objects.filter(
        contact_id=opportunity.contact_id, user_id=user_id, reason=reason, opportunity=opportunity
    ).delete()


def _assigned(
    *,
    actor: User,
    opportunity: Opportunity,
    settings: OpportunitySettings,
    previous_owner_id: int | None,
) -> None:
    """The rules of assignment: the new owner may see the contact ("share contact when
    assigned"); the previous one loses what this assignment granted ("unshare contact when
    unassigned"), and nothing granted otherwise."""
    moved_away = previous_owner_id is not None and previous_owner_id != opportunity.owner_id
    if moved_away and settings.unshare_contact_when_unassigned:
        _revoke(opportunity, previous_owner_id, AccessReason.ASSIGNED)
    if settings.share_contact_when_assigned:
        _grant(opportunity, opportunity.owner_id, AccessReason.ASSIGNED)


def _sync_contact_owner(
    *,
    actor: User,
    opportunity: Opportunity,
    settings: OpportunitySettings,
    contact_locked: bool = False,
) -> None:
    """ "Sync opportunity and contact owners": a new opportunity's rep owns the contact too; with
    "sync owner of closed leads", the contact's closed (won or lost) deals go to that rep too."""
    if not settings.sync_opportunity_and_contact_owners:
        return
    contact = opportunity.contact
    if not contact_locked:  # ensure has locked and read it in this transaction already
        contact = Contact.objects.select_for_update().only("id", "owner_id").get(pk=contact.pk)
    rep_id = opportunity.owner_id
    if contact.owner_id != rep_id:
        previous = contact.owner_id
        contact.owner_id = rep_id
        Contact.objects.filter(pk=contact.pk).update(owner_id=rep_id, updated_at=timezone.now())
        event_record(
            actor=actor,
            kind=EventKind.OWNER_CHANGED,
            contact=contact,
            data={
                "from": previous,
                "to": rep_id,
                "via": "opportunity",
                "opportunity": opportunity.pk,
            },
        )
    # ``has_closed``: annotated by ensure's locking read, which spares this query for a contact
    # that has no closed deal (the usual case of automation).
    if settings.sync_owner_of_closed_leads and getattr(contact, "has_closed", True):
        closed = (
            Opportunity.objects.select_for_update()
            .filter(
                contact_id=contact.pk, status__in=[OpportunityStatus.WON, OpportunityStatus.LOST]
            )
            .exclude(owner_id=rep_id)
            .order_by("id")
        )
        for old in closed:
            previous = old.owner_id
            old.owner_id = rep_id
            old.save(update_fields=["owner", "updated_at"])
            event_record(
                actor=actor,
                kind=EventKind.OWNER_CHANGED,
                opportunity=old,
                data={"from": previous, "to": rep_id, "via": "sync_closed"},
            )
            _assigned(actor=actor, opportunity=old, settings=settings, previous_owner_id=previous)


def _regrant_for_new_contact(opportunity: Opportunity, settings: OpportunitySettings) -> None:
    """The opportunity moved to another contact: what it granted on the old one goes, and the
    rules grant the new one to its owner and the users it is shared with."""
    ContactAccess.objects.filter(opportunity=opportunity).exclude(
        contact_id=opportunity.contact_id
    ).delete()
    if settings.share_contact_when_assigned:
        _grant(opportunity, opportunity.owner_id, AccessReason.ASSIGNED)
    if settings.share_contact_when_shared:
        for user_id in opportunity.shares.values_list("user_id", flat=True):
            _grant(opportunity, user_id, AccessReason.SHARED)


def _sharing_target(actor: User, opportunity: Opportunity) -> Opportunity:
    """The opportunity, locked, once its current owner is known to allow ``actor`` to share."""
    opportunity = Opportunity.objects.select_for_update().get(pk=opportunity.pk)
    if not access.can_manage_sharing(actor, opportunity):
        raise PermissionDenied(
            _("Only the owner of the opportunity or an administrator can do this.")
        )
    return opportunity


@transaction.atomic
def opportunity_share(*, actor: User, opportunity: Opportunity, user: User) -> Opportunity:
    """Share with ``user``: they see and work the deal; "share contact when shared" lets them
    see its contact."""
    opportunity = _sharing_target(actor, opportunity)
    if not user.is_active:
        raise ValidationError({"user": [_("Choose an active user.")]})
    if user.pk == opportunity.owner_id:
        raise ValidationError({"user": [_("This user owns the opportunity already.")]})
    _share, created = OpportunityShare.objects.get_or_create(opportunity=opportunity, user=user)
    if created:
        event_record(
            actor=actor,
            kind=OpportunityEvent.SHARED,
            opportunity=opportunity,
            data={"user": user.pk, "user_name": str(user)},
        )
    if opportunity_settings_get().share_contact_when_shared:
        _grant(opportunity, user.pk, AccessReason.SHARED)
    return opportunity


@transaction.atomic
def opportunity_unshare(*, actor: User, opportunity: Opportunity, user: User) -> Opportunity:
    """Stop sharing with ``user``; "unshare contact when unshared" takes back the contact access
    this sharing granted (and nothing granted otherwise)."""
    opportunity = _sharing_target(actor, opportunity)
    deleted, _rows = OpportunityShare.objects.filter(opportunity=opportunity, user=user).delete()
    if deleted:
        event_record(
            actor=actor,
            kind=OpportunityEvent.UNSHARED,
            opportunity=opportunity,
            data={"user": user.pk, "user_name": str(user)},
        )
        if opportunity_settings_get().unshare_contact_when_unshared:
            _revoke(opportunity, user.pk, AccessReason.SHARED)
    return opportunity


def _check_contact(actor: User, contact: Contact) -> None:
    if contact.archived_at is not None:
        raise ValidationError({"contact": [_("This contact is archived.")]})
    if not access.can_see(actor, contact):
        raise ValidationError({"contact": [_("That record does not exist.")]})


@transaction.atomic
def opportunity_create(
    *,
    actor: User,
    name: str,
    contact: Contact,
    owner: User | None = None,
    stage: Stage | None = None,
    amount: Decimal = Decimal(0),
    win_reason: WinReason | None = None,
    loss_reason: LossReason | None = None,
) -> Opportunity:
    """Manual creation by a user: not restricted by the active stages (``opportunity_ensure`` is
    what automation uses). The stage defaults to the default stage."""
    _check_contact(actor, contact)
    settings = opportunity_settings_get()
    _validate_group_owner(settings, owner or actor)
    return _create(
        actor=actor,
        settings=settings,
        name=name,
        contact=contact,
        owner=owner or actor,
        stage=stage or _default_stage(settings),
        amount=amount,
        win_reason=win_reason,
        loss_reason=loss_reason,
        via="manual",
    )


@functools.cache
def _active_lookup_sql() -> tuple[str, list[str]]:
    """The statement behind ``_active_opportunity``, built once from the models' metadata."""
    opp = Opportunity._meta
    columns = [f.column for f in opp.concrete_fields]
    qn = connection.ops.quote_name
    # Only names from the models' metadata go into the text; the values are parameters.
    sql = (
        f"SELECT {', '.join(qn(c) for c in columns)} FROM {qn(opp.db_table)}"  # noqa: S608
        f" WHERE {qn('contact_id')} = %s AND {qn('in_active_stage')}"
        f" AND {qn('archived_at')} IS NULL ORDER BY {qn('id')} LIMIT 1"
    )
    return sql, [f.attname for f in opp.concrete_fields]


_LOOKUP_STATEMENT = "crm_engaged_opportunity"
#: Per Django connection (each thread has its own): the driver connection the lookup is
#: prepared on, and the cursor it runs on, kept open. Prepared statements live as long as the
#: session (a rollback keeps them); a new session needs its own, and gets a new cursor. Creating
#: and closing a cursor for every call cost a fifth of the lookup's CPU (``make bench``).
_LOOKUP_CURSORS: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def _lookup_cursor(db: BaseDatabaseWrapper) -> CursorWrapper:
    """Django's wrapper (its errors, query logging and execute wrappers) around the kept cursor,
    on which the lookup is prepared."""
    db.ensure_connection()
    session, cursor = _LOOKUP_CURSORS.get(db, (None, None))
    fresh = session is not db.connection
    if fresh:
        cursor = db.create_cursor()
    wrapped = db.make_debug_cursor(cursor) if db.queries_logged else db.make_cursor(cursor)
    if fresh:
        sql, _attnames = _active_lookup_sql()
        wrapped.execute(f"PREPARE {_LOOKUP_STATEMENT} (bigint) AS {sql.replace('%s', '$1')}")
        _LOOKUP_CURSORS[db] = (db.connection, cursor)
    return wrapped


def _active_opportunity(contact_id: int) -> Opportunity | None:
    """The contact's oldest live opportunity in an active stage.

    Automation calls ``opportunity_ensure`` for every purchase, click and conversion, and nearly
    always finds the deal, so this lookup is built for speed: one statement on one table (the
    ``in_active_stage`` flag, a partial index) and ``Model.from_db``. On PostgreSQL it is a
    prepared statement, planned once per connection: planning it (the table has a dozen
    indexes to weigh) cost as much as running it. Building the query with the ORM on every call
    cost five times as much (``make bench``, scenario ``ensure``).
    """
    sql, attnames = _active_lookup_sql()
    db = connections[DEFAULT_DB_ALIAS]
    if db.vendor == "postgresql":
        cur = _lookup_cursor(db)
        cur.execute(f"EXECUTE {_LOOKUP_STATEMENT} (%s)", [contact_id])
        row = cur.fetchone()
    else:
        with db.cursor() as cur:
            cur.execute(sql, [contact_id])
            row = cur.fetchone()
    return None if row is None else Opportunity.from_db(db.alias, attnames, row)


def opportunity_ensure(
    *,
    actor: User,
    contact: Contact,
    name: str,
    owner: User | None = None,
    amount: Decimal = Decimal(0),
    lead=None,
) -> tuple[Opportunity, bool]:
    """THE automatic creation rule: the contact's opportunity in an active stage, or a new one.

    An existing opportunity is returned as it is (its owner untouched, even when it is another
    rep's): one query, no lock, since finding one needs no guarantee. Only when there is none is
    the contact row locked and the search repeated under the lock, so concurrent calls for one
    contact create exactly one opportunity and the others get that one back. A new one goes to
    the default stage, owned by ``owner`` or else by the contact's owner.
    Returns ``(opportunity, created)``.
    """
    existing = _active_opportunity(contact.pk)
    if existing is not None:
        return existing, False
    via = "lead_conversion" if lead is not None else "ensure"
    # The plain case (nearly every call) in one round trip: the same lock, re-check and rows.
    found = ensure_sql.ensure_create(
        actor=actor,
        contact_id=contact.pk,
        name=name,
        owner=owner,
        amount=amount,
        lead=lead,
        via=via,
    )
    if found is not None:
        return found
    # Every other case, every rule and every error: the ORM path.
    settings = opportunity_settings_get()  # read before the lock: keep the locked span short
    closed = Opportunity.objects.filter(
        contact_id=OuterRef("pk"), status__in=[OpportunityStatus.WON, OpportunityStatus.LOST]
    )
    with transaction.atomic():
        locked = (
            Contact.objects.select_for_update(of=("self",))
            .select_related("owner")
            .annotate(has_closed=Exists(closed))
            .filter(pk=contact.pk)
            .first()
        )
        if locked is None:
            raise ValidationError({"contact": [_("That record does not exist.")]})
        # A new statement, so a new snapshot under read committed: it sees the opportunity a
        # transaction that held the lock before us committed. (A subquery of the locking
        # statement would not: its snapshot predates the wait.)
        existing = _active_opportunity(locked.pk)
        if existing is not None:
            return existing, False
        if locked.archived_at is not None:
            raise ValidationError({"contact": [_("This contact is archived.")]})
        _validate_group_owner(settings, owner)
        opportunity = _create(
            actor=actor,
            settings=settings,
            name=name,
            contact=locked,
            owner=owner or locked.owner,
            stage=_default_stage(settings),
            amount=amount,
            lead=lead,
            via=via,
        )
    return opportunity, True


UPDATE_FIELDS = ("name", "contact", "owner", "amount")


@transaction.atomic
def opportunity_update(*, actor: User, opportunity: Opportunity, **fields) -> Opportunity:
    """Edit the deal; a ``stage`` (with its reasons) moves it through ``opportunity_move``."""
    unknown = set(fields) - set(UPDATE_FIELDS) - {"stage", "win_reason", "loss_reason"}
    if unknown:
        raise TypeError(f"unexpected fields {unknown}")
    opportunity = Opportunity.objects.select_for_update().get(pk=opportunity.pk)
    move = {k: fields.pop(k) for k in ("stage", "win_reason", "loss_reason") if k in fields}
    reassigning = "owner" in fields and fields["owner"] != opportunity.owner
    if reassigning and not access.can_manage_sharing(actor, opportunity):
        # Users it is shared with work the deal, but reassigning it, like sharing it, is for its
        # owner and admins: else they could take it from its owner and share it on.
        raise PermissionDenied(
            _("Only the owner of the opportunity or an administrator can do this.")
        )
    if "contact" in fields and fields["contact"] != opportunity.contact:
        _check_contact(actor, fields["contact"])
    _validate_new_owner(opportunity, fields)
    settings = opportunity_settings_get()
    if reassigning:
        _validate_group_owner(settings, fields["owner"])
    if "name" in fields:
        fields["name"] = fields["name"].strip()
    previous_owner_id = opportunity.owner_id
    changes = _apply(opportunity, fields)
    if changes:
        _clean(opportunity, exclude=["contact", "owner", "stage", "lead"])
        opportunity.save()
        if "contact" in changes:
            _regrant_for_new_contact(opportunity, settings)
        if "owner" in changes:
            _assigned(
                actor=actor,
                opportunity=opportunity,
                settings=settings,
                previous_owner_id=previous_owner_id,
            )
        _record_update(actor=actor, subject_kw={"opportunity": opportunity}, changes=changes)
    if move:
        opportunity = opportunity_move(
            actor=actor,
            opportunity=opportunity,
            stage=move.get("stage", opportunity.stage),
            win_reason=move.get("win_reason", opportunity.win_reason),
            loss_reason=move.get("loss_reason", opportunity.loss_reason),
        )
    return opportunity


@transaction.atomic
def opportunity_move(
    *,
    actor: User,
    opportunity: Opportunity,
    stage: Stage,
    win_reason: WinReason | None = None,
    loss_reason: LossReason | None = None,
) -> Opportunity:
    """Move a deal to ``stage`` (or change why it was won or lost, in the same stage).

    Status and ``closed_at`` follow the stage; the reason rule is ``close_reason_check``. Each
    move writes a ``StageChange`` row and an event; reopening clears the reason on the deal, the
    history keeps it.
    """
    opportunity = Opportunity.objects.select_for_update().get(pk=opportunity.pk)
    if opportunity.archived_at is not None:
        raise ValidationError(_("This opportunity is archived."))
    settings = opportunity_settings_get()
    same_stage = stage.pk == opportunity.stage_id
    if not same_stage:
        _check_stage(stage)
    status = stage_status(stage, settings) if not same_stage else opportunity.status
    win_reason, loss_reason = close_reason_check(
        status=status, win_reason=win_reason, loss_reason=loss_reason, settings=settings
    )
    if (
        same_stage
        and win_reason == opportunity.win_reason
        and loss_reason == opportunity.loss_reason
    ):
        return opportunity
    previous = {
        "stage": opportunity.stage,
        "status": opportunity.status,
        "win_reason": opportunity.win_reason,
        "loss_reason": opportunity.loss_reason,
    }
    now = timezone.now()
    opportunity.stage = stage
    opportunity.status = status
    opportunity.win_reason = win_reason
    opportunity.loss_reason = loss_reason
    if not same_stage:
        opportunity.stage_entered_at = now
        opportunity.in_active_stage = _is_active(stage, settings)
    if status == OpportunityStatus.OPEN:
        opportunity.closed_at = None
    elif previous["status"] != status:
        opportunity.closed_at = now
    opportunity.save()
    if not same_stage:
        StageChange.objects.create(
            opportunity=opportunity,
            from_stage=previous["stage"],
            to_stage=stage,
            status=status,
            win_reason=win_reason,
            loss_reason=loss_reason,
            owner_id=opportunity.owner_id,
            actor=actor,
        )
    event_record(
        actor=actor,
        kind=OpportunityEvent.STAGE_CHANGED,
        opportunity=opportunity,
        data={
            "from": previous["stage"].pk,
            "from_name": previous["stage"].name,
            "to": stage.pk,
            "to_name": stage.name,
            "from_status": previous["status"],
            "status": status,
            "reopened": previous["status"] != OpportunityStatus.OPEN
            and status == OpportunityStatus.OPEN,
            **_reason_data("win_reason", win_reason),
            **_reason_data("loss_reason", loss_reason),
            **_reason_data("previous_win_reason", previous["win_reason"]),
            **_reason_data("previous_loss_reason", previous["loss_reason"]),
        },
    )
    if status != OpportunityStatus.OPEN and previous["status"] == OpportunityStatus.OPEN:
        # Sequences that say so stop when their deal is won or lost. Imported here: the
        # automation module builds on this one.
        from opportunities.services_automation import enrollments_stop_for_closed

        enrollments_stop_for_closed(opportunity=opportunity)
    return opportunity


@transaction.atomic
def opportunity_archive(*, actor: User, opportunity: Opportunity) -> Opportunity:
    """Archive (owner or admin). Nobody sees an archived deal, so what it granted on its contact
    goes as the unshare rules say, as if it were unshared and unassigned."""
    opportunity = Opportunity.objects.select_for_update().get(pk=opportunity.pk)
    if not access.can_manage_sharing(actor, opportunity):
        raise PermissionDenied(
            _("Only the owner of the opportunity or an administrator can do this.")
        )
    if opportunity.archived_at is None:
        opportunity.archived_at = timezone.now()
        opportunity.save(update_fields=["archived_at", "updated_at"])
        settings = opportunity_settings_get()
        reasons = [
            reason
            for reason, rule in (
                (AccessReason.SHARED, settings.unshare_contact_when_unshared),
                (AccessReason.ASSIGNED, settings.unshare_contact_when_unassigned),
            )
            if rule
        ]
        ContactAccess.objects.filter(opportunity=opportunity, reason__in=reasons).delete()
        event_record(actor=actor, kind=EventKind.ARCHIVED, opportunity=opportunity)
    return opportunity
