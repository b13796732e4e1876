"""Buy-now pages: the public checkout ``/buy/<token>/`` (no login) and, on an opportunity, the
rep's form that makes a link."""

from __future__ import annotations

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_protect
from django.views.decorators.http import require_http_methods, require_POST

from crm import access
from crm.ratelimit import hit
from crm.web import obj_url, run_service
from opportunities import services_buynow as services
from opportunities.forms_buynow import BuyerForm, BuyNowLinkForm
from opportunities.models import Opportunity
from opportunities.payments import payment_provider


def _page(request, template: str, link, status: int = 200, **context):
    context.update(
        link=link,
        skin=link.skin,
        seller=link.opportunity.owner,
        organization=settings.ORGANIZATION_NAME,
    )
    response = render(request, f"opportunities/buy/{template}", context, status=status)
    # The token must not leak to other sites; "no-referrer" would also make the browser send
    # "Origin: null" with the purchase form, which the CSRF check rightly refuses.
    response["Referrer-Policy"] = "same-origin"
    response["X-Robots-Tag"] = "noindex, nofollow"
    return response


def _too_many(request):
    response = render(request, "opportunities/buy/too_many.html", status=429)
    response["Retry-After"] = "60"
    return response


@never_cache
@csrf_protect
@require_http_methods(["GET", "HEAD", "POST"])
def buy_now(request, token: str):
    """The checkout: what is sold and by whom; "Buy now" takes the buyer's name and email.

    Unknown or altered token: 404. Expired, or its deal archived: 410. Already bought: the
    thank-you page. A visit by a signed-in user of the CRM is a preview and is not counted.
    """
    scope = "buy" if request.method == "POST" else "view"
    if hit(request, scope, settings.BUY_NOW_RATE_LIMITS[scope]):
        return _too_many(request)
    link = services.link_from_token(token)
    if link is None:
        raise Http404
    if link.purchased_at is not None:
        return _page(request, "thanks.html", link, order=getattr(link, "order", None))
    now = timezone.now()
    if link.opportunity.archived_at is not None:
        return _page(request, "gone.html", link, status=410, expired=False)
    if link.expires_at <= now:
        return _page(request, "gone.html", link, status=410, expired=True)
    preview = request.user.is_authenticated
    if request.method == "POST":
        form = BuyerForm(request.POST)
        done = run_service(
            form,
            lambda: payment_provider().checkout(
                link=link, name=form.cleaned_data["name"], email=form.cleaned_data["email"]
            ),
        )
        if done is not None:
            return redirect(request.path)
        return _page(request, "checkout.html", link, status=400, form=form, preview=preview)
    if not preview and request.method == "GET":
        services.buy_now_click(link=link)
    return _page(request, "checkout.html", link, form=BuyerForm(), preview=preview)


@login_required
@require_POST
def link_create(request, pk: int):
    """The rep's form on the opportunity page; the new link's URL is then shown to copy."""
    from opportunities.views import opportunity_detail_page

    opportunity = get_object_or_404(access.visible_opportunities(request.user), pk=pk)
    form = BuyNowLinkForm(request.POST)
    link = run_service(
        form,
        lambda: services.buy_now_link_create(
            actor=request.user, opportunity=opportunity, **form.cleaned_data
        ),
    )
    if link is None:
        return opportunity_detail_page(request, opportunity, buy_now_form=form, status=400)
    messages.success(request, _("Buy-now link created: copy its address and send it."))
    return redirect(f"{obj_url(opportunity)}?new_link={link.pk}#buy-now")


def detail_context(request, opportunity: Opportunity, form: BuyNowLinkForm | None = None) -> dict:
    """What the opportunity page shows about its links (one query)."""
    from opportunities.services import opportunity_settings_get

    now = timezone.now()
    links = list(opportunity.buy_now_links.select_related("order").order_by("-id"))
    for link in links:
        link.status = link.status_at(now)
        link.url = services.link_url(link, request)
    settings_obj = opportunity_settings_get()
    new_link = request.GET.get("new_link", "")
    return {
        "buy_now_links": links,
        "buy_now_form": form
        or BuyNowLinkForm(
            initial={
                "currency": settings.DEFAULT_CURRENCY,
                "expire_days": settings_obj.buy_now_expire_days,
                "amount": opportunity.amount or None,
                "product": opportunity.name,
            }
        ),
        "buy_now_new_link": int(new_link) if new_link.isdigit() else None,
    }
