"""Global search by keyboard only: Ctrl-K, type part of a phone, arrow down, Enter; a command
through "/"; Esc closes the dialog and focus goes back to the Search link."""

import os
import re
import tempfile
from pathlib import Path

import pytest
from playwright.sync_api import expect

from tests.conftest import PASSWORD
from tests.factories import LeadFactory, UserFactory

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

# Screenshots for a human look, outside the repository (as in test_contact_flow).
SCREENSHOTS = Path(
    os.environ.get("CRM_SCREENSHOTS", Path(tempfile.gettempdir()) / "crm-screenshots")
)


def _sign_in(page, live_server, username):
    page.goto(f"{live_server.url}/login/")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_label("Password").press("Enter")
    expect(page.get_by_role("heading", level=1)).to_be_visible()
    # The heading is parsed before the deferred search.js runs; a key pressed in between follows
    # the link to /search/ (the no-JavaScript path), so wait for the scripts to have run.
    page.wait_for_load_state("load")


def test_ctrl_k_search_by_keyboard_only(live_server, page):
    rita = UserFactory(username="rita", first_name="Rita", last_name="Rep")
    other = UserFactory(username="otto")
    lead = LeadFactory(
        owner=rita, first_name="Lucía", last_name="Fernández", phone="+34 600 11 22 33"
    )
    LeadFactory(owner=rita, first_name="Luis", last_name="Fernández", phone="")
    LeadFactory(owner=other, first_name="Lucía", last_name="Ajena", phone="+34 600 11 22 33")
    _sign_in(page, live_server, "rita")

    dialog = page.get_by_role("dialog", name="Search")
    box = page.get_by_role("combobox", name=re.compile("Find a lead"))
    page.keyboard.press("Control+k")
    expect(dialog).to_be_visible()
    expect(box).to_be_focused()
    expect(
        page.get_by_role("listbox", name="Results and commands").get_by_role(
            "option", name=re.compile("New lead")
        )
    ).to_be_visible()

    page.keyboard.type("611 22")
    option = page.get_by_role("listbox", name="Results and commands").get_by_role(
        "option", name=re.compile("Lucía Fernández")
    )
    expect(option).to_be_visible()
    expect(option).to_contain_text("Lead")  # the kind in words
    expect(
        page.get_by_role("listbox", name="Results and commands").get_by_role("option")
    ).to_have_count(1)  # not the other rep's lead
    expect(page.locator("#search-status")).to_have_text("1 record found.")
    expect(box).to_have_attribute("aria-expanded", "true")

    page.keyboard.press("ArrowDown")
    expect(box).to_have_attribute("aria-activedescendant", option.get_attribute("id"))
    expect(option).to_have_attribute("aria-selected", "true")
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / "search-dialog.png"))
    page.keyboard.press("Enter")
    expect(page).to_have_url(re.compile(rf"/leads/{lead.pk}/$"))
    expect(page.get_by_role("heading", level=1, name="Lucía Fernández")).to_be_visible()

    # "/" opens it too; a command, chosen with the arrows.
    page.locator("body").press("/")
    expect(box).to_be_focused()
    page.keyboard.type("new task")
    command = page.get_by_role("listbox", name="Results and commands").get_by_role(
        "option", name=re.compile("New task")
    )
    expect(command).to_be_visible()
    expect(command).to_contain_text("Command")
    page.keyboard.press("ArrowDown")
    page.keyboard.press("Enter")
    expect(page).to_have_url(re.compile(r"/tasks/new/$"))


def test_escape_closes_and_returns_focus_and_enter_without_choice_opens_the_page(live_server, page):
    rita = UserFactory(username="rita")
    LeadFactory(owner=rita, first_name="Ana", last_name="Quiroga", company="Quiroga SL")
    _sign_in(page, live_server, "rita")

    opener = page.get_by_role("link", name=re.compile(r"^Search"))
    opener.focus()
    page.keyboard.press("Enter")
    dialog = page.get_by_role("dialog", name="Search")
    expect(dialog).to_be_visible()
    expect(page.get_by_role("combobox", name=re.compile("Find a lead"))).to_be_focused()
    page.keyboard.press("Escape")
    expect(dialog).to_be_hidden()
    expect(opener).to_be_focused()

    # Arrows wrap around; Enter with nothing chosen lists everything on the search page.
    page.keyboard.press("Control+k")
    page.keyboard.type("quiroga")
    expect(
        page.get_by_role("listbox", name="Results and commands").get_by_role("option")
    ).to_have_count(1)
    page.keyboard.press("ArrowUp")
    expect(
        page.get_by_role("listbox", name="Results and commands").get_by_role(
            "option", name=re.compile("Ana Quiroga")
        )
    ).to_have_attribute("aria-selected", "true")
    page.keyboard.press("ArrowDown")  # from the last back to the first: the same one
    page.keyboard.press("Control+a")
    page.keyboard.type("quiroga sl")
    expect(
        page.get_by_role("listbox", name="Results and commands").get_by_role(
            "option", name=re.compile("Quiroga SL")
        )
    ).to_be_visible()
    expect(page.get_by_role("combobox", name=re.compile("Find a lead"))).not_to_have_attribute(
        "aria-activedescendant", re.compile(".")
    )
    page.keyboard.press("Enter")
    expect(page).to_have_url(re.compile(r"/search/\?q=quiroga\+sl$"))
    expect(page.get_by_role("heading", level=1, name="Search")).to_be_visible()
    expect(page.get_by_role("link", name=re.compile("Ana Quiroga"))).to_be_visible()
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / "search-page.png"))
