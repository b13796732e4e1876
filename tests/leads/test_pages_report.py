"""Reports > Disqualification: numbers equal a hand count, reps see their own leads only, the CSV
holds what the page shows, bad dates are friendly errors and the query count stays flat."""

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

from leads import services
from leads.models import Lead, LeadStatus
from tests.factories import LeadFactory, UserFactory

pytestmark = pytest.mark.django_db

URL = reverse("report-disqualification")
SINCE, UNTIL = dt.date(2026, 10, 10), dt.date(2026, 10, 31)
RANGE = {"since": SINCE.isoformat(), "until": UNTIL.isoformat()}


def _at(day: dt.date):
    return time_machine.travel(dt.datetime.combine(day, dt.time(12), tzinfo=dt.UTC), tick=False)


def _label(user) -> str:
    return f"{user.first_name} {user.last_name}".strip() or user.username


@pytest.fixture
def generated(admin, rep, other_rep, reasons):
    """Random leads created and disqualified on known dates; returns the hand-kept ledgers."""
    rnd = random.Random(11)
    reason_list = list(reasons.values())
    sources = ["Web", "Referral", "Fair", ""]
    disqualified, created = [], []
    for i in range(70):
        owner = rnd.choice([rep, other_rep])
        source = "Secret fair" if owner == other_rep and i % 4 == 0 else rnd.choice(sources)
        created_on = dt.date(2026, 9, 25) + dt.timedelta(days=rnd.randrange(45))
        with _at(created_on):
            lead = LeadFactory(owner=owner, source=source)
        fate = i % 5
        if fate in (0, 1):  # qualified or converted: counts for the qualification rate
            status = LeadStatus.QUALIFIED if fate == 0 else LeadStatus.CONVERTED
            Lead.objects.filter(pk=lead.pk).update(status=status)
        elif fate == 2:
            pass  # still new
        else:
            day = created_on + dt.timedelta(days=rnd.randrange(10))
            reason = rnd.choice(reason_list)
            with _at(day):
                services.lead_disqualify(actor=owner, lead=lead, reason=reason)
                if i % 7 == 0:  # a changed mind: only the latest reason counts
                    reason = rnd.choice(reason_list)
                    services.lead_disqualify(actor=owner, lead=lead, reason=reason)
            disqualified.append((day, reason.name, owner))
        created.append((created_on, source, fate, owner))
    # An archived reason keeps its history in the report.
    services.disqualification_reason_delete(actor=admin, reason=reasons["No budget"])
    return {"disqualified": disqualified, "created": created}


def _hand_count(generated, *, owner=None):
    dq = [
        x
        for x in generated["disqualified"]
        if SINCE <= x[0] <= UNTIL and (owner is None or x[2] == owner)
    ]
    made = [
        x
        for x in generated["created"]
        if SINCE <= x[0] <= UNTIL and (owner is None or x[3] == owner)
    ]
    sources = {}
    for _day, source, fate, _owner in made:
        row = sources.setdefault(source or "No source", [0, 0, 0])
        row[0] += 1
        row[1] += fate in (0, 1)
        row[2] += fate >= 3
    return {
        "total": len(dq),
        "reasons": dict(Counter(x[1] for x in dq)),
        "owners": dict(Counter(_label(x[2]) for x in dq)),
        "sources": {k: tuple(v) for k, v in sources.items()},
    }


class _Tables(HTMLParser):
    """The visible text of every table on a page: [[[cell, ...], ...], ...] (header row too).

    Text that is only for screen readers (``visually-hidden``) or hidden from them
    (``aria-hidden``) is left out: what remains is what the page shows and says.
    """

    VOID = {"input", "br", "img", "meta", "link", "hr", "col", "source", "wbr"}

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


def _page_tables(html: str) -> list[list[list[str]]]:
    parser = _Tables()
    parser.feed(html)
    return parser.tables


def _csv_sections(content: bytes) -> list[list[list[str]]]:
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


# --- numbers -------------------------------------------------------------------------------------


def test_numbers_equal_a_hand_count(admin_client_, generated):
    response = admin_client_.get(URL, RANGE)
    assert response.status_code == 200
    data = response.context["data"]
    expected = _hand_count(generated)
    assert data["total"] == expected["total"] > 0
    assert {r["label"]: r["count"] for r in data["reasons"]} == expected["reasons"]
    assert {r["label"]: r["count"] for r in data["owners"]} == expected["owners"]
    assert {
        r["label"]: (r["total"], r["qualified"], r["disqualified"]) for r in data["sources"]
    } == expected["sources"]
    html = response.content.decode()
    assert f'<strong class="big-number">{expected["total"]}</strong>' in html
    # The chart: one row per reason, its number as text and a bar as wide as its share of the max.
    chart = _page_tables(html)[0]
    assert chart[0] == ["Reason", "Disqualified leads", "Share"]
    largest = max(expected["reasons"].values())
    for name, count in expected["reasons"].items():
        row = next(r for r in chart[1:] if r[0].removesuffix(" Archived") == name)
        assert row[1] == str(count)
        share = f"{round(count * 100 / expected['total'], 1):.1f}%"
        assert row[2] == share
        assert f'width="{count * 100 / largest:.1f}%"' in html


def test_archived_reasons_still_appear_labelled_in_text(admin_client_, generated):
    html = admin_client_.get(URL, RANGE).content.decode()
    chart = _page_tables(html)[0]
    rows = {r[0] for r in chart[1:]}
    assert "No budget Archived" in rows
    assert all(not r.endswith("Archived") for r in rows - {"No budget Archived"})
    assert '<tr class="is-archived">' in html


def test_qualification_rate_is_a_localized_percentage(client, rep, reasons):
    for status in [LeadStatus.QUALIFIED, LeadStatus.CONVERTED, LeadStatus.NEW]:
        LeadFactory(owner=rep, source="Web", status=status)
    services.lead_disqualify(
        actor=rep, lead=LeadFactory(owner=rep, source="Fair"), reason=reasons["No need"]
    )
    client.force_login(rep)
    html = client.get(URL).content.decode()
    web = next(r for r in _page_tables(html)[1] if r[0] == "Web")
    assert web == ["Web", "3", "2", "0", "66.7%"]
    html = client.get(URL, HTTP_ACCEPT_LANGUAGE="es").content.decode()
    assert "66,7" in html and "66.7" not in html


def test_numbers_and_dates_follow_the_language(admin_client_, generated):
    html = admin_client_.get(URL, RANGE, HTTP_ACCEPT_LANGUAGE="es").content.decode()
    assert "10/10/2026" in html and "31/10/2026" in html
    assert 'value="2026-10-10"' in html  # the date inputs keep the ISO value
    assert 'lang="es"' in html


def test_large_numbers_are_grouped(admin_client_, rep, reasons):
    from leads.models import LeadDisqualification

    lead = LeadFactory(owner=rep)
    services.lead_disqualify(actor=rep, lead=lead, reason=reasons["No need"])
    row = LeadDisqualification.objects.get()
    LeadDisqualification.objects.bulk_create(
        LeadDisqualification(lead=lead, reason=row.reason, owner=rep, source="", superseded_at=None)
        for _ in range(1233)
    )
    assert "1,234" in admin_client_.get(URL).content.decode()
    assert "1.234" in admin_client_.get(URL, HTTP_ACCEPT_LANGUAGE="es").content.decode()


def test_default_range_is_the_last_90_days(admin_client_, rep, reasons):
    today = dt.date(2026, 6, 15)
    first_day = today - dt.timedelta(days=89)
    for day in (first_day - dt.timedelta(days=1), first_day, today):
        with _at(day):
            services.lead_disqualify(
                actor=rep, lead=LeadFactory(owner=rep), reason=reasons["No need"]
            )
    with _at(today):
        response = admin_client_.get(URL)
    data = response.context["data"]
    assert (data["since"], data["until"]) == (first_day, today)
    assert data["total"] == 2
    html = response.content.decode()
    assert f'value="{first_day.isoformat()}"' in html and f'value="{today.isoformat()}"' in html


def test_one_date_alone_is_enough(admin_client_):
    response = admin_client_.get(URL, {"until": "2026-03-31"})
    data = response.context["data"]
    assert (data["since"], data["until"]) == (dt.date(2026, 1, 1), dt.date(2026, 3, 31))
    response = admin_client_.get(URL, {"since": "2020-01-01", "until": ""})
    assert response.context["data"]["since"] == dt.date(2020, 1, 1)


def test_empty_period_says_so(admin_client_):
    html = admin_client_.get(URL, {"since": "2001-01-01", "until": "2001-01-31"}).content.decode()
    assert "No leads were disqualified in this period." in html
    assert "No leads were created in this period." in html


# --- who sees what -------------------------------------------------------------------------------


def test_a_rep_sees_only_their_own_leads(client, rep, other_rep, generated):
    client.force_login(rep)
    response = client.get(URL, RANGE)
    data = response.context["data"]
    expected = _hand_count(generated, owner=rep)
    assert data["total"] == expected["total"]
    assert {r["label"]: r["count"] for r in data["reasons"]} == expected["reasons"]
    assert {r["label"]: r["count"] for r in data["owners"]} == {"Rita Rep": expected["total"]}
    assert {
        r["label"]: (r["total"], r["qualified"], r["disqualified"]) for r in data["sources"]
    } == expected["sources"]
    html = response.content.decode()
    assert "Otto Other" not in html and "Secret fair" not in html
    assert "Only your own leads are counted." in html
    csv_text = client.get(URL, {**RANGE, "format": "csv"}).content.decode()
    assert "Otto Other" not in csv_text and "Secret fair" not in csv_text


def test_anonymous_is_sent_to_login(client):
    response = client.get(URL)
    assert response.status_code == 302 and response["Location"].startswith(reverse("login"))
    assert client.get(URL, {"format": "csv"}).status_code == 302


# --- CSV -----------------------------------------------------------------------------------------


def test_csv_holds_exactly_what_the_page_shows(admin_client_, generated):
    page = admin_client_.get(URL, RANGE)
    tables = _page_tables(page.content.decode())
    response = admin_client_.get(URL, {**RANGE, "format": "csv"})
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    assert response["Content-Disposition"] == (
        'attachment; filename="disqualification-insights-2026-10-10-2026-10-31.csv"'
    )
    head, by_reason, by_source, by_owner = _csv_sections(response.content)
    assert head == [
        ["Disqualification insights"],
        ["From", "2026-10-10"],
        ["To", "2026-10-31"],
        ["Disqualified leads", str(page.context["data"]["total"])],
    ]

    def shown(table, *, archived_column=False):
        rows = []
        for row in table[1:]:
            row = [c.removesuffix("%") for c in row]
            if archived_column:
                name = row[0].removesuffix(" Archived")
                row = [name, "Yes" if name != row[0] else "No", *row[1:]]
            rows.append(row)
        return rows

    assert by_reason[0] == ["By reason"]
    assert by_reason[2:] == shown(tables[0], archived_column=True)
    assert by_source[0] == ["By source"]
    assert by_source[2:] == shown(tables[1])
    assert by_owner[0] == ["By owner"]
    assert by_owner[2:] == shown(tables[2])
    assert len(tables) == 3


def test_csv_neutralises_formulas(admin_client_, rep, reasons):
    services.lead_disqualify(
        actor=rep, lead=LeadFactory(owner=rep, source="=HYPERLINK(1)"), reason=reasons["No need"]
    )
    text = admin_client_.get(URL, {"format": "csv"}).content.decode()
    assert "'=HYPERLINK(1)" in text
    assert "\n=HYPERLINK" not in text


def test_csv_link_keeps_the_period(admin_client_):
    html = admin_client_.get(URL, RANGE).content.decode()
    assert 'href="?since=2026-10-10&amp;until=2026-10-31&amp;format=csv"' in html


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
    for extra in ({}, {"format": "csv"}):
        response = admin_client_.get(URL, {**params, **extra})
        assert response.status_code == 400
        assert response["Content-Type"].startswith("text/html")
        html = response.content.decode()
        assert message in html
        assert f'id="id_{field}_error"' in html
        assert "Please correct the errors below." in html
        assert response.context["data"] is None


@pytest.mark.parametrize(
    "query",
    [
        "since=%ED%A0%80",
        "since=%FF",
        "since=a&since=b",
        "since",
        "format=xml",
        "until=" + "9" * 999,
    ],
)
def test_garbage_query_strings_never_break_the_page(admin_client_, query):
    assert admin_client_.get(f"{URL}?{query}").status_code in (200, 400)


# --- cost ----------------------------------------------------------------------------------------


def test_query_count_does_not_grow_with_leads(admin_client_, reasons):
    def count(fmt=None):
        with CaptureQueriesContext(connection) as ctx:
            response = admin_client_.get(URL, {"format": fmt} if fmt else {})
        assert response.status_code == 200
        return len(ctx.captured_queries)

    owner = UserFactory()
    for _ in range(2):
        services.lead_disqualify(
            actor=owner, lead=LeadFactory(owner=owner), reason=reasons["No need"]
        )
    small, small_csv = count(), count("csv")
    names = list(reasons)
    for i in range(40):
        someone = UserFactory() if i % 5 == 0 else owner
        lead = LeadFactory(owner=someone, source=f"source {i % 7}")
        services.lead_disqualify(actor=someone, lead=lead, reason=reasons[names[i % len(names)]])
    assert count() == small
    assert count("csv") == small_csv


def test_reports_index_links_to_the_report(rep_client):
    html = rep_client.get(reverse("report-list")).content.decode()
    assert f'href="{URL}"' in html and "Disqualification insights" in html
