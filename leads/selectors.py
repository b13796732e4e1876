"""Every read of the leads app, built on ``crm.access`` visibility."""

from __future__ import annotations

import datetime as dt
import functools
from dataclasses import dataclass

from django.db.models import CharField, Count, Q, QuerySet, Value
from django.db.models.functions import Lower
from django.db.models.lookups import Exact
from django.utils import timezone
from django.utils.translation import gettext as _

from crm import access, compiled_sql
from crm.activity import next_task_due
from crm.models import Contact, User
from leads.models import DisqualificationReason, Lead, LeadDisqualification, LeadStatus


def lead_list(*, user: User) -> QuerySet[Lead]:
    """Visible leads with their owner, reason, rating and score row (``LeadScore``)."""
    return access.visible_leads(user).select_related(
        "owner", "disqualification_reason", "rating", "lead_score"
    )


def lead_list_rows(*, user: User, columns: tuple[str, ...]) -> QuerySet[Lead]:
    """The visible leads as ``values(*columns)`` rows (the API's list): plain columns, joined
    ones (``lead_score__score``) and ``next_task_due``, their next activity's due date. No
    owner, reason or rating rows joined, and not the next task itself."""
    return access.visible_leads(user, leads=_lead_rows_base(columns))


@functools.cache
def _lead_rows_base(columns: tuple[str, ...]) -> QuerySet[Lead]:
    """Every lead with ``next_task_due``, as ``values(*columns)``, built once per process:
    resolving the subquery and the ~30 columns was a fifth of an API list request. Filters
    after ``values()`` give the same SQL as before it. A queryset is never changed in place
    (each ``filter`` works on a clone), and this one is never evaluated: requests share it.
    Its pages run from compiled templates (``crm.compiled_sql``): the SQL is compiled once per
    shape (admin or rep, first or later page), not on every request."""
    return compiled_sql.cached(
        Lead.objects.annotate(next_task_due=next_task_due("lead")).values(*columns)
    )


def lead_get(*, user: User, pk: int) -> Lead:
    """The lead if visible; raises ``Lead.DoesNotExist`` otherwise (pages/API turn it into 404)."""
    return lead_list(user=user).get(pk=pk)


def disqualification_reason_list(*, include_archived: bool = False) -> QuerySet:
    qs = DisqualificationReason.objects.annotate(usage_count=Count("leads", distinct=True))
    if not include_archived:
        qs = qs.filter(archived_at__isnull=True)
    return qs.order_by("archived_at", "order", "id")


def disqualification_reason_choices() -> QuerySet[DisqualificationReason]:
    """What pickers offer: active reasons only."""
    return DisqualificationReason.objects.filter(archived_at__isnull=True).order_by("order", "id")


@dataclass
class Duplicates:
    leads: list[Lead]
    contacts: list[Contact]

    def __bool__(self) -> bool:
        return bool(self.leads or self.contacts)


def _same_text(field: str, value: str) -> Q:
    """``field`` equals ``value`` ignoring case, as ``lower(field) = lower(value)``: the form
    the ``Lower(field)`` indexes of leads serve."""
    return Q(Exact(Lower(field), Lower(Value(value, output_field=CharField()))))


def lead_duplicates(
    *,
    user: User,
    email: str = "",
    first_name: str = "",
    last_name: str = "",
    company: str = "",
    exclude_id: int | None = None,
    limit: int = 10,
) -> Duplicates:
    """Leads and contacts the user can see that match by email, or by name + company."""
    email, first_name = email.strip(), first_name.strip()
    last_name, company = last_name.strip(), company.strip()
    lead_q = Q(pk__in=[])
    contact_q = Q(pk__in=[])
    if email:
        # lower() = lower(): the Lower("email") index serves it (iexact's UPPER() would not).
        lead_q |= _same_text("email", email)
        contact_q |= Q(email__iexact=email)
    if last_name and company:
        lead_q |= (
            _same_text("last_name", last_name)
            & _same_text("company", company)
            & _same_text("first_name", first_name)
        )
        contact_q |= Q(
            first_name__iexact=first_name,
            last_name__iexact=last_name,
            account__name__iexact=company,
        )
    leads = lead_list(user=user).filter(lead_q)
    if exclude_id:
        leads = leads.exclude(pk=exclude_id)
    contacts = access.visible_contacts(user).filter(contact_q).select_related("account")
    return Duplicates(leads=list(leads[:limit]), contacts=list(contacts[:limit]))


# --- insights ------------------------------------------------------------------------------------

GROUP_BY = ("reason", "source", "owner")


def _day_range(since: dt.date | None, until: dt.date | None) -> Q:
    cond = Q()
    tz = timezone.get_current_timezone()
    if since:
        cond &= Q(at__gte=dt.datetime.combine(since, dt.time.min, tzinfo=tz))
    if until:
        cond &= Q(at__lt=dt.datetime.combine(until + dt.timedelta(days=1), dt.time.min, tzinfo=tz))
    return cond


def _owner_label(first: str, last: str, username: str) -> str:
    return f"{first} {last}".strip() or username


def disqualification_report(
    *,
    user: User,
    since: dt.date | None = None,
    until: dt.date | None = None,
    group_by: str = "reason",
) -> dict:
    """Disqualifications (latest decision per lead episode) in the range, grouped in SQL.

    One query: the total is the sum of the groups (every decision is in exactly one group).
    ``COUNT(*)``, not of the id: the columns it reads are all in ``disq_standing_at_idx``, so
    the range is an index-only scan.
    Archived reasons still appear: they are history.
    """
    if group_by not in GROUP_BY:
        raise ValueError(group_by)
    qs = access.rows_of_visible_leads(
        LeadDisqualification.objects.filter(_day_range(since, until), superseded_at__isnull=True),
        user,
    )
    if group_by == "reason":
        rows = qs.values("reason_id", "reason__name").annotate(count=Count("*"))
        results = [
            {
                "key": r["reason_id"],
                "label": _(r["reason__name"]) if r["reason__name"] else _("No reason given"),
                "count": r["count"],
            }
            for r in rows
        ]
    elif group_by == "source":
        rows = qs.values("source").annotate(count=Count("*"))
        results = [
            {"key": r["source"], "label": r["source"] or _("No source"), "count": r["count"]}
            for r in rows
        ]
    else:
        rows = qs.values(
            "owner_id", "owner__first_name", "owner__last_name", "owner__username"
        ).annotate(count=Count("*"))
        results = [
            {
                "key": r["owner_id"],
                "label": _owner_label(
                    r["owner__first_name"], r["owner__last_name"], r["owner__username"]
                ),
                "count": r["count"],
            }
            for r in rows
        ]
    results.sort(key=lambda r: (-r["count"], str(r["label"]).lower()))
    return {"total": sum(r["count"] for r in results), "results": results}


def qualification_by_source(
    *, user: User, since: dt.date | None = None, until: dt.date | None = None
) -> list[dict]:
    """Per source, of the leads created in the range: how many, qualified, disqualified, rate.

    Qualified means it reached ``qualified`` or ``converted``.
    """
    cond = Q()
    tz = timezone.get_current_timezone()
    if since:
        cond &= Q(created_at__gte=dt.datetime.combine(since, dt.time.min, tzinfo=tz))
    if until:
        end = dt.datetime.combine(until + dt.timedelta(days=1), dt.time.min, tzinfo=tz)
        cond &= Q(created_at__lt=end)
    rows = (
        access.visible_leads(user, include_archived=True)
        .filter(cond)
        .values("source")
        .annotate(
            total=Count("id"),
            qualified=Count(
                "id", filter=Q(status__in=[LeadStatus.QUALIFIED, LeadStatus.CONVERTED])
            ),
            disqualified=Count("id", filter=Q(status=LeadStatus.UNQUALIFIED)),
        )
        .order_by("-total", "source")
    )
    return [
        {
            "key": r["source"],
            "label": r["source"] or _("No source"),
            "total": r["total"],
            "qualified": r["qualified"],
            "disqualified": r["disqualified"],
            "qualification_rate": round(r["qualified"] / r["total"], 4) if r["total"] else 0.0,
        }
        for r in rows
    ]
