"""Reports > Disqualification: the disqualification insights of a date range, and their CSV.

Every number comes from ``leads.selectors`` (aggregated in SQL, within what the user may see:
a rep's numbers cover their own leads only), so the page costs the same few queries whatever
the number of leads. The CSV (``?format=csv``) holds exactly the rows the page shows.
"""

from __future__ import annotations

import csv
import datetime as dt
from decimal import ROUND_HALF_UP, Decimal

from django.contrib.auth.decorators import login_required
from django.http import HttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.utils.translation import gettext as _

from leads import selectors
from leads.csv_io import csv_safe
from leads.forms_settings import ReportRangeForm

ONE_DECIMAL = Decimal("0.1")


def _percent(part: int | float, whole: int | float) -> Decimal:
    """``part`` of ``whole`` in percent, rounded once here so the page and the CSV agree."""
    if not whole:
        return Decimal(0).quantize(ONE_DECIMAL)
    return (Decimal(part) * 100 / Decimal(whole)).quantize(ONE_DECIMAL, ROUND_HALF_UP)


def _bar(count: int, largest: int) -> Decimal:
    return _percent(count, largest) if largest else Decimal(0)


def report_data(*, user, since: dt.date, until: dt.date) -> dict:
    """The three sections of the report, ready for the page and the CSV."""
    by_reason = selectors.disqualification_report(
        user=user, since=since, until=until, group_by="reason"
    )
    by_owner = selectors.disqualification_report(
        user=user, since=since, until=until, group_by="owner"
    )
    by_source = selectors.qualification_by_source(user=user, since=since, until=until)
    active = set(selectors.disqualification_reason_choices().values_list("pk", flat=True))
    total = by_reason["total"]
    largest = max((r["count"] for r in by_reason["results"]), default=0)
    reasons = [
        {
            "label": str(r["label"]),
            "archived": r["key"] is not None and r["key"] not in active,
            "count": r["count"],
            "share": _percent(r["count"], total),
            "bar": _bar(r["count"], largest),
        }
        for r in by_reason["results"]
    ]
    owners = [
        {"label": str(r["label"]), "count": r["count"], "share": _percent(r["count"], total)}
        for r in by_owner["results"]
    ]
    sources = [
        {
            "label": str(r["label"]),
            "total": r["total"],
            "qualified": r["qualified"],
            "disqualified": r["disqualified"],
            "rate": _percent(r["qualified"], r["total"]),
        }
        for r in by_source
    ]
    return {
        "since": since,
        "until": until,
        "total": total,
        "reasons": reasons,
        "sources": sources,
        "owners": owners,
    }


def _csv_response(data: dict) -> HttpResponse:
    since, until = data["since"].isoformat(), data["until"].isoformat()
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = (
        f'attachment; filename="disqualification-insights-{since}-{until}.csv"'
    )
    writer = csv.writer(response)
    yes, no = _("Yes"), _("No")
    writer.writerow([_("Disqualification insights")])
    writer.writerow([_("From"), since])
    writer.writerow([_("To"), until])
    writer.writerow([_("Disqualified leads"), data["total"]])
    writer.writerow([])
    writer.writerow([_("By reason")])
    writer.writerow([_("Reason"), _("Archived"), _("Disqualified leads"), _("Share (%)")])
    for r in data["reasons"]:
        writer.writerow(
            [csv_safe(r["label"]), yes if r["archived"] else no, r["count"], r["share"]]
        )
    writer.writerow([])
    writer.writerow([_("By source")])
    writer.writerow(
        [
            _("Source"),
            _("Leads created"),
            _("Qualified"),
            _("Disqualified"),
            _("Qualification rate (%)"),
        ]
    )
    for r in data["sources"]:
        writer.writerow(
            [csv_safe(r["label"]), r["total"], r["qualified"], r["disqualified"], r["rate"]]
        )
    writer.writerow([])
    writer.writerow([_("By owner")])
    writer.writerow([_("Owner"), _("Disqualified leads"), _("Share (%)")])
    for r in data["owners"]:
        writer.writerow([csv_safe(r["label"]), r["count"], r["share"]])
    return response


@login_required
def disqualification_report(request):
    form = ReportRangeForm(request.GET, today=timezone.localdate())
    if not form.is_valid():
        return render(
            request, "leads/reports/disqualification.html", {"form": form, "data": None}, status=400
        )
    data = report_data(
        user=request.user, since=form.cleaned_data["since"], until=form.cleaned_data["until"]
    )
    if request.GET.get("format") == "csv":
        return _csv_response(data)
    return render(
        request,
        "leads/reports/disqualification.html",
        {
            "form": form,
            "data": data,
            "csv_query": f"since={data['since'].isoformat()}&until={data['until'].isoformat()}"
            "&format=csv",
        },
    )
