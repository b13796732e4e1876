"""Bulk actions from the lead, contact and opportunity lists (issue #9.6).

The toolbar under each list posts the ticked rows here; the first POST answers with a confirmation
page that says how many records the action will change ("12 leads will be reassigned to Otto"),
whose Confirm button posts the same data again with ``confirm``. The rules are all in
``crm.services_bulk`` (shared with the API). A row the user may not see makes it a 404.
"""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import ngettext, ngettext_lazy
from django.views.decorators.http import require_POST

from crm.forms_bulk import BulkActionForm
from crm.lists import list_specs
from crm.services_bulk import ACTIONS, LIST_ACTIONS, RecordsNotFound, bulk_apply, bulk_targets
from crm.web import safe_next

_WILL = {
    ("leads", "assign"): ngettext_lazy(
        "%(count)s lead will be reassigned to %(owner)s.",
        "%(count)s leads will be reassigned to %(owner)s.",
        "count",
    ),
    ("leads", "disqualify"): ngettext_lazy(
        "%(count)s lead will be disqualified.", "%(count)s leads will be disqualified.", "count"
    ),
    ("leads", "archive"): ngettext_lazy(
        "%(count)s lead will be archived.", "%(count)s leads will be archived.", "count"
    ),
    ("contacts", "assign"): ngettext_lazy(
        "%(count)s contact will be reassigned to %(owner)s.",
        "%(count)s contacts will be reassigned to %(owner)s.",
        "count",
    ),
    ("contacts", "tag"): ngettext_lazy(
        "The tag “%(tag)s” will be added to %(count)s contact.",
        "The tag “%(tag)s” will be added to %(count)s contacts.",
        "count",
    ),
    ("contacts", "untag"): ngettext_lazy(
        "The tag “%(tag)s” will be removed from %(count)s contact.",
        "The tag “%(tag)s” will be removed from %(count)s contacts.",
        "count",
    ),
    ("contacts", "archive"): ngettext_lazy(
        "%(count)s contact will be archived.", "%(count)s contacts will be archived.", "count"
    ),
    ("opportunities", "assign"): ngettext_lazy(
        "%(count)s opportunity will be reassigned to %(owner)s.",
        "%(count)s opportunities will be reassigned to %(owner)s.",
        "count",
    ),
    ("opportunities", "move"): ngettext_lazy(
        "%(count)s opportunity will be moved to %(stage)s.",
        "%(count)s opportunities will be moved to %(stage)s.",
        "count",
    ),
    ("opportunities", "archive"): ngettext_lazy(
        "%(count)s opportunity will be archived.",
        "%(count)s opportunities will be archived.",
        "count",
    ),
}

PREVIEW = 10


def _confirm_page(request, *, form, list_key: str, records, back: str, status: int = 200):
    data = form.cleaned_data
    count = len(data["ids"])
    sentence = _WILL[(list_key, data["action"])] % {
        "count": count,
        "owner": data.get("owner") or "",
        "tag": " ".join((data.get("tag") or "").split()),
        "stage": data.get("stage") or "",
    }
    preview = list(records.order_by("pk")[: PREVIEW + 1])
    return render(
        request,
        "crm/bulk_confirm.html",
        {
            "form": form,
            "sentence": sentence,
            "count": count,
            "action_label": ACTIONS[data["action"]],
            "preview": preview[:PREVIEW],
            "preview_more": count - PREVIEW if len(preview) > PREVIEW else 0,
            "ids": data["ids"],
            "action": data["action"],
            "next": back,
            "list_key": list_key,
            "nav_section": list_key,
        },
        status=status,
    )


@login_required
@require_POST
def bulk_action(request, list_key: str):
    if list_key not in LIST_ACTIONS:
        raise Http404
    back = safe_next(request, reverse(list_specs()[list_key].url_name))
    form = BulkActionForm(request.POST, list_key=list_key, user=request.user)
    if not form.is_valid():
        for errors in form.errors.values():
            for error in errors:
                messages.error(request, error)
        return redirect(back)
    try:
        records = bulk_targets(user=request.user, list_key=list_key, ids=form.cleaned_data["ids"])
    except RecordsNotFound as exc:
        raise Http404 from exc
    if not request.POST.get("confirm"):
        return _confirm_page(request, form=form, list_key=list_key, records=records, back=back)
    values = form.service_values()
    from django.core.exceptions import ValidationError

    try:
        changed = bulk_apply(actor=request.user, list_key=list_key, records=records, **values)
    except ValidationError as exc:
        form.add_service_errors(exc)
        return _confirm_page(
            request, form=form, list_key=list_key, records=records, back=back, status=400
        )
    messages.success(
        request,
        ngettext(
            "%(action)s: %(count)s record changed.",
            "%(action)s: %(count)s records changed.",
            changed,
        )
        % {"action": ACTIONS[values["action"]], "count": changed},
    )
    return redirect(back)
