"""Bulk actions on the lead, contact and opportunity lists (issue #9.6), for the pages and the API.

Every action runs in one transaction: either every chosen record changes or none does. The rules
are the ones of the single-record services, in the same functions:

- owner change: set-based (one locking read, one UPDATE, one ``Event`` INSERT for all records),
  so its query count does not grow with the number of records. Leads reuse
  ``leads.services.lead_bulk_assign`` (converted leads are read-only and left out). Opportunities
  apply the rules of ``opportunity_update``: only their owner or an admin reassigns them
  (``access.can_manage_sharing``), the "assign to group" rule on the new owner, and the
  assignment sharing rules (``unshare_contact_when_unassigned`` / ``share_contact_when_assigned``)
  as one DELETE and one INSERT … ON CONFLICT DO NOTHING.
- tag / untag (contacts): the tag is found or created once; the through rows are inserted with
  ``bulk_create(ignore_conflicts=True)`` or deleted in one statement; one "updated" event per
  contact whose tags changed (the same ``{"changes": {"tags": [before, after]}}`` as an edit).
- disqualify (leads): the reason rule ``disqualification_reason_check`` once up front (a missing
  reason fails before anything is touched), then ``lead_disqualify`` per lead (its history row,
  event and nurture triggers): a few queries per lead.
- move (opportunities): ``close_reason_check`` once up front for the stage's status, then
  ``opportunity_move`` per deal (stage change row, event, sequences stopped on close).
- archive: each record through its archive service (an opportunity only by its owner or admin).

A record the actor may not see makes the whole request "not found" (``RecordsNotFound``: 404 in
the API and the pages), as API.md says of invisible records; nothing changes.
"""

from __future__ import annotations

from django.core.exceptions import ObjectDoesNotExist, PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import Q, QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from crm import access
from crm.models import Contact, Event, EventKind, User
from crm.services import (
    _validate_owner,
    contact_archive,
    contact_reassign_check,
    tag_get_or_create,
)

MAX_IDS = 1000

ACTIONS = {
    "assign": gettext_lazy("Change owner"),
    "tag": gettext_lazy("Add a tag"),
    "untag": gettext_lazy("Remove a tag"),
    "disqualify": gettext_lazy("Disqualify"),
    "move": gettext_lazy("Move to stage"),
    "archive": gettext_lazy("Archive"),
}

#: The values each action takes besides the ids (the API body's and the toolbar form's fields).
ACTION_FIELDS: dict[str, tuple[str, ...]] = {
    "assign": ("owner",),
    "tag": ("tag",),
    "untag": ("tag",),
    "disqualify": ("reason", "note"),
    "move": ("stage", "win_reason", "loss_reason"),
    "archive": (),
}

LIST_ACTIONS: dict[str, tuple[str, ...]] = {
    "leads": ("assign", "disqualify", "archive"),
    "contacts": ("assign", "tag", "untag", "archive"),
    "opportunities": ("assign", "move", "archive"),
}


class RecordsNotFound(ObjectDoesNotExist):
    """Some of the ids are not records the actor may see (or do not exist)."""


def bulk_targets(*, user: User, list_key: str, ids: list[int]) -> QuerySet:
    """The records ``ids`` name, all visible to ``user``; else ``RecordsNotFound``."""
    from crm.lists import list_specs

    wanted = set(ids)
    qs = list_specs()[list_key].visible(user).filter(pk__in=wanted)
    if not wanted or qs.count() != len(wanted):
        raise RecordsNotFound(_("Not found."))
    return qs


def _require(value, field: str, message: str):
    if value in (None, ""):
        raise ValidationError({field: [message]})
    return value


def _per_record(records, call) -> int:
    """Run ``call`` on each record; a record's own error names it (and undoes everything)."""
    done = 0
    for obj in records:
        try:
            call(obj)
        except ValidationError as exc:
            if hasattr(exc, "error_dict") and set(exc.error_dict) - {"__all__"}:
                raise
            raise ValidationError(
                {
                    "ids": [
                        _("“%(name)s”: %(error)s") % {"name": obj, "error": " ".join(exc.messages)}
                    ]
                }
            ) from exc
        done += 1
    return done


def _owner_events(rows, *, actor: User, owner: User, subject: str) -> None:
    Event.objects.bulk_create(
        Event(
            actor=actor,
            kind=EventKind.OWNER_CHANGED,
            data={"from": old, "to": owner.pk},
            **{f"{subject}_id": pk},
        )
        for pk, old, *_rest in rows
    )


# --- contacts ------------------------------------------------------------------------------------


def _contacts_assign(*, actor: User, contacts: QuerySet, owner: User) -> int:
    rows = list(
        contacts.exclude(owner=owner)
        .select_for_update()
        .order_by("pk")
        .values_list("pk", "owner_id")
    )
    contact_reassign_check(actor=actor, owners=[old for _pk, old in rows])
    if rows:
        Contact.objects.filter(pk__in=[r[0] for r in rows]).update(
            owner=owner, updated_at=timezone.now()
        )
        _owner_events(rows, actor=actor, owner=owner, subject="contact")
    return len(rows)


def _contacts_tag(*, actor: User, contacts: QuerySet, tag_name: str, add: bool) -> int:
    tag = tag_get_or_create(name=tag_name or "")
    through = Contact.tags.through
    locked = list(contacts.select_for_update().order_by("pk").values_list("pk", flat=True))
    names: dict[int, list[str]] = {pk: [] for pk in locked}
    for contact_id, name in through.objects.filter(contact_id__in=locked).values_list(
        "contact_id", "tag__name"
    ):
        names[contact_id].append(name)
    if add:
        changing = [pk for pk in locked if tag.name not in names[pk]]
        through.objects.bulk_create(
            [through(contact_id=pk, tag_id=tag.pk) for pk in changing], ignore_conflicts=True
        )
    else:
        changing = [pk for pk in locked if tag.name in names[pk]]
        through.objects.filter(contact_id__in=changing, tag_id=tag.pk).delete()
    if changing:
        Contact.objects.filter(pk__in=changing).update(updated_at=timezone.now())
        events = []
        for pk in changing:
            before = sorted(names[pk])
            after = sorted([*before, tag.name]) if add else [n for n in before if n != tag.name]
            events.append(
                Event(
                    actor=actor,
                    kind=EventKind.UPDATED,
                    contact_id=pk,
                    data={"changes": {"tags": [before, after]}},
                )
            )
        Event.objects.bulk_create(events)
    return len(changing)


# --- opportunities -------------------------------------------------------------------------------


def _opportunities_assign(*, actor: User, opportunities: QuerySet, owner: User) -> int:
    from opportunities.models import AccessReason, ContactAccess, Opportunity
    from opportunities.services import _validate_group_owner, opportunity_settings_get

    settings = opportunity_settings_get()
    rows = list(
        opportunities.exclude(owner=owner)
        .select_for_update()
        .order_by("pk")
        .values_list("pk", "owner_id", "contact_id")
    )
    if not rows:
        return 0
    if not access.is_admin(actor) and any(old != actor.pk for _pk, old, _c in rows):
        # Users a deal is shared with work it, but reassigning it is for its owner and admins.
        raise PermissionDenied(
            _("Only the owner of the opportunity or an administrator can do this.")
        )
    _validate_group_owner(settings, owner)
    Opportunity.objects.filter(pk__in=[r[0] for r in rows]).update(
        owner=owner, updated_at=timezone.now()
    )
    _owner_events(rows, actor=actor, owner=owner, subject="opportunity")
    if settings.unshare_contact_when_unassigned:
        moved_away = Q()
        for pk, old, _contact in rows:
            moved_away |= Q(opportunity_id=pk, user_id=old)
        ContactAccess.objects.filter(moved_away, reason=AccessReason.ASSIGNED).delete()
    if settings.share_contact_when_assigned:
        ContactAccess.objects.bulk_create(
            [
                ContactAccess(
                    contact_id=contact_id,
                    user_id=owner.pk,
                    reason=AccessReason.ASSIGNED,
                    opportunity_id=pk,
                )
                for pk, _old, contact_id in rows
            ],
            ignore_conflicts=True,
        )
    return len(rows)


def _opportunities_move(
    *, actor: User, opportunities: QuerySet, stage, win_reason=None, loss_reason=None
) -> int:
    from opportunities.services import (
        _check_stage,
        close_reason_check,
        opportunity_move,
        opportunity_settings_get,
        stage_status,
    )

    _require(stage, "stage", _("Choose a stage."))
    _check_stage(stage)
    settings = opportunity_settings_get()
    close_reason_check(
        status=stage_status(stage, settings),
        win_reason=win_reason,
        loss_reason=loss_reason,
        settings=settings,
    )
    return _per_record(
        opportunities.order_by("pk"),
        lambda opp: opportunity_move(
            actor=actor,
            opportunity=opp,
            stage=stage,
            win_reason=win_reason,
            loss_reason=loss_reason,
        ),
    )


# --- the entry point -----------------------------------------------------------------------------


@transaction.atomic
def bulk_apply(
    *,
    actor: User,
    list_key: str,
    records: QuerySet,
    action: str,
    owner: User | None = None,
    tag: str = "",
    reason=None,
    note: str = "",
    stage=None,
    win_reason=None,
    loss_reason=None,
) -> int:
    """Apply ``action`` to ``records`` (from ``bulk_targets``); returns how many changed."""
    if action not in LIST_ACTIONS.get(list_key, ()):
        raise ValidationError({"action": [_("This action is not available for this list.")]})
    if action == "assign":
        _validate_owner(owner)
        if list_key == "leads":
            from leads.services import lead_bulk_assign

            return lead_bulk_assign(actor=actor, leads=records, owner=owner)
        if list_key == "contacts":
            return _contacts_assign(actor=actor, contacts=records, owner=owner)
        return _opportunities_assign(actor=actor, opportunities=records, owner=owner)
    if action in ("tag", "untag"):
        return _contacts_tag(actor=actor, contacts=records, tag_name=tag, add=action == "tag")
    if action == "disqualify":
        from leads.services import disqualification_reason_check, lead_disqualify

        disqualification_reason_check(reason=reason)
        return _per_record(
            records.order_by("pk"),
            lambda lead: lead_disqualify(actor=actor, lead=lead, reason=reason, note=note),
        )
    if action == "move":
        return _opportunities_move(
            actor=actor,
            opportunities=records,
            stage=stage,
            win_reason=win_reason,
            loss_reason=loss_reason,
        )
    # archive
    if list_key == "leads":
        from leads.services import lead_archive

        return _per_record(records, lambda lead: lead_archive(actor=actor, lead=lead))
    if list_key == "contacts":
        return _per_record(records, lambda c: contact_archive(actor=actor, contact=c))
    from opportunities.services import opportunity_archive

    return _per_record(records, lambda o: opportunity_archive(actor=actor, opportunity=o))
