"""Buy-now over the API: links, the settings fields, and the payment webhook."""

import json
import time
from decimal import Decimal

import pytest

from opportunities import services_buynow as buynow
from opportunities.models import Opportunity, OpportunityStatus, Order, OrderStatus
from opportunities.payments import sign, verify_signature
from tests.factories import OpportunityFactory

SECRET = "whsec-test-secret"
URL = "/api/v1/webhooks/payments/"


@pytest.fixture
def deal(rep, pipeline):
    return OpportunityFactory(owner=rep, contact__owner=rep)


def test_create_link_returns_its_url(rep_api, deal):
    response = rep_api.post(
        f"/api/v1/opportunities/{deal.pk}/buy-now-links/",
        {"product": "Pro plan", "amount": "49.90", "expire_days": 5},
        format="json",
    )
    assert response.status_code == 201, response.content
    body = response.json()
    assert {"id", "url", "expires_at", "skin"} <= set(body)
    assert body["url"].startswith("http://testserver/buy/")
    assert body["skin"] == "classic"
    assert body["status"] == "active"
    listed = rep_api.get(f"/api/v1/opportunities/{deal.pk}/buy-now-links/").json()
    assert [link["id"] for link in listed] == [body["id"]]


def test_create_link_without_expiry_uses_the_default(rep_api, admin_api, deal):
    admin_api.patch("/api/v1/settings/opportunities/", {"buy_now_expire_days": 2}, format="json")
    body = rep_api.post(
        f"/api/v1/opportunities/{deal.pk}/buy-now-links/",
        {"product": "Pro", "amount": "10", "expire_days": None},
        format="json",
    ).json()
    link = buynow.BuyNowLink.objects.get(pk=body["id"])
    assert 1.9 < (link.expires_at - link.created_at).total_seconds() / 86400 < 2.1


@pytest.mark.parametrize(
    "payload",
    [
        {"amount": "10"},
        {"product": "Pro", "amount": "0"},
        {"product": "Pro", "amount": "abc"},
        {"product": "Pro", "amount": "10", "currency": "EURO"},
        {"product": "Pro", "amount": "10", "expire_days": 400},
    ],
)
def test_bad_link_input_is_400(rep_api, deal, payload):
    response = rep_api.post(
        f"/api/v1/opportunities/{deal.pk}/buy-now-links/", payload, format="json"
    )
    assert response.status_code == 400
    assert not buynow.BuyNowLink.objects.exists()


def test_links_of_an_invisible_deal_are_404(other_rep_api, deal):
    url = f"/api/v1/opportunities/{deal.pk}/buy-now-links/"
    assert other_rep_api.get(url).status_code == 404
    assert (
        other_rep_api.post(url, {"product": "P", "amount": "1"}, format="json").status_code == 404
    )


def test_buy_now_settings_fields(admin_api, rep_api, pipeline):
    body = rep_api.get("/api/v1/settings/opportunities/").json()
    assert body["buy_now_expire_days"] == 14
    assert body["buy_now_skin"] == "classic"
    assert body["buy_now_win_reason"] == pipeline["settings"].buy_now_win_reason_id
    price = pipeline["win_reasons"]["Price"].pk
    response = admin_api.patch(
        "/api/v1/settings/opportunities/",
        {"buy_now_expire_days": 30, "buy_now_skin": "minimal", "buy_now_win_reason": price},
        format="json",
    )
    assert response.status_code == 200
    assert response.json()["buy_now_skin"] == "minimal"
    assert response.json()["buy_now_win_reason"] == price
    bad = admin_api.patch(
        "/api/v1/settings/opportunities/",
        {"buy_now_expire_days": 0, "buy_now_skin": "neon"},
        format="json",
    )
    assert bad.status_code == 400
    assert set(bad.json()) == {"buy_now_expire_days", "buy_now_skin"}
    assert (
        rep_api.patch(
            "/api/v1/settings/opportunities/", {"buy_now_skin": "bold"}, format="json"
        ).status_code
        == 403
    )


# --- the webhook ----------------------------------------------------------------------------------


@pytest.fixture
def webhook(settings):
    settings.PAYMENT_WEBHOOK_SECRET = SECRET
    settings.PAYMENT_WEBHOOK_TOLERANCE = 300


def _event(buy_link, event_id="evt_1", **data):
    payload = {
        "id": event_id,
        "type": "payment.succeeded",
        "data": {
            "link": buynow.link_token(buy_link),
            "buyer_name": "Ana Buyer",
            "buyer_email": "ana@example.com",
            "amount": str(buy_link.amount),
            "currency": buy_link.currency,
            "payment_id": "pi_123",
            **data,
        },
    }
    return json.dumps(payload).encode()


def _post(api, body: bytes, signature: str):
    return api.generic(
        "POST", URL, body, content_type="application/json", HTTP_X_PAYMENT_SIGNATURE=signature
    )


@pytest.fixture
def link(rep, deal):
    return buynow.buy_now_link_create(
        actor=rep, opportunity=deal, product="Pro", amount=Decimal("99.00")
    )


def test_signed_payment_is_accepted_once(api_anon, webhook, link, deal):
    body = _event(link)
    response = _post(api_anon, body, sign(body, secret=SECRET))
    assert response.status_code == 200, response.content
    order = Order.objects.get()
    assert response.json() == {"status": "processed", "order": order.pk}
    assert (order.status, order.payment_reference, order.provider) == (
        OrderStatus.PAID,
        "pi_123",
        "webhook",
    )
    assert Opportunity.objects.get(pk=deal.pk).status == OpportunityStatus.WON
    # The same event again, even freshly signed: refused, nothing new.
    replay = _post(api_anon, body, sign(body, secret=SECRET))
    assert replay.status_code == 409
    assert Order.objects.count() == 1


def test_a_new_event_for_a_bought_link_makes_no_second_order(api_anon, webhook, link):
    for event_id in ("evt_a", "evt_b"):
        body = _event(link, event_id=event_id)
        assert _post(api_anon, body, sign(body, secret=SECRET)).status_code == 200
    assert Order.objects.count() == 1


@pytest.mark.parametrize(
    "signature",
    [
        "",
        "garbage",
        "t=abc,v1=00",
        "v1=" + "0" * 64,
    ],
)
def test_malformed_signatures_are_rejected(api_anon, webhook, link, signature):
    response = _post(api_anon, _event(link), signature)
    assert response.status_code == 400
    assert "detail" in response.json()
    assert not Order.objects.exists()


def test_bad_signature_is_rejected(api_anon, webhook, link):
    body = _event(link)
    wrong_secret = sign(body, secret="another-secret")
    assert _post(api_anon, body, wrong_secret).status_code == 400
    # A body changed after signing.
    signature = sign(body, secret=SECRET)
    tampered = body.replace(b"Ana Buyer", b"Eve Buyer")
    assert _post(api_anon, tampered, signature).status_code == 400
    assert not Order.objects.exists()


def test_stale_timestamp_is_rejected(api_anon, webhook, link):
    body = _event(link)
    old = sign(body, secret=SECRET, timestamp=int(time.time()) - 301)
    response = _post(api_anon, body, old)
    assert response.status_code == 400
    future = sign(body, secret=SECRET, timestamp=int(time.time()) + 301)
    assert _post(api_anon, body, future).status_code == 400
    assert not Order.objects.exists()
    # The rejected deliveries did not use up the event id.
    assert _post(api_anon, body, sign(body, secret=SECRET)).status_code == 200


def test_signature_check_accepts_a_rotated_secret():
    body = b"{}"
    now = time.time()
    header = sign(body, secret="old", timestamp=int(now))
    new = sign(body, secret="new", timestamp=int(now))
    both = header + "," + new.split(",")[1]
    assert verify_signature(body, both, secret="new", tolerance=300, now=now).ok
    assert not verify_signature(body, header, secret="new", tolerance=300, now=now).ok


def test_unknown_link_and_wrong_amount_are_400(api_anon, webhook, link):
    body = _event(link, link="nope.nope")
    assert _post(api_anon, body, sign(body, secret=SECRET)).status_code == 400
    body = _event(link, event_id="evt_2", amount="1.00")
    response = _post(api_anon, body, sign(body, secret=SECRET))
    assert response.status_code == 400
    assert "amount" in response.json()
    assert not Order.objects.exists()


def test_other_event_types_are_acknowledged_and_ignored(api_anon, webhook, link):
    body = json.dumps({"id": "evt_x", "type": "payment.refunded"}).encode()
    response = _post(api_anon, body, sign(body, secret=SECRET))
    assert response.status_code == 200
    assert response.json() == {"status": "ignored"}
    assert not Order.objects.exists()


def test_bad_json_is_400(api_anon, webhook):
    body = b"{not json"
    assert _post(api_anon, body, sign(body, secret=SECRET)).status_code == 400


def test_webhook_is_off_without_a_secret(api_anon, settings, link):
    settings.PAYMENT_WEBHOOK_SECRET = ""
    body = _event(link)
    assert _post(api_anon, body, sign(body, secret="")).status_code == 404


def test_webhook_is_rate_limited(api_anon, webhook, settings, link):
    settings.BUY_NOW_RATE_LIMITS = {**settings.BUY_NOW_RATE_LIMITS, "webhook": 2}
    body = b"{}"
    codes = [_post(api_anon, body, "bad").status_code for _ in range(3)]
    assert codes == [400, 400, 429]
