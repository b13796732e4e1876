"""HTML pages of the opportunities app: list (filters in the URL), pipeline board (drag and drop,
with a "Move to stage" menu on every card as its twin), detail with timeline, a move form and the
sharing panel (owner and admins: share / unshare), create, edit, move and archive.

Reads go through ``opportunities.selectors`` (visibility from ``crm.access``: a deal out of reach
is a 404); writes through ``opportunities.services``, which hold the win/loss reason rule.
"""

from __future__ import annotations

import datetime as dt

from django import forms as djforms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html, format_html_join
from django.utils.safestring import mark_safe
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views.decorators.http import require_POST

from crm import access
from crm import selectors as crm_selectors
from crm.web import (
    announce,
    archive_page,
    bind_filterset,
    filters_active,
    form_context,
    is_htmx,
    paginate,
    run_service,
    safe_next,
    sort_columns,
    timeline_context,
    url_without,
)
from opportunities import selectors, services
from opportunities.filters import OpportunityFilter
from opportunities.forms import (
    BoardFilterForm,
    MoveForm,
    OpportunityForm,
    ShareForm,
    UnshareForm,
)
from opportunities.models import (
    LossReason,
    Opportunity,
    OpportunitySettings,
    OpportunityShare,
    OpportunityStatus,
    Stage,
    WinReason,
)

NAV = "opportunities"


def _visible(request, pk) -> Opportunity:
    try:
        return selectors.opportunity_get(user=request.user, pk=pk)
    except Opportunity.DoesNotExist as exc:
        raise Http404 from exc


def in_stage_text(since: dt.datetime | None, now: dt.datetime) -> str:
    """ "3 days in stage": whole days since the deal entered its stage."""
    if since is None:
        return ""
    days = max((now - since).days, 0)
    if days == 0:
        return _("Less than a day in stage")
    return ngettext("%(count)s day in stage", "%(count)s days in stage", days) % {"count": days}


def days_text(since: dt.datetime | None, now: dt.datetime) -> str:
    """ "3 days": the short form, under a "Time in stage" column heading."""
    if since is None:
        return ""
    days = max((now - since).days, 0)
    if days == 0:
        return _("Less than a day")
    return ngettext("%(count)s day", "%(count)s days", days) % {"count": days}


def _annotate_in_stage(opportunities) -> list[Opportunity]:
    now = timezone.now()
    out = list(opportunities)
    for opp in out:
        opp.in_stage = days_text(opp.stage_entered_at, now)
    return out


def _int_param(value) -> int | None:
    value = (value or "").strip()
    return int(value) if value.isdigit() and len(value) < 12 else None


def _admin_list_select(model, empty: str) -> djforms.Select:
    """Every reason, archived ones too (history can be filtered by them), marked as such."""
    rows = model.objects.order_by("archived_at", "order", "id")
    return djforms.Select(
        choices=[("", empty)]
        + [
            (str(r.pk), _("%(name)s (archived)") % {"name": r} if r.archived else str(r))
            for r in rows
        ]
    )


# --- list ----------------------------------------------------------------------------------------


def _visible_parts(request, fs) -> list | None:
    """A rep's list in two parts, filtered as the list is: their own deals and the ones shared
    with them that they do not own (``crm.web.CappedPaginator``: each is counted and sorted on
    the owner's indexes, not through the whole visible set). None for an admin (one part)."""
    parts = access.disjoint_opportunity_parts(request.user)
    if len(parts) < 2 or not fs.is_valid():
        return None
    return [fs.filter_queryset(part) for part in parts]


@login_required
def opportunity_list(request):
    fs = bind_filterset(request, OpportunityFilter, selectors.opportunity_list(user=request.user))
    fields = fs.form.fields
    fields["status"].empty_label = _("Any")
    fields["status"].choices = list(fields["status"].choices)
    fields["stage"].widget = _admin_list_select(Stage, _("Any"))
    fields["win_reason"].widget = _admin_list_select(WinReason, _("Any"))
    fields["loss_reason"].widget = _admin_list_select(LossReason, _("Any"))
    for name in ("closed_after", "closed_before"):
        fields[name].widget = djforms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")
    # The contact filter comes from a contact's page: kept in the URL, named above the table.
    contact_id = _int_param(request.GET.get("contact"))
    filter_contact = None
    if contact_id is not None:
        fields["contact"].widget = djforms.HiddenInput()
        filter_contact = crm_selectors.contact_list(user=request.user).filter(pk=contact_id).first()
    else:
        del fields["contact"]
    page_obj = paginate(request, fs.qs, parts=_visible_parts(request, fs))
    page_obj.object_list = selectors.attach_activity(
        _annotate_in_stage(page_obj.object_list), user=request.user
    )
    context = {
        "filter": fs,
        "filters_active": filters_active(request, fs),
        "page_obj": page_obj,
        "columns": sort_columns(
            request,
            [
                (_("Name"), "name"),
                (_("Contact"), None),
                (_("Stage"), None),
                (_("Status"), None),
                (_("Reason"), None),
                (_("Amount"), "amount"),
                (_("Owner"), None),
                (_("Time in stage"), "in_stage"),
                (_("Next activity"), None),
                (_("Closed"), "closed"),
                (_("Created"), "created"),
            ],
            "-created",
        ),
        "filter_contact": filter_contact,
        "filter_contact_id": contact_id,
        "without_contact_url": url_without(request, "contact"),
        "nav_section": NAV,
        "view": "list",
    }
    return render(request, "opportunities/list.html", context)


# --- board ---------------------------------------------------------------------------------------


def _board_owner(value) -> int | None:
    return _int_param(value)


def _board_context(
    request, *, owner_id: int | None, error_card: int | None = None, error_messages=()
) -> dict:
    settings = services.opportunity_settings_get()
    columns = selectors.opportunity_board(user=request.user, owner_id=owner_id)
    now = timezone.now()
    stages = [c.stage for c in columns]
    # Each card's "move to" picker: the same options but the selected one, so each stage's
    # variant is built once, not per card (300 cards × 6 options were half the page's time).
    options = {stage.pk: _stage_options(stages, stage.pk, settings) for stage in stages}
    for column in columns:
        column.hidden = column.count - len(column.cards)
        for card in column.cards:
            card.in_stage = in_stage_text(card.stage_entered_at, now)
            card.stage_options = options[card.stage_id]  # a column's cards are in its stage
    return {
        "columns": columns,
        "stages": [c.stage for c in columns],
        "settings": settings,
        "error_card": error_card,
        "error_messages": list(error_messages),
        "board_owner": owner_id or "",
        "board_url": _board_url(owner_id),
    }


def _stage_options(stages, selected: int, settings) -> str:
    """The ``<option>``s of the board's stage picker, ``selected`` chosen; the win and loss stages
    marked ``data-close`` (board.js asks for the reason before moving there)."""
    close = {settings.win_stage_id: "won", settings.loss_stage_id: "lost"}
    return format_html_join(
        "",
        '<option value="{}"{}{}>{}</option>',
        (
            (
                stage.pk,
                mark_safe(" selected") if stage.pk == selected else "",
                format_html(' data-close="{}"', close[stage.pk]) if stage.pk in close else "",
                str(stage),
            )
            for stage in stages
        ),
    )


def _board_url(owner_id: int | None) -> str:
    url = reverse("opportunity-board")
    return f"{url}?owner={owner_id}" if owner_id else url


@login_required
def opportunity_board(request):
    filter_form = BoardFilterForm(request.GET or None)
    owner_id = None
    if filter_form.is_valid() and filter_form.cleaned_data["owner"] is not None:
        owner_id = filter_form.cleaned_data["owner"].pk
    context = {
        **_board_context(request, owner_id=owner_id),
        "filter_form": filter_form,
        "win_reasons": list(selectors.win_reason_choices()),
        "loss_reasons": list(selectors.loss_reason_choices()),
        "nav_section": NAV,
        "view": "board",
    }
    return render(request, "opportunities/board.html", context)


# --- create / edit -------------------------------------------------------------------------------


def _after_save(request, opportunity: Opportunity, done: str) -> HttpResponse:
    if access.can_see(request.user, opportunity):
        messages.success(request, done)
        return redirect("opportunity-detail", pk=opportunity.pk)
    # Handed to someone else: out of this user's reach, so its page would be a 404.
    messages.success(
        request,
        _("%(done)s The opportunity now belongs to %(owner)s.")
        % {"done": done, "owner": opportunity.owner},
    )
    return redirect("opportunity-list")


@login_required
def opportunity_create(request):
    settings = services.opportunity_settings_get()
    form = OpportunityForm(
        request.POST or None,
        user=request.user,
        settings=settings,
        contact_id=_int_param(request.GET.get("contact")),
    )
    if request.method == "POST":
        created = run_service(
            form,
            lambda: services.opportunity_create(actor=request.user, **form.cleaned_data),
        )
        if created:
            return _after_save(request, created, _("Opportunity created."))
    cancel = "opportunity-list"
    contact_id = _int_param(request.GET.get("contact"))
    if contact_id is not None:
        cancel = reverse("contact-detail", args=[contact_id])
    context = form_context(form, _("New opportunity"), cancel)
    context["nav_section"] = NAV
    return render(request, "crm/form.html", context, status=400 if form.errors else 200)


@login_required
def opportunity_edit(request, pk):
    opportunity = _visible(request, pk)
    settings = services.opportunity_settings_get()
    form = OpportunityForm(
        request.POST or None, user=request.user, settings=settings, instance=opportunity
    )
    if request.method == "POST":
        saved = run_service(
            form,
            lambda: services.opportunity_update(
                actor=request.user, opportunity=opportunity, **form.changed_values()
            ),
        )
        if saved:
            return _after_save(request, saved, _("Changes saved."))
    context = form_context(
        form, _("Edit opportunity"), reverse("opportunity-detail", args=[pk]), opportunity
    )
    context["nav_section"] = NAV
    return render(request, "crm/form.html", context, status=400 if form.errors else 200)


# --- detail, move, archive -----------------------------------------------------------------------


@login_required
def opportunity_detail(request, pk):
    opportunity = _visible(request, pk)
    settings = services.opportunity_settings_get()
    return _detail_page(
        request, opportunity, MoveForm(opportunity=opportunity, settings=settings), settings
    )


def _detail_page(
    request,
    opportunity: Opportunity,
    move_form: MoveForm,
    settings: OpportunitySettings,
    status: int = 200,
    buy_now_form=None,
    **share,
) -> HttpResponse:
    from opportunities.views_buynow import detail_context as buy_now_context

    opportunity.in_stage = in_stage_text(opportunity.stage_entered_at, timezone.now())
    tasks = list(
        crm_selectors.task_list(user=request.user)
        .filter(opportunity=opportunity)
        .order_by("done", "due_on")[:26]
    )
    context = {
        "opportunity": opportunity,
        "contact_visible": access.can_see(request.user, opportunity.contact),
        "lead_visible": opportunity.lead_id is not None
        and access.visible_leads(request.user).filter(pk=opportunity.lead_id).exists(),
        "move_form": move_form,
        "settings": settings,
        "tasks": tasks,
        "nav_section": NAV,
        **_share_context(request, opportunity, **share),
        **buy_now_context(request, opportunity, buy_now_form),
        **timeline_context(request, opportunity.name, opportunity=opportunity),
    }
    return render(request, "opportunities/detail.html", context, status=status)


def opportunity_detail_page(request, opportunity: Opportunity, *, buy_now_form, status: int):
    """The detail page showing a form that failed (the buy-now link form)."""
    settings = services.opportunity_settings_get()
    move_form = MoveForm(opportunity=opportunity, settings=settings)
    return _detail_page(
        request, opportunity, move_form, settings, status=status, buy_now_form=buy_now_form
    )


def _moved_message(before: Opportunity, after: Opportunity) -> str:
    values = {"name": after.name, "stage": after.stage}
    if after.stage_id == before.stage_id:
        reason = after.win_reason or after.loss_reason
        if reason is None:
            return _("“%(name)s”: reason cleared.") % values
        return _("“%(name)s”: reason saved (%(reason)s).") % {**values, "reason": reason}
    if after.status == OpportunityStatus.WON:
        if after.win_reason:
            return _("“%(name)s” moved to %(stage)s: won (%(reason)s).") % {
                **values,
                "reason": after.win_reason,
            }
        return _("“%(name)s” moved to %(stage)s: won.") % values
    if after.status == OpportunityStatus.LOST:
        if after.loss_reason:
            return _("“%(name)s” moved to %(stage)s: lost (%(reason)s).") % {
                **values,
                "reason": after.loss_reason,
            }
        return _("“%(name)s” moved to %(stage)s: lost.") % values
    if before.status != OpportunityStatus.OPEN:
        return _("“%(name)s” moved to %(stage)s: open again, its reason cleared.") % values
    return _("“%(name)s” moved to %(stage)s.") % values


@login_required
def opportunity_move(request, pk):
    """POST from a board card (htmx: the board is redrawn and the result announced), from the
    reason dialog or from the detail page. GET is the no-JS page, which also shows errors."""
    opportunity = _visible(request, pk)
    settings = services.opportunity_settings_get()
    if request.method != "POST":
        form = MoveForm(opportunity=opportunity, settings=settings)
        return _move_page(request, opportunity, form)
    form = MoveForm(request.POST, opportunity=opportunity, settings=settings)

    def move():
        data = form.cleaned_data
        if data["stage"].pk == opportunity.stage_id and opportunity.status == "open":
            return None  # already there: nothing to do
        return services.opportunity_move(
            actor=request.user,
            opportunity=opportunity,
            stage=data["stage"],
            win_reason=data["win_reason"],
            loss_reason=data["loss_reason"],
        )

    moved = run_service(form, move)
    if form.errors:
        if is_htmx(request):
            errors = [e for errs in form.errors.values() for e in errs]
            context = _board_context(
                request,
                owner_id=_board_owner(request.POST.get("board_owner")),
                error_card=opportunity.pk,
                error_messages=errors,
            )
            response = render(request, "opportunities/_board.html", context, status=400)
            return announce(response, " ".join(errors))
        return _move_page(request, opportunity, form, status=400)
    if moved is None:
        message = _("“%(name)s” is already in %(stage)s.") % {
            "name": opportunity.name,
            "stage": opportunity.stage,
        }
    else:
        message = _moved_message(opportunity, moved)
    if is_htmx(request):
        context = _board_context(request, owner_id=_board_owner(request.POST.get("board_owner")))
        return announce(render(request, "opportunities/_board.html", context), message)
    messages.success(request, message)
    return redirect(safe_next(request, reverse("opportunity-detail", args=[opportunity.pk])))


def _move_page(request, opportunity, form, status: int = 200) -> HttpResponse:
    return render(
        request,
        "opportunities/move.html",
        {
            "opportunity": opportunity,
            "form": form,
            "next": safe_next(request, ""),
            "nav_section": NAV,
        },
        status=status,
    )


@login_required
def opportunity_archive(request, pk):
    opportunity = _visible(request, pk)
    return archive_page(
        request,
        opportunity,
        service=lambda: services.opportunity_archive(actor=request.user, opportunity=opportunity),
        title=_("Archive opportunity “%(name)s”?") % {"name": opportunity.name},
        done=_("Opportunity archived."),
        list_url=reverse("opportunity-list"),
    )


# --- sharing -------------------------------------------------------------------------------------

SHARE_PANEL = "opportunities/_share_panel.html"


def _share_context(
    request,
    opportunity: Opportunity,
    *,
    share_form: ShareForm | None = None,
    unshare_errors: list[str] | None = None,
    focus: str = "",
) -> dict:
    """The sharing panel: who the deal is shared with and whom it may be shared with next (two
    queries, whatever the number of shares). Only its owner and admins get it."""
    if not access.can_manage_sharing(request.user, opportunity):
        return {"can_manage_sharing": False}
    shares = list(
        OpportunityShare.objects.filter(opportunity=opportunity)
        .select_related("user")
        .order_by("user__first_name", "user__last_name", "user__username", "user_id")
    )
    candidates = list(
        crm_selectors.owner_choices()
        .exclude(pk=opportunity.owner_id)
        .exclude(pk__in=[share.user_id for share in shares])
    )
    form = share_form or ShareForm(auto_id="share-%s")
    form.offer(candidates)
    if focus == "select" and not candidates:
        focus = "title"
    if focus == "select":
        form.fields["user"].widget.attrs["autofocus"] = True
    return {
        "can_manage_sharing": True,
        "shares": shares,
        "share_candidates": candidates,
        "share_form": form,
        "unshare_errors": unshare_errors or [],
        "share_focus": focus,
    }


def _sharing_target(request, pk) -> Opportunity:
    """A deal the user sees (404 otherwise) and may share (403 otherwise)."""
    opportunity = _visible(request, pk)
    if not access.can_manage_sharing(request.user, opportunity):
        raise PermissionDenied(
            _("Only the owner of the opportunity or an administrator can do this.")
        )
    return opportunity


def _share_reply(
    request,
    opportunity: Opportunity,
    message: str,
    level: int = messages.SUCCESS,
    *,
    failed: bool = False,
    **share,
) -> HttpResponse:
    """htmx: the panel redrawn, the result (or the error) announced, focus on the share picker or,
    when there is none, the panel's heading. Without JavaScript: back to the deal's page; after an
    error, the page itself (400) with the error next to the field and at the top."""
    if is_htmx(request):
        context = {
            "opportunity": opportunity,
            "settings": services.opportunity_settings_get(),
            **_share_context(request, opportunity, focus="select", **share),
        }
        return announce(render(request, SHARE_PANEL, context), message)
    if failed:
        messages.error(request, message)
        settings = services.opportunity_settings_get()
        move_form = MoveForm(opportunity=opportunity, settings=settings)
        return _detail_page(request, opportunity, move_form, settings, status=400, **share)
    messages.add_message(request, level, message)
    return redirect(reverse("opportunity-detail", args=[opportunity.pk]) + "#share-title")


@login_required
@require_POST
def opportunity_share(request, pk):
    opportunity = _sharing_target(request, pk)
    form = ShareForm(request.POST, auto_id="share-%s")
    already = False

    def share():
        nonlocal already
        user = form.cleaned_data["user"]
        already = OpportunityShare.objects.filter(opportunity=opportunity, user=user).exists()
        return services.opportunity_share(actor=request.user, opportunity=opportunity, user=user)

    if run_service(form, share) is None:
        errors = [e for errs in form.errors.values() for e in errs]
        return _share_reply(request, opportunity, " ".join(errors), failed=True, share_form=form)
    values = {"name": opportunity.name, "user": form.cleaned_data["user"]}
    if already:
        message = _("“%(name)s” is already shared with %(user)s.") % values
        return _share_reply(request, opportunity, message, messages.INFO)
    return _share_reply(request, opportunity, _("“%(name)s” is now shared with %(user)s.") % values)


@login_required
@require_POST
def opportunity_unshare(request, pk):
    opportunity = _sharing_target(request, pk)
    form = UnshareForm(request.POST)
    if not form.is_valid():
        errors = [e for errs in form.errors.values() for e in errs]
        return _share_reply(
            request, opportunity, " ".join(errors), failed=True, unshare_errors=errors
        )
    user = form.cleaned_data["user"]
    values = {"name": opportunity.name, "user": user}
    if not OpportunityShare.objects.filter(opportunity=opportunity, user=user).exists():
        message = _("“%(name)s” was not shared with %(user)s.") % values
        return _share_reply(request, opportunity, message, messages.INFO)
    services.opportunity_unshare(actor=request.user, opportunity=opportunity, user=user)
    message = _("“%(name)s” is no longer shared with %(user)s.") % values
    return _share_reply(request, opportunity, message)
