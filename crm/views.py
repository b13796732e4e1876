"""HTML pages of the shared core: agenda, accounts, contacts, tasks, reports, settings (users and
teams) and the error pages.

Views parse the request, read through ``crm.selectors`` / ``crm.access`` and write through
``crm.services``; the rules live there. A record out of the user's reach is a 404 (its lookup runs
on the visible queryset); a settings page requested by a rep is a 403.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import HttpResponse, HttpResponseNotAllowed, HttpResponseServerError
from django.shortcuts import get_object_or_404, redirect, render
from django.template import loader
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from crm import access, forms, selectors, services
from crm.filters import AccountFilter, ContactFilter, TaskFilter, UserFilter
from crm.models import Account, Contact, Task, User
from crm.web import (
    admin_required,
    after_edit,
    announce,
    archive_page,
    bind_filterset,
    form_context,
    is_htmx,
    list_page,
    paginate,
    run_service,
    safe_next,
    timeline_context,
    url_without,
)
from leads import services as lead_services
from leads.forms_ratings import (
    ClassifyForm,
    TaskCompleteForm,
    classification_choices,
    classify_result_message,
    rating_choices,
    rating_filter_choices,
)
from opportunities import selectors as opportunity_selectors

# --- agenda --------------------------------------------------------------------------------------


def _can_classify(task: Task) -> bool:
    """An open task about a lead or contact asks "How did it go?" when completed.

    Like ``task_complete_and_classify``, a task with a lead rates the lead (a converted one is
    read-only, so its tasks keep the simple mark-done).
    """
    if task.done:
        return False
    if task.lead_id:
        return not task.lead.is_read_only
    return task.contact_id is not None


def _agenda_user(request) -> User:
    """Whose agenda: admins may pick any user with ``?user=``; for reps the parameter is ignored."""
    wanted = request.GET.get("user", "")
    if wanted.isdigit() and access.is_admin(request.user):
        found = selectors.user_list(user=request.user).filter(pk=int(wanted)).first()
        if found is not None:
            return found
    return request.user


def _agenda_sections(request, subject: User, agenda_url: str) -> dict[str, Any]:
    """The three sections of ``subject``'s agenda, each most urgent first, ready to render."""
    from leads.models import Rating

    today = timezone.localdate()
    tasks = list(selectors.task_agenda(user=subject, days=7))
    rating_ids = {
        t.source_event.data.get("rating")
        for t in tasks
        if t.is_follow_up and t.source_event_id is not None
    } - {None}
    follow_up_ratings = (
        {r.pk: r for r in Rating.objects.filter(pk__in=rating_ids)} if rating_ids else {}
    )
    groups: dict[str, list[Task]] = {"overdue": [], "today": [], "upcoming": []}
    for task in tasks:
        task.can_classify = _can_classify(task)
        if task.is_follow_up and task.source_event_id is not None:
            task.follow_up_rating = follow_up_ratings.get(task.source_event.data.get("rating"))
        if task.due_on < today:
            groups["overdue"].append(task)
        elif task.due_on == today:
            groups["today"].append(task)
        else:
            groups["upcoming"].append(task)
    return {
        "sections": [
            {"key": "overdue", "title": _("Overdue"), "tasks": groups["overdue"]},
            {"key": "today", "title": _("Today"), "tasks": groups["today"]},
            {"key": "upcoming", "title": _("Next 7 days"), "tasks": groups["upcoming"]},
        ],
        "today": today,
        "ratings": rating_choices() if any(t.can_classify for t in tasks) else [],
        "agenda_url": agenda_url,
    }


@login_required
def home(request):
    """The agenda: open tasks, overdue first, then today, then the next 7 days.

    Admins may look at any user's agenda (``?user=``); reps always see their own.
    """
    subject = _agenda_user(request)
    context = _agenda_sections(request, subject, request.get_full_path())
    today = context["today"]
    context.update(
        agenda_user=subject,
        until=today + dt.timedelta(days=7),
        agenda_users=_agenda_user_choices(subject) if access.is_admin(request.user) else None,
    )
    return render(request, "crm/agenda.html", context)


def _agenda_user_choices(current: User) -> list[User]:
    users = list(selectors.owner_choices())
    if all(u.pk != current.pk for u in users):
        users.append(current)  # a deactivated user's agenda stays reachable
    return users


# --- accounts ------------------------------------------------------------------------------------


def _visible_account(request, pk) -> Account:
    return get_object_or_404(selectors.account_list(user=request.user), pk=pk)


@login_required
def account_list(request):
    fs = bind_filterset(request, AccountFilter, selectors.account_list(user=request.user))
    return list_page(
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
            **timeline_context(request, account.name, account=account),
        },
    )


@login_required
def account_create(request):
    form = forms.AccountForm(request.POST or None, user=request.user)
    if request.method == "POST":
        account = run_service(
            form, lambda: services.account_create(actor=request.user, **form.cleaned_data)
        )
        if account:
            messages.success(request, _("Account created."))
            return redirect("account-detail", pk=account.pk)
    return render(request, "crm/form.html", form_context(form, _("New account"), "account-list"))


@login_required
def account_edit(request, pk):
    account = _visible_account(request, pk)
    form = forms.AccountForm(request.POST or None, user=request.user, instance=account)
    if request.method == "POST":
        saved = run_service(
            form,
            lambda: services.account_update(
                actor=request.user, account=account, **form.changed_values()
            ),
        )
        if saved:
            return after_edit(request, saved, "account")
    return render(
        request,
        "crm/form.html",
        form_context(form, _("Edit account"), reverse("account-detail", args=[pk]), account),
    )


@login_required
def account_archive(request, pk):
    account = _visible_account(request, pk)
    return archive_page(
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
    from django import forms as djforms

    fs = bind_filterset(request, ContactFilter, selectors.contact_list(user=request.user))
    # An account is chosen by typing part of its name (a workspace can have tens of thousands:
    # a <select> of them all weighed a megabyte); ``?account=<id>`` (the account page's "see
    # all" link) stays, shown as a chip that can be removed.
    fs.form.fields["account"].widget = djforms.HiddenInput()
    fs.form.fields["rating"].widget = djforms.Select(choices=rating_filter_choices())
    chosen_account = None
    if fs.form.is_valid() and fs.form.cleaned_data.get("account") is not None:
        chosen_account = (
            access.visible_accounts(request.user)
            .filter(pk=fs.form.cleaned_data["account"])
            .values_list("name", flat=True)
            .first()
        )
        chosen_account = chosen_account or f"#{fs.form.cleaned_data['account']}"
    return list_page(
        request,
        template="crm/contacts/list.html",
        filterset=fs,
        columns=[
            (_("Name"), "name"),
            (_("Email"), "email"),
            (_("Phone"), None),
            (_("Account"), None),
            (_("Rating"), None),
            (_("Tags"), None),
            (_("Owner"), None),
        ],
        default_sort="name",
        chosen_account=chosen_account,
        without_account_url=url_without(request, "account"),
    )


def _classify_form(contact: Contact, data=None) -> ClassifyForm:
    return ClassifyForm(
        data, ratings=classification_choices(), current=contact.rating, auto_id="classify-%s"
    )


@login_required
def contact_detail(request, pk):
    return _contact_page(request, _visible_contact(request, pk))


def _contact_page(request, contact: Contact, classify_form: ClassifyForm | None = None):
    from opportunities.views_enrollments import panel_context as enrollment_panel

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
            "can_archive": access.can_archive_contact(request.user, contact),
            "tasks": tasks,
            "opportunities": opportunity_selectors.opportunity_list(user=request.user)
            .filter(contact=contact)
            .order_by("-created_at", "-id")[:20],
            "classify_form": classify_form or _classify_form(contact),
            **enrollment_panel(request, contact=contact),
            **timeline_context(request, contact.name, contact=contact),
        },
        status=400 if classify_form is not None and classify_form.errors else 200,
    )


@login_required
@require_POST
def contact_classify(request, pk):
    """The "Rating" picker of the contact page: a classification, or none (clears it)."""
    contact = _visible_contact(request, pk)
    form = _classify_form(contact, request.POST)
    event = run_service(
        form,
        lambda: lead_services.prospect_classify(
            actor=request.user, rating=form.cleaned_data["rating"], contact=contact
        ),
    )
    if event is None:
        return _contact_page(request, contact, classify_form=form)
    messages.success(request, classify_result_message(form.cleaned_data["rating"], subject=contact))
    return redirect("contact-detail", pk=contact.pk)


@login_required
def contact_create(request):
    initial = {"owner": request.user.pk}
    if request.GET.get("account", "").isdigit():
        initial["account"] = int(request.GET["account"])
    form = forms.ContactForm(request.POST or None, user=request.user, initial=initial)
    if request.method == "POST":
        contact = run_service(
            form, lambda: services.contact_create(actor=request.user, **form.cleaned_data)
        )
        if contact:
            messages.success(request, _("Contact created."))
            return redirect("contact-detail", pk=contact.pk)
    return render(request, "crm/form.html", form_context(form, _("New contact"), "contact-list"))


@login_required
def contact_edit(request, pk):
    contact = _visible_contact(request, pk)
    form = forms.ContactForm(request.POST or None, user=request.user, instance=contact)
    if request.method == "POST":
        saved = run_service(
            form,
            lambda: services.contact_update(
                actor=request.user, contact=contact, **form.changed_values()
            ),
        )
        if saved:
            return after_edit(request, saved, "contact")
    return render(
        request,
        "crm/form.html",
        form_context(form, _("Edit contact"), reverse("contact-detail", args=[pk]), contact),
    )


@login_required
def contact_archive(request, pk):
    contact = _visible_contact(request, pk)
    return archive_page(
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
    fs = bind_filterset(request, TaskFilter, selectors.task_list(user=request.user))
    return list_page(
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
    task.can_classify = _can_classify(task)
    return render(
        request,
        "crm/tasks/detail.html",
        {
            "task": task,
            "today": timezone.localdate(),
            "ratings": rating_choices() if task.can_classify else [],
            "agenda_url": request.path,
            **timeline_context(request, task.title, task=task),
        },
    )


@login_required
def task_create(request):
    initial: dict[str, Any] = {"owner": request.user.pk, "due_on": timezone.localdate()}
    for name in ("contact", "lead", "opportunity"):
        if request.GET.get(name, "").isdigit():
            initial[name] = int(request.GET[name])
    form = forms.TaskForm(request.POST or None, user=request.user, initial=initial)
    if request.method == "POST":
        task = run_service(
            form, lambda: services.task_create(actor=request.user, **form.cleaned_data)
        )
        if task:
            messages.success(request, _("Task created."))
            return redirect("task-detail", pk=task.pk)
    return render(request, "crm/form.html", form_context(form, _("New task"), "task-list"))


@login_required
def task_edit(request, pk):
    task = _visible_task(request, pk)
    form = forms.TaskForm(request.POST or None, user=request.user, instance=task)
    if request.method == "POST":
        saved = run_service(
            form,
            lambda: services.task_update(actor=request.user, task=task, **form.changed_values()),
        )
        if saved:
            return after_edit(request, saved, "task")
    return render(
        request,
        "crm/form.html",
        form_context(form, _("Edit task"), reverse("task-detail", args=[pk]), task),
    )


@login_required
def task_archive(request, pk):
    task = _visible_task(request, pk)
    return archive_page(
        request,
        task,
        service=lambda: services.task_archive(actor=request.user, task=task),
        title=_("Archive task “%(name)s”?") % {"name": task.title},
        done=_("Task archived."),
        list_url="task-list",
    )


def _agenda_item(request, task: Task, *, schedule_form=None, error: str = "") -> HttpResponse:
    """The task's agenda row, redrawn in place after a toggle (with the error when refused)."""
    task.can_classify = _can_classify(task)
    return render(
        request,
        "crm/tasks/_agenda_item.html",
        {
            "task": task,
            "today": timezone.localdate(),
            "swapped": True,
            "schedule_form": schedule_form,
            "ratings": rating_choices() if task.can_classify else [],
            "agenda_url": safe_next(request, reverse("home")),
            "error": error,
        },
    )


def _task_toggle(request, pk, *, done: bool) -> HttpResponse:
    from crm.views_activity import after_complete

    task = _visible_task(request, pk)
    schedule_form = None
    if done:
        task = services.task_complete(actor=request.user, task=task)
        message = _("Task “%(name)s” marked as done.") % {"name": task.title}
        # The last open task of a deal: ask for the next one (issue #9).
        schedule_form = after_complete(request, task)
    else:
        try:
            task = services.task_reopen(actor=request.user, task=task)
        except ValidationError as exc:
            # Refused (another follow-up is open for the prospect): the task stays done and the
            # reason is shown next to it (htmx) or at the top of the page.
            error = " ".join(exc.messages)
            if is_htmx(request):
                return announce(_agenda_item(request, task, error=error), error)
            messages.error(request, error)
            return redirect(safe_next(request, reverse("task-detail", args=[task.pk])))
        message = _("Task “%(name)s” reopened.") % {"name": task.title}
    if is_htmx(request):
        response = _agenda_item(request, task, schedule_form=schedule_form)
        return announce(response, _("Saved. %(what)s") % {"what": message})
    messages.success(request, message)
    return redirect(safe_next(request, reverse("task-detail", args=[task.pk])))


def _complete_form(task: Task, data=None) -> TaskCompleteForm:
    return TaskCompleteForm(data, ratings=rating_choices(), auto_id=f"complete-{task.pk}-%s")


def _complete_message(task: Task, rating) -> str:
    done = _("Task “%(name)s” marked as done.") % {"name": task.title}
    if rating is None:
        return f"{done} " + _("No automatic follow-up.")
    subject = task.lead if task.lead_id else task.contact
    return f"{done} " + classify_result_message(rating, subject=subject)


@login_required
def task_complete(request, pk):
    """Mark a task done. One about a lead or contact first asks "How did it go?".

    The agenda asks in a dialog (htmx: the task leaves the list, the agenda is redrawn and the
    result announced); GET is the dialog's no-JS twin page. The chosen rating classifies the
    prospect exactly as the API does (``task_complete_and_classify``); blank schedules nothing.
    A POST without the rating field (the plain "Mark done") completes without rating.
    """
    task = _visible_task(request, pk)
    ask = _can_classify(task)
    if request.method != "POST" and task.done:  # a stale link: nothing left to ask
        messages.info(request, _("Task “%(name)s” is already done.") % {"name": task.title})
        return redirect("task-detail", pk=task.pk)
    if request.method != "POST" and not ask:
        return HttpResponseNotAllowed(["POST"])
    if request.method == "POST" and not (ask and "rating" in request.POST):
        return _task_toggle(request, pk, done=True)
    form = _complete_form(task, request.POST if request.method == "POST" else None)
    if request.method == "POST":
        done = run_service(
            form,
            lambda: lead_services.task_complete_and_classify(
                actor=request.user,
                task=task,
                rating=form.cleaned_data["rating"],
                note=form.cleaned_data["note"],
            ),
        )
        if done is not None:
            from crm.views_activity import after_complete

            message = _complete_message(task, form.cleaned_data["rating"])
            agenda_url = safe_next(request, reverse("home"))
            # The last open task of a deal (rated through its contact): ask for the deal's next.
            schedule_form = after_complete(request, done)
            if is_htmx(request):
                response = render(
                    request,
                    "crm/_agenda_sections.html",
                    {
                        **_agenda_sections(request, done.owner, agenda_url),
                        "oob_counts": True,
                        "schedule_form": schedule_form,
                        "schedule_opportunity": done.opportunity if schedule_form else None,
                    },
                )
                return announce(response, _("Saved. %(what)s") % {"what": message})
            messages.success(request, message)
            return redirect(safe_next(request, reverse("task-detail", args=[task.pk])))
        if is_htmx(request):  # the dialog stays open with the errors next to the fields
            response = render(
                request,
                "crm/tasks/_complete_form.html",
                {
                    "task": task,
                    "form": form,
                    "ratings": form.ratings,
                    "in_dialog": True,
                    "agenda_url": safe_next(request, reverse("home")),
                },
            )
            response["HX-Retarget"] = f"#complete-form-{task.pk}"
            response["HX-Reswap"] = "outerHTML"
            return response
    return render(
        request,
        "crm/tasks/complete.html",
        {
            "task": task,
            "form": form,
            "ratings": form.ratings,
            "agenda_url": safe_next(request, reverse("task-detail", args=[task.pk])),
        },
        status=400 if form.errors else 200,
    )


@login_required
@require_POST
def task_reopen(request, pk):
    return _task_toggle(request, pk, done=False)


# --- reports -------------------------------------------------------------------------------------


@login_required
def report_list(request):
    return render(request, "crm/reports/index.html")


# --- settings: users and teams -------------------------------------------------------------------


@admin_required
def settings_index(request):
    return redirect("settings-users")


@admin_required
def settings_users(request):
    fs = bind_filterset(request, UserFilter, selectors.user_list(user=request.user))
    return list_page(
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
        user = run_service(
            form, lambda: services.user_create(actor=request.user, **form.service_values())
        )
        if user:
            messages.success(request, _("User “%(name)s” created.") % {"name": user.username})
            return redirect("settings-users")
    return render(
        request,
        "crm/settings/form.html",
        {**form_context(form, _("New user"), "settings-users"), "settings_tab": "users"},
    )


def _settings_user(request, pk) -> User:
    return get_object_or_404(selectors.user_list(user=request.user), pk=pk)


@admin_required
def settings_user_edit(request, pk):
    subject = _settings_user(request, pk)
    form = forms.UserEditForm(request.POST or None, instance=subject)
    if request.method == "POST":
        saved = run_service(
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
            **form_context(
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
    return render(request, "crm/settings/teams.html", {"page_obj": paginate(request, teams)})


@admin_required
def settings_team_create(request):
    form = forms.TeamForm(request.POST or None, user=request.user)
    if request.method == "POST":
        team = run_service(
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
        {**form_context(form, _("New team"), "settings-teams"), "settings_tab": "teams"},
    )


@admin_required
def settings_team_edit(request, pk):
    team = get_object_or_404(selectors.team_roster(user=request.user), pk=pk)
    form = forms.TeamForm(request.POST or None, user=request.user, instance=team)
    if request.method == "POST":
        saved = run_service(
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
            **form_context(
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
