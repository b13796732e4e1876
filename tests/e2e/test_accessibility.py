"""axe-core (vendored in ``tests/e2e/vendor``, never served) finds no WCAG 2.2 A/AA violation on
the core pages, the settings pages and the public buy-now checkout in its three skins. Nothing is
excluded and no rule is disabled: a failure lists each violation with its failing nodes."""

import datetime as dt
import os
import re
import tempfile
from decimal import Decimal
from pathlib import Path

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from opportunities.models import BuyNowSkin, Stage
from opportunities.services import (
    loss_reason_create,
    opportunity_move,
    opportunity_settings_get,
    opportunity_settings_update,
    stage_update,
    win_reason_create,
)
from opportunities.services_automation import enrollment_start, sequence_create
from opportunities.services_buynow import buy_now_link_create, link_path
from tests.e2e.helpers import sign_in
from tests.factories import (
    AdminFactory,
    ContactFactory,
    LeadFactory,
    OpportunityFactory,
    TaskFactory,
    UserFactory,
)

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

AXE = Path(__file__).parent / "vendor" / "axe.min.js"
TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa"]
SCREENSHOTS = Path(
    os.environ.get("CRM_SCREENSHOTS", Path(tempfile.gettempdir()) / "crm-screenshots")
)


def _world() -> dict:
    """An admin, a rep with leads, contacts, deals in several stages, overdue/today/later tasks,
    a sequence with an enrollment and a buy-now link per checkout skin."""
    admin = AdminFactory(username="ada", first_name="Ada", last_name="Admin")
    rep = UserFactory(username="rita", first_name="Rita", last_name="Rep")
    today = timezone.localdate()
    leads = [
        LeadFactory(owner=rep, first_name="Lucía", last_name="Fernández", phone="+34 600 11 22 33"),
        LeadFactory(owner=rep, first_name="Luis", last_name="Gómez"),
        LeadFactory(owner=rep, first_name="Marta", last_name="Ruiz"),
    ]
    contacts = [
        ContactFactory(owner=rep, first_name="Carmen", last_name="López"),
        ContactFactory(owner=rep, first_name="Pablo", last_name="Sanz"),
    ]
    open_stages = list(
        Stage.objects.filter(probability__gt=0, probability__lt=100).order_by("order")
    )
    deals = []
    for i, stage in enumerate(open_stages[:3]):
        deal = OpportunityFactory(
            owner=rep, contact=contacts[i % 2], name=f"Acme deal {i + 1}", amount=1000 * (i + 1)
        )
        if stage != deal.stage:
            deal = opportunity_move(actor=rep, opportunity=deal, stage=stage)
        deals.append(deal)
    settings = opportunity_settings_get()
    won = OpportunityFactory(owner=rep, contact=contacts[1], name="Acme won", amount=500)
    opportunity_move(
        actor=rep,
        opportunity=won,
        stage=settings.win_stage,
        win_reason=win_reason_create(actor=admin, name="Chose us after the trial"),
    )
    lost = OpportunityFactory(owner=rep, contact=contacts[0], name="Acme lost", amount=700)
    opportunity_move(
        actor=rep,
        opportunity=lost,
        stage=settings.loss_stage,
        loss_reason=loss_reason_create(actor=admin, name="Went quiet after the demo"),
    )
    stage_update(actor=admin, stage=open_stages[0], rot_days=3)
    rotting = OpportunityFactory(
        owner=rep,
        contact=contacts[1],
        name="Acme rotting",
        stage=open_stages[0],
        stage_entered_at=timezone.now() - dt.timedelta(days=10),
    )
    deals += [won, lost, rotting]
    TaskFactory(owner=rep, title="Overdue call", due_on=today - dt.timedelta(days=2), lead=leads[0])
    TaskFactory(owner=rep, title="Today's call", due_on=today, opportunity=deals[0])
    TaskFactory(
        owner=rep, title="Later visit", due_on=today + dt.timedelta(days=5), contact=contacts[1]
    )
    sequence = sequence_create(
        actor=admin,
        name="Welcome",
        steps=[
            {"day_offset": 0, "kind": "task", "title": "Intro call", "body": "Say hello."},
            {"day_offset": 3, "kind": "task", "title": "Follow up", "body": ""},
        ],
    )
    enrollment_start(actor=admin, sequence=sequence, contact=contacts[0], opportunity=deals[0])
    links = {}
    for skin in BuyNowSkin.values:
        opportunity_settings_update(actor=admin, buy_now_skin=skin)
        links[skin] = buy_now_link_create(
            actor=rep,
            opportunity=deals[0],
            product=f"Acme licences ({skin})",
            amount=Decimal("1200"),
        )
    return {"leads": leads, "deals": deals, "links": links}


def _ctrl_k(page) -> None:
    page.keyboard.press("Control+k")
    expect(page.get_by_role("dialog", name="Search")).to_be_visible()
    page.keyboard.type("Fern")
    results = page.get_by_role("listbox", name="Results and commands")
    expect(results.get_by_role("option").first).to_be_visible()


def _log_dialog(page) -> None:
    page.get_by_role("link", name="Log activity").click()
    expect(page.get_by_role("dialog", name=re.compile("Log"))).to_be_visible()


def _buy_now_form(page) -> None:
    page.get_by_text("New buy-now link").click()
    expect(page.get_by_label("Product")).to_be_visible()


def _reason_dialog(page) -> None:
    card = page.locator(".board-card").first
    card.get_by_role("combobox").select_option(label="Won")
    card.get_by_role("button", name=re.compile("^Move")).click()
    expect(page.get_by_role("dialog", name=re.compile("Why was this deal won"))).to_be_visible()


def _buy_with_errors(page) -> None:
    page.get_by_role("button", name="Buy now").click()
    expect(page.get_by_text("This field is required.").first).to_be_visible()


def _submit_empty(button: str):
    """Send the form as it is, past the browser's own checks, to see the server's errors."""

    def action(page) -> None:
        page.evaluate("document.querySelectorAll('form').forEach(f => { f.noValidate = true; })")
        page.locator("main").get_by_role("button", name=button, exact=True).click()
        expect(page.locator(".errorlist, .form-errors").first).to_be_visible()

    return action


# (id, who signs in, path from the world, what to do on the page before checking)
PAGES = (
    [
        ("agenda", "rita", lambda w: "/", None),
        ("lead-list", "rita", lambda w: "/leads/", None),
        ("lead-page", "rita", lambda w: f"/leads/{w['leads'][0].pk}/", None),
        ("board", "rita", lambda w: "/opportunities/board/", None),
        ("opportunity-page", "rita", lambda w: f"/opportunities/{w['deals'][0].pk}/", None),
        ("board-reason-dialog", "rita", lambda w: "/opportunities/board/", _reason_dialog),
        (
            "opportunity-log-dialog",
            "rita",
            lambda w: f"/opportunities/{w['deals'][0].pk}/",
            _log_dialog,
        ),
        (
            "opportunity-buy-now-form",
            "rita",
            lambda w: f"/opportunities/{w['deals'][0].pk}/",
            _buy_now_form,
        ),
        ("won-opportunity-page", "rita", lambda w: f"/opportunities/{w['deals'][-3].pk}/", None),
        (
            "rotting-opportunity-page",
            "rita",
            lambda w: f"/opportunities/{w['deals'][-1].pk}/",
            None,
        ),
        ("opportunity-list", "rita", lambda w: "/opportunities/", None),
        ("lead-form-errors", "rita", lambda w: "/leads/new/", _submit_empty("Save")),
        ("task-form-errors", "rita", lambda w: "/tasks/new/", _submit_empty("Save")),
        ("login", None, lambda w: "/login/", None),
        ("contact-list", "rita", lambda w: "/contacts/", None),
        ("contact-page", "rita", lambda w: f"/contacts/{w['deals'][0].contact_id}/", None),
        ("task-list", "rita", lambda w: "/tasks/", None),
        ("reports", "ada", lambda w: "/reports/", None),
        ("report-win-loss", "ada", lambda w: "/reports/win-loss/", None),
        ("report-disqualification", "ada", lambda w: "/reports/disqualification/", None),
        ("report-scoring", "ada", lambda w: "/reports/scoring/", None),
        ("search", "rita", lambda w: "/search/?q=Fern", None),
        ("ctrl-k-dialog", "rita", lambda w: "/", _ctrl_k),
        ("settings", "ada", lambda w: "/settings/", None),
        ("settings-users", "ada", lambda w: "/settings/users/", None),
        ("settings-teams", "ada", lambda w: "/settings/teams/", None),
        ("settings-leads", "ada", lambda w: "/settings/leads/", None),
        ("settings-ratings", "ada", lambda w: "/settings/ratings/", None),
        ("settings-scoring", "ada", lambda w: "/settings/scoring/", None),
        ("settings-pipeline", "ada", lambda w: "/settings/pipeline/", None),
        (
            "settings-pipeline-errors",
            "ada",
            lambda w: "/settings/pipeline/",
            _submit_empty("Add stage"),
        ),
        ("settings-leads-errors", "ada", lambda w: "/settings/leads/", _submit_empty("Add reason")),
        ("settings-user-errors", "ada", lambda w: "/settings/users/new/", _submit_empty("Save")),
        ("settings-opportunities", "ada", lambda w: "/settings/opportunities/", None),
        ("settings-automation", "ada", lambda w: "/settings/automation/", None),
        ("settings-sequences", "ada", lambda w: "/settings/sequences/", None),
        ("settings-archive", "ada", lambda w: "/settings/archive/", None),
    ]
    + [
        (f"buy-now-{skin}", None, lambda w, skin=skin: link_path(w["links"][skin]), None)
        for skin in BuyNowSkin.values
    ]
    + [
        (
            f"buy-now-{skin}-errors",
            None,
            lambda w, skin=skin: link_path(w["links"][skin]),
            _buy_with_errors,
        )
        for skin in BuyNowSkin.values
    ]
)


def _add_axe(page, base: str) -> None:
    """Load axe from a same-origin URL answered by the test (never by the app): the page's
    Content-Security-Policy allows same-origin script files only, not the inline <script> that
    ``add_script_tag(path=…)`` would write."""
    url = f"{base}/__e2e__/axe.min.js"
    page.route(url, lambda route: route.fulfill(path=str(AXE), content_type="text/javascript"))
    page.add_script_tag(url=url)


def _report(violations: list) -> str:
    lines = [f"{len(violations)} axe violation(s):"]
    for v in violations:
        lines.append(f"- {v['id']} ({v['impact']}): {v['help']}")
        for node in v["nodes"]:
            lines.append(f"    {node['target']}: {node['html'][:200]}")
            if node.get("failureSummary"):
                lines.append("      " + node["failureSummary"].replace("\n", " | "))
    return "\n".join(lines)


def _check(live_server, page, request, user, path, action) -> None:
    world = _world()
    if user:
        sign_in(page, live_server.url, user)
    response = page.goto(live_server.url + path(world))
    assert response.status == 200
    if action:
        action(page)
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    shot = request.node.name.replace("[", "-").rstrip("]")
    page.screenshot(path=str(SCREENSHOTS / f"a11y-{shot}.png"), full_page=True)
    _add_axe(page, live_server.url)
    result = page.evaluate(
        "tags => axe.run(document, {runOnly: {type: 'tag', values: tags}})", TAGS
    )
    assert result["passes"], "axe ran no check"
    assert result["violations"] == [], _report(result["violations"])
    # axe leaves for review what might change later (an aria-describedby to a missing id, an id
    # both a heading and a label point to); on a rendered page those are defects too. Only the
    # contrast it cannot measure (text over a select's arrow image, icon-only glyphs) is left.
    undecided = [v for v in result["incomplete"] if v["id"] != "color-contrast"]
    assert undecided == [], _report(undecided)
    if os.environ.get("CRM_AXE_INCOMPLETE"):  # the contrast axe could not measure, for a look
        print(request.node.name, _report(result["incomplete"]))


@pytest.mark.parametrize(
    ("user", "path", "action"), [p[1:] for p in PAGES], ids=[p[0] for p in PAGES]
)
def test_axe_finds_no_wcag_violation(live_server, page, request, user, path, action):
    _check(live_server, page, request, user, path, action)


PHONE = {"agenda", "lead-list", "lead-page", "board", "opportunity-page", "ctrl-k-dialog"}
PHONE |= {"settings-pipeline"}
PHONE |= {f"buy-now-{skin}" for skin in BuyNowSkin.values}


@pytest.mark.parametrize(
    ("user", "path", "action"),
    [p[1:] for p in PAGES if p[0] in PHONE],
    ids=[p[0] for p in PAGES if p[0] in PHONE],
)
def test_axe_on_a_phone_with_a_dark_os_preference(live_server, page, request, user, path, action):
    """At 390 px (other layouts, target sizes) and with a dark OS preference: the CSS library
    follows it unless told otherwise, and the app's colours are made for the light theme."""
    page.set_viewport_size({"width": 390, "height": 844})
    page.emulate_media(color_scheme="dark")
    _check(live_server, page, request, user, path, action)


def test_the_check_catches_violations(page):
    """The same run on a broken page reports it: the page tests above cannot pass vacuously."""
    page.set_content(
        "<html><head><title>Broken</title></head><body><main><h1>Broken</h1>"
        '<input type="text"><p style="color:#bbb;background:#fff">Faint</p>'
        '<a href="/x"></a></main></body></html>'
    )
    page.add_script_tag(path=str(AXE))
    result = page.evaluate(
        "tags => axe.run(document, {runOnly: {type: 'tag', values: tags}})", TAGS
    )
    found = {v["id"] for v in result["violations"]}
    assert {"label", "color-contrast", "link-name", "html-has-lang"} <= found, found


def test_every_board_card_moves_without_dragging(live_server, page):
    """WCAG 2.5.7: each card on the board has its "Move to stage" control."""
    world = _world()
    sign_in(page, live_server.url, "rita")
    page.goto(f"{live_server.url}/opportunities/board/")
    cards = page.locator(".board-card")
    expect(cards).to_have_count(len(world["deals"]))  # open, won, lost and rotting
    for i in range(cards.count()):
        card = cards.nth(i)
        expect(card.get_by_role("combobox", name=re.compile("to stage"))).to_be_visible()
        expect(card.get_by_role("button", name=re.compile("^Move"))).to_be_visible()
