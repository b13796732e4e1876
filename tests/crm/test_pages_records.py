"""Accounts, contacts and tasks pages: forms write through the services (and an Event), bad input
shows field errors and changes nothing, archive and mark-done work with and without htmx."""

import datetime as dt

import pytest
from django.urls import reverse
from django.utils import timezone

from crm.models import Account, Contact, Event, EventKind, Task
from tests.factories import (
    AccountFactory,
    ContactFactory,
    LeadFactory,
    OpportunityFactory,
    TagFactory,
    TaskFactory,
    UserFactory,
)

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _fast_passwords(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


def _snapshot():
    return (
        list(Account.objects.values().order_by("pk")),
        list(Contact.objects.values().order_by("pk")),
        list(Task.objects.values().order_by("pk")),
        Event.objects.count(),
    )


# --- accounts ------------------------------------------------------------------------------------


def test_account_create(rep_client, rep):
    response = rep_client.post(
        reverse("account-create"),
        {
            "name": "  Acme  ",
            "industry": "Retail",
            "country": "Spain",
            "company_size": "11-50",
            "owner": rep.pk,
        },
    )
    account = Account.objects.get()
    assert response.status_code == 302
    assert response["Location"] == reverse("account-detail", args=[account.pk])
    assert (account.name, account.industry, account.company_size) == ("Acme", "Retail", "11-50")
    assert account.owner == rep
    event = Event.objects.get(account=account)
    assert (event.kind, event.actor) == (EventKind.CREATED, rep)


def test_account_create_bad_input_changes_nothing(rep_client, rep):
    before = _snapshot()
    response = rep_client.post(
        reverse("account-create"), {"name": "", "company_size": "huge", "owner": rep.pk}
    )
    assert response.status_code == 200
    form = response.context["form"]
    assert "name" in form.errors and "company_size" in form.errors
    html = response.content.decode()
    assert 'aria-invalid="true"' in html
    assert "This field is required." in html
    assert _snapshot() == before


def test_account_create_owner_must_be_active(rep_client):
    inactive = UserFactory(is_active=False)
    before = _snapshot()
    response = rep_client.post(reverse("account-create"), {"name": "X", "owner": inactive.pk})
    assert "owner" in response.context["form"].errors
    assert _snapshot() == before


def test_account_edit(rep_client, rep):
    account = AccountFactory(owner=rep, name="Old", country="Spain")
    response = rep_client.get(reverse("account-edit", args=[account.pk]))
    assert response.context["form"].initial["name"] == "Old"
    response = rep_client.post(
        reverse("account-edit", args=[account.pk]),
        {"name": "New", "industry": account.industry, "country": "Spain", "owner": rep.pk},
    )
    assert response.status_code == 302
    account.refresh_from_db()
    assert account.name == "New"
    event = Event.objects.get(account=account)
    assert event.kind == EventKind.UPDATED
    assert event.data["changes"] == {"name": ["Old", "New"]}


def test_account_edit_bad_input_changes_nothing(rep_client, rep):
    account = AccountFactory(owner=rep, name="Old")
    before = _snapshot()
    response = rep_client.post(
        reverse("account-edit", args=[account.pk]), {"name": "", "owner": rep.pk}
    )
    assert response.status_code == 200
    assert "name" in response.context["form"].errors
    assert _snapshot() == before


def test_account_handed_to_someone_else_goes_back_to_list(rep_client, rep, other_rep):
    account = AccountFactory(owner=rep, name="Gift")
    response = rep_client.post(
        reverse("account-edit", args=[account.pk]),
        {"name": "Gift", "industry": "Software", "country": "Spain", "owner": other_rep.pk},
    )
    assert response["Location"] == reverse("account-list")
    account.refresh_from_db()
    assert account.owner == other_rep
    assert Event.objects.get(account=account).kind == EventKind.OWNER_CHANGED


def test_account_archive(rep_client, rep):
    account = AccountFactory(owner=rep, name="Gone Ltd")
    url = reverse("account-archive", args=[account.pk])
    confirm = rep_client.get(url)
    assert confirm.status_code == 200
    assert "Archive account" in confirm.content.decode()
    account.refresh_from_db()
    assert account.archived_at is None  # GET only asks
    response = rep_client.post(url)
    assert response["Location"] == reverse("account-list")
    account.refresh_from_db()
    assert account.archived_at is not None
    assert Event.objects.get(account=account).kind == EventKind.ARCHIVED
    assert "Gone Ltd" not in rep_client.get(reverse("account-list")).content.decode()
    assert rep_client.get(reverse("account-detail", args=[account.pk])).status_code == 404


def test_account_detail_lists_contacts_and_timeline(rep_client, rep):
    account = AccountFactory(owner=rep, name="Acme")
    ContactFactory(owner=rep, account=account, last_name="Inside")
    ContactFactory(owner=rep, last_name="Outside")
    rep_client.post(
        reverse("account-edit", args=[account.pk]),
        {"name": "Acme", "country": "France", "owner": rep.pk},
    )
    html = rep_client.get(reverse("account-detail", args=[account.pk])).content.decode()
    assert "Inside" in html and "Outside" not in html
    assert "Rita Rep edited the account." in html
    assert "Country: Spain → France" in html


def test_account_list_filters_sort_and_pagination_live_in_the_url(rep_client, rep):
    for i in range(30):
        AccountFactory(owner=rep, name=f"Firm {i:02}", country="Spain" if i % 2 else "France")
    response = rep_client.get(reverse("account-list"), {"country": "spain", "sort": "-name"})
    names = [a.name for a in response.context["page_obj"]]
    assert names[0] == "Firm 29" and all(int(n[-2:]) % 2 for n in names)
    assert response.context["page_obj"].paginator.count == 15
    response = rep_client.get(reverse("account-list"), {"page": 2})
    assert len(response.context["page_obj"]) == 5
    html = response.content.decode()
    assert "Page 2 of 2" in html
    # sort links keep the filters and drop the page
    response = rep_client.get(reverse("account-list"), {"country": "spain", "page": 1})
    col = next(c for c in response.context["columns"] if c["key"] == "name")
    assert "country=spain" in col["url"] and "page" not in col["url"]


# --- contacts ------------------------------------------------------------------------------------


def test_contact_create_with_tags_and_account(rep_client, rep):
    account = AccountFactory(owner=rep)
    response = rep_client.post(
        reverse("contact-create"),
        {
            "first_name": "Lucía",
            "last_name": "Fernández",
            "email": "lucia@example.com",
            "phone": "",
            "account": account.pk,
            "owner": rep.pk,
            "tags": "vip, madrid , ,VIP",
        },
    )
    contact = Contact.objects.get()
    assert response["Location"] == reverse("contact-detail", args=[contact.pk])
    assert contact.account == account
    assert sorted(t.name for t in contact.tags.all()) == ["madrid", "vip"]
    event = Event.objects.get(contact=contact)
    assert event.kind == EventKind.CREATED and event.actor == rep


def test_contact_create_prefills_account(rep_client, rep):
    account = AccountFactory(owner=rep)
    response = rep_client.get(reverse("contact-create"), {"account": account.pk})
    assert response.context["form"]["account"].value() == account.pk


def test_contact_create_bad_input_changes_nothing(rep_client, rep, other_rep):
    hidden_account = AccountFactory(owner=other_rep)
    before = _snapshot()
    response = rep_client.post(
        reverse("contact-create"),
        {"last_name": "", "email": "not-an-email", "account": hidden_account.pk, "owner": rep.pk},
    )
    errors = response.context["form"].errors
    assert {"last_name", "email", "account"} <= set(errors)
    assert _snapshot() == before


def test_contact_tag_error_from_the_service_shows_on_the_field(rep_client, rep):
    before = _snapshot()
    tags_before = TagFactory._meta.model.objects.count()
    response = rep_client.post(
        reverse("contact-create"), {"last_name": "Long", "owner": rep.pk, "tags": "x" * 60}
    )
    assert response.status_code == 200
    assert response.context["form"].errors["tags"] == ["A tag can have at most 50 characters."]
    assert "A tag can have at most 50 characters." in response.content.decode()
    assert _snapshot() == before
    assert TagFactory._meta.model.objects.count() == tags_before


def test_contact_edit_tags_and_fields(rep_client, rep):
    contact = ContactFactory(owner=rep, last_name="Smith", tags=[TagFactory(name="old")])
    response = rep_client.get(reverse("contact-edit", args=[contact.pk]))
    assert response.context["form"].initial["tags"] == "old"
    response = rep_client.post(
        reverse("contact-edit", args=[contact.pk]),
        {
            "first_name": contact.first_name,
            "last_name": "Smythe",
            "email": contact.email,
            "phone": contact.phone,
            "owner": rep.pk,
            "tags": "new, old",
        },
    )
    assert response["Location"] == reverse("contact-detail", args=[contact.pk])
    contact.refresh_from_db()
    assert contact.last_name == "Smythe"
    assert sorted(t.name for t in contact.tags.all()) == ["new", "old"]
    event = Event.objects.get(contact=contact)
    assert event.data["changes"] == {
        "last_name": ["Smith", "Smythe"],
        "tags": [["old"], ["new", "old"]],
    }


def test_contact_edit_without_changes_writes_no_event(rep_client, rep):
    contact = ContactFactory(owner=rep, last_name="Same", tags=[TagFactory(name="a")])
    rep_client.post(
        reverse("contact-edit", args=[contact.pk]),
        {
            "first_name": contact.first_name,
            "last_name": "Same",
            "email": contact.email,
            "phone": contact.phone,
            "owner": rep.pk,
            "tags": " a ",
        },
    )
    assert not Event.objects.exists()


def test_contact_edit_bad_input_changes_nothing(rep_client, rep):
    contact = ContactFactory(owner=rep, last_name="Keep")
    before = _snapshot()
    response = rep_client.post(
        reverse("contact-edit", args=[contact.pk]),
        {"last_name": "", "email": "nope", "owner": rep.pk},
    )
    assert {"last_name", "email"} <= set(response.context["form"].errors)
    assert _snapshot() == before


def test_contact_archive(rep_client, rep):
    contact = ContactFactory(owner=rep, last_name="Leaving")
    response = rep_client.post(reverse("contact-archive", args=[contact.pk]))
    assert response["Location"] == reverse("contact-list")
    contact.refresh_from_db()
    assert contact.archived_at is not None
    assert Event.objects.get(contact=contact).kind == EventKind.ARCHIVED
    html = rep_client.get(reverse("contact-list"), {"q": "Leaving"}).content.decode()
    assert reverse("contact-detail", args=[contact.pk]) not in html


def test_contact_detail_lists_its_tasks_and_their_history(rep_client, rep):
    contact = ContactFactory(owner=rep, last_name="Busy")
    task = TaskFactory(owner=rep, contact=contact, title="Ring Busy")
    TaskFactory(owner=rep, title="Unrelated")
    rep_client.post(reverse("task-complete", args=[task.pk]))
    html = rep_client.get(reverse("contact-detail", args=[contact.pk])).content.decode()
    assert "Ring Busy" in html and "Unrelated" not in html
    assert "Rita Rep marked the task “Ring Busy” as done." in html


def test_contact_list_filters_by_tag_and_search(rep_client, rep):
    vip = TagFactory(name="vip")
    ContactFactory(owner=rep, last_name="Tagged", tags=[vip])
    ContactFactory(owner=rep, last_name="Plain")
    html = rep_client.get(reverse("contact-list"), {"tag": "VIP"}).content.decode()
    assert "Tagged" in html and "Plain" not in html
    html = rep_client.get(reverse("contact-list"), {"q": "plain"}).content.decode()
    assert "Plain" in html and "Tagged" not in html


# --- tasks ---------------------------------------------------------------------------------------


def test_task_create_linked_to_contact(rep_client, rep):
    contact = ContactFactory(owner=rep)
    lead = LeadFactory(owner=rep)
    response = rep_client.get(reverse("task-create"), {"contact": contact.pk})
    assert response.context["form"]["contact"].value() == contact.pk
    due = timezone.localdate() + dt.timedelta(days=2)
    response = rep_client.post(
        reverse("task-create"),
        {
            "title": "Call",
            "kind": "call",
            "due_on": due.isoformat(),
            "owner": rep.pk,
            "contact": contact.pk,
            "lead": lead.pk,
            "note": "",
        },
    )
    task = Task.objects.get()
    assert response["Location"] == reverse("task-detail", args=[task.pk])
    assert (task.contact, task.lead, task.kind, task.due_on) == (contact, lead, "call", due)
    assert Event.objects.get(task=task).kind == EventKind.CREATED


def test_task_create_accepts_spanish_dates(rep_client, rep):
    rep_client.post(
        reverse("task-create"),
        {"title": "Fecha", "kind": "todo", "due_on": "31/01/2031", "owner": rep.pk},
        HTTP_ACCEPT_LANGUAGE="es",
    )
    assert Task.objects.get().due_on == dt.date(2031, 1, 31)


def test_task_create_bad_input_changes_nothing(rep_client, rep, other_rep):
    hidden_contact = ContactFactory(owner=other_rep)
    hidden_lead = LeadFactory(owner=other_rep)
    before = _snapshot()
    response = rep_client.post(
        reverse("task-create"),
        {
            "title": "",
            "kind": "party",
            "due_on": "tomorrow",
            "owner": rep.pk,
            "contact": hidden_contact.pk,
            "lead": hidden_lead.pk,
        },
    )
    errors = response.context["form"].errors
    assert {"title", "kind", "due_on", "contact", "lead"} <= set(errors)
    assert _snapshot() == before


def test_task_edit(rep_client, rep):
    task = TaskFactory(owner=rep, title="Old title")
    response = rep_client.post(
        reverse("task-edit", args=[task.pk]),
        {
            "title": "New title",
            "kind": task.kind,
            "due_on": task.due_on.isoformat(),
            "owner": rep.pk,
            "note": "bring coffee",
        },
    )
    assert response["Location"] == reverse("task-detail", args=[task.pk])
    task.refresh_from_db()
    assert (task.title, task.note) == ("New title", "bring coffee")
    event = Event.objects.get(task=task)
    assert set(event.data["changes"]) == {"title", "note"}


def test_task_edit_bad_input_changes_nothing(rep_client, rep):
    task = TaskFactory(owner=rep)
    before = _snapshot()
    response = rep_client.post(
        reverse("task-edit", args=[task.pk]),
        {"title": "x", "kind": "todo", "due_on": "2026-02-30", "owner": rep.pk},
    )
    assert "due_on" in response.context["form"].errors
    assert _snapshot() == before


def test_task_complete_and_reopen_without_js(rep_client, rep):
    task = TaskFactory(owner=rep, title="Finish me")
    response = rep_client.post(reverse("task-complete", args=[task.pk]), {"next": reverse("home")})
    assert response["Location"] == reverse("home")
    task.refresh_from_db()
    assert task.done and task.completed_at
    response = rep_client.post(reverse("task-reopen", args=[task.pk]))
    assert response["Location"] == reverse("task-detail", args=[task.pk])
    task.refresh_from_db()
    assert not task.done
    kinds = list(Event.objects.filter(task=task).order_by("id").values_list("kind", flat=True))
    assert kinds == [EventKind.COMPLETED, EventKind.REOPENED]


def test_task_complete_ignores_offsite_next(rep_client, rep):
    task = TaskFactory(owner=rep)
    response = rep_client.post(
        reverse("task-complete", args=[task.pk]), {"next": "https://evil.example.com/"}
    )
    assert response["Location"] == reverse("task-detail", args=[task.pk])


def test_task_complete_with_htmx_returns_the_row_and_announces(rep_client, rep):
    task = TaskFactory(owner=rep, title="Quick one", due_on=timezone.localdate())
    response = rep_client.post(reverse("task-complete", args=[task.pk]), HTTP_HX_REQUEST="true")
    assert response.status_code == 200
    html = response.content.decode()
    assert html.strip().startswith("<li")
    assert "Reopen" in html and "autofocus" in html
    assert "<html" not in html
    assert "Saved" in response["HX-Trigger"]
    assert 'id="nav-task-counts" class="nav-counts" hx-swap-oob="true"></span>' in html
    task.refresh_from_db()
    assert task.done


def test_complete_is_post_only(rep_client, rep):
    task = TaskFactory(owner=rep)
    assert rep_client.get(reverse("task-complete", args=[task.pk])).status_code == 405
    task.refresh_from_db()
    assert not task.done


def test_task_archive(rep_client, rep):
    task = TaskFactory(owner=rep, title="Drop it", due_on=timezone.localdate())
    rep_client.post(reverse("task-archive", args=[task.pk]))
    task.refresh_from_db()
    assert task.archived_at is not None
    assert "Drop it" not in rep_client.get(reverse("task-list")).content.decode()
    assert "Drop it" not in rep_client.get(reverse("home")).content.decode()


def test_task_list_filters(rep_client, rep):
    TaskFactory(owner=rep, title="Open call", kind="call")
    TaskFactory(owner=rep, title="Closed mail", kind="email", done=True)
    html = rep_client.get(reverse("task-list"), {"done": "false"}).content.decode()
    assert "Open call" in html and "Closed mail" not in html
    html = rep_client.get(reverse("task-list"), {"kind": "email"}).content.decode()
    assert "Closed mail" in html and "Open call" not in html


# --- agenda --------------------------------------------------------------------------------------


def test_agenda_groups_the_users_open_tasks(rep_client, rep, other_rep):
    today = timezone.localdate()
    TaskFactory(owner=rep, title="Late", due_on=today - dt.timedelta(days=3))
    TaskFactory(owner=rep, title="Now", due_on=today)
    TaskFactory(owner=rep, title="Soon", due_on=today + dt.timedelta(days=7))
    TaskFactory(owner=rep, title="Later", due_on=today + dt.timedelta(days=8))
    TaskFactory(owner=rep, title="Finished", due_on=today, done=True)
    TaskFactory(owner=other_rep, title="Theirs", due_on=today)
    response = rep_client.get(reverse("home"))
    sections = {s["key"]: [t.title for t in s["tasks"]] for s in response.context["sections"]}
    assert sections == {"overdue": ["Late"], "today": ["Now"], "upcoming": ["Soon"]}
    html = response.content.decode()
    assert "1 overdue" in html and "1 today" in html
    assert "Mark done" in html


def test_agenda_empty_states(rep_client):
    html = rep_client.get(reverse("home")).content.decode()
    assert "Nothing overdue" in html and "Nothing due today." in html


# --- read-only lists -----------------------------------------------------------------------------


def test_opportunity_list_shows_only_my_deals(rep_client, rep, other_rep):
    OpportunityFactory(owner=rep, name="My deal", contact=ContactFactory(owner=rep))
    OpportunityFactory(owner=other_rep, name="Their deal", contact=ContactFactory(owner=other_rep))
    html = rep_client.get(reverse("opportunity-list")).content.decode()
    assert "My deal" in html and "Their deal" not in html


@pytest.mark.parametrize(
    "name", ["account-list", "contact-list", "task-list", "lead-list", "opportunity-list"]
)
def test_garbage_in_the_url_never_breaks_a_list(rep_client, name):
    garbage = {
        "q": "a\x00b",
        "owner": "1e400",
        "account": "x",
        "tag": "\x00",
        "done": "maybe",
        "kind": "party",
        "due_before": "yesterday",
        "lead": "-1",
        "sort": "password",
        "page": "999999",
        "company_size": "\x00",
    }
    response = rep_client.get(reverse(name), garbage)
    assert response.status_code == 200


def test_garbage_in_a_form_is_a_field_error(rep_client, rep):
    before = _snapshot()
    response = rep_client.post(
        reverse("contact-create"),
        {"last_name": "Nul\x00l", "owner": "abc", "account": "1e400", "tags": "a\x00"},
    )
    assert response.status_code == 200
    assert {"last_name", "owner", "account"} <= set(response.context["form"].errors)
    assert _snapshot() == before
