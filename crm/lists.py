"""The list pages that views can be saved for and bulk actions run on: their FilterSet, URL name,
model and visibility queryset, in one registry (imported lazily: the apps build on crm)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.http import QueryDict
from django.utils.http import urlencode


@dataclass(frozen=True)
class ListSpec:
    key: str
    url_name: str
    filterset: Any
    visible: Any  # access.visible_<kind>(user, include_archived=False)
    model: Any


def list_specs() -> dict[str, ListSpec]:
    from crm import access
    from crm.filters import AccountFilter, ContactFilter, TaskFilter
    from crm.models import Account, Contact, Task
    from leads.filters import LeadFilter
    from leads.models import Lead
    from opportunities.filters import OpportunityFilter
    from opportunities.models import Opportunity

    return {
        "leads": ListSpec("leads", "lead-list", LeadFilter, access.visible_leads, Lead),
        "contacts": ListSpec(
            "contacts", "contact-list", ContactFilter, access.visible_contacts, Contact
        ),
        "opportunities": ListSpec(
            "opportunities",
            "opportunity-list",
            OpportunityFilter,
            access.visible_opportunities,
            Opportunity,
        ),
        "accounts": ListSpec(
            "accounts", "account-list", AccountFilter, access.visible_accounts, Account
        ),
        "tasks": ListSpec("tasks", "task-list", TaskFilter, access.visible_tasks, Task),
    }


def list_key_for(filterset_class) -> str | None:
    for spec in list_specs().values():
        if spec.filterset is filterset_class:
            return spec.key
    return None


def query_normalize(list_key: str, query: str | QueryDict) -> tuple[str, dict]:
    """Keep only the parameters the list's FilterSet knows (``page`` and unknown ones go), drop
    empty values and re-encode in the FilterSet's own order. Returns the query string and the
    form errors of the values (empty when valid)."""
    spec = list_specs()[list_key]
    params = query if isinstance(query, QueryDict) else QueryDict(query.lstrip("?"))
    known = list(spec.filterset.base_filters)
    kept: list[tuple[str, str]] = []
    bound = QueryDict(mutable=True)
    for name in known:
        for value in params.getlist(name):
            value = value.strip()
            if value:
                kept.append((name, value))
                bound.appendlist(name, value)
    fs = spec.filterset(bound, queryset=spec.model.objects.none())
    errors = {} if fs.form.is_valid() else dict(fs.form.errors)
    return urlencode(kept), errors
