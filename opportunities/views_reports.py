"""Reports > Win-loss: why deals are won and lost in a date range, and its CSV.

Every number comes from ``opportunities.selectors.win_loss_report`` (aggregated in SQL, within
what the user may see: a rep's numbers cover their own deals only), so the page costs the same
few queries whatever the number of deals. The CSV (``?format=csv``, or the ``csv/`` URL) holds
exactly the rows the page shows.
"""

from __future__ import annotations

import csv
import datetime as dt
from decimal import ROUND_HALF_UP, Decimal

from django.contrib.auth.decorators import login_required
from django.http import HttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.utils.http import urlencode
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, pgettext

from leads.csv_io import csv_safe
from leads.forms_settings import REPORT_DEFAULT_DAYS, ReportRangeForm
from opportunities import selectors

ONE_DECIMAL = Decimal("0.1")
TEMPLATE = "opportunities/reports/win_loss.html"


def _percent(part: int, whole: int) -> Decimal | None:
    """``part`` of ``whole`` in percent, rounded once here so the page and the CSV agree;
    ``None`` when there is nothing to divide (no rate, rather than a made-up 0 %)."""
    if not whole:
        return None
    return (Decimal(part) * 100 / Decimal(whole)).quantize(ONE_DECIMAL, ROUND_HALF_UP)


def _bar(count: int, largest: int) -> Decimal:
    return _percent(count, largest) or Decimal(0)


def _month_start(value: str) -> dt.date:
    year, month = value.split("-")[:2]
    return dt.date(int(year), int(month), 1)


def _next_month(day: dt.date) -> dt.date:
    return dt.date(day.year + day.month // 12, day.month % 12 + 1, 1)


def _counted_rows(rows: list[dict], *, whole: int) -> list[dict]:
    """Reason or stage rows with their share of ``whole`` and a bar as wide as their share of
    the largest row."""
    largest = max((r["count"] for r in rows), default=0)
    out = []
    for r in rows:
        out.append(
            {
                "label": str(r["label"]),
                "archived": r["archived"],
                "count": r["count"],
                "share": _percent(r["count"], whole) or Decimal(0).quantize(ONE_DECIMAL),
                "bar": _bar(r["count"], largest),
            }
        )
    return out


def _rate_row(won: int, lost: int, **extra) -> dict:
    rate = _percent(won, won + lost)
    return {**extra, "won": won, "lost": lost, "rate": rate, "bar": rate or Decimal(0)}


def _months(rows: list[dict]) -> list[dict]:
    """One row per month from the first to the last month with a closed deal: the months in
    between with none closed show as such (no rate) instead of silently missing."""
    found = {_month_start(r["month"]): r for r in rows}
    if not found:
        return []
    out, month, last = [], min(found), max(found)
    while month <= last:
        r = found.get(month, {"won": 0, "lost": 0})
        out.append(_rate_row(r["won"], r["lost"], month=month))
        month = _next_month(month)
    return out


def report_data(*, user, since: dt.date, until: dt.date) -> dict:
    """The sections of the report, ready for the page and the CSV."""
    report = selectors.win_loss_report(user=user, since=since, until=until)
    won, lost = report["won_count"], report["lost_count"]
    funnel_largest = max((r["count"] for r in report["funnel"]), default=0)
    return {
        "since": since,
        "until": until,
        **_rate_row(won, lost),
        "closed": won + lost,
        "owners": [
            _rate_row(r["won"], r["lost"], label=str(r["label"])) for r in report["by_owner"]
        ],
        "months": _months(report["by_month"]),
        "won_reasons": _counted_rows(report["won"], whole=won),
        "lost_reasons": _counted_rows(report["lost"], whole=lost),
        "lost_at_stage": _counted_rows(report["lost_at_stage"], whole=lost),
        "funnel": [
            {
                "label": str(r["label"]),
                "archived": bool(r.get("archived")),
                "count": r["count"],
                "bar": _bar(r["count"], funnel_largest),
            }
            for r in report["funnel"]
        ],
        "funnel_reached": funnel_largest > 0,
    }


# --- period presets ------------------------------------------------------------------------------


PRESETS = [
    ("last-30", gettext_lazy("Last 30 days")),
    ("last-90", gettext_lazy("Last 90 days")),
    ("quarter", gettext_lazy("This quarter")),
    ("year", gettext_lazy("This year")),
    ("last-year", gettext_lazy("Last year")),
]


def _preset_range(key: str, today: dt.date) -> tuple[dt.date, dt.date]:
    if key == "last-30":
        return today - dt.timedelta(days=29), today
    if key == "last-90":
        return today - dt.timedelta(days=REPORT_DEFAULT_DAYS - 1), today
    if key == "quarter":
        return dt.date(today.year, (today.month - 1) // 3 * 3 + 1, 1), today
    if key == "year":
        return dt.date(today.year, 1, 1), today
    return dt.date(today.year - 1, 1, 1), dt.date(today.year - 1, 12, 31)


def presets(*, today: dt.date, since: dt.date | None, until: dt.date | None) -> list[dict]:
    out = []
    for key, label in PRESETS:
        start, end = _preset_range(key, today)
        out.append(
            {
                "label": label,
                "query": urlencode({"since": start.isoformat(), "until": end.isoformat()}),
                "current": (start, end) == (since, until),
            }
        )
    return out


# --- CSV -----------------------------------------------------------------------------------------


def _csv_rate(value: Decimal | None) -> str:
    return "" if value is None else str(value)


def _csv_response(data: dict) -> HttpResponse:
    since, until = data["since"].isoformat(), data["until"].isoformat()
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="win-loss-{since}-{until}.csv"'
    writer = csv.writer(response)
    yes, no = _("Yes"), _("No")
    writer.writerow([_("Win-loss report")])
    writer.writerow([_("From"), since])
    writer.writerow([_("To"), until])
    won, lost = pgettext("number of deals", "Won"), pgettext("number of deals", "Lost")
    writer.writerow([won, data["won"]])
    writer.writerow([lost, data["lost"]])
    writer.writerow([_("Win rate (%)"), _csv_rate(data["rate"])])
    rate_header = [won, lost, _("Win rate (%)")]

    writer.writerow([])
    writer.writerow([_("Win rate by owner")])
    writer.writerow([_("Owner"), *rate_header])
    for r in data["owners"]:
        writer.writerow([csv_safe(r["label"]), r["won"], r["lost"], _csv_rate(r["rate"])])

    writer.writerow([])
    writer.writerow([_("Win rate by month")])
    writer.writerow([_("Month"), *rate_header])
    for r in data["months"]:
        writer.writerow([r["month"].strftime("%Y-%m"), r["won"], r["lost"], _csv_rate(r["rate"])])

    for title, column, count_header, rows in (
        (_("Won by win reason"), _("Win reason"), _("Won deals"), data["won_reasons"]),
        (_("Lost by loss reason"), _("Loss reason"), _("Lost deals"), data["lost_reasons"]),
        (_("Stage at which deals were lost"), _("Stage"), _("Lost deals"), data["lost_at_stage"]),
    ):
        writer.writerow([])
        writer.writerow([title])
        writer.writerow([column, _("Archived"), count_header, _("Share (%)")])
        for r in rows:
            writer.writerow(
                [csv_safe(r["label"]), yes if r["archived"] else no, r["count"], r["share"]]
            )

    writer.writerow([])
    writer.writerow([_("Stage funnel")])
    writer.writerow([_("Stage"), _("Archived"), _("Deals")])
    for r in data["funnel"]:
        writer.writerow([csv_safe(r["label"]), yes if r["archived"] else no, r["count"]])
    return response


# --- the page ------------------------------------------------------------------------------------


def _report(request, *, csv_only: bool = False):
    today = timezone.localdate()
    form = ReportRangeForm(request.GET, today=today)
    if not form.is_valid():
        context = {
            "form": form,
            "data": None,
            "presets": presets(today=today, since=None, until=None),
        }
        return render(request, TEMPLATE, context, status=400)
    since, until = form.cleaned_data["since"], form.cleaned_data["until"]
    data = report_data(user=request.user, since=since, until=until)
    if csv_only or request.GET.get("format") == "csv":
        return _csv_response(data)
    period = urlencode({"since": since.isoformat(), "until": until.isoformat()})
    return render(
        request,
        TEMPLATE,
        {
            "form": form,
            "data": data,
            "presets": presets(today=today, since=since, until=until),
            "csv_query": f"{period}&format=csv",
        },
    )


@login_required
def win_loss_report(request):
    return _report(request)


@login_required
def win_loss_report_csv(request):
    return _report(request, csv_only=True)
