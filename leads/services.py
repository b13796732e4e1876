"""Every write of the leads app: lead records, disqualification (with its single reason rule),
frozen leads coming back, requalification, conversion, reasons, settings and CSV import."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import connection, transaction
from django.db.models import QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _

from crm import access
from crm.models import Account, Contact, Event, EventKind, Task, User
from crm.services import (
    _apply,
    _clean,
    _record_update,
    _validate_owner,
    event_record,
    follow_up_create,
    list_item_archive_or_delete,
    list_item_create,
    list_item_reorder,
    task_complete,
    user_today,
)
from leads.models import (
    DisqualificationReason,
    Lead,
    LeadDisqualification,
    LeadEvent,
    LeadSettings,
    LeadStatus,
    Rating,
)
from opportunities.models import Opportunity
from opportunities.services import opportunity_ensure
from scoring import services as scoring

LEAD_FIELDS = (
    "first_name",
    "last_name",
    "company",
    "title",
    "email",
    "phone",
    "source",
    "industry",
    "country",
    "company_size",
    "budget",
    "authority",
    "need",
    "timeline",
    "owner",
)
_TEXT_FIELDS = set(LEAD_FIELDS) - {
    "owner",
    "company_size",
    "budget",
    "authority",
    "need",
    "timeline",
}


def _require_admin(actor: User) -> None:
    if not access.is_admin(actor):
        raise PermissionDenied(_("Only administrators can do this."))


# --- settings ------------------------------------------------------------------------------------


def lead_settings_get() -> LeadSettings:
    """The single settings row, created with defaults on first read."""
    obj, _created = LeadSettings.objects.get_or_create(pk=1)
    return obj


@transaction.atomic
def lead_settings_update(*, actor: User, ask_disqualification_reason: bool) -> LeadSettings:
    _require_admin(actor)
    obj = LeadSettings.objects.select_for_update().get(pk=lead_settings_get().pk)
    changes = _apply(obj, {"ask_disqualification_reason": ask_disqualification_reason})
    if changes:
        obj.save()
        event_record(actor=actor, kind=LeadEvent.SETTINGS_CHANGED, data={"changes": changes})
    return obj


# --- lead records --------------------------------------------------------------------------------


def _strip(fields: dict) -> dict:
    return {
        k: (v.strip() if k in _TEXT_FIELDS and isinstance(v, str) else v) for k, v in fields.items()
    }


def _require_editable(lead: Lead) -> None:
    if lead.is_read_only:
        raise ValidationError(_("A converted lead is read-only."))


@transaction.atomic
def lead_create(*, actor: User, owner: User | None = None, **fields) -> Lead:
    unknown = set(fields) - set(LEAD_FIELDS)
    if unknown:
        raise TypeError(f"unexpected fields {unknown}")
    owner = owner or actor
    _validate_owner(owner)
    lead = Lead(owner=owner, **_strip(fields))
    _clean(lead)
    lead.save()
    scoring.lead_scores_save(leads=[lead], new=True)
    event_record(actor=actor, kind=EventKind.CREATED, lead=lead, data={"name": lead.name})
    scoring.lead_auto_qualify(lead=lead)
    return lead


@transaction.atomic
def lead_update(*, actor: User, lead: Lead, **fields) -> Lead:
    unknown = set(fields) - set(LEAD_FIELDS)
    if unknown:
        raise TypeError(f"unexpected fields {unknown}")
    if scoring.SCORED_FIELDS & set(fields):
        scoring.lead_scoring_lock(lead_ids=[lead.pk])  # before the row lock: see its docs
    lead = Lead.objects.select_for_update(of=("self",)).select_related("lead_score").get(pk=lead.pk)
    _require_editable(lead)
    if "owner" in fields:
        _validate_owner(fields["owner"])
    changes = _apply(lead, _strip(fields))
    if changes:
        _clean(lead)
        lead.save()
        rescored = bool(scoring.SCORED_FIELDS & set(changes)) and scoring.lead_scores_save(
            leads=[lead]
        )
        _record_update(actor=actor, subject_kw={"lead": lead}, changes=changes)
        if rescored:
            scoring.lead_auto_qualify(lead=lead)
    return lead


@transaction.atomic
def lead_archive(*, actor: User, lead: Lead) -> Lead:
    if lead.archived_at is None:
        lead.archived_at = timezone.now()
        lead.save(update_fields=["archived_at", "updated_at"])
        event_record(actor=actor, kind=EventKind.ARCHIVED, lead=lead)
    return lead


@transaction.atomic
def lead_bulk_assign(*, actor: User, leads: QuerySet[Lead], owner: User) -> int:
    """Reassign many leads in a constant number of queries, one owner-change event per lead."""
    _validate_owner(owner)
    rows = list(
        leads.exclude(owner=owner)
        .exclude(status=LeadStatus.CONVERTED)
        .select_for_update()
        .values_list("id", "owner_id")
    )
    if not rows:
        return 0
    Lead.objects.filter(pk__in=[r[0] for r in rows]).update(owner=owner, updated_at=timezone.now())
    from crm.models import Event

    Event.objects.bulk_create(
        Event(
            actor=actor,
            kind=EventKind.OWNER_CHANGED,
            lead_id=lead_id,
            data={"from": old, "to": owner.pk},
        )
        for lead_id, old in rows
    )
    return len(rows)


# --- disqualification ----------------------------------------------------------------------------


def disqualification_reason_check(*, reason: DisqualificationReason | None) -> None:
    """THE reason rule, used by the API, the pages, bulk actions and automation alike.

    With "ask users for a reason" on, a reason is required; an archived reason is never accepted.
    """
    if reason is None:
        if lead_settings_get().ask_disqualification_reason:
            raise ValidationError({"reason": [_("Choose a disqualification reason.")]})
        return
    if reason.archived:
        raise ValidationError(
            {"reason": [_("That reason has been archived; choose an active one.")]}
        )


@transaction.atomic
def lead_disqualify(
    *,
    actor: User,
    lead: Lead,
    reason: DisqualificationReason | None = None,
    note: str = "",
    revisit_on: dt.date | None = None,
) -> Lead:
    """Mark a lead unqualified with a reason; a ``revisit_on`` date freezes it until then."""
    lead = Lead.objects.select_for_update().get(pk=lead.pk)
    _require_editable(lead)
    disqualification_reason_check(reason=reason)
    if revisit_on is not None and revisit_on <= timezone.localdate():
        raise ValidationError({"revisit_on": [_("The revisit date must be in the future.")]})
    now = timezone.now()
    if lead.status == LeadStatus.UNQUALIFIED:
        LeadDisqualification.objects.filter(lead=lead, superseded_at__isnull=True).update(
            superseded_at=now
        )
    previous_status = lead.status
    lead.status = LeadStatus.UNQUALIFIED
    lead.disqualification_reason = reason
    lead.disqualification_note = note.strip()
    lead.disqualified_at = now
    lead.revisit_on = revisit_on
    lead.save()
    LeadDisqualification.objects.create(
        lead=lead,
        reason=reason,
        owner_id=lead.owner_id,
        actor=actor,
        source=lead.source,
        note=lead.disqualification_note,
        revisit_on=revisit_on,
    )
    event = event_record(
        actor=actor,
        kind=LeadEvent.DISQUALIFIED,
        lead=lead,
        data={
            "from": previous_status,
            "reason": reason.pk if reason else None,
            "reason_name": reason.name if reason else "",
            "note": lead.disqualification_note,
            "revisit_on": revisit_on,
        },
    )
    # Nurture: the "lead disqualified" trigger actions (Settings > Automation), queued in this
    # transaction, keyed by the event so a retried call never fires twice. Imported here: the
    # automation lives in the opportunities app, which depends on this one.
    from opportunities.models import TriggerEvent
    from opportunities.services_automation import trigger_fire

    trigger_fire(
        event=TriggerEvent.LEAD_DISQUALIFIED,
        occurrence=f"event:{event.pk}",
        lead=lead,
        reason=reason,
    )
    return lead


@transaction.atomic
def lead_requalify(*, actor: User, lead: Lead) -> Lead:
    """Back to ``working``; the reason is cleared on the lead but kept in the history."""
    lead = Lead.objects.select_for_update().get(pk=lead.pk)
    if lead.status != LeadStatus.UNQUALIFIED:
        raise ValidationError(_("Only a disqualified lead can be requalified."))
    previous = lead.disqualification_reason
    lead.status = LeadStatus.WORKING
    lead.disqualification_reason = None
    lead.disqualification_note = ""
    lead.revisit_on = None
    lead.save()
    event_record(
        actor=actor,
        kind=LeadEvent.REQUALIFIED,
        lead=lead,
        data={"reason": previous.pk if previous else None, "reason_name": str(previous or "")},
    )
    return lead


def lead_revisit_due_process(*, today: dt.date | None = None) -> int:
    """Daily beat job: frozen leads whose revisit date has come return to ``working``.

    Each lead is handled in its own transaction under a row lock, so a re-run (or two workers)
    never creates a second revisit task: once handled the lead is no longer frozen.
    """
    today = today or timezone.localdate()
    due_ids = list(
        Lead.objects.filter(
            status=LeadStatus.UNQUALIFIED, revisit_on__lte=today, archived_at__isnull=True
        ).values_list("id", flat=True)
    )
    done = 0
    for lead_id in due_ids:
        with transaction.atomic():
            lead = (
                Lead.objects.select_for_update(skip_locked=True)
                .filter(pk=lead_id, status=LeadStatus.UNQUALIFIED, revisit_on__lte=today)
                .first()
            )
            if lead is None:
                continue
            revisit_on = lead.revisit_on
            reason = lead.disqualification_reason
            lead.status = LeadStatus.WORKING
            lead.revisit_on = None
            lead.save(update_fields=["status", "revisit_on", "updated_at"])
            event = event_record(
                actor=None,
                kind=LeadEvent.REVISIT_DUE,
                lead=lead,
                data={
                    "revisit_on": revisit_on,
                    "reason": reason.pk if reason else None,
                    "reason_name": str(reason or ""),
                },
            )
            follow_up_create(
                event=event,
                owner=lead.owner,
                title=_("Revisit %(name)s") % {"name": lead.name},
                due_on=today,
                priority=0,
                lead=lead,
            )
            done += 1
    return done


# --- conversion ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class ConversionResult:
    lead: Lead
    account: Account | None
    contact: Contact
    opportunity: Opportunity | None = None
    #: False when an opportunity in an active stage already existed for the contact.
    opportunity_created: bool = False


def _serialize_on(key: str) -> None:
    """Serialize concurrent transactions that would create the same account/contact."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cur:
            cur.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", [key])


@transaction.atomic
def lead_convert(
    *,
    actor: User,
    lead: Lead,
    account_name: str | None = None,
    create_opportunity: bool = False,
    opportunity_name: str = "",
    opportunity_amount: Decimal = Decimal(0),
) -> ConversionResult:
    """Convert a lead into an account (B2B), a contact and, if asked, an opportunity, in one
    transaction.

    B2B when ``account_name`` (or else the lead's company) is given: an active account of the
    same name (case-insensitive) is reused. A contact with the same email is reused. The lead
    row is locked, so a second, concurrent conversion fails cleanly. The opportunity goes
    through ``opportunity_ensure``: a contact already in an active stage keeps its deal.
    """
    lead = Lead.objects.select_for_update().get(pk=lead.pk)
    if lead.status == LeadStatus.CONVERTED:
        raise ValidationError(_("This lead has already been converted."))
    if lead.status == LeadStatus.UNQUALIFIED:
        raise ValidationError(_("Requalify this lead before converting it."))
    name = (lead.company if account_name is None else account_name).strip()
    account = None
    if name:
        if len(name) > Account._meta.get_field("name").max_length:
            raise ValidationError({"account_name": [_("The account name is too long.")]})
        _serialize_on(f"account:{name.lower()}")
        account = (
            Account.objects.filter(archived_at__isnull=True, name__iexact=name)
            .order_by("id")
            .first()
        )
        if account is None:
            account = Account.objects.create(
                name=name,
                industry=lead.industry,
                country=lead.country,
                company_size=lead.company_size,
                owner_id=lead.owner_id,
            )
            event_record(
                actor=actor,
                kind=EventKind.CREATED,
                account=account,
                data={"name": account.name, "from_lead": lead.pk},
            )
    contact = None
    if lead.email:
        _serialize_on(f"contact:{lead.email.lower()}")
        contact = (
            Contact.objects.filter(archived_at__isnull=True, email__iexact=lead.email)
            .order_by("id")
            .first()
        )
    if contact is None:
        contact = Contact.objects.create(
            first_name=lead.first_name,
            last_name=lead.last_name,
            email=lead.email,
            phone=lead.phone,
            account=account,
            owner_id=lead.owner_id,
        )
        event_record(
            actor=actor,
            kind=EventKind.CREATED,
            contact=contact,
            data={"name": contact.name, "from_lead": lead.pk},
        )
    elif account is not None and contact.account_id is None:
        contact.account = account
        contact.save(update_fields=["account", "updated_at"])
        event_record(
            actor=actor,
            kind=EventKind.UPDATED,
            contact=contact,
            data={"changes": {"account": [None, account.pk]}},
        )
    previous_status = lead.status
    lead.status = LeadStatus.CONVERTED
    lead.converted_at = timezone.now()
    lead.converted_account = account
    lead.converted_contact = contact
    lead.save()
    opportunity, created = None, False
    if create_opportunity:
        opportunity, created = opportunity_ensure(
            actor=actor,
            contact=contact,
            name=opportunity_name.strip() or (account.name if account else contact.name),
            owner=lead.owner,
            amount=opportunity_amount,
            lead=lead,
        )
    event_record(
        actor=actor,
        kind=LeadEvent.CONVERTED,
        lead=lead,
        data={
            "from": previous_status,
            "account": account.pk if account else None,
            "contact": contact.pk,
            "opportunity": opportunity.pk if opportunity else None,
            "opportunity_created": created,
        },
    )
    return ConversionResult(
        lead=lead,
        account=account,
        contact=contact,
        opportunity=opportunity,
        opportunity_created=created,
    )


# --- reasons -------------------------------------------------------------------------------------


@transaction.atomic
def disqualification_reason_create(*, actor: User, name: str) -> DisqualificationReason:
    _require_admin(actor)
    return list_item_create(
        actor=actor,
        model=DisqualificationReason,
        event_kind=LeadEvent.REASON_CHANGED,
        key="reason",
        name=name,
    )


@transaction.atomic
def disqualification_reason_update(
    *, actor: User, reason: DisqualificationReason, name: str | None = None
) -> DisqualificationReason:
    _require_admin(actor)
    if name is not None and name.strip() != reason.name:
        old = reason.name
        reason.name = name.strip()
        _clean(reason)
        reason.save()
        event_record(
            actor=actor,
            kind=LeadEvent.REASON_CHANGED,
            data={"action": "renamed", "reason": reason.pk, "name": [old, reason.name]},
        )
    return reason


@transaction.atomic
def disqualification_reason_delete(*, actor: User, reason: DisqualificationReason) -> str:
    """Remove an unused reason; archive one that any lead or history row uses.

    Returns ``"deleted"`` or ``"archived"``.
    """
    _require_admin(actor)
    reason = DisqualificationReason.objects.select_for_update().get(pk=reason.pk)
    in_use = (
        Lead.objects.filter(disqualification_reason=reason).exists()
        or LeadDisqualification.objects.filter(reason=reason).exists()
    )
    return list_item_archive_or_delete(
        actor=actor, obj=reason, in_use=in_use, event_kind=LeadEvent.REASON_CHANGED, key="reason"
    )


@transaction.atomic
def disqualification_reason_reorder(*, actor: User, ids: list[int]) -> None:
    """Set the order of the active reasons to the given id order."""
    _require_admin(actor)
    list_item_reorder(
        actor=actor,
        model=DisqualificationReason,
        ids=ids,
        event_kind=LeadEvent.REASON_CHANGED,
        message=_("List every active reason exactly once."),
    )


# --- import --------------------------------------------------------------------------------------


@transaction.atomic
def lead_import(*, actor: User, rows: list[dict]) -> int:
    """Create leads from validated import rows in one transaction, one event per lead."""
    from crm.models import Event

    leads = []
    for data in rows:
        data = dict(data)
        owner = data.pop("owner", None) or actor
        _validate_owner(owner)
        lead = Lead(owner=owner, **_strip(data))
        _clean(lead)
        leads.append(lead)
    # Ids come back from the INSERT (Postgres, SQLite ≥ 3.35), so events need no extra reads.
    created = Lead.objects.bulk_create(leads, batch_size=1000)
    scoring.lead_scores_save(leads=created, new=True)
    Event.objects.bulk_create(
        (
            Event(actor=actor, kind=LeadEvent.IMPORTED, lead_id=x.pk, data={"name": x.name})
            for x in created
        ),
        batch_size=1000,
    )
    return len(created)


# --- ratings and follow-ups ----------------------------------------------------------------------


def _classify_subject(lead: Lead | None, contact: Contact | None):
    if (lead is None) == (contact is None):
        raise TypeError("classify exactly one of lead= or contact=")
    return lead if lead is not None else contact


@transaction.atomic
def prospect_classify(
    *, actor: User, rating: Rating | None, lead: Lead | None = None, contact: Contact | None = None
) -> Event:
    """Classify a lead or contact with a rating (the one rule for profile, agenda and API).

    A rating that applies a tag becomes the prospect's rating; an outcome rating leaves it as it
    was; no rating clears it and schedules nothing. When the rating has a follow-up delay, the
    follow-up task is created by a Celery task enqueued on commit, keyed by the event returned.
    """
    subject = _classify_subject(lead, contact)
    if rating is not None and rating.archived:
        raise ValidationError({"rating": [_("That rating has been archived; choose another.")]})
    subject = type(subject).objects.select_for_update().get(pk=subject.pk)
    if isinstance(subject, Lead):
        _require_editable(subject)
    old = subject.rating
    if rating is None:
        new = None
    elif rating.applies_tag:
        new = rating
    else:
        new = old
    if new != old:
        subject.rating = new
        subject.save(update_fields=["rating", "updated_at"])
    link = {"lead": subject} if isinstance(subject, Lead) else {"contact": subject}
    event = event_record(
        actor=actor,
        kind=LeadEvent.CLASSIFIED,
        data={
            "rating": rating.pk if rating else None,
            "rating_name": rating.name if rating else "",
            "applies_tag": bool(rating and rating.applies_tag),
            "follow_up_days": rating.follow_up_days if rating else None,
            "priority": rating.order if rating else None,
            "from": old.pk if old else None,
            "to": new.pk if new else None,
        },
        **link,
    )
    if rating is not None and rating.follow_up_days is not None:
        from leads.tasks import create_follow_up_task

        transaction.on_commit(lambda: create_follow_up_task.delay(event.pk))
    return event


def follow_up_for_classification(*, event_id: int) -> Task | None:
    """The follow-up a classification event asks for (idempotent; run by a Celery task).

    Everything comes from the event, so a retry days later computes the same task: due *N days
    after the day of the classification in the owner's time zone*, owned by the prospect's owner.
    """
    event = Event.objects.select_related("lead__owner", "contact__owner").get(pk=event_id)
    days = event.data.get("follow_up_days")
    if event.kind != LeadEvent.CLASSIFIED or days is None:
        return None
    subject = event.lead or event.contact
    owner = subject.owner
    return follow_up_create(
        event=event,
        owner=owner,
        title=_("Follow up with %(name)s (%(rating)s)")
        % {"name": subject.name, "rating": event.data.get("rating_name", "")},
        due_on=user_today(owner, event.at) + dt.timedelta(days=days),
        priority=event.data.get("priority") or 0,
        lead=event.lead,
        contact=event.contact,
    )


#: How long a classification's follow-up may take through its Celery task (seconds, normally)
#: before the sweep makes it: its task was lost with Redis's queue, or never sent.
FOLLOW_UP_GRACE = dt.timedelta(minutes=10)
#: How far back the sweep looks for classifications still without their follow-up.
FOLLOW_UP_SWEEP_WINDOW = dt.timedelta(days=3)


def follow_ups_missing_create(*, now: dt.datetime | None = None, limit: int = 500) -> int:
    """Make the follow-ups that classifications asked for and never got (beat, every 15
    minutes): a classification event of the last ``FOLLOW_UP_SWEEP_WINDOW``, older than
    ``FOLLOW_UP_GRACE``, with a follow-up delay, no task it caused, and still the prospect's
    latest classification (a later one, even a blank one, decides instead). Each is made by
    ``follow_up_for_classification``, the Celery task's own idempotent service, so a sweep
    racing a late task makes it once. Returns how many were made."""
    from django.db.models import Exists, OuterRef

    now = now or timezone.now()
    classified = Event.objects.filter(kind=LeadEvent.CLASSIFIED)
    later = classified.filter(pk__gt=OuterRef("pk"))
    missing = (
        classified.filter(at__gte=now - FOLLOW_UP_SWEEP_WINDOW, at__lte=now - FOLLOW_UP_GRACE)
        .exclude(data__follow_up_days=None)
        .filter(data__follow_up_days__isnull=False)
        .exclude(Exists(Task.objects.filter(source_event_id=OuterRef("pk"))))
        .exclude(Exists(later.filter(lead_id=OuterRef("lead_id"))))
        .exclude(Exists(later.filter(contact_id=OuterRef("contact_id"))))
        .order_by("pk")
        .values_list("pk", flat=True)[:limit]
    )
    made = 0
    for event_id in list(missing):
        if follow_up_for_classification(event_id=event_id) is not None:
            made += 1
    return made


@transaction.atomic
def task_complete_and_classify(
    *, actor: User, task: Task, rating: Rating | None = None, note: str = ""
) -> Task:
    """Complete a task and, with a rating, classify the lead or contact it concerns.

    A blank rating completes the task and schedules nothing.
    """
    if rating is not None and task.lead_id is None and task.contact_id is None:
        raise ValidationError(
            {"rating": [_("This task is not about a lead or a contact, so it cannot be rated.")]}
        )
    subject = task.lead if task.lead_id else task.contact
    if rating is not None and not access.can_see(actor, subject):
        raise ValidationError({"rating": [_("You cannot classify a record you cannot see.")]})
    already_done = task.done
    task = task_complete(actor=actor, task=task, note=note)
    if rating is not None and not already_done:
        if task.lead_id:
            prospect_classify(actor=actor, rating=rating, lead=task.lead)
        else:
            prospect_classify(actor=actor, rating=rating, contact=task.contact)
    return task


RATING_FIELDS = ("name", "colour", "icon", "applies_tag", "follow_up_days")


@transaction.atomic
def rating_create(*, actor: User, name: str, **fields) -> Rating:
    _require_admin(actor)
    unknown = set(fields) - set(RATING_FIELDS)
    if unknown:
        raise TypeError(f"unexpected fields {unknown}")
    return list_item_create(
        actor=actor,
        model=Rating,
        event_kind=LeadEvent.RATING_CHANGED,
        key="rating",
        name=name,
        **fields,
    )


@transaction.atomic
def rating_update(*, actor: User, rating: Rating, **fields) -> Rating:
    _require_admin(actor)
    unknown = set(fields) - set(RATING_FIELDS)
    if unknown:
        raise TypeError(f"unexpected fields {unknown}")
    if "name" in fields:
        fields["name"] = fields["name"].strip()
    changes = _apply(rating, fields)
    if changes:
        _clean(rating)
        rating.save()
        event_record(
            actor=actor,
            kind=LeadEvent.RATING_CHANGED,
            data={"action": "updated", "rating": rating.pk, "changes": changes},
        )
    return rating


@transaction.atomic
def rating_archive(*, actor: User, rating: Rating) -> str:
    """Archive a rating in use (prospects keep it, pickers hide it); remove an unused one."""
    _require_admin(actor)
    rating = Rating.objects.select_for_update().get(pk=rating.pk)
    in_use = (
        Lead.objects.filter(rating=rating).exists()
        or Contact.objects.filter(rating=rating).exists()
        or Event.objects.filter(kind=LeadEvent.CLASSIFIED, data__rating=rating.pk).exists()
    )
    return list_item_archive_or_delete(
        actor=actor, obj=rating, in_use=in_use, event_kind=LeadEvent.RATING_CHANGED, key="rating"
    )


@transaction.atomic
def rating_reorder(*, actor: User, ids: list[int]) -> None:
    _require_admin(actor)
    list_item_reorder(
        actor=actor,
        model=Rating,
        ids=ids,
        event_kind=LeadEvent.RATING_CHANGED,
        message=_("List every active rating exactly once."),
    )
