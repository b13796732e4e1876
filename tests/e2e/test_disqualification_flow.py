"""A rep disqualifies a lead while a reason is required and finds it in the insights chart; an
admin turns the question off (and reorders a reason from the keyboard) and the dialog stops
asking."""

import os
import re
import tempfile
from pathlib import Path

import pytest
from playwright.sync_api import expect

from leads import services
from leads.models import Lead, LeadStatus
from tests.e2e.helpers import sign_in
from tests.factories import AdminFactory, LeadFactory, UserFactory

# Screenshots for a human look (desktop and 375 px wide), outside the repository.
SCREENSHOTS = Path(
    os.environ.get("CRM_SCREENSHOTS", Path(tempfile.gettempdir()) / "crm-screenshots")
)

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def _shots(page, name: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{name}-desktop.png"), full_page=True)
    page.set_viewport_size({"width": 375, "height": 812})
    page.screenshot(path=str(SCREENSHOTS / f"{name}-375.png"), full_page=True)
    page.set_viewport_size({"width": 1280, "height": 900})


def test_disqualification_flow(live_server, page):
    admin = AdminFactory(username="ada", first_name="Ada", last_name="Admin")
    rep = UserFactory(username="rita", first_name="Rita", last_name="Rep")
    # Transactional tests flush the tables: make the reasons this story needs.
    for name in ("Budget frozen", "Too small for us"):
        services.disqualification_reason_create(actor=admin, name=name)
    services.lead_settings_update(actor=admin, ask_disqualification_reason=True)
    first = LeadFactory(owner=rep, first_name="Lucía", last_name="Fernández", source="Web")
    second = LeadFactory(owner=rep, first_name="Tomás", last_name="García", source="Fair")

    # --- the rep: a reason is required --------------------------------------------------------
    sign_in(page, live_server.url, "rita")
    page.goto(f"{live_server.url}/leads/{first.pk}/")
    page.get_by_role("link", name="Disqualify").click()
    dialog = page.get_by_role("dialog", name=re.compile("Disqualify Lucía Fernández"))
    expect(dialog).to_be_visible()
    reason = dialog.get_by_label("Reason")
    expect(reason).to_have_attribute("required", "")
    # Submitting without a reason is stopped by the browser: nothing changes.
    dialog.get_by_role("button", name="Disqualify").click()
    expect(dialog).to_be_visible()
    assert reason.evaluate("el => el.validity.valueMissing") is True
    first.refresh_from_db()
    assert first.status != LeadStatus.UNQUALIFIED

    reason.select_option(label="Too small for us")
    dialog.get_by_label("Note").fill("Five employees, no budget this year.")
    dialog.get_by_role("button", name="Disqualify").click()
    expect(page.locator(".notice")).to_contain_text("Disqualified: Too small for us.")
    first.refresh_from_db()
    assert first.status == LeadStatus.UNQUALIFIED

    # The insights chart counts it (the rep sees their own leads).
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Reports").click()
    page.get_by_role("link", name="Disqualification insights").click()
    expect(page.get_by_role("heading", level=1, name="Disqualification insights")).to_be_visible()
    chart = page.get_by_role("table", name=re.compile("^Disqualified leads by reason"))
    row = chart.get_by_role("row", name=re.compile("Too small for us"))
    expect(row.get_by_role("cell").nth(0)).to_have_text("1")
    expect(row.get_by_role("cell").nth(1)).to_have_text("100.0%")
    expect(page.locator(".big-number")).to_have_text("1")
    expect(page.get_by_text("Only your own leads are counted.")).to_be_visible()
    expect(page).to_have_url(re.compile(r"/reports/disqualification/$"))
    page.get_by_role("button", name="Show").click()  # the period lands in the URL
    expect(page).to_have_url(re.compile(r"since=\d{4}-\d\d-\d\d&until=\d{4}-\d\d-\d\d"))
    _shots(page, "disqualification-report")

    # --- the admin: stop asking ---------------------------------------------------------------
    sign_in(page, live_server.url, "ada")
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Settings").click()
    page.get_by_role("navigation", name="Settings").get_by_role("link", name="Leads").click()
    expect(page.get_by_role("heading", level=1, name="Leads")).to_be_visible()
    reasons = page.locator("#reason-table")
    expect(reasons.get_by_role("row", name=re.compile("Too small for us"))).to_contain_text("1")

    # Reorder from the keyboard: htmx swaps the table, focus stays on the button, it is announced.
    move_up = page.get_by_role("button", name="Move up “Too small for us”")
    move_up.focus()
    page.keyboard.press("Enter")
    expect(page.locator("#messages")).to_contain_text("“Too small for us” moved up.")
    expect(page.get_by_role("button", name="Move up “Too small for us”")).to_be_focused()
    names = reasons.locator("tbody th[scope=row]").all_inner_texts()
    assert names.index("Too small for us") == names.index("Budget frozen") - 1

    section = page.get_by_role("region", name="Disqualification", exact=True)
    question = section.get_by_role("group", name="Ask users for a disqualification reason")
    question.get_by_label("No").check()
    section.get_by_role("button", name="Save").click()
    expect(page.locator("#messages")).to_contain_text("the disqualification reason is now optional")
    expect(question.get_by_label("No")).to_be_checked()  # after the reload
    _shots(page, "settings-leads")

    # The dialog no longer asks for a reason.
    page.goto(f"{live_server.url}/leads/{second.pk}/")
    page.get_by_role("link", name="Disqualify").click()
    dialog = page.get_by_role("dialog", name=re.compile("Disqualify Tomás García"))
    expect(dialog).to_be_visible()
    expect(dialog.get_by_label("Reason")).to_have_count(0)
    expect(dialog).to_contain_text("A reason is optional here")
    dialog.get_by_role("button", name="Disqualify").click()
    expect(page.locator(".notice")).to_contain_text("Disqualified without a reason.")
    second = Lead.objects.get(pk=second.pk)
    assert second.status == LeadStatus.UNQUALIFIED and second.disqualification_reason is None

    # The admin's insights count both, the second under "No reason given".
    page.goto(f"{live_server.url}/reports/disqualification/")
    expect(page.locator(".big-number")).to_have_text("2")
    chart = page.get_by_role("table", name=re.compile("^Disqualified leads by reason"))
    expect(chart.get_by_role("row", name=re.compile("No reason given"))).to_contain_text("1")
