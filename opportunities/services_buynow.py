"""Buy-now links: a rep sends a prospect a link; clicking and buying through it are triggers.

Every write about links and orders is here, for the pages, the API, the public checkout and the
payment webhook alike. The public token is the link's random ``key`` signed with the site's
secret: a guessed or altered token fails the signature before any query is made.
"""

from __future__ import annotations

import datetime as dt
import secrets
from dataclasses import dataclass
from decimal import Decimal

from django.conf import settings as django_settings
from django.core import signing
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.db.models import F
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from crm import access
from crm.models import User
from crm.services import event_record
from opportunities import services as opportunity_services
from opportunities.models import (
    CURRENCY_VALIDATOR,
    BuyNowLink,
    Opportunity,
    OpportunityEvent,
    OpportunityStatus,
    Order,
    OrderStatus,
    PaymentWebhookEvent,
    TriggerEvent,
)

_SIGNER = signing.Signer(salt="opportunities.buy-now-link", sep=".")
MAX_AMOUNT = Decimal("999999999999.99")


def link_token(link: BuyNowLink) -> str:
    return _SIGNER.sign(link.key)


def link_path(link: BuyNowLink) -> str:
    return reverse("buy-now", kwargs={"token": link_token(link)})


def link_url(link: BuyNowLink, request=None) -> str:
    """The absolute URL to send: from the request's host, else ``SITE_URL``."""
    if request is not None:
        return request.build_absolute_uri(link_path(link))
    return django_settings.SITE_URL.rstrip("/") + link_path(link)


def link_from_token(token: str) -> BuyNowLink | None:
    """The link a public token names, or None when it is unknown or tampered with."""
    try:
        key = _SIGNER.unsign(token)
    except signing.BadSignature:
        return None
    return (
        BuyNowLink.objects.select_related("opportunity__owner", "opportunity__contact")
        .filter(key=key)
        .first()
    )


def link_is_open(link: BuyNowLink, now: dt.datetime | None = None) -> bool:
    """Whether a prospect can still buy: not expired, not bought, its deal not archived."""
    now = now or timezone.now()
    return (
        link.purchased_at is None and link.expires_at > now and link.opportunity.archived_at is None
    )


def _validate_link_fields(product: str, amount, currency: str, expire_days) -> dict:
    errors: dict[str, list[str]] = {}
    if not product:
        errors["product"] = [_("Enter what the prospect buys.")]
    elif len(product) > 200:
        errors["product"] = [_("Use at most 200 characters.")]
    if amount is None or not isinstance(amount, Decimal) or not amount.is_finite():
        errors["amount"] = [_("Enter an amount.")]
    elif amount <= 0:
        errors["amount"] = [_("The amount must be more than zero.")]
    elif amount > MAX_AMOUNT or amount.as_tuple().exponent < -2:
        errors["amount"] = [_("Enter an amount with at most two decimals.")]
    try:
        CURRENCY_VALIDATOR(currency)
    except ValidationError as exc:
        errors["currency"] = list(exc.messages)
    if expire_days is not None and not 1 <= expire_days <= 365:
        errors["expire_days"] = [_("Enter a number of days from 1 to 365.")]
    return errors


@transaction.atomic
def buy_now_link_create(
    *,
    actor: User,
    opportunity: Opportunity,
    product: str,
    amount: Decimal,
    currency: str | None = None,
    expire_days: int | None = None,
) -> BuyNowLink:
    """A new link for ``opportunity`` (which ``actor`` must see); it expires after
    ``expire_days`` or the setting's default, and keeps the checkout skin of the moment."""
    if not access.visible_opportunities(actor).filter(pk=opportunity.pk).exists():
        raise PermissionDenied(_("You cannot see this opportunity."))
    opportunity = Opportunity.objects.select_for_update().get(pk=opportunity.pk)
    if opportunity.archived_at is not None:
        raise ValidationError(_("This opportunity is archived."))
    product = (product or "").strip()
    currency = (currency or django_settings.DEFAULT_CURRENCY).strip().upper()
    errors = _validate_link_fields(product, amount, currency, expire_days)
    if errors:
        raise ValidationError(errors)
    settings = opportunity_services.opportunity_settings_get()
    days = expire_days if expire_days is not None else settings.buy_now_expire_days
    link = BuyNowLink.objects.create(
        opportunity=opportunity,
        key=secrets.token_urlsafe(32),
        product=product,
        amount=amount,
        currency=currency,
        skin=settings.buy_now_skin,
        expires_at=timezone.now() + dt.timedelta(days=days),
        created_by=actor,
    )
    event_record(
        actor=actor,
        kind=OpportunityEvent.BUY_NOW_LINK_CREATED,
        opportunity=opportunity,
        data={
            "link": link.pk,
            "product": product,
            "amount": str(amount),
            "currency": currency,
            "expires_at": link.expires_at.isoformat(),
        },
    )
    return link


def _fire(event: str, occurrence: str, link: BuyNowLink) -> None:
    # Imported here: the automation module imports the models and services of this app.
    from opportunities.services_automation import trigger_fire

    trigger_fire(
        event=event,
        occurrence=occurrence,
        opportunity=link.opportunity,
        contact=link.opportunity.contact,
    )


@transaction.atomic
def buy_now_click(*, link: BuyNowLink) -> bool:
    """A prospect opened the link: count it. The first click (one conditional UPDATE decides
    which, however many arrive at once) logs the event and fires the click actions.
    Returns whether this was the first click."""
    now = timezone.now()
    first = BuyNowLink.objects.filter(pk=link.pk, first_clicked_at__isnull=True).update(
        first_clicked_at=now, click_count=F("click_count") + 1
    )
    if not first:
        BuyNowLink.objects.filter(pk=link.pk).update(click_count=F("click_count") + 1)
        return False
    link.first_clicked_at = now
    event_record(
        actor=None,
        kind=OpportunityEvent.BUY_NOW_CLICKED,
        opportunity=link.opportunity,
        contact=link.opportunity.contact,
        data={"link": link.pk, "product": link.product},
    )
    _fire(TriggerEvent.BUY_NOW_CLICKED, f"link:{link.pk}:click", link)
    return True


@dataclass(frozen=True)
class PurchaseResult:
    order: Order
    created: bool


def _validate_buyer(name: str, email: str) -> tuple[str, str]:
    from django.core.validators import validate_email

    name, email = (name or "").strip(), (email or "").strip()
    errors: dict[str, list[str]] = {}
    if not name:
        errors["name"] = [_("Enter your name.")]
    elif len(name) > 200:
        errors["name"] = [_("Use at most 200 characters.")]
    try:
        validate_email(email)
    except ValidationError:
        errors["email"] = [_("Enter a valid email address.")]
    if errors:
        raise ValidationError(errors)
    return name, email


def _close_won(link: BuyNowLink) -> list[str]:
    """Move the deal to the win stage with the buy-now win reason, unless it is already won.

    A purchase is a fact: when the settings make the move impossible (a win reason is required
    and none is set for buy-now, or the deal is archived), the order stands and the returned
    messages, kept in the purchase event, say why the deal did not move.
    """
    opportunity = link.opportunity
    if opportunity.status == OpportunityStatus.WON:
        return []
    settings = opportunity_services.opportunity_settings_get()
    reason = settings.buy_now_win_reason
    if reason is not None and reason.archived:
        reason = None
    try:
        with transaction.atomic():
            opportunity_services.opportunity_move(
                actor=None, opportunity=opportunity, stage=settings.win_stage, win_reason=reason
            )
    except ValidationError as exc:
        return exc.messages
    return []


@transaction.atomic
def buy_now_purchase(
    *,
    link: BuyNowLink,
    name: str,
    email: str,
    provider: str,
    paid: bool = False,
    payment_reference: str = "",
) -> PurchaseResult:
    """Record a purchase through ``link``, in one transaction: the order, the deal won with the
    buy-now reason, the event, the purchase actions queued.

    One order per link: the link row is locked first, so concurrent or replayed purchases find
    the order the first one made (``created`` False) and change nothing, except that a
    processor's confirmation (``paid``) marks a manual order paid.
    """
    name, email = _validate_buyer(name, email)
    link = (
        BuyNowLink.objects.select_for_update(of=("self",))
        .select_related("opportunity__contact")
        .get(pk=link.pk)
    )
    existing = Order.objects.filter(link=link).first()
    if existing is not None:
        if paid and existing.status != OrderStatus.PAID:
            existing.status = OrderStatus.PAID
            existing.paid_at = timezone.now()
            existing.payment_reference = payment_reference[:200]
            existing.save(update_fields=["status", "paid_at", "payment_reference"])
            event_record(
                actor=None,
                kind=OpportunityEvent.PAYMENT_CONFIRMED,
                opportunity=link.opportunity,
                data={"order": existing.pk, "reference": existing.payment_reference},
            )
        return PurchaseResult(existing, False)
    now = timezone.now()
    # A processor's confirmation is honoured even past the expiry (the prospect started paying
    # in time) or for an archived deal: the money has moved. The checkout page is stricter.
    if not paid and link.expires_at <= now:
        raise ValidationError(_("This link has expired."))
    if not paid and link.opportunity.archived_at is not None:
        raise ValidationError(_("This offer is no longer available."))
    try:
        with transaction.atomic():
            order = Order.objects.create(
                link=link,
                opportunity=link.opportunity,
                product=link.product,
                amount=link.amount,
                currency=link.currency,
                buyer_name=name,
                buyer_email=email,
                provider=provider,
                status=OrderStatus.PAID if paid else OrderStatus.TO_INVOICE,
                payment_reference=payment_reference[:200],
                paid_at=now if paid else None,
            )
    except IntegrityError:  # pragma: no cover - the lock above makes this unreachable
        return PurchaseResult(Order.objects.get(link=link), False)
    link.purchased_at = now
    link.save(update_fields=["purchased_at"])
    not_won = _close_won(link)
    event_record(
        actor=None,
        kind=OpportunityEvent.BUY_NOW_PURCHASED,
        opportunity=link.opportunity,
        contact=link.opportunity.contact,
        data={
            "order": order.pk,
            "link": link.pk,
            "product": link.product,
            "amount": str(link.amount),
            "currency": link.currency,
            "buyer_name": name,
            "buyer_email": email,
            "status": order.status,
            **({"not_won": not_won} if not_won else {}),
        },
    )
    _fire(TriggerEvent.BUY_NOW_PURCHASED, f"order:{order.pk}", link)
    return PurchaseResult(order, True)


class WebhookReplay(Exception):
    """The processor event id was handled before."""


@transaction.atomic
def payment_webhook_record(*, event_id: str, kind: str) -> PaymentWebhookEvent:
    """Remember a processor event id; a second delivery of the same id raises
    ``WebhookReplay`` (the unique key decides, also between concurrent deliveries)."""
    try:
        with transaction.atomic():
            return PaymentWebhookEvent.objects.create(event_id=event_id[:200], kind=kind[:100])
    except IntegrityError:
        raise WebhookReplay(event_id) from None
