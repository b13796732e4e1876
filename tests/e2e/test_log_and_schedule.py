"""Issue #9, point 3 in the browser: on a deal's page, "Log activity" → "Save" (two actions, the
dialog comes prefilled) logs the call and schedules the next task without leaving the page: the
tasks, the history and the next-activity badge are swapped in, the result is announced, focus
goes back to the button. Errors stay in the dialog. The same in Spanish on a lead's page."""

import re

import pytest
from playwright.sync_api import expect

from crm.models import Event, Task
from tests.e2e.helpers import sign_in
from tests.factories import ContactFactory, LeadFactory, OpportunityFactory, UserFactory

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def test_log_and_schedule_in_two_clicks(live_server, page):
    rep = UserFactory(username="rita", first_name="Rita", last_name="Rep")
    deal = OpportunityFactory(contact=ContactFactory(owner=rep), name="Acme renewal")
    sign_in(page, live_server.url, "rita")
    page.goto(f"{live_server.url}/opportunities/{deal.pk}/")
    expect(page.locator("#next-activity")).to_contain_text("No next activity")
    url = page.url

    # From here on, nothing may navigate or reload the page.
    loads = []
    page.on("load", lambda: loads.append("load"))
    page.on("framenavigated", lambda frame: loads.append(frame.url))

    opener = page.get_by_role("link", name="Log activity")
    opener.click()  # action 1
    dialog = page.get_by_role("dialog", name=re.compile("Log a call or note"))
    expect(dialog).to_be_visible()
    expect(dialog.get_by_role("radio", name="Call")).to_be_checked()
    expect(dialog.get_by_label("Outcome")).to_have_value("answered")
    expect(dialog.get_by_label("Next task")).to_have_value("Follow up: Acme renewal")
    dialog.get_by_role("button", name="Save").click()  # action 2

    expect(dialog).to_be_hidden()
    expect(page.locator("#record-tasks")).to_contain_text("Follow up: Acme renewal")
    expect(page.locator("#timeline")).to_contain_text("Rita Rep logged a call: Answered.")
    expect(page.locator("#next-activity")).not_to_contain_text("No next activity")
    expect(page.locator("#messages")).to_contain_text("Call logged. Next task")
    expect(opener).to_be_focused()
    assert page.url == url
    assert loads == []
    task = Task.objects.get(opportunity=deal, done=False)
    assert task.owner == rep and task.kind == "call"
    assert Event.objects.filter(kind="activity_logged", opportunity=deal).count() == 1

    # A call without an outcome: the dialog stays open with the error; nothing is saved.
    opener.click()
    dialog.get_by_label("Outcome").select_option("")
    dialog.get_by_role("button", name="Save").click()
    expect(dialog).to_be_visible()
    expect(dialog).to_contain_text("How did the call go? Choose an outcome.")
    assert Event.objects.filter(kind="activity_logged").count() == 1
    # Then a note instead, with nothing scheduled.
    dialog.get_by_role("radio", name="Note").check()
    dialog.get_by_role("textbox", name="Note").fill("They want a discount")
    dialog.get_by_label("Next task").fill("")
    dialog.get_by_label("Due on").fill("")
    dialog.get_by_role("button", name="Save").click()
    expect(dialog).to_be_hidden()
    expect(page.locator("#timeline")).to_contain_text("They want a discount")
    assert page.url == url and loads == []
    assert Task.objects.filter(opportunity=deal).count() == 1


def test_spanish_lead_page(live_server, page):
    rep = UserFactory(username="rosa", first_name="Rosa", last_name="Rep")
    lead = LeadFactory(owner=rep, first_name="Luis", last_name="López")
    sign_in(page, live_server.url, "rosa")
    page.context.add_cookies([{"name": "django_language", "value": "es", "url": live_server.url}])
    page.goto(f"{live_server.url}/leads/{lead.pk}/")
    url = page.url
    loads = []
    page.on("load", lambda: loads.append("load"))
    page.locator("#log-open").click()
    dialog = page.locator("#log-dialog")
    expect(dialog).to_be_visible()
    dialog.locator("#log-save").click()
    expect(dialog).to_be_hidden()
    expect(page.locator("#record-tasks")).to_contain_text("López")
    # The badge shows the Spanish date (d/m/Y).
    expect(page.locator("#next-activity")).to_contain_text(re.compile(r"\d\d/\d\d/\d{4}"))
    assert page.url == url and loads == []
    assert Task.objects.filter(lead=lead, done=False).count() == 1
