"""A rep drags a deal to the Won column of the pipeline board: the reason dialog asks why (it
cannot be saved without one, Esc cancels and focus returns to the card), the card lands in Won,
the move is announced, and the deal is counted in the win-loss report. The "Move to stage" menu on
each card does the same from the keyboard."""

import os
import re
import tempfile
from pathlib import Path

import pytest
from django.urls import NoReverseMatch, reverse
from playwright.sync_api import expect

from opportunities.models import Opportunity, Stage
from tests.e2e.helpers import sign_in
from tests.factories import ContactFactory, OpportunityFactory, UserFactory

SCREENSHOTS = Path(
    os.environ.get("CRM_SCREENSHOTS", Path(tempfile.gettempdir()) / "crm-screenshots")
)

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def _shots(page, name: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{name}-desktop.png"), full_page=True)
    page.set_viewport_size({"width": 390, "height": 844})
    page.screenshot(path=str(SCREENSHOTS / f"{name}-390.png"), full_page=True)
    page.set_viewport_size({"width": 1280, "height": 900})


def _column(page, name: str):
    return page.locator(".board-column").filter(
        has=page.get_by_role("heading", level=2, name=name, exact=True)
    )


def test_drag_to_won_asks_the_reason_and_counts_in_the_report(live_server, page):
    rep = UserFactory(username="rita", first_name="Rita", last_name="Rep")
    other = UserFactory(username="otto", first_name="Otto", last_name="Other")
    contact = ContactFactory(owner=rep, first_name="Lucía", last_name="Fernández")
    deal = OpportunityFactory(owner=rep, contact=contact, name="Acme renewal", amount=12000)
    second = OpportunityFactory(owner=rep, contact=contact, name="Acme upsell", amount=3000)
    OpportunityFactory(owner=other, contact=ContactFactory(owner=other), name="Otto's deal")

    sign_in(page, live_server.url, "rita")
    page.goto(f"{live_server.url}/opportunities/board/")
    expect(page.get_by_role("heading", level=1, name="Pipeline board")).to_be_visible()
    expect(page.get_by_text("Otto's deal")).to_have_count(0)  # only the rep's own deals
    card = page.locator(f"#card-{deal.pk}")
    expect(_column(page, "Prospecting").locator(f"#card-{deal.pk}")).to_be_visible()

    # Drag to Won: the dialog asks why; Esc cancels, nothing moves, focus is back on the card.
    card.drag_to(_column(page, "Won"))
    dialog = page.get_by_role("dialog", name=re.compile("Why was this deal won"))
    expect(dialog).to_be_visible()
    expect(dialog).to_contain_text("Acme renewal")
    page.keyboard.press("Escape")
    expect(dialog).to_be_hidden()
    expect(card).to_be_focused()
    assert Opportunity.objects.get(pk=deal.pk).status == "open"
    expect(card.get_by_role("combobox")).to_have_value(str(deal.stage_id))

    # Again; saving without a reason is refused by the browser.
    card.drag_to(_column(page, "Won"))
    expect(dialog).to_be_visible()
    reason = dialog.get_by_label("Win reason")
    expect(reason).to_have_attribute("required", "")
    dialog.get_by_role("button", name="Save").click()
    expect(dialog).to_be_visible()
    assert reason.evaluate("el => el.validity.valueMissing") is True
    assert Opportunity.objects.get(pk=deal.pk).status == "open"
    _shots(page, "board-reason-dialog")

    reason.select_option(label="Price")
    dialog.get_by_role("button", name="Save").click()
    expect(dialog).to_be_hidden()
    won_card = _column(page, "Won").locator(f"#card-{deal.pk}")
    expect(won_card).to_be_visible()
    expect(won_card).to_be_focused()
    expect(won_card).to_contain_text("Won")
    expect(page.locator("#messages")).to_contain_text("“Acme renewal” moved to Won: won (Price).")
    deal.refresh_from_db()
    assert (deal.status, deal.win_reason.name) == ("won", "Price")
    expect(_column(page, "Won")).to_contain_text("1 deal")

    # The keyboard twin: the card's menu moves the other deal to Proposal, no dialog.
    menu = page.get_by_label("Move “Acme upsell” to stage")
    menu.focus()
    menu.select_option(label="Proposal")
    page.keyboard.press("Tab")
    page.keyboard.press("Enter")
    expect(_column(page, "Proposal").locator(f"#card-{second.pk}")).to_be_visible()
    expect(page.locator("#messages")).to_contain_text("“Acme upsell” moved to Proposal.")
    assert Opportunity.objects.get(pk=second.pk).stage == Stage.objects.get(name="Proposal")
    _shots(page, "board")

    # A bypassed dialog (the required attribute removed) is refused by the server: the card says
    # why, the live region too, and the deal stays where it was.
    page.get_by_label("Move “Acme upsell” to stage").select_option(label="Lost")
    page.get_by_role("button", name="Move “Acme upsell”").click()
    lost_dialog = page.get_by_role("dialog", name=re.compile("Why was this deal lost"))
    expect(lost_dialog).to_be_visible()
    lost_dialog.get_by_label("Loss reason").evaluate("el => el.removeAttribute('required')")
    lost_dialog.get_by_role("button", name="Save").click()
    refused = _column(page, "Proposal").locator(f"#card-{second.pk}")
    expect(refused).to_contain_text("Choose why this deal was lost.")
    expect(refused).to_be_focused()
    expect(page.locator("#messages")).to_contain_text("Choose why this deal was lost.")
    expect(page.locator("#messages")).not_to_contain_text("That did not work")
    assert Opportunity.objects.get(pk=second.pk).status == "open"

    # The win-loss report counts the deal.
    try:
        report_url = reverse("report-win-loss")
    except NoReverseMatch:  # pragma: no cover - the report page is built separately
        report_url = None
    if report_url:
        page.goto(f"{live_server.url}{report_url}")
        expect(page.get_by_role("heading", level=1, name="Win-loss")).to_be_visible()
        won_table = page.get_by_role("table", name=re.compile("^Deals won by win reason"))
        expect(won_table.get_by_role("row", name=re.compile("Price"))).to_contain_text("1")
        expect(page.locator(".report-summary")).to_contain_text("1 won, 0 lost")
    else:  # pragma: no cover
        response = page.request.get(f"{live_server.url}/api/v1/reports/win-loss/")
        data = response.json()
        assert data["won"] == [
            {"key": deal.win_reason_id, "label": "Price", "count": 1, "archived": False}
        ]
