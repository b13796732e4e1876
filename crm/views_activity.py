"""Pages of issue #9: "Log an activity" (a call or note with its outcome, and the next task, in
one dialog on the lead, contact and opportunity pages) and "Schedule the next task" (asked when
the last open task of a deal is completed).

The dialog posts with htmx: on success the reply is the record's page, from which the form picks
the tasks, the history and the next-activity badge (``hx-select-oob``), and the result is
announced; on error the form comes back with the errors next to the fields. Without JavaScript
the same URLs are plain pages (GET: the form; POST: back to the record).
"""

from __future__ import annotations

import json

from django import forms as djforms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from crm import access, services
from crm.activity import ActivityKind, Outcome
from crm.forms import DateInput, ServiceForm
from crm.services_activity import activity_log, next_working_day
from crm.web import is_htmx, obj_url, run_service

RECORD_PAGES = {
    "lead": ("leads.views", "lead_detail"),
    "contact": ("crm.views", "contact_detail"),
    "opportunity": ("opportunities.views", "opportunity_detail"),
}


class ActivityLogForm(ServiceForm):
    kind = djforms.ChoiceField(
        label=gettext_lazy("What"),
        choices=ActivityKind.choices,
        initial=ActivityKind.CALL,
        widget=djforms.RadioSelect,
    )
    outcome = djforms.ChoiceField(
        label=gettext_lazy("Outcome"),
        choices=[("", gettext_lazy("No outcome")), *Outcome.choices],
        required=False,
        initial=Outcome.ANSWERED,
    )
    note = djforms.CharField(
        label=gettext_lazy("Note"), required=False, widget=djforms.Textarea(attrs={"rows": 3})
    )
    next_title = djforms.CharField(
        label=gettext_lazy("Next task"),
        max_length=200,
        required=False,
        help_text=gettext_lazy("Leave it empty to schedule nothing."),
    )
    next_due_on = djforms.DateField(label=gettext_lazy("Due on"), required=False, widget=DateInput)


class ScheduleNextForm(ServiceForm):
    title = djforms.CharField(label=gettext_lazy("Title"), max_length=200)
    due_on = djforms.DateField(label=gettext_lazy("Due on"), widget=DateInput)


def _record(request, model: str, pk: int):
    if model not in RECORD_PAGES:
        raise Http404
    qs = {
        "lead": access.visible_leads,
        "contact": access.visible_contacts,
        "opportunity": access.visible_opportunities,
    }[model](request.user)
    try:
        return qs.get(pk=pk)
    except qs.model.DoesNotExist as exc:
        raise Http404 from exc


def _default_next_title(model: str, record) -> str:
    if model == "opportunity":
        return _("Follow up: %(name)s") % {"name": record}
    return _("Call %(name)s again") % {"name": record}


def log_form(model: str, record, data=None) -> ActivityLogForm:
    """The dialog's form, prefilled so that opening it and saving is enough."""
    return ActivityLogForm(
        data,
        initial={
            "next_title": _default_next_title(model, record),
            "next_due_on": next_working_day(timezone.localdate()),
        },
        auto_id="log-%s",
    )


def log_context(model: str, record, form: ActivityLogForm | None = None) -> dict:
    """What ``crm/_log_dialog.html`` needs (the detail pages include it)."""
    return {
        "log_form": form or log_form(model, record),
        "log_url": reverse("activity-log", args=[model, record.pk]),
        "log_record": record,
    }


def _record_page(request, model: str, pk: int) -> HttpResponse:
    """The record's detail page, rendered as a GET (the htmx reply the dialog picks from)."""
    import importlib

    module, name = RECORD_PAGES[model]
    view = getattr(importlib.import_module(module), name)
    request.method = "GET"
    return view(request, pk)


def _logged_message(form: ActivityLogForm, result) -> str:
    kind = form.cleaned_data["kind"]
    done = _("Call logged.") if kind == ActivityKind.CALL else _("Note added.")
    if result.next_task is None:
        return done
    from django.utils.formats import date_format

    return f"{done} " + _("Next task “%(title)s” due %(date)s.") % {
        "title": result.next_task.title,
        "date": date_format(result.next_task.due_on, "SHORT_DATE_FORMAT"),
    }


@login_required
def log(request, model: str, pk: int):
    record = _record(request, model, pk)
    form = log_form(model, record, request.POST if request.method == "POST" else None)
    if request.method == "POST":
        result = run_service(
            form,
            lambda: activity_log(
                actor=request.user,
                kind=form.cleaned_data["kind"],
                outcome=form.cleaned_data["outcome"],
                note=form.cleaned_data["note"],
                next_title=form.cleaned_data["next_title"],
                next_due_on=form.cleaned_data["next_due_on"],
                **{model: record},
            ),
        )
        if result is not None:
            message = _logged_message(form, result)
            if is_htmx(request):
                response = _record_page(request, model, pk)
                response["HX-Trigger"] = json.dumps(
                    {"crm:announce": message, "crm:activity-logged": True}
                )
                return response
            messages.success(request, message)
            return redirect(obj_url(record))
        if is_htmx(request):  # the dialog stays open with the errors next to the fields
            response = render(
                request, "crm/_log_form.html", {**log_context(model, record, form), "oob": False}
            )
            response["HX-Retarget"] = "#log-form"
            response["HX-Reswap"] = "outerHTML"
            response["HX-Trigger"] = json.dumps(
                {"crm:announce": _("Please correct the errors below.")}
            )
            return response
    return render(
        request,
        "crm/log_activity.html",
        {**log_context(model, record, form), "cancel_url": obj_url(record)},
        status=400 if form.errors else 200,
    )


def ask_next_task(request, task) -> bool:
    """After completing ``task``: is it the last open task of an open deal (ask for the next)?"""
    from crm.activity import has_other_open_task

    if not task.opportunity_id or task.opportunity.status != "open":
        return False
    return has_other_open_task(task) is False


@login_required
def schedule_next(request, pk: int):
    """ "Schedule the next task" of a deal: a title and a date (the prompt shown when its last
    open task is done; GET is the no-JS page)."""
    opportunity = _record(request, "opportunity", pk)
    form = schedule_next_form(opportunity, request.POST if request.method == "POST" else None)
    if request.method == "POST":
        task = run_service(
            form,
            lambda: services.task_create(
                actor=request.user,
                title=form.cleaned_data["title"],
                due_on=form.cleaned_data["due_on"],
                kind="follow_up",
                opportunity=opportunity,
            ),
        )
        if task is not None:
            message = _("Next task “%(title)s” scheduled.") % {"title": task.title}
            if is_htmx(request):
                response = render(
                    request, "crm/_schedule_next.html", {"opportunity": opportunity, "done": task}
                )
                response["HX-Trigger"] = json.dumps({"crm:announce": message})
                return response
            messages.success(request, message)
            return redirect(obj_url(opportunity))
        if is_htmx(request):
            return render(
                request, "crm/_schedule_next.html", {"opportunity": opportunity, "form": form}
            )
    return render(
        request,
        "crm/schedule_next.html",
        {"opportunity": opportunity, "form": form, "cancel_url": obj_url(opportunity)},
        status=400 if form.errors else 200,
    )


def schedule_next_form(opportunity, data=None) -> ScheduleNextForm:
    return ScheduleNextForm(
        data,
        initial={
            "title": _default_next_title("opportunity", opportunity),
            "due_on": next_working_day(timezone.localdate()),
        },
        auto_id=f"next-{opportunity.pk}-%s",
    )


def after_complete(request, task) -> ScheduleNextForm | None:
    """Called when a task was just marked done from a page. When it was the last open task of an
    open deal, ask for the next one: the agenda shows the returned form in place; the other pages
    get a message linking to "Schedule the next task"."""
    from django.utils.html import format_html

    if not ask_next_task(request, task):
        return None
    if not is_htmx(request):
        messages.info(
            request,
            format_html(
                '{} <a href="{}">{}</a>',
                _("“%(name)s” has no open task left.") % {"name": task.opportunity.name},
                reverse("activity-schedule-next", args=[task.opportunity_id]),
                _("Schedule the next task"),
            ),
        )
    return schedule_next_form(task.opportunity)
