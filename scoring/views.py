"""HTML pages of lead scoring.

* Settings > Scoring (admins only): the criteria (add, edit, delete), the threshold and
  auto-qualify. Every change goes through ``scoring.services``, which starts a rescore of every
  lead; the tab shows the latest job's progress, polled with htmx every second while it is queued
  or running (without JavaScript: its status and a "Refresh" link).
* The score panel of the lead page (``lead_panel_context``): the score against the threshold and
  why, criterion by criterion, next to the qualification form (``leads.views.lead_qualify``).
* Reports > Scoring: the score distribution and the new → sales-ready → qualified → converted
  funnel of the leads the user may see, aggregated in SQL (``scoring.selectors``), and their CSV.
"""

from __future__ import annotations

import csv
from decimal import ROUND_HALF_UP, Decimal

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views.decorators.http import require_POST

from crm import access
from crm.web import admin_required, announce, is_htmx, run_service
from leads.csv_io import csv_safe
from leads.models import Lead
from scoring import selectors, services
from scoring.forms import CriterionForm, QualifyForm, ThresholdForm, describe_rule
from scoring.models import Criterion, JobStatus, RescoreJob

TEMPLATE = "scoring/settings.html"
ACTIVE = (JobStatus.QUEUED, JobStatus.RUNNING)
ONE_DECIMAL = Decimal("0.1")


def _tab_url(anchor: str = "") -> str:
    url = reverse("settings-scoring")
    return f"{url}#{anchor}" if anchor else url


# --- the rescoring job ---------------------------------------------------------------------------


def job_context(job: RescoreJob | None) -> dict:
    """What the progress bar shows: ``max`` and ``value`` of the <progress> and the status."""
    if job is None:
        return {"job": None}
    active = job.status in ACTIVE
    done = job.status == JobStatus.DONE
    total = job.total
    if done:
        bar_max = bar_value = max(total, 1)
    elif total:
        bar_max, bar_value = total, min(job.processed, total)
    else:
        bar_max, bar_value = 1, None  # not counted yet: an indeterminate bar
    return {
        "job": job,
        "job_active": active,
        "job_done": done,
        "job_failed": job.status == JobStatus.FAILED,
        "job_max": bar_max,
        "job_value": bar_value,
        "job_percent": _percent(bar_value or 0, bar_max),
    }


def _job_message(job: RescoreJob) -> str:
    if job.status == JobStatus.DONE:
        return ngettext(
            "Rescoring done: %(count)s lead scored.",
            "Rescoring done: %(count)s leads scored.",
            job.total,
        ) % {"count": job.total}
    return _("Rescoring failed. Start it again from this page.")


@admin_required
def job_status(request, pk):
    """The progress of one rescoring job: a fragment for htmx polling, else a small page."""
    job = get_object_or_404(RescoreJob, pk=pk)
    context = job_context(job)
    if is_htmx(request):
        response = render(request, "scoring/_job.html", context)
        if not context["job_active"]:
            announce(response, _job_message(job))
        return response
    return render(request, "scoring/job.html", {**context, "settings_tab": "scoring"})


# --- Settings > Scoring --------------------------------------------------------------------------


def _render_tab(
    request: HttpRequest, *, threshold_form: ThresholdForm | None = None, status: int = 200
) -> HttpResponse:
    settings = services.scoring_settings_get()
    criteria = list(selectors.criterion_list())
    for criterion in criteria:
        criterion.rule = describe_rule(criterion)
    form = threshold_form or ThresholdForm(
        threshold=settings.threshold, auto_qualify=settings.auto_qualify
    )
    return render(
        request,
        TEMPLATE,
        {
            "settings_tab": "scoring",
            "scoring_settings": settings,
            "criteria": criteria,
            "points_total": sum(c.points for c in criteria if c.points > 0),
            "threshold_form": form,
            **job_context(selectors.rescore_job_latest()),
        },
        status=status,
    )


def _form_page(request, form: CriterionForm, title: str, criterion: Criterion | None = None):
    return render(
        request,
        "scoring/criterion_form.html",
        {
            "form": form,
            "title": title,
            "object": criterion,
            "cancel_url": _tab_url(f"criterion-{criterion.pk}" if criterion else "criteria"),
            "settings_tab": "scoring",
        },
        status=400 if form.errors else 200,
    )


def _rescoring() -> str:
    return _("All leads are being rescored.")


@admin_required
def settings_scoring(request):
    return _render_tab(request)


@admin_required
def criterion_create(request):
    if request.method == "POST" and request.POST.get("refresh"):
        return _form_page(request, CriterionForm.refreshed(request.POST), _("New criterion"))
    form = CriterionForm(request.POST or None)
    if request.method == "POST":
        criterion = run_service(
            form,
            lambda: services.criterion_create(actor=request.user, **form.service_values()),
        )
        if criterion:
            messages.success(
                request,
                _("Criterion “%(name)s” added.") % {"name": criterion.name} + " " + _rescoring(),
            )
            return redirect(_tab_url())
    return _form_page(request, form, _("New criterion"))


def _rule_values(criterion: Criterion) -> tuple:
    return (criterion.name, criterion.field, criterion.operator, criterion.value, criterion.points)


@admin_required
def criterion_edit(request, pk):
    criterion = get_object_or_404(Criterion, pk=pk)
    title = _("Edit criterion “%(name)s”") % {"name": criterion.name}
    if request.method == "POST" and request.POST.get("refresh"):
        form = CriterionForm.refreshed(request.POST, instance=criterion)
        return _form_page(request, form, title, criterion)
    form = CriterionForm(request.POST or None, instance=criterion)
    if request.method == "POST":
        before = _rule_values(criterion)
        saved = run_service(
            form,
            lambda: services.criterion_update(
                actor=request.user, criterion=criterion, **form.service_values()
            ),
        )
        if saved:
            if _rule_values(saved) == before:
                messages.info(request, _("Nothing changed."))
            else:
                messages.success(
                    request,
                    _("Criterion “%(name)s” saved.") % {"name": saved.name} + " " + _rescoring(),
                )
            return redirect(_tab_url())
        criterion.refresh_from_db()  # the service set the refused values before refusing them
    return _form_page(request, form, title, criterion)


@admin_required
def criterion_delete(request, pk):
    """GET: the confirmation page (the no-JS twin of the dialog). POST: delete."""
    criterion = get_object_or_404(Criterion, pk=pk)
    criterion.rule = describe_rule(criterion)
    if request.method != "POST":
        return render(
            request,
            "scoring/confirm_delete.html",
            {
                "criterion": criterion,
                "settings_tab": "scoring",
                "cancel_url": _tab_url(f"criterion-{criterion.pk}"),
            },
        )
    name = criterion.name
    services.criterion_delete(actor=request.user, criterion=criterion)
    messages.success(
        request, _("Criterion “%(name)s” deleted.") % {"name": name} + " " + _rescoring()
    )
    return redirect(_tab_url())


@admin_required
@require_POST
def threshold_update(request):
    current = services.scoring_settings_get()
    before = (current.threshold, current.auto_qualify)
    form = ThresholdForm(
        request.POST, threshold=current.threshold, auto_qualify=current.auto_qualify
    )
    saved = run_service(
        form,
        lambda: services.scoring_settings_update(actor=request.user, **form.service_values()),
    )
    if saved is None:
        return _render_tab(request, threshold_form=form, status=400)
    if (saved.threshold, saved.auto_qualify) == before:
        messages.info(request, _("Nothing changed."))
    else:
        messages.success(request, _("Threshold and auto-qualify saved.") + " " + _rescoring())
    return redirect(_tab_url())


@admin_required
@require_POST
def rescore(request):
    """Rescore every lead now (after a failed job, for instance)."""
    services.rescore_start(actor=request.user)
    messages.success(request, _rescoring())
    return redirect(_tab_url())


# --- the lead page -------------------------------------------------------------------------------


def lead_panel_context(request, lead: Lead, qualify_form: QualifyForm | None = None) -> dict:
    """The score panel of the lead page: score against the threshold, why, and the answers."""
    data = services.lead_score_breakdown(lead)
    threshold, score = data["threshold"], data["score"]
    scored = lead.status in services.SCORED_STATUSES
    return {
        "scoring": {
            **data,
            "scored": scored,
            "pending": scored and data["computed"] != score,
            "to_go": max(threshold - score, 0),
            "meter_max": max(threshold, 1),
            "meter_value": min(max(score, 0), max(threshold, 1)),
            "show_meter": threshold > 0,
            "total": sum(row["points"] for row in data["breakdown"]),
        },
        "qualify_form": (None if lead.is_read_only else qualify_form or QualifyForm(lead=lead)),
        "can_edit_criteria": access.is_admin(request.user),
    }


# --- Reports > Scoring ---------------------------------------------------------------------------


def _percent(part: int | float, whole: int | float) -> Decimal:
    """``part`` of ``whole`` in percent, rounded once here so the page and the CSV agree."""
    if not whole:
        return Decimal(0).quantize(ONE_DECIMAL)
    return (Decimal(part) * 100 / Decimal(whole)).quantize(ONE_DECIMAL, ROUND_HALF_UP)


def report_data(*, user) -> dict:
    threshold = services.scoring_settings_get().threshold
    distribution = selectors.score_distribution(user)
    total = distribution["total"]
    largest = max((b["count"] for b in distribution["buckets"]), default=0)
    buckets = [
        {
            **b,
            "share": _percent(b["count"], total),
            "bar": _percent(b["count"], largest),
            "ready": b["low"] >= threshold,
        }
        for b in distribution["buckets"]
    ]
    funnel = selectors.lead_funnel(user)
    first = funnel[0]["count"]
    steps = [
        {**step, "label": str(step["label"]), "share": _percent(step["count"], first)}
        for step in funnel
    ]
    return {
        "threshold": threshold,
        "size": distribution["size"],
        "scored": total,
        "buckets": buckets,
        "funnel": steps,
    }


def _csv_response(data: dict) -> HttpResponse:
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = 'attachment; filename="scoring-report.csv"'
    writer = csv.writer(response)
    writer.writerow([_("Scoring report")])
    writer.writerow([_("Threshold"), data["threshold"]])
    writer.writerow([_("Scored leads"), data["scored"]])
    writer.writerow([])
    writer.writerow([_("Score distribution")])
    writer.writerow([_("From"), _("To"), _("Leads"), _("Share (%)"), _("Sales-ready")])
    for b in data["buckets"]:
        ready = _("Yes") if b["ready"] else _("No")
        writer.writerow([b["low"], b["high"], b["count"], b["share"], ready])
    writer.writerow([])
    writer.writerow([_("Funnel")])
    writer.writerow([_("Step"), _("Leads"), _("Of the first step (%)")])
    for step in data["funnel"]:
        writer.writerow([csv_safe(step["label"]), step["count"], step["share"]])
    return response


@login_required
def scoring_report(request):
    data = report_data(user=request.user)
    if request.GET.get("format") == "csv":
        return _csv_response(data)
    return render(request, "scoring/report.html", {"data": data})
