"""Buy-now links: tokens, expiry, clicks, purchases (one order per link), the deal won."""

import datetime as dt
import threading
from decimal import Decimal

import pytest
import time_machine
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import connection
from django.utils import timezone

from crm.models import Event
from opportunities import services_buynow as buynow
from opportunities.models import (
    BuyNowLink,
    BuyNowLinkStatus,
    Opportunity,
    OpportunityEvent,
    OpportunityStatus,
    Order,
    OrderStatus,
    StageChange,
)
from opportunities.services import opportunity_settings_update
from tests.factories import OpportunityFactory


@pytest.fixture
def deal(rep, pipeline):
    return OpportunityFactory(owner=rep, contact__owner=rep, amount=500)


def _link(rep, deal, **kw):
    kw.setdefault("product", "Annual plan")
    kw.setdefault("amount", Decimal("990.00"))
    return buynow.buy_now_link_create(actor=rep, opportunity=deal, **kw)


def test_link_defaults_come_from_the_settings(admin, rep, deal, pipeline):
    opportunity_settings_update(actor=admin, buy_now_expire_days=3, buy_now_skin="bold")
    before = timezone.now()
    link = _link(rep, deal)
    assert link.skin == "bold"
    assert link.currency == "EUR"
    assert before + dt.timedelta(days=3) <= link.expires_at <= timezone.now() + dt.timedelta(3)
    assert len(link.key) >= 40
    # The rep's own expiry wins over the default.
    other = _link(rep, deal, expire_days=30, currency="usd")
    assert other.currency == "USD"
    assert other.expires_at - other.created_at > dt.timedelta(days=29)
    assert (
        Event.objects.filter(opportunity=deal, kind=OpportunityEvent.BUY_NOW_LINK_CREATED).count()
        == 2
    )


@pytest.mark.parametrize(
    ("fields", "error"),
    [
        ({"product": "  "}, "product"),
        ({"amount": Decimal("0")}, "amount"),
        ({"amount": Decimal("-5")}, "amount"),
        ({"amount": Decimal("1.234")}, "amount"),
        ({"currency": "EURO"}, "currency"),
        ({"currency": "€"}, "currency"),
        ({"expire_days": 0}, "expire_days"),
        ({"expire_days": 366}, "expire_days"),
    ],
)
def test_bad_link_input_is_refused_and_changes_nothing(rep, deal, fields, error):
    with pytest.raises(ValidationError) as exc:
        _link(rep, deal, **fields)
    assert error in exc.value.message_dict
    assert not BuyNowLink.objects.exists()


def test_a_rep_cannot_make_a_link_for_a_deal_they_cannot_see(other_rep, deal):
    with pytest.raises(PermissionDenied):
        _link(other_rep, deal)


def test_token_is_signed_and_tampering_finds_nothing(rep, deal):
    link = _link(rep, deal)
    token = buynow.link_token(link)
    assert buynow.link_from_token(token) == link
    key, signature = token.split(".")
    assert buynow.link_from_token(key) is None  # the key alone is not enough
    flip = {"A": "B"}
    last_sig, last_key = signature[-1], key[-1]
    assert buynow.link_from_token(f"{key}.{signature[:-1]}{flip.get(last_sig, 'A')}") is None
    assert buynow.link_from_token(f"{key[:-1]}{flip.get(last_key, 'A')}.{signature}") is None
    assert buynow.link_from_token("") is None
    assert buynow.link_from_token("nonsense.more") is None


def test_first_click_fires_once_later_clicks_are_counted(rep, deal):
    link = _link(rep, deal)
    assert buynow.buy_now_click(link=link) is True
    assert buynow.buy_now_click(link=link) is False
    assert buynow.buy_now_click(link=link) is False
    link.refresh_from_db()
    assert link.click_count == 3
    assert link.first_clicked_at is not None
    assert link.status_at(timezone.now()) == BuyNowLinkStatus.CLICKED
    assert Event.objects.filter(kind=OpportunityEvent.BUY_NOW_CLICKED).count() == 1


def test_expiry_with_a_frozen_clock(rep, deal):
    with time_machine.travel(dt.datetime(2026, 11, 1, 12, tzinfo=dt.UTC), tick=False):
        link = _link(rep, deal, expire_days=2)
        assert link.status_at(timezone.now()) == BuyNowLinkStatus.ACTIVE
    with time_machine.travel(dt.datetime(2026, 11, 3, 11, 59, tzinfo=dt.UTC), tick=False):
        assert buynow.link_is_open(link)
    with time_machine.travel(dt.datetime(2026, 11, 3, 12, 0, 1, tzinfo=dt.UTC), tick=False):
        assert not buynow.link_is_open(link)
        assert link.status_at(timezone.now()) == BuyNowLinkStatus.EXPIRED
        with pytest.raises(ValidationError):
            buynow.buy_now_purchase(link=link, name="Ana", email="ana@example.com", provider="x")
    assert not Order.objects.exists()


def test_purchase_wins_the_deal_with_the_buy_now_reason(rep, deal, pipeline):
    link = _link(rep, deal)
    result = buynow.buy_now_purchase(
        link=link, name=" Ana Buyer ", email="ana@example.com", provider="manual"
    )
    assert result.created
    order = result.order
    assert (order.buyer_name, order.buyer_email, order.amount) == (
        "Ana Buyer",
        "ana@example.com",
        Decimal("990.00"),
    )
    assert order.status == OrderStatus.TO_INVOICE
    deal.refresh_from_db()
    settings = pipeline["settings"]
    assert deal.stage == settings.win_stage
    assert deal.status == OpportunityStatus.WON
    assert deal.win_reason == settings.buy_now_win_reason
    assert deal.win_reason.name == "Bought online"
    assert StageChange.objects.filter(opportunity=deal, to_stage=settings.win_stage).exists()
    link.refresh_from_db()
    assert link.status_at(timezone.now()) == BuyNowLinkStatus.PURCHASED
    purchased = Event.objects.get(kind=OpportunityEvent.BUY_NOW_PURCHASED)
    assert purchased.data["order"] == order.pk
    assert "not_won" not in purchased.data


def test_replayed_purchase_makes_no_second_order(rep, deal):
    link = _link(rep, deal)
    first = buynow.buy_now_purchase(link=link, name="Ana", email="a@example.com", provider="m")
    again = buynow.buy_now_purchase(link=link, name="Bob", email="b@example.com", provider="m")
    assert not again.created
    assert again.order == first.order
    assert Order.objects.count() == 1
    assert Event.objects.filter(kind=OpportunityEvent.BUY_NOW_PURCHASED).count() == 1
    assert StageChange.objects.filter(opportunity=deal).count() == 1  # only the win


def test_bad_buyer_input_changes_nothing(rep, deal):
    link = _link(rep, deal)
    with pytest.raises(ValidationError) as exc:
        buynow.buy_now_purchase(link=link, name="", email="not-an-email", provider="m")
    assert set(exc.value.message_dict) == {"name", "email"}
    assert not Order.objects.exists()
    deal.refresh_from_db()
    assert deal.status == OpportunityStatus.OPEN


def test_a_processor_confirmation_marks_the_manual_order_paid(rep, deal):
    link = _link(rep, deal)
    buynow.buy_now_purchase(link=link, name="Ana", email="a@example.com", provider="manual")
    result = buynow.buy_now_purchase(
        link=link,
        name="Ana",
        email="a@example.com",
        provider="webhook",
        paid=True,
        payment_reference="pi_1",
    )
    assert not result.created
    order = Order.objects.get()
    assert (order.status, order.payment_reference) == (OrderStatus.PAID, "pi_1")
    assert order.paid_at is not None


def test_the_order_stands_when_the_deal_cannot_be_won(admin, rep, deal, pipeline):
    """A purchase is a fact: with a required win reason and no buy-now reason, the deal stays
    where it is and the purchase event says why."""
    opportunity_settings_update(actor=admin, buy_now_win_reason=None, require_win_reason=True)
    link = _link(rep, deal)
    result = buynow.buy_now_purchase(link=link, name="Ana", email="a@x.example", provider="m")
    assert result.created
    deal.refresh_from_db()
    assert deal.status == OpportunityStatus.OPEN
    event = Event.objects.get(kind=OpportunityEvent.BUY_NOW_PURCHASED)
    assert event.data["not_won"]


def test_an_already_won_deal_keeps_its_reason(rep, deal, pipeline):
    from opportunities.services import opportunity_move

    settings = pipeline["settings"]
    price = pipeline["win_reasons"]["Price"]
    opportunity_move(actor=rep, opportunity=deal, stage=settings.win_stage, win_reason=price)
    link = _link(rep, deal)
    buynow.buy_now_purchase(link=link, name="Ana", email="a@example.com", provider="m")
    deal.refresh_from_db()
    assert deal.win_reason == price


def test_archived_win_reason_setting_is_refused(admin, pipeline):
    reason = pipeline["win_reasons"]["Price"]
    reason.archived_at = timezone.now()
    reason.save()
    with pytest.raises(ValidationError) as exc:
        opportunity_settings_update(actor=admin, buy_now_win_reason=reason)
    assert "buy_now_win_reason" in exc.value.message_dict


@pytest.mark.concurrency
@pytest.mark.django_db(transaction=True)
def test_concurrent_purchases_of_one_link_make_one_order(pipeline):
    from tests.factories import UserFactory

    rep = UserFactory()
    deal = OpportunityFactory(owner=rep, contact__owner=rep)
    link = _link(rep, deal)
    n = 8
    barrier = threading.Barrier(n)
    results, errors = [], []

    def buy(i):
        try:
            barrier.wait()
            results.append(
                buynow.buy_now_purchase(
                    link=link, name=f"Buyer {i}", email=f"b{i}@example.com", provider="m"
                )
            )
        except Exception as exc:  # reported below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=buy, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert Order.objects.count() == 1
    assert sum(r.created for r in results) == 1
    assert {r.order.pk for r in results} == {Order.objects.get().pk}
    assert Opportunity.objects.get(pk=deal.pk).status == OpportunityStatus.WON
