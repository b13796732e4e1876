"""Settings > Automation (trigger actions by event) and Settings > Sequences (admins only).

Every change is a POST through ``opportunities.services_automation``; their errors are shown
next to the fields on the same page. Without JavaScript every form posts and redirects back;
the steps table always offers a few empty rows to add steps.
"""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from crm.web import admin_required, run_service
from opportunities import selectors_automation as selectors
from opportunities import services_automation as services
from opportunities.forms_automation import (
    SequenceForm,
    StopForm,
    TriggerActionForm,
    steps_formset,
    steps_from,
)
from opportunities.models import Enrollment, TriggerAction

AUTOMATION_TEMPLATE = "opportunities/settings/automation.html"


# --- Settings > Automation -----------------------------------------------------------------------


def _automation_url(pk: int | None = None) -> str:
    url = reverse("settings-automation")
    return f"{url}#action-{pk}" if pk else url


def _render_automation(request: HttpRequest, add_form: TriggerActionForm | None = None):
    return render(
        request,
        AUTOMATION_TEMPLATE,
        {
            "settings_tab": "automation",
            "groups": selectors.trigger_actions_by_event(),
            "add_form": add_form or TriggerActionForm(auto_id="add-action-%s"),
            "has_errors": bool(add_form is not None and add_form.errors),
        },
    )


def _action(pk: int) -> TriggerAction:
    return get_object_or_404(selectors.trigger_action_list(), pk=pk)


@admin_required
def automation(request):
    return _render_automation(request)


@admin_required
@require_POST
def automation_create(request):
    form = TriggerActionForm(request.POST, auto_id="add-action-%s")
    obj = run_service(
        form,
        lambda: services.trigger_action_create(actor=request.user, **form.service_kwargs()),
    )
    if obj is None:
        return _render_automation(request, add_form=form)
    messages.success(request, _("Action added: %(action)s.") % {"action": obj})
    return redirect(_automation_url(obj.pk))


@admin_required
def automation_edit(request, pk):
    obj = _action(pk)
    form = TriggerActionForm(request.POST or None, instance=obj, auto_id="edit-action-%s")
    if request.method == "POST":
        saved = run_service(
            form,
            lambda: services.trigger_action_update(
                actor=request.user, trigger_action=obj, **form.service_kwargs()
            ),
        )
        if saved is not None:
            messages.success(request, _("Action saved: %(action)s.") % {"action": saved})
            return redirect(_automation_url(saved.pk))
    return render(
        request,
        "opportunities/settings/automation_edit.html",
        {
            "settings_tab": "automation",
            "form": form,
            "action": obj,
            "cancel_url": _automation_url(obj.pk),
        },
    )


@admin_required
def automation_remove(request, pk):
    """GET: the confirmation page. POST: archive (its past runs keep it)."""
    obj = _action(pk)
    if request.method == "POST":
        services.trigger_action_archive(actor=request.user, trigger_action=obj)
        messages.success(request, _("Action removed: %(action)s.") % {"action": obj})
        return redirect(_automation_url())
    return render(
        request,
        "opportunities/settings/automation_remove.html",
        {"settings_tab": "automation", "action": obj, "cancel_url": _automation_url(obj.pk)},
    )


# --- Settings > Sequences ------------------------------------------------------------------------


@admin_required
def sequences(request):
    rows = list(selectors.sequence_list(include_archived=True))
    return render(
        request,
        "opportunities/settings/sequences.html",
        {
            "settings_tab": "sequences",
            "active": [s for s in rows if s.archived_at is None],
            "archived": [s for s in rows if s.archived_at is not None],
        },
    )


def _sequence_form_page(request, *, sequence=None, form, formset, status=200) -> HttpResponse:
    enrollments = []
    if sequence is not None:
        enrollments = list(
            selectors.enrollment_list(user=request.user).filter(sequence=sequence)[:200]
        )
        for e in enrollments:
            e.stop_reason_label = selectors.stop_reason_label(e.stop_reason)
            e.subject_name = (e.contact or e.lead).name
    return render(
        request,
        "opportunities/settings/sequence_form.html",
        {
            "settings_tab": "sequences",
            "sequence": sequence,
            "form": form,
            "formset": formset,
            "steps_errors": getattr(form, "steps_errors", []),
            "enrollments": enrollments,
            "stop_form": StopForm(auto_id="stop-%s"),
            "has_errors": bool(form.errors or getattr(form, "steps_errors", [])),
        },
        status=status,
    )


def _save_sequence(request, form, formset, call):
    """Validate the form and the rows, call the service; its ``steps`` errors go above the
    table, the others next to their fields."""
    if not (form.is_valid() and formset.is_valid()):
        return None
    try:
        return call(steps_from(formset))
    except ValidationError as exc:
        errors = getattr(exc, "error_dict", {})
        form.steps_errors = [m for e in errors.get("steps", []) for m in e.messages]
        if not hasattr(exc, "error_dict"):
            form.add_service_errors(exc)
        elif set(errors) - {"steps"}:
            form.add_service_errors(
                ValidationError({k: v for k, v in errors.items() if k != "steps"})
            )
        return None


@admin_required
def sequence_create(request):
    form = SequenceForm(request.POST or None)
    formset = steps_formset(request.POST or None)
    if request.method == "POST":
        seq = _save_sequence(
            request,
            form,
            formset,
            lambda steps: services.sequence_create(
                actor=request.user,
                name=form.cleaned_data["name"],
                stop_when_closed=form.cleaned_data["stop_when_closed"],
                steps=steps,
            ),
        )
        if seq is not None:
            messages.success(request, _("Sequence “%(name)s” created.") % {"name": seq.name})
            return redirect("settings-sequence-edit", pk=seq.pk)
    return _sequence_form_page(request, form=form, formset=formset)


def _sequence(pk: int):
    return get_object_or_404(selectors.sequence_list(), pk=pk)


@admin_required
def sequence_edit(request, pk):
    seq = _sequence(pk)
    if request.method == "POST":
        form = SequenceForm(request.POST, instance=seq)
        formset = steps_formset(request.POST)
        saved = _save_sequence(
            request,
            form,
            formset,
            lambda steps: services.sequence_update(
                actor=request.user,
                sequence=seq,
                name=form.cleaned_data["name"],
                stop_when_closed=form.cleaned_data["stop_when_closed"],
                steps=steps,
            ),
        )
        if saved is not None:
            messages.success(request, _("Sequence “%(name)s” saved.") % {"name": saved.name})
            return redirect("settings-sequence-edit", pk=saved.pk)
    else:
        form = SequenceForm(instance=seq)
        formset = steps_formset(sequence=seq)
    return _sequence_form_page(request, sequence=seq, form=form, formset=formset)


@admin_required
def sequence_archive(request, pk):
    """GET: the confirmation page. POST: archive; its active enrollments stop."""
    seq = _sequence(pk)
    if request.method == "POST":
        services.sequence_archive(actor=request.user, sequence=seq)
        messages.success(
            request,
            _("Sequence “%(name)s” archived: its active enrollments stopped.") % {"name": seq.name},
        )
        return redirect("settings-sequences")
    return render(
        request,
        "opportunities/settings/sequence_archive.html",
        {
            "settings_tab": "sequences",
            "sequence": seq,
            "cancel_url": reverse("settings-sequence-edit", args=[seq.pk]),
        },
    )


@admin_required
@require_POST
def enrollment_stop(request, pk):
    enrollment = get_object_or_404(
        Enrollment.objects.select_related("sequence", "contact", "lead"), pk=pk
    )
    form = StopForm(request.POST)
    reason = form.cleaned_data["reason"] if form.is_valid() else ""
    services.enrollment_stop(actor=request.user, enrollment=enrollment, reason=reason)
    name = (enrollment.contact or enrollment.lead).name
    messages.success(request, _("%(name)s no longer follows this sequence.") % {"name": name})
    return redirect(
        reverse("settings-sequence-edit", args=[enrollment.sequence_id]) + "#enrollments"
    )
