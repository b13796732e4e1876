"""Issue #9.5-7 in a real browser: tick rows and change their owner after a confirmation that
says how many; save a filtered list as a view, reload and get the filters back from its tab;
archive a lead and bring it back with Undo; then the same page in Spanish."""

import re

import pytest
from playwright.sync_api import expect

from leads.models import Lead
from tests.e2e.helpers import sign_in
from tests.factories import LeadFactory, UserFactory

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def test_bulk_owner_change_saved_view_and_undo(live_server, page):
    rep = UserFactory(username="rita", first_name="Rita", last_name="Rep")
    UserFactory(username="otto", first_name="Otto", last_name="Other")
    for name in ("Alba", "Bruno", "Carla"):
        LeadFactory(owner=rep, last_name=name, status="new")
    LeadFactory(owner=rep, last_name="Working One", status="working")
    LeadFactory(owner=rep, last_name="Working Two", status="working")
    base = live_server.url
    sign_in(page, base, "rita")

    # Bulk: the new leads, ticked with "select all" on a filtered page, go to Otto.
    page.goto(f"{base}/leads/?status=new")
    page.get_by_role("checkbox", name="Select all on this page").check()
    expect(page.locator("[data-bulk-count]")).to_have_text("3 ticked.")
    toolbar = page.get_by_role("group", name="With the ticked rows")
    toolbar.get_by_label("Action").select_option(label="Change owner")
    expect(toolbar.get_by_label("Tag")).to_have_count(0)  # contacts only
    expect(toolbar.get_by_label("Disqualification reason")).to_be_hidden()  # not this action
    toolbar.get_by_label("New owner").select_option(label="Otto Other")
    page.get_by_role("button", name="Continue…").click()
    expect(page.get_by_text("3 leads will be reassigned to Otto Other.")).to_be_visible()
    page.get_by_role("button", name="Confirm").click()
    expect(page).to_have_url(re.compile(r"/leads/\?status=new$"))
    expect(page.locator("#messages")).to_contain_text("Change owner: 3 records changed.")
    assert Lead.objects.filter(owner__username="otto").count() == 3

    # Saved view: the working leads, sorted by name, saved as a tab.
    page.goto(f"{base}/leads/?status=working&sort=name&page=1")
    page.get_by_text("Save this view").click()
    page.get_by_label("Name of the view").fill("My working")
    page.get_by_role("button", name="Save view").click()
    expect(page.locator("#messages")).to_contain_text("View “My working” saved.")
    page.goto(f"{base}/leads/")
    tabs = page.get_by_role("navigation", name="Saved views")
    tabs.get_by_role("link", name="My working").click()
    expect(page).to_have_url(re.compile(r"/leads/\?status=working&sort=name$"))
    page.reload()
    expect(tabs.get_by_role("link", name="My working")).to_have_attribute("aria-current", "page")
    rows = page.locator("table.data-table tbody th[scope=row]")
    expect(rows).to_have_text([re.compile("Working One"), re.compile("Working Two")])

    # Archive from the lead's page (the dialog), then Undo from the list's message.
    page.get_by_role("link", name=re.compile("Working One")).click()
    page.get_by_role("link", name="Archive").click()
    page.get_by_role("dialog").get_by_role("button", name="Archive").click()
    messages = page.locator("#messages")
    expect(messages).to_contain_text("Lead archived.")
    expect(page.locator("table.data-table")).not_to_contain_text("Working One")
    messages.get_by_role("button", name="Undo").click()
    expect(messages).to_contain_text("Lead restored.")
    expect(page.locator("table.data-table")).to_contain_text("Working One")
    assert Lead.objects.get(last_name="Working One").archived_at is None

    # In Spanish the list, its tabs and the toolbar render the same way (the strings come from
    # the catalog; the saved view keeps its name).
    page.get_by_label("Language").select_option("es")
    page.get_by_role("button", name="Change language").click()
    expect(page.locator("html")).to_have_attribute("lang", "es")
    expect(page.locator("#bulk-form")).to_be_visible()
    expect(page.locator(".view-tabs")).to_contain_text("My working")
