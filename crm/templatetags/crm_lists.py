"""Template tags of the list pages: saved-view tabs and the bulk-action toolbar.

They are inclusion tags so that every list (whatever view builds it) gets them from its template
with one line, and the queries they need are made once per page.
"""

from __future__ import annotations

from django import template

from crm import access, selectors
from crm.lists import query_normalize

register = template.Library()


@register.inclusion_tag("includes/view_tabs.html", takes_context=True)
def view_tabs(context, list_key: str):
    """The user's saved views and the default views of ``list_key`` as tabs (one query); the tab
    whose query is the current URL's (without ``page``) is marked current."""
    request = context["request"]
    user = request.user
    current, _errors = query_normalize(list_key, request.GET)
    views = list(selectors.saved_view_list(user=user, list_key=list_key))
    is_admin = access.is_admin(user)
    tabs = [
        {
            "view": v,
            "url": f"?{v.query}" if v.query else request.path,
            "active": v.query == current,
            "can_manage": (v.user_id == user.pk) or (v.user_id is None and is_admin),
        }
        for v in views
    ]
    return {
        "request": request,
        "tabs": tabs,
        "list_key": list_key,
        "current_query": current,
        "is_admin": is_admin,
        "csrf_token": context.get("csrf_token"),
        "any_active": any(t["active"] for t in tabs),
    }


@register.inclusion_tag("includes/bulk_toolbar.html", takes_context=True)
def bulk_toolbar(context, list_key: str):
    from crm.forms_bulk import BulkActionForm

    request = context["request"]
    return {
        "request": request,
        "list_key": list_key,
        "form": BulkActionForm(list_key=list_key, user=request.user),
        "csrf_token": context.get("csrf_token"),
    }
