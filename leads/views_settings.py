"""Settings > Leads (admins only): disqualification reasons and the "ask for a reason" setting.

Every change is a POST through ``leads.services``; their errors are shown next to the fields on
the same tab. Moves answer htmx requests with the refreshed reason table (focus stays on the
button, the result is announced); without JavaScript every form posts and redirects back.
"""

from __future__ import annotations

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from crm.web import admin_required, announce, is_htmx, move_in_order, run_service
from leads import selectors, services
from leads.forms_settings import AskReasonForm, MoveForm, ReasonForm
from leads.models import DisqualificationReason

TEMPLATE = "leads/settings/leads.html"


def _reason(pk: int) -> DisqualificationReason:
    return get_object_or_404(selectors.disqualification_reason_list(include_archived=True), pk=pk)


def _tab_url(reason_pk: int | None = None) -> str:
    url = reverse("settings-leads")
    return f"{url}#reason-{reason_pk}" if reason_pk else url


def _render_tab(
    request: HttpRequest,
    *,
    add_form: ReasonForm | None = None,
    ask_form: AskReasonForm | None = None,
    rename: tuple[int, ReasonForm] | None = None,
    status: int = 200,
) -> HttpResponse:
    reasons = list(selectors.disqualification_reason_list(include_archived=True))
    active = [r for r in reasons if not r.archived]
    archived = [r for r in reasons if r.archived]
    ask = services.lead_settings_get().ask_disqualification_reason
    rename_pk, rename_form = rename or (None, None)
    for i, reason in enumerate(active):
        reason.is_first, reason.is_last = i == 0, i == len(active) - 1
        if reason.pk == rename_pk:
            reason.rename_form = rename_form
        else:
            reason.rename_form = ReasonForm(
                initial={"name": reason.name}, auto_id=f"rename-{reason.pk}-%s"
            )
    return render(
        request,
        TEMPLATE,
        {
            "settings_tab": "leads",
            "active_reasons": active,
            "archived_reasons": archived,
            "add_form": add_form or ReasonForm(auto_id="add-reason-%s"),
            "ask_form": ask_form or AskReasonForm(current=ask, auto_id="ask-%s"),
            "ask_current": ask,
            "has_errors": any(
                f is not None and f.errors for f in (add_form, ask_form, rename_form)
            ),
        },
        status=status,
    )


@admin_required
def settings_leads(request):
    return _render_tab(request)


@admin_required
@require_POST
def reason_create(request):
    form = ReasonForm(request.POST, auto_id="add-reason-%s")
    reason = run_service(
        form,
        lambda: services.disqualification_reason_create(
            actor=request.user, name=form.cleaned_data["name"]
        ),
    )
    if reason is None:
        return _render_tab(request, add_form=form)
    messages.success(request, _("Reason “%(name)s” added.") % {"name": reason.name})
    return redirect(_tab_url(reason.pk))


@admin_required
@require_POST
def reason_edit(request, pk):
    reason = _reason(pk)
    old = reason.name
    form = ReasonForm(request.POST, auto_id=f"rename-{reason.pk}-%s")
    saved = run_service(
        form,
        lambda: services.disqualification_reason_update(
            actor=request.user, reason=reason, name=form.cleaned_data["name"]
        ),
    )
    if saved is None:
        return _render_tab(request, rename=(reason.pk, form))
    if saved.name == old:
        messages.info(request, _("Nothing changed."))
    else:
        messages.success(
            request, _("Reason “%(old)s” renamed to “%(new)s”.") % {"old": old, "new": saved.name}
        )
    return redirect(_tab_url(reason.pk))


@admin_required
def reason_delete(request, pk):
    """GET: the confirmation page (the no-JS twin of the dialog). POST: delete or archive."""
    reason = _reason(pk)
    if request.method != "POST":
        return render(
            request,
            "leads/settings/confirm_delete.html",
            {"reason": reason, "settings_tab": "leads", "cancel_url": _tab_url(reason.pk)},
        )
    outcome = services.disqualification_reason_delete(actor=request.user, reason=reason)
    if outcome == "archived":
        messages.success(
            request,
            _(
                "Reason “%(name)s” archived: leads use it, so they and the reports keep it. "
                "It is no longer offered when disqualifying."
            )
            % {"name": reason.name},
        )
    else:
        messages.success(request, _("Reason “%(name)s” deleted.") % {"name": reason.name})
    return redirect(_tab_url())


@admin_required
@require_POST
def reason_move(request, pk):
    reason = _reason(pk)
    form = MoveForm(request.POST)
    if reason.archived:
        message, level = _("An archived reason has no place in the order."), messages.ERROR
    elif not form.is_valid():
        message, level = _("Choose whether to move the reason up or down."), messages.ERROR
    else:
        message, level = move_in_order(
            pk=reason.pk,
            ids=list(selectors.disqualification_reason_choices().values_list("pk", flat=True)),
            direction=form.cleaned_data["direction"],
            reorder=lambda ids: services.disqualification_reason_reorder(
                actor=request.user, ids=ids
            ),
            name=reason.name,
            changed_message=_(
                "The reasons changed meanwhile; here is the current order. Try again."
            ),
        )
    if is_htmx(request):
        return announce(_render_tab(request), message)
    messages.add_message(request, level, message)
    return redirect(_tab_url(reason.pk))


@admin_required
@require_POST
def ask_update(request):
    current = services.lead_settings_get().ask_disqualification_reason
    form = AskReasonForm(request.POST, current=current, auto_id="ask-%s")
    saved = run_service(
        form,
        lambda: services.lead_settings_update(
            actor=request.user, ask_disqualification_reason=form.value
        ),
    )
    if saved is None:
        return _render_tab(request, ask_form=form)
    if saved.ask_disqualification_reason:
        messages.success(request, _("Saved: users must give a reason to disqualify a lead."))
    else:
        messages.success(request, _("Saved: the disqualification reason is now optional."))
    return redirect(_tab_url())
