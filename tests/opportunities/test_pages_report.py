"""Reports > Win-loss: the numbers equal a hand count, reps see their own deals only, the CSV holds
what the page shows, bad dates are friendly errors and the query count stays flat."""

import csv
import datetime as dt
import io
import random
from collections import Counter
from html.parser import HTMLParser

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from opportunities import services
from opportunities.models import LossReason, Opportunity, OpportunityStatus, Stage, WinReason
from tests.factories import ContactFactory, UserFactory

pytestmark = pytest.mark.django_db

URL = reverse("report-win-loss")
CSV_URL = reverse("report-win-loss-csv")
SINCE, UNTIL = dt.date(2026, 10, 10), dt.date(2026, 11, 20)
RANGE = {"since": SINCE.isoformat(), "until": UNTIL.isoformat()}
OPEN_STAGES = ["Prospecting", "Qualification", "Proposal", "Negotiation"]


def _at(day: dt.date, hour: int = 12):
    return time_machine.travel(dt.datetime.combine(day, dt.time(hour), tzinfo=dt.UTC), tick=False)


def _label(user) -> str:
    return f"{user.first_name} {user.last_name}".strip() or user.username


def make_deal(
    owner,
    *,
    created_on: dt.date,
    path: tuple[str, ...] = (),
    outcome: str | None = None,
    reason=None,
    closed_on: dt.date | None = None,
    name: str = "Deal",
) -> Opportunity:
    """A deal made and moved through the services, as a user would: created in the default stage
    on ``created_on``, moved through the open stages of ``path``, then won or lost (``outcome``)
    with ``reason`` on ``closed_on``."""
    settings = services.opportunity_settings_get()
    stages = {s.name: s for s in Stage.objects.all()}
    with _at(created_on, 9):
        deal = services.opportunity_create(
            actor=owner, name=name, contact=ContactFactory(owner=owner), owner=owner
        )
        for stage in path:
            deal = services.opportunity_move(actor=owner, opportunity=deal, stage=stages[stage])
    if outcome:
        won = outcome == "won"
        with _at(closed_on or created_on, 15):
            deal = services.opportunity_move(
                actor=owner,
                opportunity=deal,
                stage=settings.win_stage if won else settings.loss_stage,
                win_reason=reason if won else None,
                loss_reason=None if won else reason,
            )
    return deal


@pytest.fixture
def generated(admin, rep, other_rep):
    """Random deals created, moved and closed on known dates; returns the hand-kept ledger."""
    rnd = random.Random(17)
    win_reasons = list(WinReason.objects.all())
    loss_reasons = list(LossReason.objects.all())
    ledger = []
    for i in range(80):
        owner = rnd.choice([rep, other_rep])
        created_on = dt.date(2026, 9, 20) + dt.timedelta(days=rnd.randrange(70))
        path = tuple(OPEN_STAGES[1 : 1 + rnd.randrange(4)])
        outcome = ("won", "lost", None)[i % 3 if i % 7 else 2]
        reason = rnd.choice(win_reasons if outcome == "won" else loss_reasons)
        closed_on = created_on + dt.timedelta(days=rnd.randrange(25))
        make_deal(
            owner,
            created_on=created_on,
            path=path,
            outcome=outcome,
            reason=reason if outcome else None,
            closed_on=closed_on,
        )
        reached = {"Prospecting", *path}
        if outcome:
            reached.add("Won" if outcome == "won" else "Lost")
        ledger.append(
            {
                "owner": owner,
                "created_on": created_on,
                "reached": reached,
                "outcome": outcome,
                "closed_on": closed_on if outcome else None,
                "reason": reason.name if outcome else None,
                "lost_at": (["Prospecting", *path][-1]) if outcome == "lost" else None,
            }
        )
    # Archived reasons and stages keep their history in the report, marked as archived.
    services.win_reason_delete(actor=admin, reason=WinReason.objects.get(name="Price"))
    services.loss_reason_delete(actor=admin, reason=LossReason.objects.get(name="No budget"))
    services.stage_delete(actor=admin, stage=Stage.objects.get(name="Negotiation"))
    return ledger


def hand_count(ledger, *, owner=None, since=SINCE, until=UNTIL) -> dict:
    mine = [d for d in ledger if owner is None or d["owner"] == owner]
    closed = [d for d in mine if d["outcome"] and since <= d["closed_on"] <= until]
    won = [d for d in closed if d["outcome"] == "won"]
    lost = [d for d in closed if d["outcome"] == "lost"]
    owners, months = {}, {}
    for d in closed:
        for key, table in (
            (_label(d["owner"]), owners),
            (d["closed_on"].strftime("%Y-%m"), months),
        ):
            row = table.setdefault(key, [0, 0])
            row[d["outcome"] == "lost"] += 1
    created = [d for d in mine if since <= d["created_on"] <= until]
    return {
        "won": len(won),
        "lost": len(lost),
        "won_reasons": dict(Counter(d["reason"] for d in won)),
        "lost_reasons": dict(Counter(d["reason"] for d in lost)),
        "owners": {k: tuple(v) for k, v in owners.items()},
        "months": {k: tuple(v) for k, v in months.items()},
        "lost_at": dict(Counter(d["lost_at"] for d in lost)),
        "funnel": dict(Counter(stage for d in created for stage in d["reached"])),
    }


class _Tables(HTMLParser):
    """The visible text of every table on a page: [[[cell, ...], ...], ...] (header row too).

    Text that is only for screen readers (``visually-hidden``) or hidden from them
    (``aria-hidden``) is left out: what remains is what the page shows and says.
    """

    VOID = {"input", "br", "img", "meta", "link", "hr", "col", "source", "wbr", "rect"}

    def __init__(self):
        super().__init__()
        self.tables, self._cell, self._stack = [], None, []

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "table":
            self.tables.append([])
        elif tag == "tr":
            self.tables[-1].append([])
        elif tag in ("td", "th"):
            self._cell = []
        if tag not in self.VOID:
            hidden = "visually-hidden" in (attrs.get("class") or "") or "aria-hidden" in attrs
            self._stack.append((tag, hidden))

    def handle_endtag(self, tag):
        if tag in self.VOID:
            return
        while self._stack and self._stack.pop()[0] != tag:
            pass
        if tag in ("td", "th") and self._cell is not None:
            self.tables[-1][-1].append(" ".join("".join(self._cell).split()))
            self._cell = None

    def handle_data(self, data):
        if self._cell is not None and not any(hidden for _tag, hidden in self._stack):
            self._cell.append(data)


def page_tables(html: str) -> list[list[list[str]]]:
    parser = _Tables()
    parser.feed(html)
    return parser.tables


def csv_sections(content: bytes) -> list[list[list[str]]]:
    rows = list(csv.reader(io.StringIO(content.decode("utf-8"))))
    sections, current = [], []
    for row in rows:
        if not row:
            sections.append(current)
            current = []
        else:
            current.append(row)
    sections.append(current)
    return sections


def _counts(rows) -> dict:
    return {r["label"]: r["count"] for r in rows}


def _rate(won: int, lost: int) -> str:
    return f"{won * 100 / (won + lost):.1f}%"


# --- numbers -------------------------------------------------------------------------------------


def test_numbers_equal_a_hand_count(admin_client_, generated):
    response = admin_client_.get(URL, RANGE)
    assert response.status_code == 200
    data = response.context["data"]
    expected = hand_count(generated)
    assert (data["won"], data["lost"]) == (expected["won"], expected["lost"])
    assert expected["won"] > 5 and expected["lost"] > 5
    assert _counts(data["won_reasons"]) == expected["won_reasons"]
    assert _counts(data["lost_reasons"]) == expected["lost_reasons"]
    assert {r["label"]: (r["won"], r["lost"]) for r in data["owners"]} == expected["owners"]
    assert {
        r["month"].strftime("%Y-%m"): (r["won"], r["lost"]) for r in data["months"]
    } == expected["months"]
    assert _counts(data["lost_at_stage"]) == expected["lost_at"]
    funnel = _counts(data["funnel"])
    assert {k: v for k, v in funnel.items() if v} == expected["funnel"]
    # Every active stage is in the funnel, reached or not.
    assert {"Prospecting", "Qualification", "Proposal", "Won", "Lost"} <= set(funnel)

    html = response.content.decode()
    rate = _rate(expected["won"], expected["lost"])
    assert f'<strong class="big-number">{rate}</strong>' in html
    closed = expected["won"] + expected["lost"]
    assert f"{closed} deals closed from 10/10/2026 to 11/20/2026" in html
    assert f"{expected['won']} won, {expected['lost']} lost." in html


def test_tables_show_the_numbers_with_their_bars(admin_client_, generated):
    html = admin_client_.get(URL, RANGE).content.decode()
    expected = hand_count(generated)
    owners, months, won, lost, lost_at, funnel = page_tables(html)

    assert owners[0] == ["Owner", "Won", "Lost", "Win rate"]
    assert {r[0]: (int(r[1]), int(r[2]), r[3]) for r in owners[1:]} == {
        k: (w, lo, _rate(w, lo)) for k, (w, lo) in expected["owners"].items()
    }
    # The win-rate bar is as wide as the rate, over a full-width track.
    for w, lo in expected["owners"].values():
        assert f'width="{w * 100 / (w + lo):.1f}%"' in html

    assert months[0] == ["Month", "Won", "Lost", "Win rate"]
    assert [r[0] for r in months[1:]] == ["October 2026", "November 2026"]

    for table, header, key in (
        (won, ["Win reason", "Won deals", "Share"], "won_reasons"),
        (lost, ["Loss reason", "Lost deals", "Share"], "lost_reasons"),
        (lost_at, ["Stage", "Lost deals", "Share"], "lost_at"),
    ):
        assert table[0] == header
        counts = expected[key]
        whole = expected["won" if key == "won_reasons" else "lost"]
        largest = max(counts.values())
        shown = {r[0].removesuffix(" Archived"): r[1:] for r in table[1:]}
        assert shown == {
            name: [str(n), f"{round(n * 100 / whole, 1):.1f}%"] for name, n in counts.items()
        }
        for n in counts.values():
            assert f'width="{n * 100 / largest:.1f}%"' in html

    assert funnel[0] == ["Stage", "Deals"]
    shown = {r[0].removesuffix(" Archived"): int(r[1]) for r in funnel[1:]}
    assert {k: v for k, v in shown.items() if v} == expected["funnel"]


def test_archived_reasons_and_stages_still_appear_labelled_in_text(admin_client_, generated):
    html = admin_client_.get(URL, RANGE).content.decode()
    _owners, _months, won, lost, lost_at, funnel = page_tables(html)
    for table, archived in (
        (won, "Price"),
        (lost, "No budget"),
        (lost_at, "Negotiation"),
        (funnel, "Negotiation"),
    ):
        labels = {r[0] for r in table[1:]}
        assert f"{archived} Archived" in labels
        assert [x for x in labels if x.endswith(" Archived")] == [f"{archived} Archived"]
    assert '<tr class="is-archived">' in html


def test_a_month_without_closed_deals_shows_as_such(admin_client_, rep):
    reason = WinReason.objects.first()
    for day in (dt.date(2026, 1, 10), dt.date(2026, 3, 10)):
        make_deal(rep, created_on=day, outcome="won", reason=reason)
    response = admin_client_.get(URL, {"since": "2026-01-01", "until": "2026-03-31"})
    months = page_tables(response.content.decode())[1]
    assert months[1:] == [
        ["January 2026", "1", "0", "100.0%"],
        ["February 2026", "0", "0", ""],
        ["March 2026", "1", "0", "100.0%"],
    ]
    assert "No deals closed" in response.content.decode()  # what a screen reader hears for —


def test_a_deal_created_lost_and_no_reason_given(admin_client_, admin, rep):
    settings = services.opportunity_settings_get()
    services.opportunity_settings_update(actor=admin, require_loss_reason=False)
    with _at(dt.date(2026, 5, 5)):
        services.opportunity_create(
            actor=rep,
            name="Gone",
            contact=ContactFactory(owner=rep),
            owner=rep,
            stage=settings.loss_stage,
        )
    data = admin_client_.get(URL, {"since": "2026-05-01", "until": "2026-05-31"}).context["data"]
    assert [(r["label"], r["count"]) for r in data["lost_reasons"]] == [("No reason given", 1)]
    assert [(r["label"], r["count"]) for r in data["lost_at_stage"]] == [("Created lost", 1)]
    assert (data["won"], data["lost"], data["rate"]) == (0, 1, 0)


def test_rates_and_dates_follow_the_language(admin_client_, rep):
    win, loss = WinReason.objects.first(), LossReason.objects.first()
    for outcome in ("won", "won", "lost"):
        make_deal(
            rep,
            created_on=dt.date(2026, 10, 12),
            outcome=outcome,
            reason=win if outcome == "won" else loss,
        )
    html = admin_client_.get(URL, RANGE, HTTP_ACCEPT_LANGUAGE="es").content.decode()
    assert 'lang="es"' in html
    assert "66,7" in html and ">66.7" not in html
    assert "10/10/2026" in html and "20/11/2026" in html
    assert 'value="2026-10-10"' in html  # the date inputs keep the ISO value
    assert "Octubre de 2026" in html
    assert 'width="66.7%"' in html  # SVG attributes are never localized


def test_large_numbers_are_grouped(admin_client_, rep):
    settings = services.opportunity_settings_get()
    contact = ContactFactory(owner=rep)
    reason = WinReason.objects.first()
    closed_at = dt.datetime(2026, 10, 15, 12, tzinfo=dt.UTC)
    Opportunity.objects.bulk_create(
        Opportunity(
            name=f"Deal {i}",
            contact=contact,
            owner=rep,
            stage=settings.win_stage,
            status=OpportunityStatus.WON,
            win_reason=reason,
            closed_at=closed_at,
            stage_entered_at=closed_at,
        )
        for i in range(1234)
    )
    assert "1,234 won" in admin_client_.get(URL, RANGE).content.decode()
    assert "1.234" in admin_client_.get(URL, RANGE, HTTP_ACCEPT_LANGUAGE="es").content.decode()


def test_default_range_is_the_last_90_days(admin_client_, rep):
    today = dt.date(2026, 6, 15)
    first_day = today - dt.timedelta(days=89)
    reason = WinReason.objects.first()
    for day in (first_day - dt.timedelta(days=1), first_day, today):
        make_deal(rep, created_on=day, outcome="won", reason=reason)
    with _at(today, 20):
        response = admin_client_.get(URL)
    data = response.context["data"]
    assert (data["since"], data["until"]) == (first_day, today)
    assert data["won"] == 2
    html = response.content.decode()
    assert f'value="{first_day.isoformat()}"' in html and f'value="{today.isoformat()}"' in html
    # The preset for the range in effect is marked as the current one.
    current = '<a href="?since=2026-03-18&amp;until=2026-06-15" aria-current="page">Last 90 days'
    assert current in html


def test_the_period_filters_by_close_date(admin_client_, generated):
    since, until = dt.date(2026, 11, 1), dt.date(2026, 11, 5)
    params = {"since": since.isoformat(), "until": until.isoformat()}
    data = admin_client_.get(URL, params).context["data"]
    expected = hand_count(generated, since=since, until=until)
    assert (data["won"], data["lost"]) == (expected["won"], expected["lost"])
    assert _counts(data["lost_reasons"]) == expected["lost_reasons"]
    assert {k: v for k, v in _counts(data["funnel"]).items() if v} == expected["funnel"]


def test_presets_link_to_their_periods(admin_client_):
    with _at(dt.date(2026, 11, 15)):
        html = admin_client_.get(URL).content.decode()
    for label, since, until in (
        ("Last 30 days", "2026-10-17", "2026-11-15"),
        ("Last 90 days", "2026-08-18", "2026-11-15"),
        ("This quarter", "2026-10-01", "2026-11-15"),
        ("This year", "2026-01-01", "2026-11-15"),
        ("Last year", "2025-01-01", "2025-12-31"),
    ):
        assert f'href="?since={since}&amp;until={until}"' in html
        assert f">{label}</a>" in html
    assert html.count('aria-current="page">') == 2  # the main navigation and "Last 90 days"


def test_empty_period_says_so(admin_client_):
    html = admin_client_.get(URL, {"since": "2001-01-01", "until": "2001-01-31"}).content.decode()
    assert "No deals were closed from 01/01/2001 to 01/31/2001." in html
    assert "No deals were won in this period." in html
    assert "No deals were lost in this period." in html
    assert "No deals were created in this period." in html
    assert "big-number" not in html


# --- who sees what -------------------------------------------------------------------------------


def test_a_rep_sees_only_their_own_deals(client, rep, other_rep, generated):
    client.force_login(rep)
    response = client.get(URL, RANGE)
    data = response.context["data"]
    expected = hand_count(generated, owner=rep)
    assert (data["won"], data["lost"]) == (expected["won"], expected["lost"])
    assert _counts(data["won_reasons"]) == expected["won_reasons"]
    assert _counts(data["lost_reasons"]) == expected["lost_reasons"]
    assert {r["label"]: (r["won"], r["lost"]) for r in data["owners"]} == expected["owners"]
    assert list(expected["owners"]) == ["Rita Rep"]
    assert _counts(data["lost_at_stage"]) == expected["lost_at"]
    assert {k: v for k, v in _counts(data["funnel"]).items() if v} == expected["funnel"]
    html = response.content.decode()
    assert "Otto Other" not in html
    assert "Only your own deals are counted." in html
    for url, params in ((URL, {**RANGE, "format": "csv"}), (CSV_URL, RANGE)):
        text = client.get(url, params).content.decode()
        assert "Rita Rep" in text and "Otto Other" not in text


def test_admins_are_not_told_about_own_deals_only(admin_client_):
    assert "Only your own deals" not in admin_client_.get(URL).content.decode()


def test_anonymous_is_sent_to_login(client):
    for url in (URL, CSV_URL, f"{URL}?format=csv"):
        response = client.get(url)
        assert response.status_code == 302 and response["Location"].startswith(reverse("login"))


# --- CSV -----------------------------------------------------------------------------------------


def test_csv_holds_exactly_what_the_page_shows(admin_client_, generated):
    page = admin_client_.get(URL, RANGE)
    data = page.context["data"]
    owners, months, won, lost, lost_at, funnel = page_tables(page.content.decode())
    response = admin_client_.get(URL, {**RANGE, "format": "csv"})
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    assert response["Content-Disposition"] == (
        'attachment; filename="win-loss-2026-10-10-2026-11-20.csv"'
    )
    assert admin_client_.get(CSV_URL, RANGE).content == response.content
    head, *sections = csv_sections(response.content)
    assert head == [
        ["Win-loss report"],
        ["From", "2026-10-10"],
        ["To", "2026-11-20"],
        ["Won", str(data["won"])],
        ["Lost", str(data["lost"])],
        ["Win rate (%)", str(data["rate"])],
    ]
    titles = [s[0] for s in sections]
    assert titles == [
        ["Win rate by owner"],
        ["Win rate by month"],
        ["Won by win reason"],
        ["Lost by loss reason"],
        ["Stage at which deals were lost"],
        ["Stage funnel"],
    ]
    by_owner, by_month, by_win, by_loss, by_stage, by_funnel = sections

    def shown(table, *, archived_column=False):
        rows = []
        for row in table[1:]:
            row = [c.removesuffix("%") for c in row]
            if archived_column:
                name = row[0].removesuffix(" Archived")
                row = [name, "Yes" if name != row[0] else "No", *row[1:]]
            rows.append(row)
        return rows

    assert by_owner[1] == ["Owner", "Won", "Lost", "Win rate (%)"]
    assert by_owner[2:] == shown(owners)
    assert by_month[1] == ["Month", "Won", "Lost", "Win rate (%)"]
    assert [r[0] for r in by_month[2:]] == ["2026-10", "2026-11"]
    assert [r[1:] for r in by_month[2:]] == [r[1:] for r in shown(months)]
    assert by_win[1] == ["Win reason", "Archived", "Won deals", "Share (%)"]
    assert by_win[2:] == shown(won, archived_column=True)
    assert by_loss[1] == ["Loss reason", "Archived", "Lost deals", "Share (%)"]
    assert by_loss[2:] == shown(lost, archived_column=True)
    assert by_stage[1] == ["Stage", "Archived", "Lost deals", "Share (%)"]
    assert by_stage[2:] == shown(lost_at, archived_column=True)
    assert by_funnel[1] == ["Stage", "Archived", "Deals"]
    assert by_funnel[2:] == shown(funnel, archived_column=True)


def test_csv_neutralises_formulas(admin_client_, admin):
    sneaky = UserFactory(first_name="=HYPERLINK(1)", last_name="x")
    reason = services.loss_reason_create(actor=admin, name="+SUM(A1)")
    make_deal(sneaky, created_on=dt.date(2026, 10, 20), outcome="lost", reason=reason)
    text = admin_client_.get(URL, {**RANGE, "format": "csv"}).content.decode()
    assert "'=HYPERLINK(1) x" in text and "'+SUM(A1)" in text
    assert "\n=HYPERLINK" not in text and "\n+SUM" not in text


def test_csv_link_keeps_the_period(admin_client_):
    html = admin_client_.get(URL, RANGE).content.decode()
    assert 'href="?since=2026-10-10&amp;until=2026-11-20&amp;format=csv"' in html


# --- bad input -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("params", "field", "message"),
    [
        ({"since": "yesterday"}, "since", "Enter a valid date."),
        ({"until": "2026-02-30"}, "until", "Enter a valid date."),
        ({"since": "2026-13-01"}, "since", "Enter a valid date."),
        ({"since": "0001-01-01"}, "since", "Enter a date between 1900 and 2999."),
        ({"until": "9999-12-31"}, "until", "Enter a date between 1900 and 2999."),
        ({"since": "99999-01-01"}, "since", "Enter a valid date."),
        ({"since": "2026-05-02", "until": "2026-05-01"}, "until", "The end date is before"),
        ({"since": "\x00"}, "since", "Enter a valid date."),
    ],
)
def test_bad_dates_are_friendly_errors(admin_client_, params, field, message):
    for url, extra in ((URL, {}), (URL, {"format": "csv"}), (CSV_URL, {})):
        response = admin_client_.get(url, {**params, **extra})
        assert response.status_code == 400
        assert response["Content-Type"].startswith("text/html")
        html = response.content.decode()
        assert message in html
        assert f'id="id_{field}_error"' in html
        assert "Please correct the errors below." in html
        assert response.context["data"] is None
        assert "Last 30 days" in html  # the presets offer a way out


def test_errors_are_translated(admin_client_):
    response = admin_client_.get(URL, {"since": "ayer"}, HTTP_ACCEPT_LANGUAGE="es")
    assert response.status_code == 400
    assert "Introduzca una fecha válida." in response.content.decode()


@pytest.mark.parametrize(
    "query",
    [
        "since=%ED%A0%80",
        "since=%FF",
        "since=a&since=b",
        "since",
        "format=xml",
        "format=csv&format=csv",
        "until=" + "9" * 999,
        "since=2026-01-01T00:00",
    ],
)
def test_garbage_query_strings_never_break_the_page(admin_client_, query):
    assert admin_client_.get(f"{URL}?{query}").status_code in (200, 400)
    assert admin_client_.get(f"{CSV_URL}?{query}").status_code in (200, 400)


# --- cost ----------------------------------------------------------------------------------------


def test_query_count_does_not_grow_with_deals(admin, admin_client_):
    def count(url=URL):
        with CaptureQueriesContext(connection) as ctx:
            response = admin_client_.get(url, RANGE)
        assert response.status_code == 200
        return len(ctx.captured_queries)

    win_reasons, loss_reasons = list(WinReason.objects.all()), list(LossReason.objects.all())
    owner = UserFactory()
    make_deal(owner, created_on=SINCE, outcome="won", reason=win_reasons[0])
    make_deal(owner, created_on=SINCE, outcome="lost", reason=loss_reasons[0])
    small, small_csv = count(), count(CSV_URL)
    for i in range(30):
        someone = UserFactory() if i % 4 == 0 else owner
        outcome = "won" if i % 2 else "lost"
        make_deal(
            someone,
            created_on=SINCE + dt.timedelta(days=i),
            path=tuple(OPEN_STAGES[1 : 1 + i % 4]),
            outcome=outcome,
            reason=(win_reasons if outcome == "won" else loss_reasons)[i % 4],
        )
    services.loss_reason_delete(actor=admin, reason=loss_reasons[1])
    services.stage_delete(actor=admin, stage=Stage.objects.get(name="Proposal"))
    assert count() == small
    assert count(CSV_URL) == small_csv


def test_reports_index_links_to_the_report(rep_client):
    html = rep_client.get(reverse("report-list")).content.decode()
    assert f'href="{URL}"' in html and "Win-loss" in html


def test_the_navigation_marks_reports(rep_client):
    html = rep_client.get(URL).content.decode()
    assert f'<a href="{reverse("report-list")}" aria-current="page">' in html
