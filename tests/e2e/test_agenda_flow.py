"""A rep completes a task about a lead from the agenda, answers "How did it go?" with "Promising
prospect", and finds the lead tagged and its follow-up 14 days out; an admin looks at the rep's
agenda and at Settings > Ratings."""

import datetime as dt
import importlib
import os
import re
import tempfile
from pathlib import Path

import pytest
from django.utils import timezone, translation
from django.utils.formats import date_format
from playwright.sync_api import expect

from crm import services as crm_services
from crm.models import Task
from leads import services
from leads.models import Lead, Rating
from tests.e2e.helpers import sign_in
from tests.factories import AdminFactory, LeadFactory, UserFactory

# Screenshots for a human look (desktop and 375 px wide), outside the repository.
SCREENSHOTS = Path(
    os.environ.get("CRM_SCREENSHOTS", Path(tempfile.gettempdir()) / "crm-screenshots")
)

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

DEFAULT_RATINGS = importlib.import_module("leads.migrations.0005_default_ratings").DEFAULT_RATINGS


def _shots(page, name: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{name}-desktop.png"), full_page=True)
    page.set_viewport_size({"width": 375, "height": 812})
    page.screenshot(path=str(SCREENSHOTS / f"{name}-375.png"), full_page=True)
    page.set_viewport_size({"width": 1280, "height": 900})


def test_agenda_flow(live_server, page):
    admin = AdminFactory(username="ada", first_name="Ada", last_name="Admin")
    rep = UserFactory(username="rita", first_name="Rita", last_name="Rep")
    # Transactional tests flush the tables afterwards: make the six default ratings if missing.
    for name, applies_tag, days, colour, icon in DEFAULT_RATINGS:
        if Rating.objects.filter(name=name).exists():
            continue
        services.rating_create(
            actor=admin,
            name=name,
            applies_tag=applies_tag,
            follow_up_days=days,
            colour=colour,
            icon=icon,
        )
    today = timezone.localdate()
    lead = LeadFactory(owner=rep, first_name="Lucía", last_name="Fernández", company="Olivos SL")
    other_lead = LeadFactory(owner=rep, first_name="Tomás", last_name="García")
    crm_services.task_create(actor=rep, title="Call Lucía", due_on=today, kind="call", lead=lead)
    crm_services.task_create(actor=rep, title="Buy stamps", due_on=today)
    crm_services.task_create(
        actor=rep, title="Email Tomás", due_on=today - dt.timedelta(days=1), lead=other_lead
    )

    # --- the rep: "How did it go?" ------------------------------------------------------------
    sign_in(page, live_server.url, "rita")
    nav = page.get_by_role("navigation", name="Main")
    expect(nav).to_contain_text("2 today")
    expect(page.get_by_role("heading", level=1, name="Agenda")).to_be_visible()
    # The radios waiting in closed dialogs do not take the focus when the page loads.
    assert page.evaluate("document.activeElement === document.body")

    # Esc closes the dialog and focus goes back to the opener.
    opener = page.get_by_role("link", name=re.compile(r"^Mark done\W+Email Tomás"))
    opener.click()
    dialog = page.get_by_role("dialog", name="How did it go?")
    expect(dialog).to_be_visible()
    page.keyboard.press("Escape")
    expect(dialog).to_be_hidden()
    expect(opener).to_be_focused()

    page.get_by_role("link", name=re.compile(r"^Mark done\W+Call Lucía")).click()
    dialog = page.get_by_role("dialog", name="How did it go?")
    expect(dialog).to_be_visible()
    expect(dialog).to_contain_text("Completing “Call Lucía” · Lead: Lucía Fernández")
    choices = dialog.get_by_role("group", name="Rate Lucía Fernández")
    expect(choices.get_by_role("radio")).to_have_count(7)  # six ratings and "leave blank"
    blank = choices.get_by_label("Leave blank (no automatic follow-up)")
    expect(blank).to_be_checked()
    expect(blank).to_be_focused()  # the dialog opens on the current choice
    expect(choices.get_by_label(re.compile("Promising prospect"))).to_have_accessible_name(
        re.compile(r"Promising prospect\s+in 14 days")
    )
    expect(choices.get_by_label(re.compile("Not interested"))).to_have_accessible_name(
        re.compile("no follow-up")
    )
    _shots(page, "agenda-dialog")

    choices.get_by_label(re.compile("Promising prospect")).check()
    dialog.get_by_label(re.compile("^Note")).fill("Wants a demo in two weeks.")
    dialog.get_by_role("button", name="Mark done").click()

    # The task leaves the agenda, the result is announced, the counts follow, focus moves on.
    messages = page.locator("#messages")
    expect(messages).to_contain_text("Task “Call Lucía” marked as done.")
    expect(messages).to_contain_text(
        "Lucía Fernández classified as Promising prospect. Follow-up scheduled in 14 days"
    )
    expect(page.get_by_role("dialog")).to_have_count(0)
    expect(page.locator("#agenda-sections")).not_to_contain_text("Call Lucía")
    expect(nav).to_contain_text("1 today")
    expect(page.get_by_role("button", name=re.compile(r"^Mark done\W+Buy stamps"))).to_be_focused()
    today_heading = page.get_by_role("heading", level=2, name=re.compile("Today"))
    expect(today_heading).to_contain_text("(1)")

    # Celery ran on commit: the follow-up exists, 14 days out (beyond the agenda's 7 days).
    due = today + dt.timedelta(days=14)
    follow_up = Task.objects.get(lead=lead, is_follow_up=True)
    assert follow_up.due_on == due and not follow_up.done and follow_up.owner == rep
    assert Lead.objects.get(pk=lead.pk).rating.name == "Promising prospect"
    expect(page.locator("#agenda-sections")).not_to_contain_text(follow_up.title)

    # A follow-up 7 days out lands in "Next 7 days" at once, with its rating's tag.
    page.get_by_role("link", name=re.compile(r"^Mark done\W+Email Tomás")).click()
    dialog = page.get_by_role("dialog", name="How did it go?")
    dialog.get_by_label(re.compile("Potential consultant")).check()
    dialog.get_by_role("button", name="Mark done").click()
    expect(page.locator("#messages")).to_contain_text("Follow-up scheduled in 7 days")
    upcoming = page.get_by_role("region", name=re.compile("Next 7 days"))
    item = upcoming.get_by_role("listitem").filter(has_text="Follow up with Tomás García")
    expect(item.locator(".agenda-heading .rating-tag")).to_have_text(
        re.compile("Potential consultant$")
    )
    expect(nav).not_to_contain_text("overdue")
    _shots(page, "agenda-after")

    # The lead page: the tag, and the follow-up among its tasks.
    with translation.override("en"):
        due_text = date_format(due, "SHORT_DATE_FORMAT")
    page.goto(f"{live_server.url}/leads/{lead.pk}/")
    head = page.locator(".page-head")
    expect(head.locator(".rating-tag")).to_have_text(re.compile(r"Promising prospect$"))
    tasks = page.get_by_role("region", name="Tasks")
    row = tasks.get_by_role("row", name=re.compile(re.escape(follow_up.title)))
    expect(row).to_contain_text(due_text)
    expect(row).to_contain_text("Open")
    expect(page.get_by_label("Rating")).to_have_value(str(follow_up.lead.rating_id))
    timeline = page.get_by_role("region", name="History")
    expect(timeline).to_contain_text(
        "Rita Rep classified the lead as Promising prospect (follow-up in 14 days)."
    )
    _shots(page, "lead-rating")

    # The task list filtered by the lead shows it too.
    page.goto(f"{live_server.url}/tasks/?lead={lead.pk}&done=false")
    expect(page.get_by_role("row", name=re.compile(re.escape(follow_up.title)))).to_contain_text(
        due_text
    )

    # The tag in the lead list, and the rating filter.
    page.goto(f"{live_server.url}/leads/")
    expect(page.get_by_role("row", name=re.compile("Lucía Fernández"))).to_contain_text(
        "Promising prospect"
    )

    # --- the admin: Rita's agenda, Settings > Ratings -------------------------------------------
    sign_in(page, live_server.url, "ada")
    page.get_by_label("Rep").select_option(label="Rita Rep")
    page.get_by_role("button", name="Show agenda").click()
    expect(page).to_have_url(re.compile(rf"\?user={rep.pk}$"))
    expect(page.get_by_text("Open tasks of Rita Rep")).to_be_visible()
    expect(page.locator("#agenda-sections")).to_contain_text("Buy stamps")

    page.get_by_role("navigation", name="Main").get_by_role("link", name="Settings").click()
    page.get_by_role("navigation", name="Settings").get_by_role("link", name="Ratings").click()
    expect(page.get_by_role("heading", level=1, name="Ratings")).to_be_visible()
    table = page.locator("#rating-table")
    row = table.get_by_role("row", name=re.compile("Promising prospect"))
    expect(row).to_contain_text("14 days")
    expect(row).to_contain_text("Yes")
    expect(row.get_by_role("link", name="Archive “Promising prospect”")).to_be_visible()
    expect(
        table.get_by_role("row", name=re.compile("Undecided")).get_by_role(
            "link", name="Delete “Undecided”"
        )
    ).to_be_visible()

    page.get_by_role("link", name="New rating").click()
    expect(page.get_by_role("heading", level=1, name="New rating")).to_be_visible()
    _shots(page, "settings-rating-form")
    page.get_by_label("Name").fill("Hot")
    page.get_by_label("Follow-up in days").fill("-2")
    page.get_by_role("button", name="Save").click()
    # The browser refuses a negative number; without that check the server would.
    expect(page.get_by_role("heading", level=1, name="New rating")).to_be_visible()
    page.get_by_label("Follow-up in days").fill("3")
    page.get_by_role("button", name="Save").click()
    expect(page.locator("#messages")).to_contain_text("Rating “Hot” added.")
    expect(table.get_by_role("row", name=re.compile("Hot"))).to_contain_text("3 days")

    move_up = page.get_by_role("button", name="Move up “Likely”")
    move_up.focus()
    page.keyboard.press("Enter")
    expect(page.locator("#messages")).to_contain_text("“Likely” moved up.")
    expect(page.get_by_role("button", name="Move up “Likely”")).to_be_focused()
    names = table.locator("tbody th[scope=row]").all_inner_texts()
    assert [n.split(maxsplit=1)[-1] for n in names][:3] == [
        "Potential consultant",
        "Likely",
        "Promising prospect",
    ]
    _shots(page, "settings-ratings")
