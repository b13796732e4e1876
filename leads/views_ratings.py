"""Settings > Ratings (admins only): the classifications and outcomes users rate prospects with.

Every change is a POST through ``leads.services`` (``rating_create/update/archive/reorder``);
their errors are shown next to the fields. Moves answer htmx requests with the refreshed table
(focus stays on the button, the result is announced); without JavaScript every form posts and
redirects back. Archiving removes a rating nobody used and archives one in use.
"""

from __future__ import annotations

from django.contrib import messages
from django.db.models import CharField, Count, Exists, IntegerField, OuterRef, QuerySet, Subquery
from django.db.models.fields.json import KT
from django.db.models.functions import Cast, Coalesce
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from crm.models import Contact, Event
from crm.web import admin_required, announce, form_context, is_htmx, move_in_order, run_service
from leads import services
from leads.forms_ratings import MoveForm, RatingForm
from leads.models import Lead, LeadEvent, Rating

TEMPLATE = "leads/ratings/list.html"


def _count_of(model) -> Subquery:
    rows = (
        model.objects.filter(rating=OuterRef("pk"))
        .order_by()
        .values("rating")
        .annotate(n=Count("pk"))
        .values("n")
    )
    return Coalesce(Subquery(rows, output_field=IntegerField()), 0)


def _ratings() -> QuerySet[Rating]:
    """Every rating with how many leads and contacts carry it and whether history mentions it.

    A fixed number of queries whatever the number of ratings; ``in_use`` mirrors the rule of
    ``services.rating_archive`` (archive when used, else delete) so the page says what will happen.
    """
    classified = (
        Event.objects.filter(kind=LeadEvent.CLASSIFIED)
        .annotate(rating_id=KT("data__rating"))
        .filter(rating_id=Cast(OuterRef("pk"), CharField()))
    )
    return Rating.objects.annotate(
        lead_count=_count_of(Lead),
        contact_count=_count_of(Contact),
        in_history=Exists(classified),
    ).order_by("archived_at", "order", "id")


def _active(pk: int) -> Rating:
    return get_object_or_404(Rating.objects.filter(archived_at__isnull=True), pk=pk)


def _tab_url(rating_pk: int | None = None) -> str:
    url = reverse("settings-ratings")
    return f"{url}#rating-{rating_pk}" if rating_pk else url


def _in_use(rating) -> bool:
    return bool(rating.lead_count or rating.contact_count or rating.in_history)


def _render_tab(request: HttpRequest, status: int = 200) -> HttpResponse:
    ratings = list(_ratings())
    active = [r for r in ratings if not r.archived]
    for i, rating in enumerate(active):
        rating.is_first, rating.is_last = i == 0, i == len(active) - 1
        rating.in_use = _in_use(rating)
    return render(
        request,
        TEMPLATE,
        {
            "settings_tab": "ratings",
            "active_ratings": active,
            "archived_ratings": [r for r in ratings if r.archived],
        },
        status=status,
    )


def _form_page(request, form: RatingForm, title: str, rating: Rating | None = None):
    return render(
        request,
        "crm/settings/form.html",
        {
            **form_context(form, title, _tab_url(rating.pk if rating else None), rating),
            "settings_tab": "ratings",
        },
        status=400 if form.errors else 200,
    )


@admin_required
def settings_ratings(request):
    return _render_tab(request)


@admin_required
def rating_create(request):
    form = RatingForm(request.POST or None, auto_id="rating-%s")
    if request.method == "POST":
        rating = run_service(
            form, lambda: services.rating_create(actor=request.user, **form.cleaned_data)
        )
        if rating:
            messages.success(request, _("Rating “%(name)s” added.") % {"name": rating.display_name})
            return redirect(_tab_url(rating.pk))
    return _form_page(request, form, _("New rating"))


@admin_required
def rating_edit(request, pk):
    rating = _active(pk)
    form = RatingForm(request.POST or None, instance=rating, auto_id="rating-%s")
    if request.method == "POST":
        saved = run_service(
            form,
            lambda: services.rating_update(
                actor=request.user, rating=rating, **form.changed_values()
            ),
        )
        if saved:
            if form.has_changed():
                messages.success(
                    request, _("Rating “%(name)s” saved.") % {"name": saved.display_name}
                )
            else:
                messages.info(request, _("Nothing changed."))
            return redirect(_tab_url(saved.pk))
        rating.refresh_from_db()  # the service may have set invalid values before refusing them
    return _form_page(
        request, form, _("Edit rating “%(name)s”") % {"name": rating.display_name}, rating=rating
    )


@admin_required
def rating_archive(request, pk):
    """GET: the confirmation page (the no-JS twin of the dialog). POST: archive or delete."""
    rating = get_object_or_404(_ratings().filter(archived_at__isnull=True), pk=pk)
    rating.in_use = _in_use(rating)
    if request.method != "POST":
        return render(
            request,
            "leads/ratings/confirm_archive.html",
            {"rating": rating, "settings_tab": "ratings", "cancel_url": _tab_url(rating.pk)},
        )
    outcome = services.rating_archive(actor=request.user, rating=rating)
    if outcome == "archived":
        messages.success(
            request,
            _(
                "Rating “%(name)s” archived: the prospects and the history that use it keep it. "
                "It is no longer offered."
            )
            % {"name": rating.display_name},
        )
    else:
        messages.success(request, _("Rating “%(name)s” deleted.") % {"name": rating.display_name})
    return redirect(_tab_url())


@admin_required
@require_POST
def rating_move(request, pk):
    rating = get_object_or_404(Rating, pk=pk)
    form = MoveForm(request.POST)
    if rating.archived:
        message, level = _("An archived rating has no place in the order."), messages.ERROR
    elif not form.is_valid():
        message, level = _("Choose whether to move the rating up or down."), messages.ERROR
    else:
        message, level = move_in_order(
            pk=rating.pk,
            ids=list(
                Rating.objects.filter(archived_at__isnull=True)
                .order_by("order", "id")
                .values_list("pk", flat=True)
            ),
            direction=form.cleaned_data["direction"],
            reorder=lambda ids: services.rating_reorder(actor=request.user, ids=ids),
            name=rating.display_name,
            changed_message=_(
                "The ratings changed meanwhile; here is the current order. Try again."
            ),
        )
    if is_htmx(request):
        return announce(_render_tab(request), message)
    messages.add_message(request, level, message)
    return redirect(_tab_url(rating.pk))
