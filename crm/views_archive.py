"""Undo and restore (issue #9.7): the Undo button of the "… archived." message, and
Settings > Archive where admins restore archived records of every kind."""

from __future__ import annotations

import datetime as dt

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST

from crm import selectors
from crm.models import User
from crm.services_archive import restore_services
from crm.web import PAGE_SIZE, admin_required, obj_url, safe_next

RECENT_DAYS = 90

KIND_LABELS = {
    "lead": gettext_lazy("Lead"),
    "contact": gettext_lazy("Contact"),
    "account": gettext_lazy("Account"),
    "opportunity": gettext_lazy("Opportunity"),
    "task": gettext_lazy("Task"),
}

_RESTORED = {
    "lead": gettext_lazy("Lead restored."),
    "contact": gettext_lazy("Contact restored."),
    "account": gettext_lazy("Account restored."),
    "opportunity": gettext_lazy("Opportunity restored."),
    "task": gettext_lazy("Task restored."),
}


@login_required
@require_POST
def record_restore(request, kind: str, pk: int):
    """Restore an archived record (the Undo of an archive, or Settings > Archive)."""
    services = restore_services()
    if kind not in services:
        raise Http404
    _model, visible, restore, keyword = services[kind]
    obj = visible(request.user, include_archived=True).filter(pk=pk).first()
    if obj is None:
        raise Http404
    obj = restore(actor=request.user, **{keyword: obj})
    messages.success(request, _RESTORED[kind])
    return redirect(safe_next(request, obj_url(obj)))


@admin_required
def settings_archive(request):
    from django.core.paginator import Paginator

    kind = request.GET.get("kind") or None
    if kind not in KIND_LABELS:
        kind = None
    period = request.GET.get("period") or "all"
    cutoff = timezone.now() - dt.timedelta(days=RECENT_DAYS)
    bounds = {"recent": {"since": cutoff}, "older": {"before": cutoff}}.get(period, {})
    rows = selectors.archived_record_list(kind=kind, **bounds)
    page_obj = Paginator(rows, PAGE_SIZE).get_page(request.GET.get("page"))
    records = list(page_obj.object_list)
    events = selectors.archive_events(records)
    owners = User.objects.in_bulk({r["owner_id"] for r in records})
    for row in records:
        row["kind_label"] = KIND_LABELS[row["record_kind"]]
        row["event"] = events.get((row["record_kind"], row["pk"]))
        row["owner"] = owners.get(row["owner_id"])
    page_obj.object_list = records
    return render(
        request,
        "crm/settings/archive.html",
        {
            "page_obj": page_obj,
            "kinds": list(KIND_LABELS.items()),
            "kind": kind or "",
            "period": period,
            "recent_days": RECENT_DAYS,
            "settings_tab": "archive",
        },
    )
