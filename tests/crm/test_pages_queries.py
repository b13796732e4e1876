"""List pages run a fixed number of queries: 5 rows or 30 rows (a full page of 25) cost the same."""

import datetime as dt

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from crm import services
from tests.factories import (
    AccountFactory,
    ContactFactory,
    LeadFactory,
    OpportunityFactory,
    TagFactory,
    TaskFactory,
    TeamFactory,
    UserFactory,
)

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _fast_passwords(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


def _make(kind, n, rep):
    today = timezone.localdate()
    for i in range(n):
        if kind == "account":
            AccountFactory(owner=rep)
        elif kind == "contact":
            ContactFactory(
                owner=rep,
                account=AccountFactory(owner=rep),
                tags=[TagFactory(), TagFactory()],
            )
        elif kind == "task":
            contact = ContactFactory(owner=rep)
            TaskFactory(
                owner=rep,
                contact=contact,
                lead=LeadFactory(owner=rep),
                opportunity=OpportunityFactory(contact=contact, owner=rep),
                due_on=today + dt.timedelta(days=i % 9 - 2),
            )
        elif kind == "lead":
            LeadFactory(owner=rep)
        elif kind == "opportunity":
            OpportunityFactory(contact=ContactFactory(owner=rep), owner=rep)
        elif kind == "user":
            UserFactory()
        elif kind == "team":
            TeamFactory().members.set([UserFactory(), rep])


def _count(client, url):
    with CaptureQueriesContext(connection) as ctx:
        response = client.get(url)
    assert response.status_code == 200
    return len(ctx.captured_queries)


@pytest.mark.parametrize(
    ("kind", "url_name", "params"),
    [
        ("account", "account-list", {}),
        ("account", "account-list", {"q": "a", "sort": "-created"}),
        ("contact", "contact-list", {}),
        ("contact", "contact-list", {"sort": "email"}),
        ("task", "task-list", {}),
        ("task", "task-list", {"done": "false", "sort": "-due"}),
        ("task", "home", {}),
        ("lead", "lead-list", {}),
        ("opportunity", "opportunity-list", {}),
        ("user", "settings-users", {}),
        ("team", "settings-teams", {}),
    ],
)
def test_list_query_count_does_not_grow(client, admin, kind, url_name, params):
    client.force_login(admin)
    url = reverse(url_name)
    if params:
        url += "?" + "&".join(f"{k}={v}" for k, v in params.items())
    _make(kind, 5, admin)
    few = _count(client, url)
    _make(kind, 25, admin)
    many = _count(client, url)
    assert few == many


def test_timeline_query_count_does_not_grow(rep_client, rep, other_rep):
    contact = ContactFactory(owner=rep)
    account = AccountFactory(owner=rep)
    url = reverse("contact-detail", args=[contact.pk])

    def churn(n):
        for i in range(n):
            services.contact_update(
                actor=rep, contact=contact, phone=str(i), account=account if i % 2 else None
            )
            services.contact_update(actor=rep, contact=contact, owner=other_rep)
            services.contact_update(actor=other_rep, contact=contact, owner=rep)
            task = services.task_create(
                actor=rep, title=f"T{i}", due_on=timezone.localdate(), contact=contact
            )
            services.task_complete(actor=rep, task=task)

    churn(2)
    few = _count(rep_client, url)
    churn(10)
    many = _count(rep_client, url)
    assert few == many


@pytest.mark.django_db
def test_long_lists_count_up_to_a_cap(admin_client_, monkeypatch):
    """Past the cap a list says "more than N" (the count stops there) and keeps paging."""
    from crm import web
    from tests.factories import LeadFactory

    monkeypatch.setattr(web, "COUNT_CAP", 30)
    LeadFactory.create_batch(32)
    page = admin_client_.get(reverse("lead-list")).content.decode()
    assert "More than 30 results" in page
    assert ">Last<" not in page
    assert "Page 1<" in page
    second = admin_client_.get(reverse("lead-list"), {"page": 2})
    assert len(second.context["page_obj"]) == 7  # 32 leads, 25 a page: the rest is there
    monkeypatch.setattr(web, "COUNT_CAP", 40)
    page = admin_client_.get(reverse("lead-list")).content.decode()
    assert "32 results" in page and "Page 1 of 2" in page and ">Last<" in page


def test_a_page_reads_its_ids_first_then_only_their_rows(admin_client_, rep):
    """The list's rows with their joins are read for the page's ids only (the sort runs over
    the ids and the sort columns); the capped count has no ORDER BY."""
    for _ in range(30):
        ContactFactory(owner=rep, account=AccountFactory(owner=rep))
    with CaptureQueriesContext(connection) as ctx:
        response = admin_client_.get(reverse("contact-list"), {"page": 2})
    assert response.status_code == 200
    assert len(response.context["page_obj"].object_list) == 5
    contact_selects = [
        q["sql"] for q in ctx.captured_queries if 'FROM "crm_contact"' in q["sql"].split("WHERE")[0]
    ]
    count = next(sql for sql in contact_selects if sql.startswith("SELECT COUNT(*)"))
    assert "ORDER BY" not in count
    ids = next(sql for sql in contact_selects if sql.startswith('SELECT "crm_contact"."id" AS'))
    assert "LIMIT 5 OFFSET 25" in ids and "JOIN" not in ids
    rows = next(sql for sql in contact_selects if '"crm_account"."name"' in sql.split("FROM")[0])
    assert '"crm_contact"."id" IN (' in rows and "LIMIT" not in rows
