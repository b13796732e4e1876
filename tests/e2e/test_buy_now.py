"""A rep makes a buy-now link on a deal; an anonymous prospect opens it (in Spanish) and buys; the
rep then sees the deal won with the buy-now reason, the contact tagged and the follow-up
sequence's first task, all done by the automation."""

import os
import tempfile
from pathlib import Path

import pytest
from playwright.sync_api import expect

from opportunities.services_automation import sequence_create, trigger_action_create
from tests.e2e.helpers import sign_in
from tests.factories import AdminFactory, ContactFactory, OpportunityFactory, UserFactory

SCREENSHOTS = Path(
    os.environ.get("CRM_SCREENSHOTS", Path(tempfile.gettempdir()) / "crm-screenshots")
)

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def test_rep_link_prospect_buys_automation_follows(live_server, page, browser):
    admin = AdminFactory(username="ada")
    rep = UserFactory(username="rita", first_name="Rita", last_name="Rep")
    contact = ContactFactory(owner=rep, first_name="Lucía", last_name="Fernández")
    deal = OpportunityFactory(owner=rep, contact=contact, name="Acme licences", amount=1200)
    welcome = sequence_create(
        actor=admin,
        name="After purchase",
        stop_when_closed=False,
        steps=[
            {"day_offset": 0, "kind": "task", "title": "Welcome call", "body": "Say thanks."},
            {"day_offset": 7, "kind": "task", "title": "Check the setup", "body": ""},
        ],
    )
    trigger_action_create(
        actor=admin, event="buy_now_purchased", action="apply_tag", tag="Bought now"
    )
    trigger_action_create(
        actor=admin, event="buy_now_purchased", action="start_sequence", sequence=welcome
    )

    # The rep makes the link.
    sign_in(page, live_server.url, "rita")
    page.goto(f"{live_server.url}/opportunities/{deal.pk}/")
    page.get_by_text("New buy-now link").click()
    page.get_by_label("Product").fill("Acme licences, 10 seats")
    page.get_by_label("Amount").fill("1200.50")
    page.get_by_role("button", name="Create link").click()
    expect(page.get_by_text("Buy-now link created")).to_be_visible()
    row = page.locator("table.buy-now-links tbody tr").first
    expect(row).to_contain_text("Active")
    url = row.get_by_role("textbox").input_value()
    assert "/buy/" in url

    # The prospect, not signed in, with a Spanish browser.
    prospect = browser.new_context(locale="es-ES", viewport={"width": 390, "height": 844})
    buyer = prospect.new_page()
    buyer.goto(url)
    expect(buyer.get_by_role("heading", level=1)).to_have_text("Acme licences, 10 seats")
    expect(buyer.get_by_text("1.200,50 EUR")).to_be_visible()
    expect(buyer.get_by_text("Rita Rep")).to_be_visible()
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    buyer.screenshot(path=str(SCREENSHOTS / "buy-now-checkout-390.png"), full_page=True)
    buyer.get_by_role("button", name="Comprar ahora").click()  # empty form: errors, no order
    expect(buyer.get_by_text("Este campo es requerido.").first).to_be_visible()
    buyer.get_by_label("Tu nombre").fill("Lucía Fernández")
    buyer.get_by_label("Tu correo electrónico").fill("lucia@example.com")
    buyer.get_by_role("button", name="Comprar ahora").click()
    expect(buyer.get_by_role("heading", name="Gracias por tu pedido")).to_be_visible()
    buyer.screenshot(path=str(SCREENSHOTS / "buy-now-thanks-390.png"), full_page=True)
    prospect.close()

    # The rep sees what happened.
    page.reload()
    expect(page.get_by_text("Won: Bought online.")).to_be_visible()
    expect(page.locator("table.buy-now-links tbody tr").first).to_contain_text("Purchased")
    expect(page.get_by_text("Bought by Lucía Fernández")).to_be_visible()
    expect(page.get_by_text("Lucía Fernández bought Acme licences, 10 seats")).to_be_visible()
    page.screenshot(path=str(SCREENSHOTS / "buy-now-opportunity-desktop.png"), full_page=True)
    page.goto(f"{live_server.url}/contacts/{contact.pk}/")
    expect(page.get_by_text("Bought now").first).to_be_visible()
    expect(page.get_by_role("link", name="Welcome call").first).to_be_visible()
