"""Who sees what: the one place that decides record visibility.

Every page, list, search, export, report and API endpoint builds its querysets on the functions
below. Admins see everything. A rep sees the records they own, the opportunities shared with them,
and the contacts the sharing rules granted them (``opportunities.ContactAccess`` rows, one per
reason and opportunity). Records out of reach are simply not in the queryset, so a lookup by id
yields 404 and lists never show them.

The "or shared" part is ``id IN (owned ids UNION granted ids)``: both halves are index scans
(owner, access rows by user), never an OR over the big table that forces a full scan.
"""

from __future__ import annotations

from typing import NamedTuple

from django.db.models import Q, QuerySet

from crm.models import Account, Contact, Event, Task, Team, User


def is_admin(user) -> bool:
    """Admins manage settings, users and teams and see every record."""
    return bool(user and user.is_authenticated and user.is_admin)


def _owned(qs: QuerySet, user, include_archived: bool) -> QuerySet:
    conditions = {} if include_archived else {"archived_at__isnull": True}
    if not (user and user.is_authenticated and user.is_active):
        return qs.filter(**conditions).none()
    if not is_admin(user):
        conditions["owner_id"] = user.pk
    # one filter() call: one clone of the query, on every list request
    return qs.filter(**conditions) if conditions else qs


class VisibleParts(NamedTuple):
    """A visible set as two querysets whose union it is: ``owned`` (everything for an admin,
    nothing for nobody) and ``granted`` (None for an admin). A filter added to ``owned`` is
    planned together with the owner index (a search of a rep's own rows reads only the rows
    that are theirs and match), where the same filter over the ``IN (… UNION …)`` form of the
    visible querysets first finds every match in the whole table."""

    owned: QuerySet
    granted: QuerySet | None


def _owned_or_granted_parts(
    qs: QuerySet, user, include_archived: bool, granted: QuerySet
) -> VisibleParts:
    """``_owned_or_granted`` in parts (``VisibleParts``)."""
    if not include_archived:
        qs = qs.filter(archived_at__isnull=True)
    if not (user and user.is_authenticated and user.is_active):
        return VisibleParts(qs.none(), None)
    if is_admin(user):
        return VisibleParts(qs, None)
    return VisibleParts(qs.filter(owner_id=user.pk), qs.filter(pk__in=granted))


def visible_accounts(user, *, include_archived: bool = False) -> QuerySet[Account]:
    return _owned(Account.objects.all(), user, include_archived)


def _owned_or_granted(qs: QuerySet, user, include_archived: bool, granted: QuerySet) -> QuerySet:
    """``_owned`` widened by ``granted`` (a ``values("<fk>")`` queryset of ids granted to the
    user): ``id IN (SELECT id … WHERE owner = me UNION SELECT <fk> FROM <grants> WHERE user = me)``.
    """
    if not include_archived:
        qs = qs.filter(archived_at__isnull=True)
    if not (user and user.is_authenticated and user.is_active):
        return qs.none()
    if is_admin(user):
        return qs
    owned = qs.model.objects.filter(owner_id=user.pk).order_by().values("pk")
    return qs.filter(pk__in=owned.union(granted))


def visible_contacts(user, *, include_archived: bool = False) -> QuerySet[Contact]:
    from opportunities.models import ContactAccess

    granted = ContactAccess.objects.filter(user_id=getattr(user, "pk", None)).values("contact_id")
    return _owned_or_granted(Contact.objects.all(), user, include_archived, granted)


def visible_contact_parts(user, *, include_archived: bool = False) -> VisibleParts:
    """``visible_contacts`` in parts (see ``_owned_or_granted_parts``)."""
    from opportunities.models import ContactAccess

    granted = ContactAccess.objects.filter(user_id=getattr(user, "pk", None)).values("contact_id")
    return _owned_or_granted_parts(Contact.objects.all(), user, include_archived, granted)


def visible_tasks(user, *, include_archived: bool = False) -> QuerySet[Task]:
    return _owned(Task.objects.all(), user, include_archived)


def visible_leads(user, *, include_archived: bool = False, leads: QuerySet | None = None):
    """The leads ``user`` may see: of all leads, or of ``leads`` (a queryset of leads built
    beforehand, an annotated base or ``values()`` rows: ``leads.selectors.lead_list_rows``)."""
    from leads.models import Lead

    return _owned(Lead.objects.all() if leads is None else leads, user, include_archived)


def rows_of_visible_leads(qs: QuerySet, user, *, field: str = "lead") -> QuerySet:
    """The rows of ``qs`` (a table pointing at leads through ``field``) whose lead ``user`` can
    see, archived leads included: for a rep, the rows of their own leads; for an admin, every
    row, with no semi-join to the leads (each row has its lead: the foreign key protects it), so
    that a report over every lead reads its own table only."""
    if not (user and user.is_authenticated and user.is_active):
        return qs.none()
    if is_admin(user):
        return qs
    return qs.filter(**{f"{field}__in": visible_leads(user, include_archived=True)})


def visible_opportunities(user, *, include_archived: bool = False):
    from opportunities.models import Opportunity, OpportunityShare

    shared = OpportunityShare.objects.filter(user_id=getattr(user, "pk", None)).values(
        "opportunity_id"
    )
    return _owned_or_granted(Opportunity.objects.all(), user, include_archived, shared)


def visible_opportunity_parts(user, *, include_archived: bool = False) -> VisibleParts:
    """``visible_opportunities`` in parts (see ``_owned_or_granted_parts``)."""
    from opportunities.models import Opportunity, OpportunityShare

    shared = OpportunityShare.objects.filter(user_id=getattr(user, "pk", None)).values(
        "opportunity_id"
    )
    return _owned_or_granted_parts(Opportunity.objects.all(), user, include_archived, shared)


def disjoint_opportunity_parts(user) -> list[QuerySet]:
    """The opportunities ``user`` may see as disjoint querysets whose union is the visible set:
    every one for an admin; for a rep their own and the ones shared with them that they do not
    own (a deal reassigned to someone it was shared with is in both parts of
    ``visible_opportunity_parts``). Each can be counted and summed on its own."""
    owned, shared = visible_opportunity_parts(user)
    if shared is None:
        return [owned]
    return [owned, shared.exclude(owner_id=user.pk)]


def can_reassign(user, owner_id: int | None) -> bool:
    """Handing a contact (now owned by ``owner_id``) to another owner is for its owner and
    admins: users who see it through the sharing rules work it, but cannot take it (and then
    share it on)."""
    return is_admin(user) or (user.is_authenticated and owner_id == user.pk)


def can_archive_contact(user, contact) -> bool:
    """Archiving (and restoring) a contact is for its owner and admins: users who see it through
    a deal shared with them or assigned to them work it, but cannot take it out of everyone's
    lists (the rule opportunities follow with ``can_manage_sharing``)."""
    return can_reassign(user, contact.owner_id)


def can_manage_sharing(user, opportunity) -> bool:
    """Sharing and unsharing an opportunity is for its owner and admins."""
    return is_admin(user) or (user.is_authenticated and opportunity.owner_id == user.pk)


def visible_users(user) -> QuerySet[User]:
    """Every signed-in user may list colleagues (owner pickers need them)."""
    if not (user and user.is_authenticated and user.is_active):
        return User.objects.none()
    return User.objects.all()


def visible_teams(user) -> QuerySet[Team]:
    if not (user and user.is_authenticated and user.is_active):
        return Team.objects.none()
    return Team.objects.all()


def visible_events(user) -> QuerySet[Event]:
    """An event is visible when its subject is: the task for task events, else the record.

    Events about users and teams (no record subject) are for admins only.
    """
    qs = Event.objects.all()
    if not (user and user.is_authenticated and user.is_active):
        return qs.none()
    if is_admin(user):
        return qs
    record = (
        Q(account__in=visible_accounts(user, include_archived=True))
        | Q(contact__in=visible_contacts(user, include_archived=True))
        | Q(lead__in=visible_leads(user, include_archived=True))
        | Q(opportunity__in=visible_opportunities(user, include_archived=True))
    )
    return qs.filter(
        Q(task__isnull=False, task__in=visible_tasks(user, include_archived=True))
        | (Q(task__isnull=True) & record)
    )


def can_see(user, obj) -> bool:
    """True when ``obj`` (an owned record) is within ``user``'s reach."""
    lookup = {
        Account: visible_accounts,
        Contact: visible_contacts,
        Task: visible_tasks,
    }
    from leads.models import Lead
    from opportunities.models import Opportunity

    lookup[Lead] = visible_leads
    lookup[Opportunity] = visible_opportunities
    fn = lookup[type(obj)]
    return fn(user).filter(pk=obj.pk).exists()
