"""An admin qualifies a lead on its page (the discovery-call questions), edits a scoring criterion
in Settings > Scoring and watches the rescoring progress bar finish, then finds the new points in
the lead's breakdown; the scoring report. Screenshots (desktop and 375 px) for a human look."""

import os
import re
import tempfile
from pathlib import Path

import pytest
from playwright.sync_api import expect

from leads import services as lead_services
from leads.models import Lead, LeadStatus
from scoring.models import Criterion, JobStatus, RescoreJob
from tests.e2e.helpers import sign_in
from tests.factories import AdminFactory, LeadFactory, UserFactory

SCREENSHOTS = Path(
    os.environ.get("CRM_SCREENSHOTS", Path(tempfile.gettempdir()) / "crm-screenshots")
)

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

DEFAULT_CRITERIA = [
    ("Budget confirmed", "budget", "eq", "yes", 25),
    ("Talking to the decision maker", "authority", "eq", "yes", 25),
    ("Has a need we solve", "need", "eq", "yes", 25),
    ("Buying within 6 months", "timeline", "in", "lt_3m,3_6m", 25),
]


def _shots(page, name: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{name}-desktop.png"), full_page=True)
    page.set_viewport_size({"width": 375, "height": 812})
    page.screenshot(path=str(SCREENSHOTS / f"{name}-375.png"), full_page=True)
    page.set_viewport_size({"width": 1280, "height": 900})


def test_scoring_flow(live_server, page):
    admin = AdminFactory(username="ada", first_name="Ada", last_name="Admin")
    rep = UserFactory(username="rita", first_name="Rita", last_name="Rep")
    # Transactional tests flush the tables afterwards: make the default criteria if missing.
    for name, field, operator, value, points in DEFAULT_CRITERIA:
        Criterion.objects.get_or_create(
            name=name,
            defaults={"field": field, "operator": operator, "value": value, "points": points},
        )
    lead = lead_services.lead_create(
        actor=rep,
        first_name="Lucía",
        last_name="Fernández",
        company="Olivos SL",
        budget="yes",
        authority="yes",
        need="yes",
        timeline="3_6m",
    )
    assert (lead.score, lead.sales_ready) == (100, True)
    # Something to chart in the report: leads with varied answers (they keep their scores when
    # everything is rescored), some of them worked, qualified or converted.
    answers = ["yes", "no", "unknown"]
    timelines = ["lt_3m", "3_6m", "6_12m", "unknown"]
    statuses = [LeadStatus.NEW, LeadStatus.WORKING, LeadStatus.NEW, LeadStatus.QUALIFIED]
    for i in range(16):
        other = lead_services.lead_create(
            actor=rep,
            last_name=f"Prospect {i}",
            budget=answers[i % 3],
            authority=answers[(i // 2) % 3],
            need=answers[(i // 4) % 3],
            timeline=timelines[i % 4],
        )
        Lead.objects.filter(pk=other.pk).update(status=statuses[i % 4])
    lead_services.lead_convert(actor=rep, lead=LeadFactory(owner=rep, company=""))

    sign_in(page, live_server.url, "ada")

    # --- the lead page: score against the threshold, why, and the discovery call -------------
    page.goto(f"{live_server.url}/leads/{lead.pk}/")
    panel = page.get_by_role("region", name="Qualification")
    score = panel.locator("#score")
    expect(score.locator(".score-line")).to_have_text(re.compile(r"100\s*/ 100"))
    expect(score.get_by_role("meter", name="Score against the threshold")).to_have_attribute(
        "value", "100"
    )
    expect(score).to_contain_text("Sales-ready")
    breakdown = score.get_by_role("table", name="Why this score")
    expect(breakdown.get_by_role("row", name=re.compile("Budget confirmed"))).to_contain_text("+25")
    expect(panel.get_by_label("Budget")).to_have_value("yes")
    expect(panel.get_by_text("Can this contact sign?")).to_be_visible()
    _shots(page, "scoring-lead-panel")

    # They now plan to buy in 6 to 12 months: no longer within 6 months, below the threshold.
    panel.get_by_label("Timeline").select_option(label="In 6 to 12 months")
    panel.get_by_label("Industry").fill("Agriculture")
    panel.get_by_role("button", name="Save and rescore").click()
    expect(page.locator("#messages")).to_contain_text("Qualification saved. Score: 75 / 100.")
    score = page.get_by_role("region", name="Qualification").locator("#score")
    expect(score.locator(".score-line")).to_have_text(re.compile(r"75\s*/ 100"))
    expect(score).to_contain_text("Not sales-ready yet")
    expect(score).to_contain_text("25 points to go")
    expect(score.get_by_role("table", name="Why this score")).not_to_contain_text(
        "Buying within 6 months"
    )

    # --- Settings > Scoring: edit a criterion, watch the rescoring finish --------------------
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Settings").click()
    page.get_by_role("navigation", name="Settings").get_by_role("link", name="Scoring").click()
    expect(page.get_by_role("heading", level=1, name="Scoring")).to_be_visible()
    criteria = page.get_by_role("table", name=re.compile("Scoring criteria"))
    row = criteria.get_by_role("row", name=re.compile("Budget confirmed"))
    expect(row).to_contain_text("Budget is Yes")
    row.get_by_role("link", name="Edit “Budget confirmed”").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Edit criterion “Budget confirmed”")

    # Choosing "is one of" redraws the value as tick boxes (htmx); focus stays on the select.
    condition = page.get_by_label("Condition")
    condition.focus()
    condition.select_option("in")
    values = page.get_by_role("group", name="Values")
    expect(values.get_by_role("checkbox")).to_have_count(3)
    expect(page.get_by_label("Condition")).to_be_focused()
    values.get_by_label("Yes").check()
    page.get_by_label("Points").fill("40")
    page.get_by_role("button", name="Save").click()

    expect(page.locator("#messages")).to_contain_text("Criterion “Budget confirmed” saved.")
    rescoring = page.get_by_role("region", name="Rescoring")
    progress = rescoring.get_by_role("progressbar", name="Progress of the latest rescoring")
    # Celery is eager here: the job ran on commit, so the bar is full and says so.
    expect(rescoring.locator(".job-status")).to_contain_text("Done")
    job = RescoreJob.objects.order_by("-id").first()
    assert job.status == JobStatus.DONE and job.created_by == admin
    expect(progress).to_have_attribute("max", str(job.total))
    expect(progress).to_have_attribute("value", str(job.total))
    expect(rescoring).to_contain_text(f"{job.total} of {job.total} leads scored")
    expect(rescoring.locator("[hx-trigger]")).to_have_count(0)
    expect(criteria.get_by_role("row", name=re.compile("Budget confirmed"))).to_contain_text(
        "Budget is one of Yes"
    )

    # A job run by a worker: the page polls every second and shows it finish.
    running = RescoreJob.objects.create(
        created_by=admin, status=JobStatus.RUNNING, processed=40, total=160
    )
    page.reload()
    rescoring = page.get_by_role("region", name="Rescoring")
    progress = rescoring.get_by_role("progressbar", name="Progress of the latest rescoring")
    expect(progress).to_have_attribute("value", "40")
    expect(rescoring).to_contain_text("40 of 160 leads scored")
    expect(rescoring.get_by_role("link", name="Refresh")).to_be_visible()
    _shots(page, "scoring-settings-progress")
    RescoreJob.objects.filter(pk=running.pk).update(processed=120)
    expect(progress).to_have_attribute("value", "120", timeout=5000)
    RescoreJob.objects.filter(pk=running.pk).update(status=JobStatus.DONE, processed=160)
    expect(rescoring.locator(".job-status")).to_contain_text("Done", timeout=5000)
    expect(progress).to_have_attribute("value", "160")
    expect(rescoring.get_by_role("link", name="Refresh")).to_have_count(0)
    expect(page.locator("#messages")).to_contain_text("Rescoring done: 160 leads scored.")

    # --- the lead's breakdown shows the new points --------------------------------------------
    assert Lead.objects.get(pk=lead.pk).score == 90
    page.goto(f"{live_server.url}/leads/{lead.pk}/")
    score = page.get_by_role("region", name="Qualification").locator("#score")
    expect(score.locator(".score-line")).to_have_text(re.compile(r"90\s*/ 100"))
    expect(
        score.get_by_role("table", name="Why this score").get_by_role(
            "row", name=re.compile("Budget confirmed")
        )
    ).to_contain_text("+40")
    expect(score).to_contain_text("10 points to go")

    # --- the lead list and the report ---------------------------------------------------------
    page.goto(f"{live_server.url}/leads/?sort=-score")
    first = page.get_by_role("row").nth(1)
    expect(first).to_contain_text("Sales-ready")
    page.goto(f"{live_server.url}/reports/")
    page.get_by_role("link", name="Scoring").click()
    expect(page.get_by_role("heading", level=1, name="Scoring")).to_be_visible()
    funnel = page.get_by_role("table", name=re.compile("reached each step"))
    expect(funnel.get_by_role("row", name=re.compile("New"))).to_contain_text("18")
    expect(funnel.get_by_role("row", name=re.compile("Converted"))).to_contain_text("5.6%")
    _shots(page, "scoring-report")
