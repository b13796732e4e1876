"""Buy-now pages: the rep's link form, the public checkout (no login), the settings section."""

import datetime as dt
from decimal import Decimal

import pytest
import time_machine
from django.test import Client
from django.urls import reverse

from crm.models import Event
from opportunities import services_buynow as buynow
from opportunities.models import (
    BuyNowLink,
    OpportunityEvent,
    OpportunitySettings,
    OpportunityStatus,
    Order,
)
from tests.factories import OpportunityFactory


@pytest.fixture
def deal(rep, pipeline):
    return OpportunityFactory(owner=rep, contact__owner=rep, name="Big deal", amount=1200)


@pytest.fixture
def link(rep, deal):
    return buynow.buy_now_link_create(
        actor=rep, opportunity=deal, product="Annual plan", amount=Decimal("1234.50")
    )


@pytest.fixture
def anon():
    return Client(enforce_csrf_checks=True)


def _url(link):
    return buynow.link_path(link)


def test_rep_creates_a_link_from_the_opportunity_page(rep_client, deal):
    page = rep_client.get(reverse("opportunity-detail", args=[deal.pk]))
    assert page.status_code == 200
    assert "New buy-now link" in page.content.decode()
    response = rep_client.post(
        reverse("opportunity-buy-now-create", args=[deal.pk]),
        {"product": "Pro plan", "amount": "99.50", "currency": "usd", "expire_days": "7"},
    )
    assert response.status_code == 302
    link = BuyNowLink.objects.get()
    assert (link.product, link.amount, link.currency) == ("Pro plan", Decimal("99.50"), "USD")
    page = rep_client.get(response["Location"]).content.decode()
    assert buynow.link_path(link) in page
    assert "Copy" in page


def test_bad_link_form_shows_errors_and_saves_nothing(rep_client, deal):
    response = rep_client.post(
        reverse("opportunity-buy-now-create", args=[deal.pk]),
        {"product": "", "amount": "-1", "currency": "EU", "expire_days": "999"},
    )
    assert response.status_code == 400
    body = response.content.decode()
    assert 'class="buy-now-new" open' in body
    assert not BuyNowLink.objects.exists()


def test_another_rep_cannot_make_a_link(client, other_rep, deal):
    client.force_login(other_rep)
    response = client.post(
        reverse("opportunity-buy-now-create", args=[deal.pk]),
        {"product": "P", "amount": "1", "currency": "EUR", "expire_days": "7"},
    )
    assert response.status_code == 404
    assert not BuyNowLink.objects.exists()


def test_checkout_shows_the_offer_and_records_the_first_click(anon, link, rep):
    response = anon.get(_url(link))
    assert response.status_code == 200
    body = response.content.decode()
    assert "Annual plan" in body
    assert "1,234.50 EUR" in body or "1.234,50 EUR" in body
    assert rep.get_full_name() in body
    assert "skin-classic" in body
    assert response["Referrer-Policy"] == "same-origin"
    anon.get(_url(link))
    link.refresh_from_db()
    assert link.click_count == 2
    assert Event.objects.filter(kind=OpportunityEvent.BUY_NOW_CLICKED).count() == 1


def test_checkout_speaks_the_visitors_language(link):
    spanish = Client(HTTP_ACCEPT_LANGUAGE="es")
    body = spanish.get(_url(link)).content.decode()
    assert "Comprar ahora" in body
    assert 'lang="es"' in body
    assert "1.234,50" in body
    english = Client(HTTP_ACCEPT_LANGUAGE="en")
    assert "Buy now" in english.get(_url(link)).content.decode()


@pytest.mark.parametrize("skin", ["classic", "minimal", "bold"])
def test_each_skin(admin, rep, deal, anon, skin):
    from opportunities.services import opportunity_settings_update

    opportunity_settings_update(actor=admin, buy_now_skin=skin)
    link = buynow.buy_now_link_create(actor=rep, opportunity=deal, product="P", amount=Decimal(5))
    assert f"skin-{skin}" in anon.get(_url(link)).content.decode()


def test_a_signed_in_user_previews_without_a_click(rep_client, link):
    body = rep_client.get(_url(link)).content.decode()
    assert "Preview" in body
    link.refresh_from_db()
    assert link.click_count == 0


def test_buying_records_the_order_and_wins_the_deal(anon, link, deal, pipeline):
    page = anon.get(_url(link))
    token = page.cookies["csrftoken"].value
    response = anon.post(
        _url(link),
        {"name": "Ana Buyer", "email": "ana@example.com", "csrfmiddlewaretoken": token},
    )
    assert response.status_code == 302
    thanks = anon.get(response["Location"])
    assert thanks.status_code == 200
    assert "Thank you for your order" in thanks.content.decode()
    order = Order.objects.get()
    assert order.buyer_email == "ana@example.com"
    deal.refresh_from_db()
    assert deal.status == OpportunityStatus.WON
    assert deal.win_reason == pipeline["settings"].buy_now_win_reason
    # A second submission (the back button, a double click) makes no second order.
    again = anon.post(
        _url(link), {"name": "Ana", "email": "ana@example.com", "csrfmiddlewaretoken": token}
    )
    assert again.status_code == 200
    assert Order.objects.count() == 1


def test_purchase_without_csrf_is_refused(anon, link):
    response = anon.post(_url(link), {"name": "Ana", "email": "ana@example.com"})
    assert response.status_code == 403
    assert not Order.objects.exists()


def test_bad_buyer_input_shows_errors(anon, link):
    token = anon.get(_url(link)).cookies["csrftoken"].value
    response = anon.post(_url(link), {"name": "", "email": "nope", "csrfmiddlewaretoken": token})
    assert response.status_code == 400
    assert 'role="alert"' in response.content.decode()
    assert not Order.objects.exists()


def test_unknown_and_tampered_tokens_are_404(anon, link):
    token = buynow.link_token(link)
    key, signature = token.split(".")
    assert anon.get(reverse("buy-now", args=["nothing-here"])).status_code == 404
    assert anon.get(reverse("buy-now", args=[key])).status_code == 404
    other = "B" if signature[0] == "A" else "A"
    assert anon.get(reverse("buy-now", args=[f"{key}.{other}{signature[1:]}"])).status_code == 404
    post = anon.post(reverse("buy-now", args=[f"{key}.{other}{signature[1:]}"]), {})
    assert post.status_code in (403, 404)  # CSRF or the token: never an order
    assert not Order.objects.exists()


def test_expired_link_is_410_with_a_clear_page(rep, deal, anon):
    with time_machine.travel(dt.datetime(2026, 11, 1, 9, tzinfo=dt.UTC), tick=False):
        link = buynow.buy_now_link_create(
            actor=rep, opportunity=deal, product="P", amount=Decimal(5), expire_days=1
        )
    with time_machine.travel(dt.datetime(2026, 11, 2, 9, 0, 1, tzinfo=dt.UTC), tick=False):
        response = anon.get(_url(link))
        assert response.status_code == 410
        assert "This link has expired" in response.content.decode()
        assert "skin-classic" in response.content.decode()
    link.refresh_from_db()
    assert link.click_count == 0


def test_archived_deal_link_is_410(rep, deal, link, anon):
    from opportunities.services import opportunity_archive

    opportunity_archive(actor=rep, opportunity=deal)
    response = anon.get(_url(link))
    assert response.status_code == 410
    assert "no longer available" in response.content.decode()


def test_public_page_is_rate_limited(anon, link, settings):
    settings.BUY_NOW_RATE_LIMITS = {**settings.BUY_NOW_RATE_LIMITS, "view": 3}
    codes = [anon.get(_url(link)).status_code for _ in range(4)]
    assert codes == [200, 200, 200, 429]
    # Another address is not affected.
    assert Client(REMOTE_ADDR="10.1.2.3").get(_url(link)).status_code == 200


def test_settings_page_saves_buy_now_defaults(admin_client_, pipeline):
    page = admin_client_.get(reverse("settings-opportunities"))
    assert "Buy now" in page.content.decode()
    price = pipeline["win_reasons"]["Price"]
    response = admin_client_.post(
        reverse("settings-opportunity-buy-now"),
        {"buy_now_expire_days": "21", "buy_now_skin": "bold", "buy_now_win_reason": price.pk},
    )
    assert response.status_code == 302
    settings = OpportunitySettings.objects.get()
    assert (settings.buy_now_expire_days, settings.buy_now_skin) == (21, "bold")
    assert settings.buy_now_win_reason == price
    bad = admin_client_.post(
        reverse("settings-opportunity-buy-now"),
        {"buy_now_expire_days": "0", "buy_now_skin": "neon", "buy_now_win_reason": ""},
    )
    assert bad.status_code == 200
    assert OpportunitySettings.objects.get().buy_now_expire_days == 21


def test_reps_cannot_change_buy_now_settings(rep_client):
    response = rep_client.post(
        reverse("settings-opportunity-buy-now"),
        {"buy_now_expire_days": "2", "buy_now_skin": "bold", "buy_now_win_reason": ""},
    )
    assert response.status_code == 403
    assert OpportunitySettings.objects.get().buy_now_expire_days == 14


def test_timeline_tells_the_buy_now_story(anon, rep_client, link, deal):
    token = anon.get(_url(link)).cookies["csrftoken"].value
    anon.post(_url(link), {"name": "Ana", "email": "ana@example.com", "csrfmiddlewaretoken": token})
    body = rep_client.get(reverse("opportunity-detail", args=[deal.pk])).content.decode()
    assert "created a buy-now link for Annual plan" in body
    assert "The prospect opened the buy-now link" in body
    assert "Ana bought Annual plan" in body
