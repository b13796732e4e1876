"""Settings > Pipeline and Settings > Opportunity defaults (admins only).

Pipeline: the stages in order, with their probability, how many opportunities are in each and
their role (default, win, loss, active); add, edit in place, move up/down, delete-or-archive.
Opportunity defaults: the ``OpportunitySettings`` form, the visibility (sharing rules) form, then
the win and loss reasons.

Every change is a POST through ``opportunities.services``; their errors are shown next to the
fields on the same page. Moves answer htmx requests with the refreshed table (focus stays on the
button, the result is announced); without JavaScript every form posts and redirects back.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.db.models import Exists, OuterRef, QuerySet
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext
from django.views.decorators.http import require_POST

from crm.web import admin_required, announce, is_htmx, move_in_order, run_service
from opportunities import selectors, services
from opportunities.forms_settings import (
    BuyNowSettingsForm,
    MoveForm,
    OpportunitySettingsForm,
    ReasonForm,
    StageForm,
    VisibilitySettingsForm,
)
from opportunities.models import LossReason, Stage, StageChange, WinReason

PIPELINE_TEMPLATE = "opportunities/settings/pipeline.html"
DEFAULTS_TEMPLATE = "opportunities/settings/opportunities.html"


# --- reads (a fixed number of queries whatever the number of rows) --------------------------------


def _all_stages() -> list:
    """Every stage, archived ones last: what the defaults form validates against."""
    return list(Stage.objects.order_by("archived_at", "order", "id"))


def _stages() -> QuerySet:
    """Every stage with its opportunity count and whether the stage history mentions it, which is
    the rule of ``services.stage_delete``: the page says whether it will archive or delete."""
    return selectors.stage_list(include_archived=True).annotate(
        in_history=Exists(StageChange.objects.filter(to_stage=OuterRef("pk")))
    )


def _reasons(model) -> QuerySet:
    """Win or loss reasons with their usage count and whether the stage history mentions them (the
    rule of ``services.win_reason_delete`` / ``loss_reason_delete``)."""
    key = "win_reason" if model is WinReason else "loss_reason"
    return selectors.reason_list(model, include_archived=True).annotate(
        in_history=Exists(StageChange.objects.filter(**{key: OuterRef("pk")}))
    )


def _active_ids(settings) -> list[int]:
    return list(settings.active_stages.values_list("pk", flat=True))


# --- Settings > Pipeline -------------------------------------------------------------------------


def _mark_roles(stage, settings, active_ids: set[int]) -> None:
    """What the stage is for (the page's badges), and whether deleting it archives it."""
    stage.is_default = stage.pk == settings.default_stage_id
    stage.is_win = stage.pk == settings.win_stage_id
    stage.is_loss = stage.pk == settings.loss_stage_id
    stage.is_active = stage.pk in active_ids
    stage.has_role = stage.is_default or stage.is_win or stage.is_loss
    stage.in_use = bool(stage.usage_count or stage.in_history)


def _pipeline_url(stage_pk: int | None = None) -> str:
    url = reverse("settings-pipeline")
    return f"{url}#stage-{stage_pk}" if stage_pk else url


def _render_pipeline(
    request: HttpRequest,
    *,
    add_form: StageForm | None = None,
    edit: tuple[int, StageForm] | None = None,
) -> HttpResponse:
    settings = services.opportunity_settings_get()
    active_ids = set(_active_ids(settings))
    stages = list(_stages())
    current = [s for s in stages if not s.archived]
    edit_pk, edit_form = edit or (None, None)
    for i, stage in enumerate(current):
        stage.is_first, stage.is_last = i == 0, i == len(current) - 1
        _mark_roles(stage, settings, active_ids)
        if stage.pk == edit_pk:
            stage.edit_form = edit_form
        else:
            stage.edit_form = StageForm(instance=stage, auto_id=f"stage-{stage.pk}-%s")
    return render(
        request,
        PIPELINE_TEMPLATE,
        {
            "settings_tab": "pipeline",
            "active_stages": current,
            "archived_stages": [s for s in stages if s.archived],
            "add_form": add_form or StageForm(auto_id="add-stage-%s"),
            "has_errors": any(f is not None and f.errors for f in (add_form, edit_form)),
        },
    )


def _stage(pk: int):
    """An active (not archived) stage, with the page's annotations; 404 otherwise."""
    return get_object_or_404(_stages().filter(archived_at__isnull=True), pk=pk)


@admin_required
def settings_pipeline(request):
    return _render_pipeline(request)


@admin_required
@require_POST
def stage_create(request):
    form = StageForm(request.POST, auto_id="add-stage-%s")
    stage = run_service(
        form,
        lambda: services.stage_create(
            actor=request.user,
            name=form.cleaned_data["name"],
            probability=form.cleaned_data["probability"],
            rot_days=form.cleaned_data["rot_days"],
        ),
    )
    if stage is None:
        return _render_pipeline(request, add_form=form)
    messages.success(request, _("Stage “%(name)s” added.") % {"name": stage.display_name})
    return redirect(_pipeline_url(stage.pk))


@admin_required
@require_POST
def stage_edit(request, pk):
    stage = _stage(pk)
    old_name, old_display, old_probability = stage.name, stage.display_name, stage.probability
    old_rot_days = stage.rot_days
    form = StageForm(request.POST, instance=stage, auto_id=f"stage-{stage.pk}-%s")
    saved = run_service(
        form,
        lambda: services.stage_update(
            actor=request.user,
            stage=stage,
            name=form.cleaned_data["name"],
            probability=form.cleaned_data["probability"],
            rot_days=form.cleaned_data["rot_days"],
        ),
    )
    if saved is None:
        return _render_pipeline(request, edit=(stage.pk, form))
    renamed = saved.name != old_name
    if not renamed and saved.probability == old_probability and saved.rot_days == old_rot_days:
        messages.info(request, _("Nothing changed."))
    elif not renamed and saved.probability == old_probability:
        messages.success(
            request,
            (
                ngettext(
                    "Stage “%(name)s” saved: its deals rot after %(days)s idle day.",
                    "Stage “%(name)s” saved: its deals rot after %(days)s idle days.",
                    saved.rot_days,
                )
                if saved.rot_days
                else _("Stage “%(name)s” saved: its deals never rot.")
            )
            % {"name": saved.display_name, "days": saved.rot_days},
        )
    elif renamed and saved.probability == old_probability:
        messages.success(
            request,
            _("Stage “%(old)s” renamed to “%(new)s”.")
            % {"old": old_display, "new": saved.display_name},
        )
    else:
        messages.success(
            request,
            _("Stage “%(name)s” saved: probability %(probability)s.")
            % {
                "name": saved.display_name,
                "probability": _("%(value)s%%") % {"value": saved.probability},
            },
        )
    return redirect(_pipeline_url(saved.pk))


@admin_required
def stage_delete(request, pk):
    """GET: the confirmation page (the no-JS twin of the dialog). POST: delete or archive."""
    stage = _stage(pk)
    _mark_roles(stage, services.opportunity_settings_get(), set())
    if request.method != "POST":
        return render(
            request,
            "opportunities/settings/confirm_delete_stage.html",
            {"stage": stage, "settings_tab": "pipeline", "cancel_url": _pipeline_url(stage.pk)},
        )
    try:
        outcome = services.stage_delete(actor=request.user, stage=stage)
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
        return redirect(_pipeline_url(stage.pk))
    if outcome == "archived":
        messages.success(
            request,
            _(
                "Stage “%(name)s” archived: opportunities have been in it, so they and the "
                "reports keep it. It is no longer offered."
            )
            % {"name": stage.display_name},
        )
    else:
        messages.success(request, _("Stage “%(name)s” deleted.") % {"name": stage.display_name})
    return redirect(_pipeline_url())


@admin_required
@require_POST
def stage_move(request, pk):
    stage = _stage(pk)
    form = MoveForm(request.POST)
    if not form.is_valid():
        message, level = _("Choose whether to move the stage up or down."), messages.ERROR
    else:
        message, level = move_in_order(
            pk=stage.pk,
            ids=list(selectors.stage_choices().values_list("pk", flat=True)),
            direction=form.cleaned_data["direction"],
            reorder=lambda ids: services.stage_reorder(actor=request.user, ids=ids),
            name=stage.display_name,
            changed_message=_(
                "The stages changed meanwhile; here is the current order. Try again."
            ),
        )
    if is_htmx(request):
        return announce(_render_pipeline(request), message)
    messages.add_message(request, level, message)
    return redirect(_pipeline_url(stage.pk))


# --- Settings > Opportunity defaults -------------------------------------------------------------


@dataclass(frozen=True)
class ReasonKind:
    """What differs between the win and the loss reasons: the model, services, names, texts."""

    key: str  # "win" | "loss"
    model: Any
    create: Any
    update: Any
    delete: Any
    reorder: Any
    title: str
    intro: str
    archived_title: str
    archived_intro: str
    caption: str
    new_label: str
    add_label: str
    empty: str
    added: str
    renamed: str
    archived_done: str
    deleted_done: str

    def url(self, action: str) -> str:
        return f"settings-{self.key}-reason-{action}"


KINDS = {
    "win": ReasonKind(
        key="win",
        model=WinReason,
        create=services.win_reason_create,
        update=services.win_reason_update,
        delete=services.win_reason_delete,
        reorder=services.win_reason_reorder,
        title=gettext_lazy("Win reasons"),
        intro=gettext_lazy("Users choose one of these, in this order, when they win a deal."),
        archived_title=gettext_lazy("Archived win reasons"),
        archived_intro=gettext_lazy(
            "These are no longer offered when winning a deal. The deals and the reports that "
            "use them keep them."
        ),
        caption=gettext_lazy("Win reasons in use, in the order users see them"),
        new_label=gettext_lazy("New win reason"),
        add_label=gettext_lazy("Add win reason"),
        empty=gettext_lazy("No win reasons yet. Add the first one below."),
        added=gettext_lazy("Win reason “%(name)s” added."),
        renamed=gettext_lazy("Win reason “%(old)s” renamed to “%(new)s”."),
        archived_done=gettext_lazy(
            "Win reason “%(name)s” archived: deals use it, so they and the reports keep it. "
            "It is no longer offered when winning a deal."
        ),
        deleted_done=gettext_lazy("Win reason “%(name)s” deleted."),
    ),
    "loss": ReasonKind(
        key="loss",
        model=LossReason,
        create=services.loss_reason_create,
        update=services.loss_reason_update,
        delete=services.loss_reason_delete,
        reorder=services.loss_reason_reorder,
        title=gettext_lazy("Loss reasons"),
        intro=gettext_lazy("Users choose one of these, in this order, when they lose a deal."),
        archived_title=gettext_lazy("Archived loss reasons"),
        archived_intro=gettext_lazy(
            "These are no longer offered when losing a deal. The deals and the reports that "
            "use them keep them."
        ),
        caption=gettext_lazy("Loss reasons in use, in the order users see them"),
        new_label=gettext_lazy("New loss reason"),
        add_label=gettext_lazy("Add loss reason"),
        empty=gettext_lazy("No loss reasons yet. Add the first one below."),
        added=gettext_lazy("Loss reason “%(name)s” added."),
        renamed=gettext_lazy("Loss reason “%(old)s” renamed to “%(new)s”."),
        archived_done=gettext_lazy(
            "Loss reason “%(name)s” archived: deals use it, so they and the reports keep it. "
            "It is no longer offered when losing a deal."
        ),
        deleted_done=gettext_lazy("Loss reason “%(name)s” deleted."),
    ),
}


def _defaults_url(anchor: str | None = None) -> str:
    url = reverse("settings-opportunities")
    return f"{url}#{anchor}" if anchor else url


def _reason_anchor(kind: ReasonKind, pk: int | None = None) -> str:
    return f"{kind.key}-reason-{pk}" if pk else f"{kind.key}-reasons-title"


def _settings_form(settings, stages, active_ids, data=None) -> OpportunitySettingsForm:
    return OpportunitySettingsForm(
        data, stages=stages, current=settings, active_ids=active_ids, auto_id="defaults-%s"
    )


def _visibility_form(settings, data=None) -> VisibilitySettingsForm:
    return VisibilitySettingsForm(data, current=settings, auto_id="visibility-%s")


def _buy_now_form(settings, data=None) -> BuyNowSettingsForm:
    return BuyNowSettingsForm(data, current=settings, auto_id="buy-now-%s")


def _reason_block(
    kind: ReasonKind, add_form: ReasonForm | None, rename: tuple[int, ReasonForm] | None
) -> dict:
    reasons = list(_reasons(kind.model))
    active = [r for r in reasons if not r.archived]
    rename_pk, rename_form = rename or (None, None)
    for i, reason in enumerate(active):
        reason.is_first, reason.is_last = i == 0, i == len(active) - 1
        reason.in_use = bool(reason.usage_count or reason.in_history)
        if reason.pk == rename_pk:
            reason.rename_form = rename_form
        else:
            reason.rename_form = ReasonForm(
                initial={"name": reason.name}, auto_id=f"rename-{kind.key}-{reason.pk}-%s"
            )
    return {
        "kind": kind,
        "active": active,
        "archived": [r for r in reasons if r.archived],
        "add_form": add_form or ReasonForm(auto_id=f"add-{kind.key}-reason-%s"),
        "url_create": kind.url("create"),
        "url_edit": kind.url("edit"),
        "url_delete": kind.url("delete"),
        "url_move": kind.url("move"),
    }


def _render_defaults(
    request: HttpRequest,
    *,
    settings_form: OpportunitySettingsForm | None = None,
    visibility_form: VisibilitySettingsForm | None = None,
    buy_now_form: BuyNowSettingsForm | None = None,
    reason_kind: str | None = None,
    add_form: ReasonForm | None = None,
    rename: tuple[int, ReasonForm] | None = None,
) -> HttpResponse:
    settings = services.opportunity_settings_get()
    if settings_form is None:
        stages = _all_stages()
        settings_form = _settings_form(settings, stages, _active_ids(settings))
    if visibility_form is None:
        visibility_form = _visibility_form(settings)
    if buy_now_form is None:
        buy_now_form = _buy_now_form(settings)
    blocks = [
        _reason_block(
            kind,
            add_form if kind.key == reason_kind else None,
            rename if kind.key == reason_kind else None,
        )
        for kind in KINDS.values()
    ]
    rename_form = rename[1] if rename else None
    return render(
        request,
        DEFAULTS_TEMPLATE,
        {
            "settings_tab": "opportunities",
            "settings_form": settings_form,
            "visibility_form": visibility_form,
            "buy_now_form": buy_now_form,
            "reason_blocks": blocks,
            "has_errors": any(
                f is not None and f.errors
                for f in (settings_form, visibility_form, buy_now_form, add_form, rename_form)
            ),
        },
    )


@admin_required
def settings_opportunities(request):
    return _render_defaults(request)


@admin_required
@require_POST
def defaults_update(request):
    settings = services.opportunity_settings_get()
    stages = _all_stages()
    form = _settings_form(settings, stages, _active_ids(settings), data=request.POST)
    return _save_section(
        request, form, "settings_form", _("Opportunity defaults saved."), anchor=None
    )


def _save_section(request, form, form_key: str, saved_message: str, anchor: str | None):
    """Save one section of the page (defaults, visibility, buy now) through the settings
    service, as the API does; a refused one comes back with its errors, the others as saved."""
    saved = run_service(
        form,
        lambda: services.opportunity_settings_update(actor=request.user, **form.cleaned_data),
    )
    if saved is None:
        return _render_defaults(request, **{form_key: form})
    if form.has_changed():
        messages.success(request, saved_message)
    else:
        messages.info(request, _("Nothing changed."))
    return redirect(_defaults_url(anchor))


@admin_required
@require_POST
def visibility_update(request):
    """The sharing rules, saved through the same service as the defaults (and the API)."""
    form = _visibility_form(services.opportunity_settings_get(), data=request.POST)
    return _save_section(
        request, form, "visibility_form", _("Visibility settings saved."), "visibility-title"
    )


def _reason(kind: ReasonKind, pk: int, *, active_only: bool = True):
    qs = _reasons(kind.model)
    if active_only:
        qs = qs.filter(archived_at__isnull=True)
    return get_object_or_404(qs, pk=pk)


@admin_required
@require_POST
def reason_create(request, kind):
    kind = KINDS[kind]
    form = ReasonForm(request.POST, auto_id=f"add-{kind.key}-reason-%s")
    reason = run_service(
        form, lambda: kind.create(actor=request.user, name=form.cleaned_data["name"])
    )
    if reason is None:
        return _render_defaults(request, reason_kind=kind.key, add_form=form)
    messages.success(request, kind.added % {"name": reason.display_name})
    return redirect(_defaults_url(_reason_anchor(kind, reason.pk)))


@admin_required
@require_POST
def reason_edit(request, kind, pk):
    kind = KINDS[kind]
    reason = _reason(kind, pk)
    old_name, old = reason.name, reason.display_name
    form = ReasonForm(request.POST, auto_id=f"rename-{kind.key}-{reason.pk}-%s")
    saved = run_service(
        form,
        lambda: kind.update(actor=request.user, reason=reason, name=form.cleaned_data["name"]),
    )
    if saved is None:
        return _render_defaults(request, reason_kind=kind.key, rename=(reason.pk, form))
    if saved.name == old_name:
        messages.info(request, _("Nothing changed."))
    else:
        messages.success(request, kind.renamed % {"old": old, "new": saved.display_name})
    return redirect(_defaults_url(_reason_anchor(kind, reason.pk)))


@admin_required
def reason_delete(request, kind, pk):
    """GET: the confirmation page (the no-JS twin of the dialog). POST: delete or archive."""
    kind = KINDS[kind]
    reason = _reason(kind, pk)
    reason.in_use = bool(reason.usage_count or reason.in_history)
    if request.method != "POST":
        return render(
            request,
            "opportunities/settings/confirm_delete_reason.html",
            {
                "reason": reason,
                "kind": kind,
                "settings_tab": "opportunities",
                "cancel_url": _defaults_url(_reason_anchor(kind, reason.pk)),
            },
        )
    outcome = kind.delete(actor=request.user, reason=reason)
    done = kind.archived_done if outcome == "archived" else kind.deleted_done
    messages.success(request, done % {"name": reason.display_name})
    return redirect(_defaults_url(_reason_anchor(kind)))


@admin_required
@require_POST
def reason_move(request, kind, pk):
    kind = KINDS[kind]
    reason = _reason(kind, pk)
    form = MoveForm(request.POST)
    if not form.is_valid():
        message, level = _("Choose whether to move the reason up or down."), messages.ERROR
    else:
        message, level = move_in_order(
            pk=reason.pk,
            ids=list(selectors.reason_choices(kind.model).values_list("pk", flat=True)),
            direction=form.cleaned_data["direction"],
            reorder=lambda ids: kind.reorder(actor=request.user, ids=ids),
            name=reason.display_name,
            changed_message=_(
                "The reasons changed meanwhile; here is the current order. Try again."
            ),
        )
    if is_htmx(request):
        return announce(_render_defaults(request), message)
    messages.add_message(request, level, message)
    return redirect(_defaults_url(_reason_anchor(kind, reason.pk)))


@admin_required
@require_POST
def buy_now_update(request):
    """Settings > Opportunity defaults > Buy now, through the same service as the API."""
    form = _buy_now_form(services.opportunity_settings_get(), data=request.POST)
    return _save_section(
        request, form, "buy_now_form", _("Buy-now settings saved."), "buy-now-title"
    )
