"""An admin shares a rep's deal with a second rep from the deal's page: that rep, in their own
browser, can now open the deal's contact and finds it in their contact list. The admin unshares
it and the contact is out of the second rep's reach again (404)."""

import os
import re
import tempfile
from pathlib import Path

import pytest
from django.urls import reverse
from playwright.sync_api import expect

from opportunities import services
from tests.e2e.helpers import sign_in
from tests.factories import AdminFactory, ContactFactory, UserFactory

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


def test_admin_shares_a_deal_and_the_rep_sees_its_contact_until_unshared(
    live_server, page, browser, browser_context_args
):
    AdminFactory(username="ada", first_name="Ada", last_name="Admin")
    rita = UserFactory(username="rita", first_name="Rita", last_name="Rep")
    UserFactory(username="marco", first_name="Marco", last_name="Rossi")
    contact = ContactFactory(owner=rita, first_name="Lucía", last_name="Fernández")
    deal = services.opportunity_create(actor=rita, name="Acme renewal", contact=contact)
    base = live_server.url
    contact_url = f"{base}{reverse('contact-detail', args=[contact.pk])}"

    # Marco, in his own browser, cannot open the contact yet.
    marco_context = browser.new_context(**browser_context_args)
    marco = marco_context.new_page()
    sign_in(marco, base, "marco")
    assert marco.goto(contact_url).status == 404

    # The admin shares the deal with Marco from its page (htmx: the panel is redrawn in place).
    sign_in(page, base, "ada")
    page.goto(f"{base}{reverse('opportunity-detail', args=[deal.pk])}")
    panel = page.locator("#share-panel")
    expect(panel.get_by_role("heading", level=2, name="Sharing")).to_be_visible()
    expect(panel).to_contain_text("Not shared with anyone yet.")
    picker = panel.get_by_label("Share with…")
    expect(picker.locator("option", has_text="Rita Rep")).to_have_count(0)  # the owner
    picker.select_option(label="Marco Rossi")
    panel.get_by_role("button", name="Share", exact=True).click()
    expect(page.locator("#messages")).to_contain_text(
        "“Acme renewal” is now shared with Marco Rossi."
    )
    rows = page.locator("#share-panel table tbody tr")
    expect(rows).to_have_count(1)
    expect(rows.first.get_by_role("rowheader")).to_have_text("Marco Rossi")
    expect(page.get_by_label("Share with…")).to_be_focused()
    expect(
        page.get_by_label("Share with…").locator("option", has_text="Marco Rossi")
    ).to_have_count(0)
    _shots(page, "sharing-panel")

    # Marco now sees the contact, on its page and in his contact list.
    response = marco.goto(contact_url)
    assert response.status == 200
    expect(marco.get_by_role("heading", level=1, name="Lucía Fernández")).to_be_visible()
    marco.goto(f"{base}{reverse('contact-list')}")
    expect(
        marco.locator("table.data-table tbody").get_by_role("link", name="Lucía Fernández")
    ).to_be_visible()

    # The admin unshares: announced, the list is empty again, focus back on the picker.
    page.get_by_role("button", name=re.compile(r"^Unshare\W+Marco Rossi")).click()
    expect(page.locator("#messages")).to_contain_text(
        "“Acme renewal” is no longer shared with Marco Rossi."
    )
    expect(page.locator("#share-panel")).to_contain_text("Not shared with anyone yet.")
    expect(page.get_by_label("Share with…")).to_be_focused()

    # And Marco has lost the contact again.
    assert marco.goto(contact_url).status == 404
    marco.goto(f"{base}{reverse('contact-list')}")
    expect(marco.get_by_role("link", name="Lucía Fernández")).to_have_count(0)
    marco_context.close()


def test_visibility_settings_page(live_server, page):
    """The Visibility section of Settings > Opportunity defaults: switch a rule off and save."""
    AdminFactory(username="ada", first_name="Ada", last_name="Admin")
    sign_in(page, live_server.url, "ada")
    page.goto(f"{live_server.url}{reverse('settings-opportunities')}")
    section = page.locator("section", has=page.locator("#visibility-title"))
    expect(section.get_by_role("heading", level=2, name="Visibility")).to_be_visible()
    _shots(page, "sharing-visibility")
    group = section.get_by_role("group", name="Sync owner of closed leads")
    group.get_by_label("No").check()
    section.get_by_role("button", name="Save visibility").click()
    expect(page.locator("#messages")).to_contain_text("Visibility settings saved.")
    expect(
        page.get_by_role("group", name="Sync owner of closed leads").get_by_label("No")
    ).to_be_checked()
