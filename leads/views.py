"""HTML pages of the leads app: list (filters, bulk owner change, export), detail with timeline,
create with the duplicate check, edit, disqualify / requalify / convert, archive and CSV import.

Reads go through ``leads.selectors`` (visibility from ``crm.access``: a lead out of reach is a 404);
writes through ``leads.services``.
"""

from __future__ import annotations

import base64

from django import forms as djforms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views.decorators.http import require_POST

from crm import selectors as crm_selectors
from crm.activity import with_next_activity
from crm.web import (
    after_edit,
    archive_page,
    bind_filterset,
    form_context,
    list_page,
    run_service,
    safe_next,
    timeline_context,
)
from leads import csv_io, selectors, services
from leads.filters import LeadFilter
from leads.forms import (
    BulkAssignForm,
    ConvertForm,
    DisqualifyForm,
    ImportUploadForm,
    LeadCreateForm,
    LeadForm,
)
from leads.forms_ratings import (
    ClassifyForm,
    classification_choices,
    classify_result_message,
    rating_filter_choices,
)
from leads.models import DisqualificationReason, Lead, LeadDisqualification, LeadStatus
from scoring import services as scoring_services
from scoring.forms import QualifyForm
from scoring.views import lead_panel_context

IMPORT_SESSION_KEY = "leads_import_csv"


def _visible_lead(request, pk) -> Lead:
    try:
        return selectors.lead_get(user=request.user, pk=pk)
    except Lead.DoesNotExist as exc:
        raise Http404 from exc


def _disqualify_form(data=None) -> DisqualifyForm:
    ask = services.lead_settings_get().ask_disqualification_reason
    return DisqualifyForm(data, ask_reason=ask)


# --- list ----------------------------------------------------------------------------------------


@login_required
def lead_list(request):
    # The next-activity badge: annotated in SQL (crm/activity.py), not computed per row.
    leads = with_next_activity(
        selectors.lead_list(user=request.user), field="lead", user=request.user
    )
    fs = bind_filterset(request, LeadFilter, leads)
    fields = fs.form.fields
    fields["status"].empty_label = _("Any")
    fields["status"].choices = list(fields["status"].choices)
    reasons = DisqualificationReason.objects.order_by("archived_at", "order", "id")
    fields["disqualification_reason"].widget = djforms.Select(
        choices=[("", _("Any"))]
        + [
            (str(r.pk), _("%(name)s (archived)") % {"name": r.name} if r.archived else r.name)
            for r in reasons
        ]
    )
    fields["rating"].widget = djforms.Select(choices=rating_filter_choices())
    fields["sales_ready"].widget = djforms.Select(
        choices=[("", _("Any")), ("true", _("Sales-ready")), ("false", _("Not sales-ready"))]
    )
    for name in ("score_min", "score_max"):
        fields[name].widget = djforms.NumberInput(attrs={"step": 1})
    fields["frozen"].widget = djforms.Select(
        choices=[("", _("Any")), ("true", _("Frozen only")), ("false", _("Not frozen"))]
    )
    for name in ("created_after", "created_before"):
        fields[name].widget = djforms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")
    query = request.GET.copy()
    query.pop("page", None)
    return list_page(
        request,
        template="leads/list.html",
        filterset=fs,
        columns=[
            ("", None),
            (_("Name"), "name"),
            (_("Company"), "company"),
            (_("Status"), "status"),
            (_("Score"), "score"),
            (_("Rating"), None),
            (_("Reason"), None),
            (_("Revisit on"), "revisit"),
            (_("Source"), None),
            (_("Owner"), None),
            (_("Next activity"), None),
            (_("Created"), "created"),
        ],
        default_sort="-created",
        bulk_form=BulkAssignForm(),
        export_url=f"{reverse('api-lead-export')}?{query.urlencode()}",
        nav_section="leads",
    )


@login_required
@require_POST
def lead_bulk_assign(request):
    form = BulkAssignForm(request.POST)
    back = safe_next(request, reverse("lead-list"))
    if not form.is_valid():
        for errors in form.errors.values():
            for error in errors:
                messages.error(request, error)
        return redirect(back)
    leads = selectors.lead_list(user=request.user).filter(pk__in=form.cleaned_data["ids"])
    updated = services.lead_bulk_assign(
        actor=request.user, leads=leads, owner=form.cleaned_data["owner"]
    )
    messages.success(
        request,
        ngettext(
            "%(count)s lead now belongs to %(owner)s.",
            "%(count)s leads now belong to %(owner)s.",
            updated,
        )
        % {"count": updated, "owner": form.cleaned_data["owner"]},
    )
    return redirect(back)


# --- create / edit -------------------------------------------------------------------------------


@login_required
def lead_create(request):
    form = LeadCreateForm(request.POST or None, user=request.user)
    duplicates = None
    if request.method == "POST" and form.is_valid():
        data = form.service_values()
        duplicates = selectors.lead_duplicates(
            user=request.user,
            email=data["email"],
            first_name=data["first_name"],
            last_name=data["last_name"],
            company=data["company"],
        )
        if not duplicates or form.cleaned_data["save_anyway"]:
            lead = run_service(form, lambda: services.lead_create(actor=request.user, **data))
            if lead:
                messages.success(request, _("Lead created."))
                return redirect("lead-detail", pk=lead.pk)
    context = form_context(form, _("New lead"), "lead-list")
    context.update(duplicates=duplicates, nav_section="leads")
    return render(request, "leads/form.html", context)


@login_required
def lead_edit(request, pk):
    lead = _visible_lead(request, pk)
    if lead.is_read_only:
        messages.error(request, _("A converted lead is read-only."))
        return redirect("lead-detail", pk=lead.pk)
    form = LeadForm(request.POST or None, user=request.user, instance=lead)
    if request.method == "POST":
        saved = run_service(
            form,
            lambda: services.lead_update(actor=request.user, lead=lead, **form.changed_values()),
        )
        if saved:
            return after_edit(request, saved, "lead")
    context = form_context(form, _("Edit lead"), reverse("lead-detail", args=[pk]), lead)
    context["nav_section"] = "leads"
    return render(request, "leads/form.html", context)


# --- detail and actions --------------------------------------------------------------------------


def _classify_form(lead: Lead, data=None) -> ClassifyForm:
    return ClassifyForm(
        data, ratings=classification_choices(), current=lead.rating, auto_id="classify-%s"
    )


@login_required
def lead_detail(request, pk):
    return _detail_page(request, _visible_lead(request, pk))


def _detail_page(
    request,
    lead: Lead,
    classify_form: ClassifyForm | None = None,
    qualify_form: QualifyForm | None = None,
) -> HttpResponse:
    # Sequences (nurture) live in the opportunities app, which builds on this one.
    from opportunities.views_enrollments import panel_context as enrollment_panel

    history = list(
        LeadDisqualification.objects.filter(lead=lead).select_related("reason", "actor")[:20]
    )
    tasks = list(crm_selectors.task_list(user=request.user).filter(lead=lead)[:26])
    context = {
        "lead": lead,
        "disqualify_form": _disqualify_form(),
        "classify_form": None if lead.is_read_only else classify_form or _classify_form(lead),
        "history": history,
        "tasks": tasks,
        "nav_section": "leads",
        **lead_panel_context(request, lead, qualify_form),
        **enrollment_panel(request, lead=lead),
        **timeline_context(request, lead.name, lead=lead),
    }
    invalid = any(f is not None and f.errors for f in (classify_form, qualify_form))
    if lead.converted_contact_id:
        context["converted_contact_visible"] = (
            crm_selectors.contact_list(user=request.user)
            .filter(pk=lead.converted_contact_id)
            .exists()
        )
    return render(
        request,
        "leads/detail.html",
        context,
        status=400 if invalid else 200,
    )


@login_required
@require_POST
def lead_classify(request, pk):
    """The "Rating" picker of the lead page: a classification, or none (clears it)."""
    lead = _visible_lead(request, pk)
    if lead.is_read_only:
        messages.error(request, _("A converted lead is read-only."))
        return redirect("lead-detail", pk=lead.pk)
    form = _classify_form(lead, request.POST)
    event = run_service(
        form,
        lambda: services.prospect_classify(
            actor=request.user, rating=form.cleaned_data["rating"], lead=lead
        ),
    )
    if event is None:
        return _detail_page(request, lead, classify_form=form)
    rating = form.cleaned_data["rating"]
    messages.success(request, classify_result_message(rating, subject=lead))
    return redirect("lead-detail", pk=lead.pk)


@login_required
@require_POST
def lead_qualify(request, pk):
    """The qualification panel of the lead page: BANT answers and fit fields (rescored)."""
    lead = _visible_lead(request, pk)
    if lead.is_read_only:
        messages.error(request, _("A converted lead is read-only."))
        return redirect("lead-detail", pk=lead.pk)
    form = QualifyForm(request.POST, lead=lead)
    status = lead.status
    saved = run_service(
        form,
        lambda: services.lead_update(actor=request.user, lead=lead, **form.changed_values()),
    )
    if saved is None:
        return _detail_page(request, lead, qualify_form=form)
    if not form.has_changed():
        messages.info(request, _("Nothing changed."))
    else:
        message = _("Qualification saved. Score: %(score)s / %(threshold)s.") % {
            "score": saved.score,
            "threshold": scoring_services.scoring_settings_get().threshold,
        }
        if saved.status != status and saved.status == LeadStatus.QUALIFIED:
            message += " " + _("It reached the threshold and is now qualified.")
        elif saved.sales_ready and not lead.sales_ready:
            message += " " + _("The lead is sales-ready.")
        messages.success(request, message)
    return redirect(f"{reverse('lead-detail', args=[lead.pk])}#qualification")


@login_required
def lead_disqualify(request, pk):
    """POST from the dialog on the lead page; GET is its no-JS twin (and shows errors)."""
    lead = _visible_lead(request, pk)
    form = _disqualify_form(request.POST if request.method == "POST" else None)
    if request.method == "POST":
        done = run_service(
            form,
            lambda: services.lead_disqualify(
                actor=request.user,
                lead=lead,
                reason=form.cleaned_data.get("reason"),
                note=form.cleaned_data["note"],
                revisit_on=form.cleaned_data["revisit_on"],
            ),
        )
        if done:
            if done.revisit_on:
                messages.success(
                    request,
                    _("Lead disqualified and frozen until %(date)s.")
                    % {"date": _date(done.revisit_on)},
                )
            else:
                messages.success(request, _("Lead disqualified."))
            return redirect("lead-detail", pk=lead.pk)
    return render(
        request,
        "leads/disqualify.html",
        {"lead": lead, "form": form, "nav_section": "leads"},
        status=400 if form.errors else 200,
    )


def _date(value) -> str:
    from django.utils.formats import date_format

    return date_format(value, "SHORT_DATE_FORMAT")


@login_required
@require_POST
def lead_requalify(request, pk):
    lead = _visible_lead(request, pk)
    try:
        services.lead_requalify(actor=request.user, lead=lead)
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    else:
        messages.success(request, _("Lead requalified: it is back in your working leads."))
    return redirect("lead-detail", pk=lead.pk)


@login_required
def lead_convert(request, pk):
    lead = _visible_lead(request, pk)
    initial = {"kind": "b2b" if lead.company else "b2c", "account_name": lead.company}
    form = ConvertForm(request.POST or None, initial=initial)
    if request.method == "POST":
        result = run_service(
            form,
            lambda: services.lead_convert(
                actor=request.user,
                lead=lead,
                account_name=form.account_name_value(),
                create_opportunity=form.cleaned_data["create_opportunity"],
                opportunity_name=form.cleaned_data["opportunity_name"],
                opportunity_amount=form.cleaned_data["amount"] or 0,
            ),
        )
        if result:
            if result.opportunity is not None and not result.opportunity_created:
                messages.info(
                    request,
                    _(
                        "Lead converted. The contact already had an opportunity in an active "
                        "stage: it was kept, and no second one was created."
                    ),
                )
            else:
                messages.success(request, _("Lead converted."))
            return redirect("contact-detail", pk=result.contact.pk)
    return render(
        request,
        "leads/convert.html",
        {"lead": lead, "form": form, "nav_section": "leads"},
    )


@login_required
def lead_archive(request, pk):
    lead = _visible_lead(request, pk)
    return archive_page(
        request,
        lead,
        service=lambda: services.lead_archive(actor=request.user, lead=lead),
        title=_("Archive lead “%(name)s”?") % {"name": lead.name},
        done=_("Lead archived."),
        list_url=reverse("lead-list"),
    )


# --- import --------------------------------------------------------------------------------------


@login_required
def lead_import(request):
    """Upload → preview (valid rows, per-row errors) → import the valid rows."""
    if request.method == "POST" and request.POST.get("step") == "confirm":
        stored = request.session.pop(IMPORT_SESSION_KEY, None)
        if not stored:
            messages.error(request, _("The upload has expired. Upload the file again."))
            return redirect("lead-import")
        preview = csv_io.csv_parse(base64.b64decode(stored))
        if preview.errors or not preview.valid_rows:
            messages.error(request, _("There is nothing valid to import."))
            return redirect("lead-import")
        count = services.lead_import(
            actor=request.user, rows=list(csv_io.iter_import_data(preview.rows))
        )
        messages.success(
            request,
            ngettext("%(count)s lead imported.", "%(count)s leads imported.", count)
            % {"count": count},
        )
        if preview.invalid_rows:
            messages.warning(
                request,
                ngettext(
                    "%(count)s row was skipped because of errors.",
                    "%(count)s rows were skipped because of errors.",
                    len(preview.invalid_rows),
                )
                % {"count": len(preview.invalid_rows)},
            )
        return redirect("lead-list")

    form = ImportUploadForm(request.POST or None, request.FILES or None)
    preview = None
    if request.method == "POST" and form.is_valid():
        content = form.cleaned_data["file"].read()
        preview = csv_io.csv_parse(content)
        if preview.errors:
            for error in preview.errors:
                form.add_error("file", error)
            preview = None
        else:
            request.session[IMPORT_SESSION_KEY] = base64.b64encode(content).decode()
    return render(
        request,
        "leads/import.html",
        {
            "form": form,
            "preview": preview,
            "columns": csv_io.IMPORT_COLUMNS,
            "preview_rows": [
                {"row": r, "cells": [r.raw.get(c, "") for c in csv_io.IMPORT_COLUMNS]}
                for r in (preview.rows[:200] if preview else [])
            ],
            "nav_section": "leads",
        },
    )


@login_required
def lead_import_template(request):
    """An empty CSV with the expected header row."""
    response = HttpResponse(",".join(csv_io.IMPORT_COLUMNS) + "\n", content_type="text/csv")
    response["Content-Disposition"] = 'attachment; filename="leads-template.csv"'
    return response
