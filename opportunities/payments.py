"""How a buy-now purchase is paid: a small provider interface, and the processor's webhook check.

The checkout page hands the buyer to the configured provider (``BUY_NOW_PAYMENT_PROVIDER``). The
built-in ``ManualInvoiceProvider`` records the order at once, to be invoiced by hand. A provider
for a card processor would send the buyer to the processor instead; the processor then confirms
the payment on ``POST /api/v1/webhooks/payments/``, which ``verify_signature`` authenticates:

    X-Payment-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>." + raw body>

with the shared ``PAYMENT_WEBHOOK_SECRET``. Several ``v1=`` entries may be sent while a secret is
rotated. The timestamp must be within ``PAYMENT_WEBHOOK_TOLERANCE`` seconds of our clock, so that
a captured request cannot be replayed later; event ids are also remembered, so that it cannot be
replayed sooner either.
"""

from __future__ import annotations

import hashlib
import hmac
import time
from dataclasses import dataclass
from typing import Protocol

from django.conf import settings
from django.utils.module_loading import import_string
from django.utils.translation import gettext as _

from opportunities.models import BuyNowLink
from opportunities.services_buynow import PurchaseResult, buy_now_purchase

SIGNATURE_HEADER = "HTTP_X_PAYMENT_SIGNATURE"


class PaymentProvider(Protocol):
    #: Stored on the order.
    name: str

    def checkout(self, *, link: BuyNowLink, name: str, email: str) -> PurchaseResult:
        """Take the buyer's order for ``link``; raise ``ValidationError`` on bad input."""
        ...


class ManualInvoiceProvider:
    """Records the order, to be invoiced by hand: the purchase is complete at once."""

    name = "manual"

    def checkout(self, *, link: BuyNowLink, name: str, email: str) -> PurchaseResult:
        return buy_now_purchase(link=link, name=name, email=email, provider=self.name)


def payment_provider() -> PaymentProvider:
    return import_string(settings.BUY_NOW_PAYMENT_PROVIDER)()


def sign(body: bytes, *, secret: str, timestamp: int | None = None) -> str:
    """The signature header value for ``body`` (what a processor sends; used by the tests)."""
    timestamp = int(time.time()) if timestamp is None else timestamp
    digest = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return f"t={timestamp},v1={digest.hexdigest()}"


@dataclass(frozen=True)
class SignatureCheck:
    ok: bool
    error: str = ""


def verify_signature(
    body: bytes,
    header: str,
    *,
    secret: str,
    tolerance: int,
    now: float | None = None,
) -> SignatureCheck:
    """Check the header against the raw body, in constant time, and the timestamp's age."""
    timestamp, candidates = None, []
    for part in (header or "").split(","):
        key, _sep, value = part.strip().partition("=")
        if key == "t" and value.isdigit():
            timestamp = int(value)
        elif key == "v1" and value:
            candidates.append(value)
    if timestamp is None or not candidates:
        return SignatureCheck(False, _("The signature header is missing or malformed."))
    now = time.time() if now is None else now
    if abs(now - timestamp) > tolerance:
        return SignatureCheck(False, _("The signature timestamp is outside the tolerance."))
    expected = hmac.new(
        secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256
    ).hexdigest()
    # Compare with every candidate (no early exit), each in constant time.
    matched = False
    for candidate in candidates:
        matched |= hmac.compare_digest(expected, candidate)
    if not matched:
        return SignatureCheck(False, _("The signature does not match."))
    return SignatureCheck(True)
