"""Who may open which page: sign-in required, records out of reach are 404, settings are 403."""

import pytest
from django.test import RequestFactory
from django.urls import reverse

from crm import views
from tests.factories import (
    AccountFactory,
    ContactFactory,
    LeadFactory,
    OpportunityFactory,
    TaskFactory,
    TeamFactory,
)

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _fast_passwords(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


PAGES = [
    ("home", []),
    ("account-list", []),
    ("account-create", []),
    ("contact-list", []),
    ("contact-create", []),
    ("task-list", []),
    ("task-create", []),
    ("lead-list", []),
    ("opportunity-list", []),
    ("report-list", []),
    ("password_change", []),
    ("password_change_done", []),
]
RECORD_PAGES = [
    "account-detail",
    "account-edit",
    "account-archive",
    "contact-detail",
    "contact-edit",
    "contact-archive",
    "task-detail",
    "task-edit",
    "task-archive",
]
POST_ONLY = ["task-complete", "task-reopen"]
SETTINGS_PAGES = [
    ("settings", False),
    ("settings-users", False),
    ("settings-user-create", False),
    ("settings-user-edit", True),
    ("settings-user-deactivate", True),
    ("settings-teams", False),
    ("settings-team-create", False),
    ("settings-team-edit", "team"),
]


@pytest.fixture
def others(other_rep):
    """One record of each kind owned by ``other_rep``."""
    account = AccountFactory(owner=other_rep, name="Hidden Industries")
    contact = ContactFactory(
        owner=other_rep, last_name="Hiddenbrook", email="hidden@example.com", account=account
    )
    task = TaskFactory(owner=other_rep, title="Hidden errand", contact=contact)
    return {"account": account, "contact": contact, "task": task}


def _record_url(name, records):
    entity = name.split("-")[0]
    return reverse(name, args=[records[entity].pk])


@pytest.mark.parametrize(("name", "args"), PAGES)
def test_anonymous_is_sent_to_login(client, name, args):
    url = reverse(name, args=args)
    response = client.get(url)
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))


@pytest.mark.parametrize("name", RECORD_PAGES + POST_ONLY)
def test_anonymous_is_sent_to_login_for_records(client, others, name):
    url = _record_url(name, others)
    for response in (client.get(url), client.post(url)):
        assert response.status_code == 302
        assert response["Location"].startswith(reverse("login"))


@pytest.mark.parametrize(("name", "arg"), SETTINGS_PAGES)
def test_anonymous_is_sent_to_login_for_settings(client, other_rep, name, arg):
    args = [] if not arg else [TeamFactory().pk if arg == "team" else other_rep.pk]
    response = client.get(reverse(name, args=args))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))


@pytest.mark.parametrize(("name", "args"), PAGES)
def test_signed_in_pages_render(rep_client, name, args):
    response = rep_client.get(reverse(name, args=args))
    assert response.status_code == 200


@pytest.mark.parametrize("name", RECORD_PAGES)
def test_rep_gets_404_for_other_reps_records(rep_client, others, name):
    url = _record_url(name, others)
    assert rep_client.get(url).status_code == 404
    assert rep_client.post(url, {"title": "x", "name": "x", "last_name": "x"}).status_code == 404


@pytest.mark.parametrize("name", POST_ONLY)
def test_rep_gets_404_completing_other_reps_task(rep_client, others, name):
    task = others["task"]
    if name == "task-reopen":
        task.done = True
        task.save()
    response = rep_client.post(reverse(name, args=[task.pk]), HTTP_HX_REQUEST="true")
    assert response.status_code == 404
    task.refresh_from_db()
    assert task.done is (name == "task-reopen")
    assert not task.events.exists()


def test_rep_cannot_archive_or_edit_other_reps_records(rep_client, others):
    for name in ("account-archive", "contact-archive", "task-archive"):
        rep_client.post(_record_url(name, others))
    for obj in others.values():
        obj.refresh_from_db()
        assert obj.archived_at is None


def test_404_page_is_friendly(rep_client, others):
    response = rep_client.get(reverse("contact-detail", args=[others["contact"].pk]))
    html = response.content.decode()
    assert "We could not find that page" in html
    assert "Hiddenbrook" not in html


@pytest.mark.parametrize(
    "name", ["account-list", "contact-list", "task-list", "home", "lead-list", "opportunity-list"]
)
def test_lists_never_show_other_reps_records(rep_client, rep, others, other_rep, name):
    LeadFactory(owner=other_rep, last_name="Hiddenbrook")
    OpportunityFactory(contact=others["contact"], owner=other_rep, name="Hidden deal")
    # the rep's own records are there
    AccountFactory(owner=rep, name="Visible Ltd")
    html = rep_client.get(reverse(name)).content.decode()
    for secret in ("Hidden Industries", "Hiddenbrook", "Hidden errand", "Hidden deal"):
        assert secret not in html


@pytest.mark.parametrize(
    ("name", "query"),
    [
        ("account-list", "Hidden"),
        ("contact-list", "Hiddenbrook"),
        ("contact-list", "hidden@example.com"),
        ("task-list", "errand"),
    ],
)
def test_search_never_finds_other_reps_records(rep_client, others, name, query):
    response = rep_client.get(reverse(name), {"q": query})
    html = response.content.decode()
    assert response.status_code == 200
    assert "0 results" in html
    for obj in others.values():
        assert reverse(f"{obj._meta.model_name}-detail", args=[obj.pk]) not in html
    assert "Hidden Industries" not in html
    assert "Hidden errand" not in html


def test_filtering_by_another_reps_id_matches_nothing(rep_client, others, other_rep):
    html = rep_client.get(
        reverse("contact-list"), {"account": others["account"].pk, "owner": other_rep.pk}
    ).content.decode()
    assert "Hiddenbrook" not in html
    html = rep_client.get(reverse("task-list"), {"contact": others["contact"].pk}).content.decode()
    assert "Hidden errand" not in html


def test_admin_sees_everyones_records(admin_client_, others):
    html = admin_client_.get(reverse("contact-list")).content.decode()
    assert "Hiddenbrook" in html
    assert admin_client_.get(_record_url("task-detail", others)).status_code == 200


@pytest.mark.parametrize(("name", "arg"), SETTINGS_PAGES)
def test_rep_gets_403_on_every_settings_page(rep_client, other_rep, name, arg):
    args = [] if not arg else [TeamFactory().pk if arg == "team" else other_rep.pk]
    url = reverse(name, args=args)
    assert rep_client.get(url).status_code == 403
    response = rep_client.post(url, {"name": "x", "username": "x", "role": "admin"})
    assert response.status_code == 403
    other_rep.refresh_from_db()
    assert other_rep.is_active


def test_403_page_is_friendly(rep_client):
    html = rep_client.get(reverse("settings-users")).content.decode()
    assert "You cannot open this page" in html


def test_settings_link_only_for_admins(client, rep, admin):
    settings_url = reverse("settings-users")
    client.force_login(rep)
    assert settings_url not in client.get(reverse("home")).content.decode()
    client.force_login(admin)
    assert settings_url in client.get(reverse("home")).content.decode()


def test_500_page_needs_no_request_context_or_database(django_assert_num_queries):
    with django_assert_num_queries(0):
        response = views.error_500(RequestFactory().get("/"))
    assert response.status_code == 500
    assert b"Something went wrong" in response.content


def test_error_handlers_status_codes(rf, rep):
    request = rf.get("/")
    request.user = rep
    assert views.error_403(request).status_code == 403
    assert views.error_404(request).status_code == 404
