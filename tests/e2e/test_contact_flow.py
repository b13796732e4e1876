"""A rep signs in, creates a contact, finds it through the search box and switches to Spanish."""

import datetime as dt
import os
import re
import tempfile
from pathlib import Path

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from crm import services
from tests.conftest import PASSWORD
from tests.factories import UserFactory

# Screenshots for a human look (desktop and 375 px wide), outside the repository.
SCREENSHOTS = Path(
    os.environ.get("CRM_SCREENSHOTS", Path(tempfile.gettempdir()) / "crm-screenshots")
)

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def _shot(page, name: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)


def test_contact_flow(live_server, page):
    rep = UserFactory(username="rita", first_name="Rita", last_name="Rep")
    today = timezone.localdate()
    services.task_create(actor=rep, title="Send the proposal", due_on=today - dt.timedelta(days=2))
    services.task_create(actor=rep, title="Call Lucía back", due_on=today, kind="call")
    services.task_create(actor=rep, title="Prepare the demo", due_on=today + dt.timedelta(days=3))

    # Sign in through the login form.
    page.goto(f"{live_server.url}/contacts/")
    expect(page).to_have_url(re.compile(r"/login/\?next=/contacts/"))
    page.get_by_label("Username").fill("rita")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", level=1, name="Contacts")).to_be_visible()

    # Create a contact through the form.
    page.get_by_role("link", name="New contact").click()
    page.get_by_label("First name").fill("Lucía")
    page.get_by_label("Last name").fill("Fernández")
    page.get_by_label("Email").fill("lucia@example.com")
    page.get_by_label("Tags").fill("vip, madrid")
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_role("heading", level=1, name="Lucía Fernández")).to_be_visible()
    expect(page.locator("#messages")).to_contain_text("Contact created.")

    # Find it in the list through the search box (the query lives in the URL).
    services.contact_create(actor=rep, last_name="Someone Else")
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Contacts").click()
    page.get_by_role("searchbox", name="Search contacts").fill("fernández")
    page.get_by_role("button", name="Search", exact=True).click()
    expect(page).to_have_url(re.compile(r"[?&]q=fern"))
    rows = page.locator("table.data-table tbody tr")
    expect(rows).to_have_count(1)
    expect(rows.first.get_by_role("link", name="Lucía Fernández")).to_be_visible()
    _shot(page, "contacts-desktop")
    page.set_viewport_size({"width": 375, "height": 812})
    _shot(page, "contacts-375")
    page.set_viewport_size({"width": 1280, "height": 900})

    # The agenda: mark a task done with htmx; the result is announced in the live region.
    nav = page.get_by_role("navigation", name="Main")
    nav.get_by_role("link", name=re.compile("Agenda")).click()
    expect(page.get_by_role("heading", level=2, name=re.compile("Overdue"))).to_be_visible()
    _shot(page, "agenda-desktop")
    page.set_viewport_size({"width": 375, "height": 812})
    _shot(page, "agenda-375")
    page.set_viewport_size({"width": 1280, "height": 900})
    page.get_by_role("button", name=re.compile(r"^Mark done\W+Send the proposal")).click()
    expect(page.locator("#messages")).to_contain_text("Saved")
    expect(nav).not_to_contain_text("overdue")  # the counts in the navigation follow along
    reopen = page.get_by_role("button", name=re.compile(r"^Reopen\W+Send the proposal"))
    expect(reopen).to_be_focused()

    # Switch the language with the switcher: the page comes back in Spanish.
    page.get_by_label("Language").select_option("es")
    page.get_by_role("button", name="Change language").click()
    expect(page.get_by_role("heading", level=1, name="Agenda")).to_be_visible()
    expect(page.get_by_role("navigation", name="Principal")).to_contain_text("Contactos")
    expect(page.get_by_role("heading", level=2, name=re.compile("Vencidas"))).to_be_visible()
    expect(page.locator("html")).to_have_attribute("lang", "es")
    page.get_by_role("link", name="Contactos").click()
    expect(page.get_by_role("heading", level=1, name="Contactos")).to_be_visible()
    _shot(page, "contacts-es")
