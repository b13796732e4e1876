"""Undo and restore (issue #9.7): archived records come back, with a "restored" event.

``<entity>_restore(*, actor, obj)`` mirrors ``<entity>_archive``: whoever may archive a record may
restore it. Leads, accounts and tasks: their owner or an admin; contacts: whoever sees them (owner,
admin, or a rep a sharing rule granted them to, as for archiving); opportunities: their owner or an
admin (``access.can_manage_sharing``). Archived records are outside the normal visibility
querysets, so the check uses them with ``include_archived=True``.

An opportunity's archive took back the contact access its sharing rules had granted; restoring it
grants it again by the same rules ("share contact when assigned" for its owner, "share contact
when shared" for the users it is still shared with), so the deal is back exactly as reachable as
before. Restoring a record whose parent is archived (a contact of an archived account) restores
only that record. Archived records are kept forever: nothing purges them, so they can be restored
for (at least) 90 days.
"""

from __future__ import annotations

from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.utils.translation import gettext as _

from crm import access
from crm.models import Account, Contact, Task, User
from crm.services import event_record

RESTORED = "restored"


def _restore(*, actor: User, obj, visible, subject: str):
    model = type(obj)
    obj = model.objects.select_for_update().get(pk=obj.pk)
    if not visible(actor, include_archived=True).filter(pk=obj.pk).exists():
        raise PermissionDenied(_("You cannot restore this record."))
    if obj.archived_at is None:
        return obj, False
    archived_at = obj.archived_at
    obj.archived_at = None
    obj.save(update_fields=["archived_at", "updated_at"])
    event_record(actor=actor, kind=RESTORED, data={"archived_at": archived_at}, **{subject: obj})
    return obj, True


@transaction.atomic
def account_restore(*, actor: User, account: Account) -> Account:
    return _restore(actor=actor, obj=account, visible=access.visible_accounts, subject="account")[0]


@transaction.atomic
def contact_restore(*, actor: User, contact: Contact) -> Contact:
    if not access.can_archive_contact(actor, contact):
        raise PermissionDenied(_("Only the owner of the contact or an administrator can do this."))
    return _restore(actor=actor, obj=contact, visible=access.visible_contacts, subject="contact")[0]


@transaction.atomic
def task_restore(*, actor: User, task: Task) -> Task:
    return _restore(actor=actor, obj=task, visible=access.visible_tasks, subject="task")[0]


@transaction.atomic
def lead_restore(*, actor: User, lead):
    return _restore(actor=actor, obj=lead, visible=access.visible_leads, subject="lead")[0]


@transaction.atomic
def opportunity_restore(*, actor: User, opportunity):
    from opportunities.models import AccessReason, ContactAccess
    from opportunities.services import opportunity_settings_get

    if not access.can_manage_sharing(actor, opportunity):
        raise PermissionDenied(
            _("Only the owner of the opportunity or an administrator can do this.")
        )
    opportunity, restored = _restore(
        actor=actor,
        obj=opportunity,
        visible=access.visible_opportunities,
        subject="opportunity",
    )
    if restored:
        settings = opportunity_settings_get()
        grants = []
        if settings.share_contact_when_assigned:
            grants.append((opportunity.owner_id, AccessReason.ASSIGNED))
        if settings.share_contact_when_shared:
            grants += [
                (user_id, AccessReason.SHARED)
                for user_id in opportunity.shares.values_list("user_id", flat=True)
            ]
        ContactAccess.objects.bulk_create(
            [
                ContactAccess(
                    contact_id=opportunity.contact_id,
                    user_id=user_id,
                    reason=reason,
                    opportunity=opportunity,
                )
                for user_id, reason in grants
            ],
            ignore_conflicts=True,
        )
    return opportunity


def restore_services() -> dict:
    """Kind → (model, visible queryset function, restore service, its keyword)."""
    from leads.models import Lead
    from opportunities.models import Opportunity

    return {
        "lead": (Lead, access.visible_leads, lead_restore, "lead"),
        "contact": (Contact, access.visible_contacts, contact_restore, "contact"),
        "account": (Account, access.visible_accounts, account_restore, "account"),
        "opportunity": (
            Opportunity,
            access.visible_opportunities,
            opportunity_restore,
            "opportunity",
        ),
        "task": (Task, access.visible_tasks, task_restore, "task"),
    }
