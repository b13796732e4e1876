"""Saved views (issue #9.5): "Save this view" above each list, and deleting one's views.

The tabs themselves come from the ``view_tabs`` template tag (crm/templatetags/crm_lists.py).
"""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.shortcuts import get_object_or_404, redirect
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from crm import selectors, services
from crm.lists import list_specs
from crm.web import safe_next


@login_required
@require_POST
def saved_view_create(request):
    list_key = request.POST.get("list_key", "")
    specs = list_specs()
    default = reverse(specs[list_key].url_name) if list_key in specs else reverse("home")
    back = safe_next(request, default)
    try:
        view = services.saved_view_create(
            actor=request.user,
            list_key=list_key,
            name=request.POST.get("name", "")[:200],
            query=request.POST.get("query", ""),
            for_everyone=bool(request.POST.get("for_everyone")),
        )
    except ValidationError as exc:
        for error in exc.messages:
            messages.error(request, error)
        return redirect(back)
    messages.success(request, _("View “%(name)s” saved.") % {"name": view.name})
    return redirect(f"{reverse(specs[list_key].url_name)}?{view.query}" if view.query else default)


@login_required
@require_POST
def saved_view_delete(request, pk: int):
    view = get_object_or_404(selectors.saved_view_list(user=request.user), pk=pk)
    back = safe_next(request, reverse(list_specs()[view.list_key].url_name))
    services.saved_view_delete(actor=request.user, view=view)
    messages.success(request, _("View “%(name)s” deleted.") % {"name": view.name})
    return redirect(back)
