"""HTML pages of the shared core: agenda, accounts, contacts, tasks, the read-only lead and
opportunity lists, reports, settings (users and teams) and the error pages.

Views parse the request, read through ``crm.selectors`` / ``crm.access`` and write through
``crm.services``; the rules live there. A record out of the user's reach is a 404 (its lookup runs
on the visible queryset); a settings page requested by a rep is a 403.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable, Iterable
from functools import wraps
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.db import models
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseServerError
from django.shortcuts import get_object_or_404, redirect, render
from django.template import loader
from django.urls import reverse
from django.utils import timezone
from django.utils.dateparse import parse_date, parse_datetime
from django.utils.formats import date_format
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.text import capfirst
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST

from crm import access, forms, selectors, services
from crm.filters import AccountFilter, ContactFilter, TaskFilter, UserFilter
from crm.models import Account, Contact, Event, EventKind, Task, User

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


def _safe_next(request: HttpRequest, default: str) -> str:
    target = request.POST.get("next") or request.GET.get("next")
    if target and url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return target
    return default


def _run_service(form: forms.ServiceForm, call: Callable[[], Any]) -> Any | None:
    """Call the service when the form is valid; its ValidationError lands on the form's fields."""
    if not form.is_valid():
        return None
    try:
        return call()
    except ValidationError as exc:
        form.add_service_errors(exc)
        return None


def _sort_columns(
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


def _paginate(request: HttpRequest, queryset: QuerySet):
    if queryset.query.order_by:  # a stable order: pages never repeat or skip rows
        queryset = queryset.order_by(*queryset.query.order_by, "pk")
    return Paginator(queryset, PAGE_SIZE).get_page(request.GET.get("page"))


def _user_select(field, users: Iterable[User], empty_label: str) -> None:
    from django import forms as djforms

    field.widget = djforms.Select(
        choices=[("", empty_label)] + [(str(u.pk), str(u)) for u in users]
    )


def _filterset(request: HttpRequest, filterset_class, queryset: QuerySet):
    """The FilterSet bound to the URL, with friendly widgets on its form."""
    from django import forms as djforms

    fs = filterset_class(request.GET or None, queryset=queryset, request=request)
    fields = fs.form.fields
    fields["q"].widget.input_type = "search"
    if "owner" in fields:
        _user_select(fields["owner"], selectors.owner_choices(), _("Anyone"))
    for name in ("company_size", "kind", "role"):
        if name in fields:
            fields[name].empty_label = _("Any")
            fields[name].choices = list(fields[name].choices)  # refresh the widget's copy
    if "done" in fields:
        fields["done"].label = _("Status")
        fields["done"].widget = djforms.Select(
            choices=[("", _("Any")), ("false", _("Open")), ("true", _("Done"))]
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


def _filters_active(request: HttpRequest, fs) -> bool:
    return any(request.GET.get(name) for name in fs.form.fields if name not in ("q", "sort"))


def _list_page(
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
        "filters_active": _filters_active(request, filterset),
        "page_obj": _paginate(request, filterset.qs),
        "columns": _sort_columns(request, columns, default_sort),
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
_TASK_DONE = gettext_lazy("%(actor)s marked the task “%(name)s” as done.")
_TASK_REOPENED = gettext_lazy("%(actor)s reopened the task “%(name)s”.")
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
        elif kind == EventKind.COMPLETED and subject == "task":
            summary = _TASK_DONE % params
            if event.data.get("note"):
                details.append(_("Note: %(note)s") % {"note": event.data["note"]})
        elif kind == EventKind.REOPENED and subject == "task":
            summary = _TASK_REOPENED % params
        else:
            what = dict(EventKind.choices).get(kind) or kind.replace("_", " ")
            summary = _OTHER % {"actor": params["actor"], "what": what}
        described.append({"event": event, "summary": summary, "details": details})
    return described


def _timeline(request: HttpRequest, subject_name: str, **subject) -> dict:
    events = list(selectors.timeline(user=request.user, **subject)[: TIMELINE_LIMIT + 1])
    return {
        "timeline": describe_events(
            events[:TIMELINE_LIMIT], user=request.user, subject_name=subject_name
        ),
        "timeline_truncated": len(events) > TIMELINE_LIMIT,
        "timeline_limit": TIMELINE_LIMIT,
    }


# --- agenda --------------------------------------------------------------------------------------


@login_required
def home(request):
    """The agenda: the user's open tasks, overdue first, then today, then the next 7 days."""
    today = timezone.localdate()
    groups = {"overdue": [], "today": [], "upcoming": []}
    for task in selectors.task_agenda(user=request.user, days=7):
        if task.due_on < today:
            groups["overdue"].append(task)
        elif task.due_on == today:
            groups["today"].append(task)
        else:
            groups["upcoming"].append(task)
    sections = [
        {"key": "overdue", "title": _("Overdue"), "tasks": groups["overdue"]},
        {"key": "today", "title": _("Today"), "tasks": groups["today"]},
        {"key": "upcoming", "title": _("Next 7 days"), "tasks": groups["upcoming"]},
    ]
    return render(
        request,
        "crm/agenda.html",
        {"sections": sections, "today": today, "until": today + dt.timedelta(days=7)},
    )


# --- accounts ------------------------------------------------------------------------------------


def _visible_account(request, pk) -> Account:
    return get_object_or_404(selectors.account_list(user=request.user), pk=pk)


@login_required
def account_list(request):
    fs = _filterset(request, AccountFilter, selectors.account_list(user=request.user))
    return _list_page(
        request,
        template="crm/accounts/list.html",
        filterset=fs,
        columns=[
            (_("Name"), "name"),
            (_("Industry"), None),
            (_("Country"), "country"),
            (_("Company size"), None),
            (_("Owner"), None),
            (_("Created"), "created"),
        ],
        default_sort="name",
    )


@login_required
def account_detail(request, pk):
    account = _visible_account(request, pk)
    contacts = list(selectors.contact_list(user=request.user).filter(account=account)[:26])
    return render(
        request,
        "crm/accounts/detail.html",
        {
            "account": account,
            "contacts": contacts[:25],
            "contacts_more": len(contacts) > 25,
            **_timeline(request, account.name, account=account),
        },
    )


@login_required
def account_create(request):
    form = forms.AccountForm(request.POST or None, user=request.user)
    if request.method == "POST":
        account = _run_service(
            form, lambda: services.account_create(actor=request.user, **form.cleaned_data)
        )
        if account:
            messages.success(request, _("Account created."))
            return redirect("account-detail", pk=account.pk)
    return render(request, "crm/form.html", _form_context(form, _("New account"), "account-list"))


@login_required
def account_edit(request, pk):
    account = _visible_account(request, pk)
    form = forms.AccountForm(request.POST or None, user=request.user, instance=account)
    if request.method == "POST":
        saved = _run_service(
            form,
            lambda: services.account_update(
                actor=request.user, account=account, **form.changed_values()
            ),
        )
        if saved:
            return _after_edit(request, saved, "account")
    return render(
        request,
        "crm/form.html",
        _form_context(form, _("Edit account"), reverse("account-detail", args=[pk]), account),
    )


@login_required
def account_archive(request, pk):
    account = _visible_account(request, pk)
    return _archive(
        request,
        account,
        service=lambda: services.account_archive(actor=request.user, account=account),
        title=_("Archive account “%(name)s”?") % {"name": account.name},
        done=_("Account archived."),
        list_url="account-list",
    )


# --- contacts ------------------------------------------------------------------------------------


def _visible_contact(request, pk) -> Contact:
    return get_object_or_404(selectors.contact_list(user=request.user), pk=pk)


@login_required
def contact_list(request):
    fs = _filterset(request, ContactFilter, selectors.contact_list(user=request.user))
    from django import forms as djforms

    accounts = access.visible_accounts(request.user).order_by("name", "id").only("id", "name")
    fs.form.fields["account"].widget = djforms.Select(
        choices=[("", _("Any"))] + [(str(a.pk), a.name) for a in accounts]
    )
    return _list_page(
        request,
        template="crm/contacts/list.html",
        filterset=fs,
        columns=[
            (_("Name"), "name"),
            (_("Email"), "email"),
            (_("Phone"), None),
            (_("Account"), None),
            (_("Tags"), None),
            (_("Owner"), None),
        ],
        default_sort="name",
    )


@login_required
def contact_detail(request, pk):
    contact = _visible_contact(request, pk)
    account_visible = contact.account_id is not None and access.can_see(
        request.user, contact.account
    )
    tasks = (
        selectors.task_list(user=request.user).filter(contact=contact).order_by("done", "due_on")
    )
    return render(
        request,
        "crm/contacts/detail.html",
        {
            "contact": contact,
            "account_visible": account_visible,
            "tasks": tasks,
            **_timeline(request, contact.name, contact=contact),
        },
    )


@login_required
def contact_create(request):
    initial = {"owner": request.user.pk}
    if request.GET.get("account", "").isdigit():
        initial["account"] = int(request.GET["account"])
    form = forms.ContactForm(request.POST or None, user=request.user, initial=initial)
    if request.method == "POST":
        contact = _run_service(
            form, lambda: services.contact_create(actor=request.user, **form.cleaned_data)
        )
        if contact:
            messages.success(request, _("Contact created."))
            return redirect("contact-detail", pk=contact.pk)
    return render(request, "crm/form.html", _form_context(form, _("New contact"), "contact-list"))


@login_required
def contact_edit(request, pk):
    contact = _visible_contact(request, pk)
    form = forms.ContactForm(request.POST or None, user=request.user, instance=contact)
    if request.method == "POST":
        saved = _run_service(
            form,
            lambda: services.contact_update(
                actor=request.user, contact=contact, **form.changed_values()
            ),
        )
        if saved:
            return _after_edit(request, saved, "contact")
    return render(
        request,
        "crm/form.html",
        _form_context(form, _("Edit contact"), reverse("contact-detail", args=[pk]), contact),
    )


@login_required
def contact_archive(request, pk):
    contact = _visible_contact(request, pk)
    return _archive(
        request,
        contact,
        service=lambda: services.contact_archive(actor=request.user, contact=contact),
        title=_("Archive contact “%(name)s”?") % {"name": contact.name},
        done=_("Contact archived."),
        list_url="contact-list",
    )


# --- tasks ---------------------------------------------------------------------------------------


def _visible_task(request, pk) -> Task:
    return get_object_or_404(selectors.task_list(user=request.user), pk=pk)


@login_required
def task_list(request):
    fs = _filterset(request, TaskFilter, selectors.task_list(user=request.user))
    return _list_page(
        request,
        template="crm/tasks/list.html",
        filterset=fs,
        columns=[
            (_("Status"), None),
            (_("Title"), "title"),
            (_("Kind"), None),
            (_("Due on"), "due"),
            (_("Related to"), None),
            (_("Owner"), None),
        ],
        default_sort="due",
        today=timezone.localdate(),
    )


@login_required
def task_detail(request, pk):
    task = _visible_task(request, pk)
    return render(
        request,
        "crm/tasks/detail.html",
        {"task": task, "today": timezone.localdate(), **_timeline(request, task.title, task=task)},
    )


@login_required
def task_create(request):
    initial: dict[str, Any] = {"owner": request.user.pk, "due_on": timezone.localdate()}
    for name in ("contact", "lead", "opportunity"):
        if request.GET.get(name, "").isdigit():
            initial[name] = int(request.GET[name])
    form = forms.TaskForm(request.POST or None, user=request.user, initial=initial)
    if request.method == "POST":
        task = _run_service(
            form, lambda: services.task_create(actor=request.user, **form.cleaned_data)
        )
        if task:
            messages.success(request, _("Task created."))
            return redirect("task-detail", pk=task.pk)
    return render(request, "crm/form.html", _form_context(form, _("New task"), "task-list"))


@login_required
def task_edit(request, pk):
    task = _visible_task(request, pk)
    form = forms.TaskForm(request.POST or None, user=request.user, instance=task)
    if request.method == "POST":
        saved = _run_service(
            form,
            lambda: services.task_update(actor=request.user, task=task, **form.changed_values()),
        )
        if saved:
            return _after_edit(request, saved, "task")
    return render(
        request,
        "crm/form.html",
        _form_context(form, _("Edit task"), reverse("task-detail", args=[pk]), task),
    )


@login_required
def task_archive(request, pk):
    task = _visible_task(request, pk)
    return _archive(
        request,
        task,
        service=lambda: services.task_archive(actor=request.user, task=task),
        title=_("Archive task “%(name)s”?") % {"name": task.title},
        done=_("Task archived."),
        list_url="task-list",
    )


def _task_toggle(request, pk, *, done: bool) -> HttpResponse:
    task = _visible_task(request, pk)
    if done:
        task = services.task_complete(actor=request.user, task=task)
        message = _("Task “%(name)s” marked as done.") % {"name": task.title}
    else:
        task = services.task_reopen(actor=request.user, task=task)
        message = _("Task “%(name)s” reopened.") % {"name": task.title}
    if is_htmx(request):
        response = render(
            request,
            "crm/tasks/_agenda_item.html",
            {"task": task, "today": timezone.localdate(), "swapped": True},
        )
        return announce(response, _("Saved. %(what)s") % {"what": message})
    messages.success(request, message)
    return redirect(_safe_next(request, reverse("task-detail", args=[task.pk])))


@login_required
@require_POST
def task_complete(request, pk):
    return _task_toggle(request, pk, done=True)


@login_required
@require_POST
def task_reopen(request, pk):
    return _task_toggle(request, pk, done=False)


# --- shared form / archive plumbing --------------------------------------------------------------


def _form_context(form, title: str, cancel: str, obj=None) -> dict:
    cancel_url = cancel if cancel.startswith("/") else reverse(cancel)
    return {"form": form, "title": title, "cancel_url": cancel_url, "object": obj}


_MOVED_AWAY = {
    "account": gettext_lazy("Changes saved. The account now belongs to %(owner)s."),
    "contact": gettext_lazy("Changes saved. The contact now belongs to %(owner)s."),
    "task": gettext_lazy("Changes saved. The task now belongs to %(owner)s."),
}


def _after_edit(request, obj, entity: str) -> HttpResponse:
    if access.can_see(request.user, obj):
        messages.success(request, _("Changes saved."))
        return redirect(f"{entity}-detail", pk=obj.pk)
    # Handed to someone else: it left this user's reach, so its page would be a 404.
    messages.success(request, _MOVED_AWAY[entity] % {"owner": obj.owner})
    return redirect(f"{entity}-list")


def _archive(request, obj, *, service, title: str, done: str, list_url: str) -> HttpResponse:
    """GET: a confirmation page (the no-JS twin of the dialog). POST: archive, back to the list."""
    if request.method == "POST":
        service()
        messages.success(request, done)
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
    entity = {Account: "account", Contact: "contact", Task: "task"}[type(obj)]
    return reverse(f"{entity}-detail", args=[obj.pk])


# --- leads, opportunities, reports (read-only for now) -------------------------------------------


@login_required
def lead_list(request):
    leads = access.visible_leads(request.user).select_related("owner").order_by("-id")
    return render(
        request,
        "crm/leads/list.html",
        {"page_obj": _paginate(request, leads)},
    )


@login_required
def opportunity_list(request):
    opportunities = (
        access.visible_opportunities(request.user)
        .select_related("owner", "contact")
        .order_by("-id")
    )
    return render(
        request,
        "crm/opportunities/list.html",
        {"page_obj": _paginate(request, opportunities)},
    )


@login_required
def report_list(request):
    return render(request, "crm/reports/index.html")


# --- settings: users and teams -------------------------------------------------------------------


@admin_required
def settings_index(request):
    return redirect("settings-users")


@admin_required
def settings_users(request):
    fs = _filterset(request, UserFilter, selectors.user_list(user=request.user))
    return _list_page(
        request,
        template="crm/settings/users.html",
        filterset=fs,
        columns=[
            (_("Name"), None),
            (_("Username"), None),
            (_("Email"), None),
            (_("Role"), None),
            (_("Status"), None),
        ],
    )


@admin_required
def settings_user_create(request):
    form = forms.UserCreateForm(request.POST or None)
    if request.method == "POST":
        user = _run_service(
            form, lambda: services.user_create(actor=request.user, **form.service_values())
        )
        if user:
            messages.success(request, _("User “%(name)s” created.") % {"name": user.username})
            return redirect("settings-users")
    return render(
        request,
        "crm/settings/form.html",
        {**_form_context(form, _("New user"), "settings-users"), "settings_tab": "users"},
    )


def _settings_user(request, pk) -> User:
    return get_object_or_404(selectors.user_list(user=request.user), pk=pk)


@admin_required
def settings_user_edit(request, pk):
    subject = _settings_user(request, pk)
    form = forms.UserEditForm(request.POST or None, instance=subject)
    if request.method == "POST":
        saved = _run_service(
            form,
            lambda: services.user_update(actor=request.user, user=subject, **form.changed_values()),
        )
        if saved:
            messages.success(request, _("Changes saved."))
            return redirect("settings-users")
    return render(
        request,
        "crm/settings/form.html",
        {
            **_form_context(
                form,
                _("Edit user “%(name)s”") % {"name": subject.username},
                "settings-users",
                subject,
            ),
            "settings_tab": "users",
            "deactivate_url": reverse("settings-user-deactivate", args=[subject.pk])
            if subject.is_active and subject.pk != request.user.pk
            else None,
        },
    )


@admin_required
def settings_user_deactivate(request, pk):
    subject = _settings_user(request, pk)
    if request.method == "POST":
        try:
            services.user_deactivate(actor=request.user, user=subject)
        except ValidationError as exc:
            for message in exc.messages:
                messages.error(request, message)
        else:
            messages.success(
                request, _("User “%(name)s” deactivated.") % {"name": subject.username}
            )
        return redirect("settings-users")
    return render(
        request,
        "crm/settings/confirm_deactivate.html",
        {"subject": subject, "cancel_url": reverse("settings-users")},
    )


@admin_required
def settings_teams(request):
    teams = selectors.team_roster(user=request.user)
    return render(request, "crm/settings/teams.html", {"page_obj": _paginate(request, teams)})


@admin_required
def settings_team_create(request):
    form = forms.TeamForm(request.POST or None, user=request.user)
    if request.method == "POST":
        team = _run_service(
            form,
            lambda: services.team_create(
                actor=request.user,
                name=form.cleaned_data["name"],
                members=list(form.cleaned_data["members"]),
            ),
        )
        if team:
            messages.success(request, _("Team “%(name)s” created.") % {"name": team.name})
            return redirect("settings-teams")
    return render(
        request,
        "crm/settings/form.html",
        {**_form_context(form, _("New team"), "settings-teams"), "settings_tab": "teams"},
    )


@admin_required
def settings_team_edit(request, pk):
    team = get_object_or_404(selectors.team_roster(user=request.user), pk=pk)
    form = forms.TeamForm(request.POST or None, user=request.user, instance=team)
    if request.method == "POST":
        saved = _run_service(
            form,
            lambda: services.team_update(
                actor=request.user,
                team=team,
                name=form.cleaned_data["name"],
                members=list(form.cleaned_data["members"]),
            ),
        )
        if saved:
            messages.success(request, _("Changes saved."))
            return redirect("settings-teams")
    return render(
        request,
        "crm/settings/form.html",
        {
            **_form_context(
                form, _("Edit team “%(name)s”") % {"name": team.name}, "settings-teams", team
            ),
            "settings_tab": "teams",
        },
    )


# --- error pages ---------------------------------------------------------------------------------


def error_403(request, exception=None):
    return render(request, "403.html", status=403)


def error_404(request, exception=None):
    return render(request, "404.html", status=404)


def error_500(request):
    # No request context: the database or a context processor may be what failed.
    return HttpResponseServerError(loader.get_template("500.html").render())
