"""The toolkit the HTML pages of every app share: admin-only pages, htmx replies, list pages
(filters, sort and page in the URL), service-backed forms and readable timelines.

Rules stay in the services; these helpers only parse requests and present results.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from decimal import Decimal, InvalidOperation
from functools import cached_property, wraps
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.db import connection, models
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.dateparse import parse_date, parse_datetime
from django.utils.formats import date_format, number_format
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.text import capfirst
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from crm import access, forms, selectors
from crm.filters import TaskFilter
from crm.models import Account, Contact, Event, EventKind, Task, User

#: Other apps describe their own event kinds: ``kind -> f(event, params) -> (summary, details)``,
#: where ``params`` holds "actor" and "name". Registered from their AppConfig.ready().
EVENT_DESCRIBERS: dict[str, Callable[[Event, dict], tuple[str, list[str]]]] = {}

PAGE_SIZE = 25
TIMELINE_LIMIT = 50


# --- helpers -------------------------------------------------------------------------------------


def admin_required(view: Callable) -> Callable:
    """Signed-in admins only; anyone else signed in gets 403 (enforced here, not in templates)."""

    @login_required
    @wraps(view)
    def wrapper(request, *args, **kwargs):
        if not access.is_admin(request.user):
            raise PermissionDenied(_("Only administrators can do this."))
        return view(request, *args, **kwargs)

    return wrapper


def is_htmx(request: HttpRequest) -> bool:
    return request.headers.get("HX-Request") == "true"


def announce(response: HttpResponse, message: str) -> HttpResponse:
    """Have app.js read ``message`` out in the page's aria-live region (htmx responses)."""
    response["HX-Trigger"] = json.dumps({"crm:announce": str(message)})
    return response


def safe_next(request: HttpRequest, default: str) -> str:
    target = request.POST.get("next") or request.GET.get("next")
    if target and url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return target
    return default


def run_service(form: forms.ServiceForm, call: Callable[[], Any]) -> Any | None:
    """Call the service when the form is valid; its ValidationError lands on the form's fields."""
    if not form.is_valid():
        return None
    try:
        return call()
    except ValidationError as exc:
        form.add_service_errors(exc)
        return None


def url_without(request: HttpRequest, name: str) -> str:
    """This list's URL with the filter ``name`` removed (and back to its first page): the link
    of a filter chip's ✕."""
    params = request.GET.copy()
    params.pop(name, None)
    params.pop("page", None)
    return f"{request.path}?{params.urlencode()}"


def sort_columns(
    request: HttpRequest, columns: Iterable[tuple[str, str | None]], default: str | None = None
) -> list[dict]:
    """Table headers; sortable ones link to the same URL with ``sort`` toggled and no ``page``."""
    current = request.GET.get("sort") or default or ""
    out = []
    for label, key in columns:
        col: dict[str, Any] = {"label": label, "key": key, "state": None}
        if key:
            params = request.GET.copy()
            params.pop("page", None)
            if current == key:
                col["state"], params["sort"] = "ascending", f"-{key}"
            elif current == f"-{key}":
                col["state"], params["sort"] = "descending", key
            else:
                params["sort"] = key
            col["url"] = f"?{params.urlencode()}"
        out.append(col)
    return out


#: Lists count their rows up to this many; past it they say "more than 10,000".
COUNT_CAP = 10_000


class CappedPaginator(Paginator):
    """Counts at most ``COUNT_CAP + 1`` rows (``COUNT(*)`` over a ``LIMIT``ed subquery, so the
    database stops there). An exact count of an admin's million leads cost more than the page
    itself (~150 ms for 980,000 leads with no next activity); nobody pages through 400 pages,
    they filter. ``capped`` tells the template to say "more than" and drop the "Last" link.

    ``parts``: disjoint querysets whose union is the list, filtered and ordered as it is (a
    rep's own rows and the ones shared with them, ``crm.access.visible_*_parts``). Each part is
    then counted and sorted on its own, with its own indexes (the owner's), instead of through
    ``id IN (owned UNION shared)``, which reads every visible row by id first."""

    def __init__(self, object_list, per_page, *, parts: list[QuerySet] | None = None, **kwargs):
        super().__init__(object_list, per_page, **kwargs)
        self.parts = parts

    @property
    def cap(self) -> int:
        return COUNT_CAP

    @cached_property
    def count(self) -> int:
        if self.parts:
            counted = sum(part.order_by()[: self.cap + 1].count() for part in self.parts)
            return min(counted, self.cap + 1)
        rows = self.object_list
        if isinstance(rows, QuerySet):
            # which rows fill the cap does not change the count: no ORDER BY, so the database
            # stops after any cap + 1 visible rows instead of sorting them all first
            rows = rows.order_by()
        return rows[: self.cap + 1].count()

    @property
    def capped(self) -> bool:
        return self.count > self.cap

    def page(self, number):
        number = self.validate_number(number)
        bottom = (number - 1) * self.per_page
        top = bottom + self.per_page
        # The count stops at cap + 1: past it, a full page even at the last one it knows of.
        if not self.capped and top + self.orphans >= self.count:
            top = self.count
        return self._get_page(self._rows(bottom, top), number, self)

    def _rows(self, bottom: int, top: int):
        """The page's rows: its ids first (sorting only the ids and the sort columns, which an
        index can hold), then those rows with their joins and prefetches. Sorting every visible
        row with its joined owner, account and rating to keep 25 of them read each row from
        the table: a rep's contact list sorted 13,000 rows that way (80 ms at 1.25M contacts)."""
        rows = self.object_list
        if not isinstance(rows, QuerySet) or rows.query.distinct or rows.query.combinator:
            return rows[bottom:top]
        if self.parts:
            ids = self._part_ids(bottom, top)
        else:
            ids = list(rows.values_list("pk", flat=True)[bottom:top])
        return rows.filter(pk__in=ids) if ids else rows.none()

    def _part_ids(self, bottom: int, top: int) -> list:
        """The page's ids over the parts: each part's first ``top`` ids and sort columns, then
        the page of their UNION ALL in the list's order (one query)."""
        if top <= bottom:
            return []
        rows = self.object_list
        pk = rows.model._meta.pk.attname
        ordering = [
            f"-{pk}" if term == "-pk" else pk if term == "pk" else term
            for term in (rows.query.order_by or rows.model._meta.ordering or [pk])
        ]
        names = list(dict.fromkeys([pk, *(term.lstrip("-") for term in ordering)]))
        firsts = [part.order_by(*ordering).values_list(*names)[:top] for part in self.parts]
        union = firsts[0].union(*firsts[1:], all=True).order_by(*ordering)
        return [row[0] for row in union[bottom:top]]


def paginate(request: HttpRequest, queryset: QuerySet, *, parts: list[QuerySet] | None = None):
    """``parts``: see ``CappedPaginator`` (used where the database can slice and order each
    member of a UNION: PostgreSQL, not SQLite)."""
    if queryset.query.order_by:  # a stable order: pages never repeat or skip rows
        order = [*queryset.query.order_by, "pk"]
        queryset = queryset.order_by(*order)
        parts = [part.order_by(*order) for part in parts] if parts else parts
    if parts and not connection.features.supports_slicing_ordering_in_compound:
        parts = None
    paginator = CappedPaginator(queryset, PAGE_SIZE, parts=parts)
    return paginator.get_page(request.GET.get("page"))


def user_select(field, users: Iterable[User], empty_label: str) -> None:
    from django import forms as djforms

    field.widget = djforms.Select(
        choices=[("", empty_label)] + [(str(u.pk), str(u)) for u in users]
    )


def bind_filterset(request: HttpRequest, filterset_class, queryset: QuerySet):
    """The FilterSet bound to the URL, with friendly widgets on its form."""
    from django import forms as djforms

    fs = filterset_class(request.GET or None, queryset=queryset, request=request)
    fields = fs.form.fields
    fields["q"].widget.input_type = "search"
    if "owner" in fields:
        user_select(fields["owner"], selectors.owner_choices(), _("Anyone"))
    for name in ("company_size", "kind", "role", "next_activity"):
        if name in fields:
            fields[name].empty_label = _("Any")
            fields[name].choices = list(fields[name].choices)  # refresh the widget's copy
    if "done" in fields:
        fields["done"].label = _("Status")
        fields["done"].widget = djforms.Select(
            choices=[("", _("Any")), ("false", _("Open")), ("true", _("Done"))]
        )
    if "rotting" in fields:
        fields["rotting"].widget = djforms.Select(
            choices=[("", _("Any")), ("true", _("Rotting only")), ("false", _("Not rotting"))]
        )
    if "is_active" in fields:
        fields["is_active"].widget = djforms.Select(
            choices=[("", _("Any")), ("true", _("Active")), ("false", _("Inactive"))]
        )
    for name in ("due_before", "due_after"):
        if name in fields:
            fields[name].widget = forms.DateInput()
    # Links by id (a task's lead, contact or opportunity) stay in the URL but not on screen.
    for name in ("lead", "contact", "opportunity"):
        if name in fields and filterset_class is TaskFilter:
            if request.GET.get(name):
                fields[name].widget = djforms.HiddenInput()
            else:
                del fields[name]
    return fs


def filters_active(request: HttpRequest, fs) -> bool:
    return any(request.GET.get(name) for name in fs.form.fields if name not in ("q", "sort"))


def list_page(
    request: HttpRequest,
    *,
    template: str,
    filterset,
    columns: Iterable[tuple[str, str | None]],
    default_sort: str | None = None,
    **extra,
) -> HttpResponse:
    context = {
        "filter": filterset,
        "filters_active": filters_active(request, filterset),
        "page_obj": paginate(request, filterset.qs),
        "columns": sort_columns(request, columns, default_sort),
        **extra,
    }
    return render(request, template, context)


# --- timeline ------------------------------------------------------------------------------------

_CREATED = {
    "account": gettext_lazy("%(actor)s created the account “%(name)s”."),
    "contact": gettext_lazy("%(actor)s created the contact “%(name)s”."),
    "task": gettext_lazy("%(actor)s created the task “%(name)s”."),
    "lead": gettext_lazy("%(actor)s created the lead “%(name)s”."),
    "opportunity": gettext_lazy("%(actor)s created the opportunity “%(name)s”."),
}
_UPDATED = {
    "account": gettext_lazy("%(actor)s edited the account."),
    "contact": gettext_lazy("%(actor)s edited the contact."),
    "task": gettext_lazy("%(actor)s edited the task “%(name)s”."),
    "lead": gettext_lazy("%(actor)s edited the lead."),
    "opportunity": gettext_lazy("%(actor)s edited the opportunity."),
}
_OWNER_CHANGED = {
    "account": gettext_lazy("%(actor)s changed the owner of the account from %(old)s to %(new)s."),
    "contact": gettext_lazy("%(actor)s changed the owner of the contact from %(old)s to %(new)s."),
    "task": gettext_lazy(
        "%(actor)s changed the owner of the task “%(name)s” from %(old)s to %(new)s."
    ),
    "lead": gettext_lazy("%(actor)s changed the owner of the lead from %(old)s to %(new)s."),
    "opportunity": gettext_lazy(
        "%(actor)s changed the owner of the opportunity from %(old)s to %(new)s."
    ),
}
_ARCHIVED = {
    "account": gettext_lazy("%(actor)s archived the account."),
    "contact": gettext_lazy("%(actor)s archived the contact."),
    "task": gettext_lazy("%(actor)s archived the task “%(name)s”."),
    "lead": gettext_lazy("%(actor)s archived the lead."),
    "opportunity": gettext_lazy("%(actor)s archived the opportunity."),
}
_RESTORED = {
    "account": gettext_lazy("%(actor)s restored the account."),
    "contact": gettext_lazy("%(actor)s restored the contact."),
    "task": gettext_lazy("%(actor)s restored the task “%(name)s”."),
    "lead": gettext_lazy("%(actor)s restored the lead."),
    "opportunity": gettext_lazy("%(actor)s restored the opportunity."),
}
_TASK_DONE = gettext_lazy("%(actor)s marked the task “%(name)s” as done.")
_TASK_REOPENED = gettext_lazy("%(actor)s reopened the task “%(name)s”.")
_TASK_SUPERSEDED = gettext_lazy("The follow-up “%(name)s” was replaced by a newer one.")
_OTHER = gettext_lazy("%(actor)s: %(what)s.")


def _subject_models() -> dict[str, type[models.Model]]:
    from leads.models import Lead
    from opportunities.models import Opportunity

    return {
        "task": Task,
        "account": Account,
        "contact": Contact,
        "lead": Lead,
        "opportunity": Opportunity,
    }


def _event_subject(event: Event) -> str | None:
    for name in ("task", "account", "contact", "lead", "opportunity"):
        if getattr(event, f"{name}_id"):
            return name
    return None


def _field(model, name):
    try:
        return model._meta.get_field(name)
    except Exception:
        return None


def _format_value(field, value, names: dict) -> str:
    if value in (None, "", []):
        return _("(empty)")
    if isinstance(value, list):
        return ", ".join(str(v) for v in value)
    if field is None:
        return str(value)
    if field.is_relation and field.related_model is not None:
        found = names.get(field.related_model, {}).get(value)
        return found if found is not None else _("a record you cannot see")
    if field.choices:
        return str(dict(field.flatchoices).get(value, value))
    if isinstance(field, models.BooleanField):
        return _("yes") if value else _("no")
    if isinstance(field, models.DateTimeField) and isinstance(value, str):
        parsed = parse_datetime(value)
        if parsed:
            return date_format(timezone.localtime(parsed), "SHORT_DATETIME_FORMAT")
    if isinstance(field, models.DateField) and isinstance(value, str):
        parsed = parse_date(value)
        if parsed:
            return date_format(parsed, "SHORT_DATE_FORMAT")
    if isinstance(field, models.DecimalField):
        try:
            amount = Decimal(str(value))
        except (InvalidOperation, ValueError):
            return str(value)
        return number_format(amount, field.decimal_places, use_l10n=True, force_grouping=True)
    return str(value)


def describe_events(events: list[Event], *, user: User, subject_name: str = "") -> list[dict]:
    """Readable sentences for the timeline: who did what, and the details of what changed.

    Records mentioned by id (owners, accounts, contacts...) are looked up in one query per model,
    and only among those ``user`` may see.
    """
    subject_models = _subject_models()
    wanted: dict[type, set] = {}
    for event in events:
        model = subject_models.get(_event_subject(event) or "")
        if event.kind == EventKind.OWNER_CHANGED:
            wanted.setdefault(User, set()).update([event.data.get("from"), event.data.get("to")])
        for name, change in (event.data.get("changes") or {}).items():
            field = _field(model, name) if model else None
            if field is not None and field.many_to_one and isinstance(change, list):
                ids = (v for v in change if isinstance(v, int))
                wanted.setdefault(field.related_model, set()).update(ids)
    names = {
        model: selectors.record_names(user=user, model=model, ids=ids)
        for model, ids in wanted.items()
    }
    described = []
    for event in events:
        subject = _event_subject(event) or ""
        model = subject_models.get(subject)
        if subject == "task" and event.task is not None:
            name = event.task.title
        else:
            name = event.data.get("name") or subject_name
        params = {
            "actor": str(event.actor) if event.actor else _("The system"),
            "name": name,
        }
        details: list[str] = []
        kind = event.kind
        if kind == EventKind.CREATED and subject in _CREATED:
            summary = _CREATED[subject] % params
            if subject == "task" and event.data.get("due_on"):
                details.append(
                    _("Due on %(date)s")
                    % {"date": _format_value(_field(Task, "due_on"), event.data["due_on"], names)}
                )
            if event.data.get("tags"):
                details.append(_("Tags: %(tags)s") % {"tags": ", ".join(event.data["tags"])})
        elif kind == EventKind.UPDATED and subject in _UPDATED:
            summary = _UPDATED[subject] % params
            for field_name, change in (event.data.get("changes") or {}).items():
                field = _field(model, field_name)
                label = capfirst(str(field.verbose_name)) if field is not None else field_name
                old, new = change if isinstance(change, list) and len(change) == 2 else ("", change)
                details.append(
                    _("%(field)s: %(old)s → %(new)s")
                    % {
                        "field": label,
                        "old": _format_value(field, old, names),
                        "new": _format_value(field, new, names),
                    }
                )
        elif kind == EventKind.OWNER_CHANGED and subject in _OWNER_CHANGED:
            users = names.get(User, {})
            params["old"] = users.get(event.data.get("from"), _("someone"))
            params["new"] = users.get(event.data.get("to"), _("someone"))
            summary = _OWNER_CHANGED[subject] % params
        elif kind == EventKind.ARCHIVED and subject in _ARCHIVED:
            summary = _ARCHIVED[subject] % params
        elif kind == "restored" and subject in _RESTORED:
            summary = _RESTORED[subject] % params
        elif kind == EventKind.COMPLETED and subject == "task":
            summary = _TASK_DONE % params
            if event.data.get("note"):
                details.append(_("Note: %(note)s") % {"note": event.data["note"]})
        elif kind == EventKind.REOPENED and subject == "task":
            summary = _TASK_REOPENED % params
        elif kind == EventKind.SUPERSEDED and subject == "task":
            summary = _TASK_SUPERSEDED % params
        elif kind in EVENT_DESCRIBERS:
            summary, details = EVENT_DESCRIBERS[kind](event, params)
        else:
            what = dict(EventKind.choices).get(kind) or kind.replace("_", " ")
            summary = _OTHER % {"actor": params["actor"], "what": what}
        described.append({"event": event, "summary": summary, "details": details})
    return described


def timeline_context(request: HttpRequest, subject_name: str, **subject) -> dict:
    events = list(selectors.timeline(user=request.user, **subject)[: TIMELINE_LIMIT + 1])
    return {
        "timeline": describe_events(
            events[:TIMELINE_LIMIT], user=request.user, subject_name=subject_name
        ),
        "timeline_truncated": len(events) > TIMELINE_LIMIT,
        "timeline_limit": TIMELINE_LIMIT,
    }


# --- shared form / archive plumbing --------------------------------------------------------------


def form_context(form, title: str, cancel: str, obj=None) -> dict:
    cancel_url = cancel if cancel.startswith("/") else reverse(cancel)
    return {"form": form, "title": title, "cancel_url": cancel_url, "object": obj}


_MOVED_AWAY = {
    "account": gettext_lazy("Changes saved. The account now belongs to %(owner)s."),
    "contact": gettext_lazy("Changes saved. The contact now belongs to %(owner)s."),
    "task": gettext_lazy("Changes saved. The task now belongs to %(owner)s."),
    "lead": gettext_lazy("Changes saved. The lead now belongs to %(owner)s."),
}


def after_edit(request, obj, entity: str) -> HttpResponse:
    if access.can_see(request.user, obj):
        messages.success(request, _("Changes saved."))
        return redirect(f"{entity}-detail", pk=obj.pk)
    # Handed to someone else: it left this user's reach, so its page would be a 404.
    messages.success(request, _MOVED_AWAY[entity] % {"owner": obj.owner})
    return redirect(f"{entity}-list")


def archive_page(request, obj, *, service, title: str, done: str, list_url: str) -> HttpResponse:
    """GET: a confirmation page (the no-JS twin of the dialog). POST: archive, back to the list."""
    if request.method == "POST":
        service()
        # The message carries an Undo button (templates/includes/message_undo.html): a POST to
        # the restore endpoint of this record, which comes back to the list.
        restore = reverse("record-restore", args=[obj._meta.model_name, obj.pk])
        messages.success(request, done, extra_tags=f"undo {restore}")
        return redirect(list_url)
    return render(
        request,
        "crm/confirm_archive.html",
        {
            "object": obj,
            "title": title,
            "action_url": request.path,
            "cancel_url": obj_url(obj),
        },
    )


def obj_url(obj) -> str:
    """The detail page of a record: URL names follow ``<model name>-detail``."""
    return reverse(f"{obj._meta.model_name}-detail", args=[obj.pk])


def move_in_order(
    *,
    pk: int,
    ids: list[int],
    direction: str,
    reorder: Callable[[list[int]], None],
    name: str,
    changed_message: str,
) -> tuple[str, int]:
    """Swap ``pk`` with its neighbour in ``ids`` and save the new order through ``reorder``.

    Returns the message to show and its level (admin lists with Move up / Move down buttons).
    """
    i = ids.index(pk)
    j = i - 1 if direction == "up" else i + 1
    if not 0 <= j < len(ids):
        text = _("“%(name)s” is already first.") if j < 0 else _("“%(name)s” is already last.")
        return text % {"name": name}, messages.INFO
    ids = list(ids)
    ids[i], ids[j] = ids[j], ids[i]
    try:
        reorder(ids)
    except ValidationError:  # someone changed the list meanwhile
        return changed_message, messages.ERROR
    text = _("“%(name)s” moved up.") if direction == "up" else _("“%(name)s” moved down.")
    return text % {"name": name}, messages.SUCCESS
