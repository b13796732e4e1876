"""The search page (``/search/?q=``) and the fragment the Ctrl-K dialog shows (static/js/search.js
asks for it with ``HX-Request: true``). Without JavaScript, the header's Search link leads here."""

from __future__ import annotations

from django import forms
from django.contrib.auth.decorators import login_required
from django.shortcuts import render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext

from crm import search
from crm.web import is_htmx

PAGE_LIMIT = 20

KIND_LABELS = {
    "lead": gettext_lazy("Lead"),
    "contact": gettext_lazy("Contact"),
    "account": gettext_lazy("Account"),
    "opportunity": gettext_lazy("Opportunity"),
    "command": gettext_lazy("Command"),
}
GROUP_LABELS = {
    "lead": gettext_lazy("Leads"),
    "contact": gettext_lazy("Contacts"),
    "account": gettext_lazy("Accounts"),
    "opportunity": gettext_lazy("Opportunities"),
    "command": gettext_lazy("Commands"),
}


class SearchForm(forms.Form):
    q = forms.CharField(
        label=gettext_lazy("Search"),
        required=False,
        max_length=search.MAX_QUERY_LENGTH,
        strip=True,
    )


@login_required
def search_page(request):
    form = SearchForm(request.GET)
    q = ""
    if form.is_valid():
        q = search.normalize_query(form.cleaned_data["q"])
    error = " ".join(str(e) for errors in form.errors.values() for e in errors)
    too_short = bool(q) and len(q) < search.MIN_QUERY_LENGTH
    # The dialog shows a few per kind; the page (Enter with nothing chosen, or no JavaScript) more.
    limit = 5 if is_htmx(request) else PAGE_LIMIT
    results = search.global_search(user=request.user, q=q, limit_per_kind=limit) if q else []
    commands = search.search_commands(q=q) if not error else []
    options = [{**row, "kind_label": KIND_LABELS[row["kind"]]} for row in (*results, *commands)]
    groups = [
        {"kind": kind, "label": GROUP_LABELS[kind], "rows": rows}
        for kind in (*search.KINDS, "command")
        if (rows := [row for row in options if row["kind"] == kind])
    ]
    if error:
        status = error
    elif too_short:
        status = _("Type at least %(count)d characters to search records.") % {
            "count": search.MIN_QUERY_LENGTH
        }
    elif q and not results:
        status = _("No records match “%(query)s”.") % {"query": q}
    elif q:
        status = ngettext("%(count)d record found.", "%(count)d records found.", len(results)) % {
            "count": len(results)
        }
    else:
        status = ""
    context = {
        "form": form,
        "q": q,
        "options": options,
        "groups": groups,
        "result_count": len(results),
        "status": status,
        "has_error": bool(error),
        "nav_section": "search",
    }
    if is_htmx(request):
        return render(request, "crm/search_options.html", context)
    return render(request, "crm/search.html", context, status=200)
