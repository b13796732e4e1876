"""The strict Content-Security-Policy (crm/settings.py) holds on every main page, for a rep and for
an admin: no inline script, event handler, style attribute, <style> block or eval is refused,
and the behaviour that used to rely on them (rating colours, htmx indicators and swaps, the
scoring rule's refresh, the charts, the API docs) still works.

Refusals are caught twice: the page's ``securitypolicyviolation`` events (reported to Python
through a binding installed before any page script runs) and chromium's "Refused to …" console
messages; uncaught page errors fail the test too."""

import re

import pytest
from django.conf import settings
from playwright.sync_api import expect

from leads.models import Rating
from opportunities.services_buynow import link_path
from tests.e2e.helpers import sign_in
from tests.e2e.test_accessibility import _world

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

#: What the policy would refuse, in the HTML as sent: <style>, style="", <script> without src.
INLINE = re.compile(r"<style\b|\sstyle=|<script\b(?![^>]*\bsrc=)[^>]*>")

WATCH = """
document.addEventListener("securitypolicyviolation", function (event) {
  window.cspViolation({
    page: location.pathname + location.search,
    directive: event.effectiveDirective,
    blocked: event.blockedURI,
    source: event.sourceFile,
    line: event.lineNumber,
    sample: event.sample,
  });
}, true);
"""


@pytest.fixture
def problems(page):
    """Every CSP refusal, CSP console message and uncaught error on any page this test opens."""
    found = []
    page.expose_function("cspViolation", lambda report: found.append(("violation", report)))
    page.add_init_script(WATCH)

    def on_console(message):
        text = message.text
        if "Content Security Policy" in text or "Refused to" in text:
            found.append(("console", message.type, text))

    page.on("console", on_console)
    page.on("pageerror", lambda error: found.append(("pageerror", str(error))))
    return found


def _settled(page) -> None:
    """The deferred scripts ran (htmx read its config) and queued reports were delivered."""
    page.wait_for_load_state("load")
    if page.locator('meta[name="htmx-config"]').count():
        page.wait_for_function("window.htmx && htmx.config.allowEval === false")
    page.evaluate("() => new Promise(done => setTimeout(done, 150))")


def _visit(page, base: str, path: str, problems: list, strict: bool = True) -> None:
    response = page.goto(base + path)
    assert response.status == 200, path
    if strict:
        assert response.headers["content-security-policy"] == settings.CONTENT_SECURITY_POLICY
        inline = INLINE.findall(response.text())
        assert inline == [], (path, inline)
    _settled(page)
    assert problems == [], (path, problems)


def _rgb(hex_colour: str) -> str:
    r, g, b = (int(hex_colour[i : i + 2], 16) for i in (1, 3, 5))
    return f"rgb({r}, {g}, {b})"


def _rated(world) -> Rating:
    rating = (
        Rating.objects.filter(applies_tag=True, archived_at__isnull=True).order_by("order").first()
    )
    lead = world["leads"][0]
    lead.rating = rating
    lead.save(update_fields=["rating"])
    return rating


def test_the_watch_catches_refusals(live_server, page, problems):
    """The same watch on a page that breaks the policy reports it: the tests below cannot pass
    vacuously."""
    url = f"{live_server.url}/csp-probe/"
    page.route(
        url,
        lambda route: route.fulfill(
            status=200,
            content_type="text/html",
            headers={"Content-Security-Policy": settings.CONTENT_SECURITY_POLICY},
            body=(
                "<!DOCTYPE html><html><head><title>Probe</title>"
                "<style>p { color: red; }</style></head><body>"
                '<p style="color: blue">Inline</p><button onclick="void 0">B</button>'
                "<script>document.title = 'ran';</script></body></html>"
            ),
        ),
    )
    page.goto(url)
    page.evaluate("() => new Promise(done => setTimeout(done, 150))")
    directives = {p[1]["directive"] for p in problems if p[0] == "violation"}
    assert {"style-src-elem", "style-src-attr", "script-src-elem"} <= directives, problems
    assert page.title() == "Probe"
    assert any(p[0] == "console" for p in problems)


def test_a_rep_works_under_the_strict_policy(live_server, page, problems):
    world = _world()
    rating = _rated(world)
    base = live_server.url
    sign_in(page, base, "rita")
    lead = world["leads"][0]
    deal = world["deals"][0]
    for path in [
        "/",
        "/leads/",
        f"/leads/{lead.pk}/",
        "/contacts/",
        f"/contacts/{deal.contact_id}/",
        "/accounts/",
        "/opportunities/",
        f"/opportunities/{deal.pk}/",
        "/tasks/",
        "/search/?q=Fern",
    ]:
        _visit(page, base, path, problems)

    # Rating colours: a data attribute applied through the CSSOM, not a style attribute.
    page.goto(f"{base}/leads/")
    _settled(page)
    tag = page.locator(".rating-tag").first
    expect(tag).to_have_css("border-left-color", _rgb(rating.colour))
    assert tag.get_attribute("style").startswith("--rating-colour")  # set by app.js

    # Ctrl-K: options fetched and drawn by search.js (their rating tags coloured too).
    page.keyboard.press("Control+k")
    expect(page.get_by_role("dialog", name="Search")).to_be_visible()
    page.keyboard.type("Fern")
    listbox = page.get_by_role("listbox", name="Results and commands")
    expect(listbox.get_by_role("option").first).to_be_visible()
    page.keyboard.press("Escape")

    # The log dialog and an htmx save on the opportunity page.
    page.goto(f"{base}/opportunities/{deal.pk}/")
    _settled(page)
    page.get_by_role("link", name="Log activity").click()
    expect(page.get_by_role("dialog", name=re.compile("Log"))).to_be_visible()
    page.keyboard.press("Escape")

    # The board: a move with the reason dialog, the board redrawn by htmx.
    _visit(page, base, "/opportunities/board/", problems)
    card = page.locator(".board-card", has_text=deal.name)
    card.get_by_role("combobox").select_option(label="Won")
    card.get_by_role("button", name=re.compile("^Move")).click()
    dialog = page.get_by_role("dialog", name=re.compile("Why was this deal won"))
    expect(dialog).to_be_visible()
    dialog.get_by_label("Win reason").select_option(label="Chose us after the trial")
    dialog.get_by_role("button", name="Save").click()
    expect(page.locator("#messages")).to_contain_text(f"“{deal.name}” moved to Won")
    _settled(page)
    assert problems == [], problems


def test_an_admin_works_under_the_strict_policy(live_server, page, problems):
    world = _world()
    rating = _rated(world)
    base = live_server.url
    sign_in(page, base, "ada")
    for path in [
        "/reports/",
        "/reports/win-loss/",
        "/reports/disqualification/",
        "/reports/scoring/",
        "/settings/",
        "/settings/users/",
        "/settings/teams/",
        "/settings/leads/",
        "/settings/ratings/",
        "/settings/scoring/",
        "/settings/pipeline/",
        "/settings/opportunities/",
        "/settings/automation/",
        "/settings/sequences/",
        "/settings/archive/",
        "/leads/",
        f"/leads/{world['leads'][0].pk}/",
    ]:
        _visit(page, base, path, problems)

    # The win/loss chart's bars and rate column are drawn without style attributes.
    page.goto(f"{base}/reports/win-loss/")
    _settled(page)
    expect(page.locator(".rate-value").first).to_have_css("white-space", "nowrap")

    # Settings > Ratings: swatches coloured; moving a row redraws the table through htmx.
    page.goto(f"{base}/settings/ratings/")
    _settled(page)
    swatch = page.locator(f'.swatch[data-rating-colour="{rating.colour}"]')
    expect(swatch).to_have_css("background-color", _rgb(rating.colour))
    table = page.locator("#rating-table")
    first = table.locator("tbody tr").first
    first_id = first.get_attribute("id")
    first.get_by_role("button", name=re.compile("^↓? ?Move down")).click()
    expect(table.locator("tbody tr").nth(1)).to_have_id(first_id)
    expect(swatch).to_have_css("background-color", _rgb(rating.colour))  # redrawn, coloured
    _settled(page)
    assert problems == [], problems

    # Settings > Scoring: the rule redraws when its condition changes (no hx-trigger filter).
    page.goto(f"{base}/settings/scoring/")
    page.get_by_role("link", name="Edit “Budget confirmed”").click()
    _settled(page)
    page.get_by_label("Condition").select_option("in")
    expect(page.get_by_role("group", name="Values").get_by_role("checkbox")).to_have_count(3)
    _settled(page)
    assert problems == [], problems

    # The API docs: Swagger UI draws the schema; its init script is a same-origin file.
    response = page.goto(f"{base}/api/docs/")
    assert response.status == 200
    policy = response.headers["content-security-policy"]
    assert "script-src 'self';" in policy and "unsafe-eval" not in policy
    expect(page.locator(".swagger-ui .info .title")).to_contain_text("CRM API")
    operation = page.locator(".opblock").first
    operation.locator(".opblock-summary").click()  # expanded: parameters, responses, examples
    expect(operation.get_by_role("button", name="Try it out")).to_be_visible()
    operation.get_by_role("button", name="Try it out").click()
    operation.get_by_role("button", name="Execute").click()
    expect(operation.locator(".live-responses-table tbody .response-col_status")).to_have_text(
        "200"
    )
    _settled(page)
    assert problems == [], problems

    # The DRF browsable API (HTML): inline styles allowed there, scripts still same-origin only.
    response = page.goto(f"{base}/api/v1/leads/")
    assert response.status == 200
    policy = response.headers["content-security-policy"]
    assert "style-src 'self' 'unsafe-inline'" in policy and "script-src 'self';" in policy
    expect(page.locator(".response-info")).to_be_visible()
    _settled(page)
    assert problems == [], problems


def test_public_pages_work_under_the_strict_policy(live_server, page, problems):
    """Signed out: the sign-in page and the buy-now checkout in each of its skins."""
    world = _world()
    _visit(page, live_server.url, "/login/", problems)
    for link in world["links"].values():
        _visit(page, live_server.url, link_path(link), problems)
        expect(page.get_by_role("button", name="Buy now")).to_be_visible()
