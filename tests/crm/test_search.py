"""Global search (issue #9, point 4): crm/search.py, GET /api/v1/search/ and the /search/ page."""

from __future__ import annotations

import re

import pytest
from django.db import connection
from django.urls import reverse
from django.utils import timezone

from crm import search
from crm.search import global_search
from opportunities.models import ContactAccess, OpportunityShare
from tests.factories import (
    AccountFactory,
    ContactFactory,
    LeadFactory,
    OpportunityFactory,
)

pytestmark = pytest.mark.django_db

API = "/api/v1/search/"
ONLY_POSTGRES = pytest.mark.skipif(
    connection.vendor != "postgresql", reason="Postgres only (the embedded SQLite mode differs)"
)


def found(user, q, **kwargs) -> set[tuple[str, int]]:
    return {(row["kind"], row["id"]) for row in global_search(user=user, q=q, **kwargs)}


@pytest.fixture
def spaniard(rep):
    """A lead and a contact of ``rep`` with the issue's phone, and one written another way."""
    lead = LeadFactory(
        owner=rep,
        first_name="Lucía",
        last_name="Fernández",
        company="Acme Ibérica",
        email="lucia@acme.example",
        phone="+34 600 11 22 33",
    )
    contact = ContactFactory(
        owner=rep,
        first_name="Jorge",
        last_name="Pastor",
        email="jorge@pastor.example",
        phone="(+34) 600-11-22-33",
    )
    return lead, contact


# --- phones ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("q", ["600112233", "611 22", "+34 600 11 22 33", "34-600-112", "(600) 11"])
def test_a_phone_is_found_whatever_its_format(rep, spaniard, q):
    lead, contact = spaniard
    assert {("lead", lead.pk), ("contact", contact.pk)} <= found(rep, q)


def test_the_issues_phone_by_600112233_and_by_611_22(rep, spaniard):
    """Issue #9: "+34 600 11 22 33" is found by "600112233" (its digits) and by "611 22" (its
    digits in order with others between: the gapped pass, since nothing has "61122")."""
    lead, contact = spaniard
    assert found(rep, "600112233") == {("lead", lead.pk), ("contact", contact.pk)}
    assert found(rep, "611 22") == {("lead", lead.pk), ("contact", contact.pk)}


def test_exact_digits_win_over_gapped_ones(rep, spaniard):
    """The gapped pass runs only when nothing has the digits as they were typed."""
    lead, contact = spaniard
    assert found(rep, "600 33") == {("lead", lead.pk), ("contact", contact.pk)}  # gapped
    exact = LeadFactory(owner=rep, last_name="Exacto", phone="+34 600 33 00 00")
    assert found(rep, "600 33") == {("lead", exact.pk)}


def test_too_few_digits_for_a_phone_or_for_a_gapped_one(rep, spaniard):
    assert found(rep, "60") == set()  # two digits are no phone (and no name has them)
    assert found(rep, "6 0 1 3") == set()  # not in a row, and four digits are too few for gaps
    assert found(rep, "9 9 9 9 9") == set()  # gapped, but no phone has them
    assert found(rep, "60133") == set()  # five digits, but typed in one group: no gaps


def test_a_query_with_letters_is_not_a_phone(rep, spaniard):
    assert found(rep, "Fernández 600") == set()


# --- names, companies, e-mails --------------------------------------------------------------------


@pytest.mark.parametrize(
    "q",
    [
        "luc",
        "LUCÍA",
        "lucia fernandez",  # accents do not matter
        "FERNANDEZ",
        "fernán",
        "lucía fernández",
        "acme ib",
        "lucia@acme",
        "acme.example",
    ],
)
def test_a_lead_by_part_of_its_name_company_or_email(rep, spaniard, q):
    lead, _contact = spaniard
    assert ("lead", lead.pk) in found(rep, q)


@pytest.mark.parametrize("q", ["jor", "pastor", "jorge pastor", "@pastor.ex"])
def test_a_contact_by_part_of_its_name_or_email(rep, spaniard, q):
    _lead, contact = spaniard
    assert ("contact", contact.pk) in found(rep, q)


def test_accents_do_not_matter_either_way(rep):
    nunez = ContactFactory(owner=rep, first_name="Íñigo", last_name="Núñez", email="")
    plain = LeadFactory(owner=rep, first_name="Inigo", last_name="Nunez", company="", email="")
    account = AccountFactory(owner=rep, name="Cafés Ñandú")
    for q in ("iñigo núñez", "INIGO NUNEZ", "Íñigo Nunez"):
        assert found(rep, q) == {("contact", nunez.pk), ("lead", plain.pk)}, q
    assert found(rep, "cafes nandu") == {("account", account.pk)}
    assert search.fold("Lucía Núñez, Çà") == "Lucia Nunez, Ca"
    assert len(search.ACCENTED) == len(search.PLAIN)


def test_an_account_and_its_contacts_by_company(rep):
    account = AccountFactory(owner=rep, name="Zurbarán Logistics", industry="Transport")
    contact = ContactFactory(owner=rep, first_name="Ana", last_name="Ruiz", account=account)
    rows = global_search(user=rep, q="zurbar")
    assert [(r["kind"], r["id"]) for r in rows] == [
        ("contact", contact.pk),
        ("account", account.pk),
    ]
    account_row = rows[1]
    assert account_row["title"] == "Zurbarán Logistics"
    assert account_row["url"] == reverse("account-detail", args=[account.pk])
    assert rows[0]["subtitle"].startswith("Zurbarán Logistics")


def test_an_opportunity_by_its_name_and_by_its_contact(rep):
    contact = ContactFactory(
        owner=rep, first_name="Berta", last_name="Quintana", phone="612 34 56 78"
    )
    deal = OpportunityFactory(owner=rep, contact=contact, name="Renewal 2027")
    assert ("opportunity", deal.pk) in found(rep, "renewal")
    assert ("opportunity", deal.pk) in found(rep, "quintana")
    assert ("opportunity", deal.pk) in found(rep, "612345")
    row = next(r for r in global_search(user=rep, q="renewal") if r["kind"] == "opportunity")
    assert row["title"] == "Renewal 2027"
    assert row["url"] == reverse("opportunity-detail", args=[deal.pk])
    assert row["subtitle"] == deal.stage.name


def test_results_shape_and_order(rep):
    later = LeadFactory(owner=rep, first_name="Zoe", last_name="Marín", company="Martech", email="")
    first = LeadFactory(owner=rep, first_name="Mario", last_name="Zeta", company="", email="")
    inside = LeadFactory(owner=rep, first_name="Ana", last_name="Somar", company="", email="")
    rows = global_search(user=rep, q="mar")
    assert [r["id"] for r in rows] == [later.pk, first.pk, inside.pk]  # prefixes first, by name
    assert rows[0] == {
        "kind": "lead",
        "id": later.pk,
        "title": "Zoe Marín",
        "subtitle": "Martech",
        "url": reverse("lead-detail", args=[later.pk]),
    }


def test_limit_per_kind(rep):
    for n in range(4):
        LeadFactory(owner=rep, last_name=f"Quijote {n}")
        ContactFactory(owner=rep, last_name=f"Quijote {n}")
    rows = global_search(user=rep, q="quijote", limit_per_kind=3)
    assert [r["kind"] for r in rows] == ["lead"] * 3 + ["contact"] * 3


def test_archived_records_are_not_found(rep):
    LeadFactory(owner=rep, last_name="Archivado", archived_at=timezone.now())
    ContactFactory(owner=rep, last_name="Archivado", archived_at=timezone.now())
    assert found(rep, "archivado") == set()


@pytest.mark.parametrize("q", ["", " ", "a", "  b  ", "ab", "x" * 101, "a\x00bc", "%", "_%", "\\"])
def test_short_huge_or_odd_queries_find_nothing(rep, q):
    LeadFactory(owner=rep, first_name="a%_\\", last_name="b")
    assert global_search(user=rep, q=q) == []


def test_like_wildcards_are_literal(rep):
    plain = LeadFactory(owner=rep, first_name="Plain", last_name="Name", company="", email="")
    odd = LeadFactory(owner=rep, first_name="Half", last_name="50%_off", company="", email="")
    assert found(rep, "%%%") == set()
    assert found(rep, "P_ain") == set()
    assert found(rep, "0%_") == {("lead", odd.pk)}
    assert found(rep, "plain") == {("lead", plain.pk)}


# --- visibility -----------------------------------------------------------------------------------


@pytest.fixture
def others(other_rep):
    """Records of another rep, all matching "Quimera" or the issue's phone."""
    account = AccountFactory(owner=other_rep, name="Quimera SA")
    contact = ContactFactory(
        owner=other_rep, last_name="Quimera", phone="+34 600 11 22 33", account=account
    )
    lead = LeadFactory(owner=other_rep, last_name="Quimera", phone="600112233")
    deal = OpportunityFactory(owner=other_rep, contact=contact, name="Quimera deal")
    return {"account": account, "contact": contact, "lead": lead, "opportunity": deal}


def test_another_reps_records_are_never_found(rep, others):
    for q in ("quimera", "600112233", "611 22", "quimera sa", "Quimera deal"):
        assert found(rep, q) == set(), q


def test_an_admin_finds_everything(admin, others):
    assert found(admin, "quimera") == {(kind, obj.pk) for kind, obj in others.items()}
    assert {("lead", others["lead"].pk), ("contact", others["contact"].pk)} <= found(
        admin, "611 22"
    )


def test_a_shared_deal_is_found_but_not_the_account_nor_the_lead(rep, others):
    """Shared with ``rep`` (and its contact granted by the rules): those two, nothing else; the
    contact's company is not shown, and the company name does not find them."""
    deal, contact = others["opportunity"], others["contact"]
    OpportunityShare.objects.create(opportunity=deal, user=rep)
    ContactAccess.objects.create(contact=contact, user=rep, reason="shared", opportunity=deal)
    assert found(rep, "quimera") == {("opportunity", deal.pk), ("contact", contact.pk)}
    row = next(r for r in global_search(user=rep, q="quimera") if r["kind"] == "contact")
    assert "Quimera SA" not in row["subtitle"]
    assert found(rep, "quimera sa") == set()


def test_a_deal_is_not_found_by_a_contact_the_user_does_not_see(rep, others):
    deal = others["opportunity"]
    OpportunityShare.objects.create(opportunity=deal, user=rep)  # no contact access
    assert found(rep, "quimera") == {("opportunity", deal.pk)}
    assert found(rep, "611 22") == set()  # the contact's phone


def test_anonymous_and_inactive_users_find_nothing(rep, spaniard, django_user_model):
    from django.contrib.auth.models import AnonymousUser

    assert global_search(user=AnonymousUser(), q="lucía") == []
    rep.is_active = False
    rep.save()
    assert global_search(user=rep, q="lucía") == []


# --- queries --------------------------------------------------------------------------------------


def _world(owner, n):
    account = AccountFactory(owner=owner, name="Ortega Holdings")
    for i in range(n):
        contact = ContactFactory(owner=owner, last_name=f"Ortega {i}", account=account)
        LeadFactory(owner=owner, last_name=f"Ortega {i}", phone="+34 611 22 33 44")
        OpportunityFactory(owner=owner, contact=contact, name=f"Ortega deal {i}")


def _kinds(rows) -> dict[str, int]:
    counts: dict[str, int] = {}
    for row in rows:
        counts[row["kind"]] = counts.get(row["kind"], 0) + 1
    return counts


@pytest.mark.parametrize("size", [2, 12])
def test_one_query_per_kind_whatever_the_size(rep, admin, django_assert_num_queries, size):
    _world(rep, size)
    n = min(size, 5)  # five per kind at most
    expected = {
        "ortega": {"lead": n, "contact": n, "account": 1, "opportunity": n},
        "ortega holdings": {"contact": n, "account": 1, "opportunity": n},  # by company
    }
    for user in (rep, admin):
        for q, kinds in expected.items():
            with django_assert_num_queries(1 + 4):  # the matching contacts' ids, then each kind
                rows = global_search(user=user, q=q)
            assert _kinds(rows) == kinds, (user, q)
        # no contact has this phone: no query for the contacts' rows
        with django_assert_num_queries(1 + 3):
            rows = global_search(user=user, q="611 22")
        assert _kinds(rows) == {"lead": n}  # the leads' phones; the contacts have another
        # nothing exact: the gapped pass (leads, and the contacts' ids, none)
        with django_assert_num_queries(1 + 3 + 2):
            rows = global_search(user=user, q="6 1 2 3 4")
        assert _kinds(rows) == {"lead": n}


def test_the_contacts_are_searched_once_for_contacts_and_deals(rep, admin):
    """The deals found by their contact use the contact ids the contacts' search read: the
    contacts' text is matched in one query only."""
    from django.test.utils import CaptureQueriesContext

    _world(rep, 3)
    # the contacts' haystack (``Haystack``): first name || ' ' || last name || ' ' || e-mail
    folded_names = re.compile(
        r"first_name\" \|\| ' ' \|\| \S*\"last_name\" \|\| ' ' \|\| \S*\"email"
    )
    for user in (rep, admin):
        with CaptureQueriesContext(connection) as queries:
            rows = global_search(user=user, q="ortega")
        assert _kinds(rows)["opportunity"] == 3
        matching = [q["sql"] for q in queries.captured_queries if folded_names.search(q["sql"])]
        assert len(matching) == 1, matching


def test_a_search_past_the_contact_ids_read_stays_in_sql(rep, other_rep, admin, monkeypatch):
    """More matching contacts than ``CONTACT_IDS_READ``: the same results, from a subquery."""
    _world(rep, 4)
    theirs = ContactFactory(owner=other_rep, last_name="Ortega granted")
    deal = OpportunityFactory(owner=other_rep, contact=theirs, name="Granted deal")
    ContactAccess.objects.create(contact=theirs, user=rep, reason="shared", opportunity=deal)
    OpportunityShare.objects.create(opportunity=deal, user=rep)
    ContactFactory(owner=other_rep, last_name="Ortega hidden")
    for user in (rep, admin):
        as_list = global_search(user=user, q="ortega", limit_per_kind=20)
        monkeypatch.setattr(search, "CONTACT_IDS_READ", 2)
        as_query = global_search(user=user, q="ortega", limit_per_kind=20)
        monkeypatch.undo()
        assert as_query == as_list
        assert ("opportunity", deal.pk) in {(r["kind"], r["id"]) for r in as_list}
    hidden = {r["title"] for r in global_search(user=rep, q="ortega", limit_per_kind=20)}
    assert "Ortega hidden" not in " ".join(hidden)


def test_no_query_for_a_query_too_short(rep, django_assert_num_queries):
    with django_assert_num_queries(0):
        assert global_search(user=rep, q="a") == []


@ONLY_POSTGRES  # trigram indexes are Postgres-only
@pytest.mark.parametrize(
    ("kind", "q", "index"),
    [
        ("lead", "ortega", "search_lead_fold_trgm"),
        ("lead", "611 223", "search_lead_phone_trgm"),
        ("contact", "ortega", "search_contact_fold_trgm"),
        ("contact", "600 000", "search_contact_phone_trgm"),
        ("account", "ortega", "search_account_fold_trgm"),
        ("opportunity", "ortega", "search_opportunity_fold_trgm"),
    ],
)
def test_the_searches_use_the_trigram_indexes(admin, kind, q, index):
    """The queries of each kind, as the selector builds them, can be planned on its trigram
    index: the expressions in crm/search.py and in the migration are the same. On tables this
    small the planner would rather scan, so scans, plain index scans, the (owner, archived_at)
    indexes and the b-tree indexes of live rows only (they also cover ``archived_at IS NULL``) are
    put out of its reach for the test (the DROP is rolled back with it)."""
    from django.test.utils import CaptureQueriesContext

    _world(admin, 3)
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT indexname FROM pg_indexes WHERE indexdef LIKE '%%(owner_id, archived_at)%%'"
            " OR indexdef LIKE 'CREATE INDEX %%USING btree%%WHERE (archived_at IS NULL)'"
        )
        for (name,) in cursor.fetchall():
            cursor.execute(f'DROP INDEX "{name}"')
        cursor.execute("SET LOCAL enable_seqscan = off")
        cursor.execute("SET LOCAL enable_indexscan = off")
        with CaptureQueriesContext(connection) as ctx:
            rows = global_search(user=admin, q=q)
        assert kind in {row["kind"] for row in rows}
        plans = []
        for query in ctx.captured_queries:
            cursor.execute("EXPLAIN " + query["sql"])
            plans.append("\n".join(row[0] for row in cursor.fetchall()))
    assert any(f"Bitmap Index Scan on {index}" in plan for plan in plans), plans


# --- the API twin ---------------------------------------------------------------------------------


def test_api_search(rep_api, spaniard, others):
    lead, contact = spaniard
    response = rep_api.get(API, {"q": "611 22"})
    assert response.status_code == 200, response.content
    results = response.json()["results"]
    assert {(r["kind"], r["id"]) for r in results} == {("lead", lead.pk), ("contact", contact.pk)}
    assert set(results[0]) == {"kind", "id", "title", "subtitle", "url"}


def test_api_search_limit(rep_api, rep):
    for n in range(3):
        LeadFactory(owner=rep, last_name=f"Quijote {n}")
    response = rep_api.get(API, {"q": "quijote", "limit": 2})
    assert len(response.json()["results"]) == 2


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({}, "q"),
        ({"q": "x" * 101}, "q"),
        ({"q": "ab\x00"}, "q"),
        ({"q": "ab", "limit": 0}, "limit"),
    ],
)
def test_api_bad_input_is_400(rep_api, params, field):
    response = rep_api.get(API, params)
    assert response.status_code == 400, response.content
    assert field in response.json()


def test_api_short_query_is_200_and_empty(rep_api, spaniard):
    response = rep_api.get(API, {"q": "l"})
    assert response.status_code == 200
    assert response.json() == {"results": []}


def test_api_is_for_signed_in_users(api_anon):
    assert api_anon.get(API, {"q": "lucía"}).status_code in (401, 403)


# --- the page and the dialog's fragment -----------------------------------------------------------


def test_search_page(rep_client, spaniard, others):
    lead, contact = spaniard
    response = rep_client.get(reverse("search"), {"q": "611 22"})
    assert response.status_code == 200
    body = response.content.decode()
    assert reverse("lead-detail", args=[lead.pk]) in body
    assert reverse("contact-detail", args=[contact.pk]) in body
    assert "Quimera" not in body
    assert "2 records found." in body


def test_the_page_shows_more_per_kind_than_the_dialog(rep_client, rep):
    for n in range(7):
        LeadFactory(owner=rep, last_name=f"Quijote {n}")
    page = rep_client.get(reverse("search"), {"q": "quijote"}).content.decode()
    dialog = rep_client.get(reverse("search"), {"q": "quijote"}, HTTP_HX_REQUEST="true")
    assert len(re.findall(r'href="/leads/\d+/"', page)) == 7
    assert dialog.content.decode().count('role="option"') == 5


def test_search_page_without_query_lists_commands(rep_client):
    body = rep_client.get(reverse("search")).content.decode()
    assert reverse("lead-create") in body and reverse("task-create") in body


@pytest.mark.parametrize("q", ["x" * 101, "a\x00b"])
def test_search_page_bad_input_is_an_error_message_not_a_500(rep_client, q):
    response = rep_client.get(reverse("search"), {"q": q})
    assert response.status_code == 200
    assert 'aria-invalid="true"' in response.content.decode()


def test_search_page_short_query_says_so(rep_client):
    response = rep_client.get(reverse("search"), {"q": "a"})
    assert "Type at least 3 characters" in response.content.decode()


def test_search_fragment_options_and_commands(rep_client, spaniard):
    lead, _contact = spaniard
    response = rep_client.get(reverse("search"), {"q": "new l"}, HTTP_HX_REQUEST="true")
    body = response.content.decode()
    assert "<html" not in body
    assert 'role="option"' in body and reverse("lead-create") in body
    assert reverse("task-create") not in body  # "new l" is not "New task"
    response = rep_client.get(reverse("search"), {"q": "lucía"}, HTTP_HX_REQUEST="true")
    body = response.content.decode()
    assert f'data-href="{reverse("lead-detail", args=[lead.pk])}"' in body
    assert '<span class="search-kind">Lead</span>' in body  # the kind in words, not colour


def test_commands_in_spanish_and_english(rep):
    from django.utils import translation

    with translation.override("es"):
        spanish = {c["url"] for c in search.search_commands(q="agenda")}
        english = {c["url"] for c in search.search_commands(q="go to agenda")}
    assert reverse("home") in spanish and reverse("home") in english


def test_search_page_needs_login(client):
    response = client.get(reverse("search"), {"q": "ab"})
    assert response.status_code == 302


def test_base_template_has_the_search_box(rep_client):
    body = rep_client.get(reverse("home")).content.decode()
    assert 'id="search-dialog"' in body and 'role="combobox"' in body
    assert "js/search.js" in body


# --- many matches: an admin's candidates are capped, a rep's own matches never are ----------------


def test_an_admin_ranks_the_first_candidates_of_a_very_common_query(admin, rep, monkeypatch):
    """Past ``CANDIDATES`` text matches an admin's search ranks those it found first (reading
    every match of a common surname in a million contacts took seconds): still results, the
    query narrowed by typing more."""
    contacts = [ContactFactory(owner=rep, last_name=f"Ortega {n}") for n in range(6)]
    monkeypatch.setattr(search, "CANDIDATES", 3)
    rows = [r for r in global_search(user=admin, q="ortega") if r["kind"] == "contact"]
    assert 1 <= len(rows) <= 3
    assert {r["id"] for r in rows} <= {c.pk for c in contacts}
    # a narrower query finds its one contact again
    assert found(admin, "ortega 5") >= {("contact", contacts[5].pk)}


def test_a_rep_finds_every_match_of_their_own_past_the_admin_cap(
    rep, other_rep, monkeypatch, django_assert_max_num_queries
):
    """A rep's search reads their own rows and their grants, not the first matches of the whole
    table: the matches of other reps cannot crowd theirs out."""
    for n in range(8):
        ContactFactory(owner=other_rep, last_name=f"Ortega other {n}")
        LeadFactory(owner=other_rep, last_name=f"Ortega other {n}")
    mine = [ContactFactory(owner=rep, last_name=f"Ortega mine {n}") for n in range(3)]
    lead = LeadFactory(owner=rep, last_name="Ortega mine")
    theirs = ContactFactory(owner=other_rep, last_name="Ortega granted")
    deal = OpportunityFactory(owner=other_rep, contact=theirs, name="Ortega deal")
    OpportunityShare.objects.create(opportunity=deal, user=rep)
    ContactAccess.objects.create(contact=theirs, user=rep, reason="shared", opportunity=deal)
    monkeypatch.setattr(search, "CANDIDATES", 1)
    with django_assert_max_num_queries(5):  # the matching contacts' ids, then one per kind
        result = found(rep, "ortega", limit_per_kind=10)
    assert result == {
        *(("contact", c.pk) for c in mine),
        ("contact", theirs.pk),
        ("lead", lead.pk),
        ("opportunity", deal.pk),
    }


@pytest.mark.parametrize("who", ["rep", "admin", "inactive"])
def test_the_visible_parts_make_up_the_visible_sets(who, rep, other_rep, admin):
    from crm import access

    user = {"rep": rep, "admin": admin, "inactive": other_rep}[who]
    if who == "inactive":
        user.is_active = False
        user.save()
    own = ContactFactory(owner=user)
    theirs = ContactFactory(owner=rep if who != "rep" else other_rep)
    ContactFactory(owner=other_rep, archived_at=timezone.now())
    deal = OpportunityFactory(owner=theirs.owner, contact=theirs)
    OpportunityShare.objects.create(opportunity=deal, user=user)
    ContactAccess.objects.create(contact=theirs, user=user, reason="shared", opportunity=deal)
    OpportunityFactory(owner=user, contact=own)
    for parts, visible in [
        (access.visible_contact_parts(user), access.visible_contacts(user)),
        (access.visible_opportunity_parts(user), access.visible_opportunities(user)),
    ]:
        union = set(parts.owned.values_list("pk", flat=True))
        if parts.granted is not None:
            union |= set(parts.granted.values_list("pk", flat=True))
        assert union == set(visible.values_list("pk", flat=True))
        assert (parts.granted is None) == (who != "rep")
