"""Every list endpoint costs the same number of queries for 10 rows as for 100 (no N+1)."""

import datetime as dt

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from crm.models import Account, Contact, Event, Tag, Task, Team, User
from tests.factories import LeadFactory, OpportunityFactory

pytestmark = pytest.mark.django_db

ROWS = 130
LISTS = {
    "users": "/api/v1/users/",
    "teams": "/api/v1/teams/",
    "accounts": "/api/v1/accounts/",
    "contacts": "/api/v1/contacts/",
    "tasks": "/api/v1/tasks/",
    "events": "/api/v1/events/",
}
MAX_QUERIES = 4  # token+user, the page, prefetches: a small constant


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def populated(admin, rep, other_rep):
    """``ROWS`` rows of every list visible to ``rep`` (and as many more for ``other_rep``)."""
    users = User.objects.bulk_create(
        User(username=f"bulk{i}", first_name=f"F{i}", last_name=f"L{i}", password="!")
        for i in range(ROWS)
    )
    teams = Team.objects.bulk_create(Team(name=f"Team {i}") for i in range(ROWS))
    for i, team in enumerate(teams):
        team.members.set([users[i], users[(i + 1) % ROWS], rep])
    tags = Tag.objects.bulk_create(Tag(name=f"tag {i}") for i in range(5))
    for owner in (rep, other_rep):
        accounts = Account.objects.bulk_create(
            Account(name=f"Account {i}", owner=owner) for i in range(ROWS)
        )
        contacts = Contact.objects.bulk_create(
            Contact(last_name=f"Contact {i}", owner=owner, account=accounts[i]) for i in range(ROWS)
        )
        Contact.tags.through.objects.bulk_create(
            Contact.tags.through(contact=c, tag=tags[(i + k) % 5])
            for i, c in enumerate(contacts)
            for k in range(2)
        )
        lead = LeadFactory(owner=owner)
        opportunity = OpportunityFactory(contact=contacts[0], owner=owner)
        tasks = Task.objects.bulk_create(
            Task(
                title=f"Task {i}",
                due_on=dt.date(2026, 12, 1),
                owner=owner,
                contact=contacts[i],
                lead=lead,
                opportunity=opportunity,
            )
            for i in range(ROWS)
        )
        Event.objects.bulk_create(
            [Event(actor=owner, kind="updated", account=a, data={"n": 1}) for a in accounts]
            + [Event(actor=owner, kind="updated", task=t, data={"n": 1}) for t in tasks]
        )


def _queries(client, url) -> int:
    with CaptureQueriesContext(connection) as ctx:
        response = client.get(url)
    assert response.status_code == 200, response.content
    return len(ctx.captured_queries), len(response.json()["results"])


@pytest.mark.parametrize("role", ["admin", "rep"])
@pytest.mark.parametrize("name", list(LISTS))
def test_list_query_count_does_not_grow_with_page_size(
    request, populated, admin_api, rep_api, role, name
):
    client = admin_api if role == "admin" else rep_api
    url = LISTS[name]
    client.get(f"{url}?page_size=1")  # warm-up: anything cached per process is loaded now

    small, small_rows = _queries(client, f"{url}?page_size=10")
    large, large_rows = _queries(client, f"{url}?page_size=100")

    assert (small_rows, large_rows) == (10, 100)
    assert small == large, f"{name} as {role}: {small} queries for 10 rows, {large} for 100"
    assert large <= MAX_QUERIES


@pytest.mark.parametrize("name", ["contacts", "tasks", "events"])
def test_filtered_list_query_count_does_not_grow(populated, rep_api, rep, name):
    url = f"{LISTS[name]}?owner={rep.pk}&q=1" if name != "events" else f"{LISTS[name]}?kind=updated"
    small, _ = _queries(rep_api, f"{url}&page_size=10")
    large, _ = _queries(rep_api, f"{url}&page_size=100")
    assert small == large


def test_walking_pages_costs_the_same_per_page(populated, rep_api):
    first, _ = _queries(rep_api, "/api/v1/contacts/?page_size=50")
    next_url = rep_api.get("/api/v1/contacts/?page_size=50").json()["next"]
    second, _ = _queries(rep_api, next_url)
    assert first == second
