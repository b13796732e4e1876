"""/api/v1/tasks/: CRUD, links, filters, completion and the events they write."""

import datetime as dt

import pytest

from crm.models import Event, EventKind, Task
from tests.factories import ContactFactory, LeadFactory, OpportunityFactory, TaskFactory

pytestmark = pytest.mark.django_db

URL = "/api/v1/tasks/"


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


def ids(response):
    assert response.status_code == 200, response.content
    return [row["id"] for row in response.json()["results"]]


def events(task):
    return [(e.kind, e.data) for e in Event.objects.filter(task=task).order_by("id")]


def complete(client, task, payload=None):
    return client.post(f"{URL}{task.pk}/complete/", payload or {}, format="json")


# --- create / update -----------------------------------------------------------------------------


def test_create_with_links(rep_api, rep):
    contact = ContactFactory(owner=rep)
    lead = LeadFactory(owner=rep)
    opportunity = OpportunityFactory(contact=contact)

    response = rep_api.post(
        URL,
        {
            "title": " Call Ana ",
            "kind": "call",
            "due_on": "2026-12-01",
            "contact": contact.pk,
            "lead": lead.pk,
            "opportunity": opportunity.pk,
        },
        format="json",
    )

    assert response.status_code == 201, response.content
    body = response.json()
    task = Task.objects.get(pk=body["id"])
    assert {k: body[k] for k in body if k not in ("created_at", "updated_at")} == {
        "id": task.pk,
        "title": "Call Ana",
        "kind": "call",
        "due_on": "2026-12-01",
        "owner": rep.pk,
        "lead": lead.pk,
        "contact": contact.pk,
        "opportunity": opportunity.pk,
        "done": False,
        "completed_at": None,
        "note": "",
    }
    assert events(task) == [(EventKind.CREATED, {"title": "Call Ana", "due_on": "2026-12-01"})]


def test_kind_defaults_to_todo(rep_api):
    response = rep_api.post(URL, {"title": "T", "due_on": "2026-12-01"}, format="json")
    assert response.json()["kind"] == "todo"


def test_create_done_writes_created_then_completed(rep_api):
    response = rep_api.post(URL, {"title": "T", "due_on": "2026-12-01", "done": True})
    assert response.status_code == 201
    assert response.json()["done"] is True
    assert response.json()["completed_at"]
    task = Task.objects.get(pk=response.json()["id"])
    assert [kind for kind, _data in events(task)] == [EventKind.CREATED, EventKind.COMPLETED]


def test_update_and_owner_change_events(admin_api, rep, other_rep):
    task = TaskFactory(owner=rep, title="Call", due_on=dt.date(2026, 12, 1))

    response = admin_api.patch(
        f"{URL}{task.pk}/",
        {"due_on": "2026-12-24", "owner": other_rep.pk, "kind": "meeting"},
        format="json",
    )

    assert response.status_code == 200
    assert events(task) == [
        (
            EventKind.UPDATED,
            {"changes": {"due_on": ["2026-12-01", "2026-12-24"], "kind": ["todo", "meeting"]}},
        ),
        (EventKind.OWNER_CHANGED, {"from": rep.pk, "to": other_rep.pk}),
    ]


def test_unlinking(rep_api, rep):
    contact = ContactFactory(owner=rep)
    task = TaskFactory(owner=rep, contact=contact)
    response = rep_api.patch(f"{URL}{task.pk}/", {"contact": None}, format="json")
    assert response.json()["contact"] is None
    assert events(task) == [(EventKind.UPDATED, {"changes": {"contact": [contact.pk, None]}})]


@pytest.mark.parametrize("link", ["contact", "lead", "opportunity"])
def test_rep_cannot_link_someone_elses_records(rep_api, rep, other_rep, link):
    their_contact = ContactFactory(owner=other_rep)
    theirs = {
        "contact": their_contact,
        "lead": LeadFactory(owner=other_rep),
        "opportunity": OpportunityFactory(contact=their_contact),
    }[link]
    task = TaskFactory(owner=rep)

    created = rep_api.post(
        URL, {"title": "T", "due_on": "2026-12-01", link: theirs.pk}, format="json"
    )
    updated = rep_api.patch(f"{URL}{task.pk}/", {link: theirs.pk}, format="json")

    for response in (created, updated):
        assert response.status_code == 400
        assert list(response.json()) == [link]
    task.refresh_from_db()
    assert getattr(task, link) is None
    assert Task.objects.count() == 1
    assert not Event.objects.exists()


def test_links_that_moved_away_survive_a_put_round_trip(rep_api, rep, other_rep):
    contact = ContactFactory(owner=rep)
    task = TaskFactory(owner=rep, contact=contact)
    contact.owner = other_rep
    contact.save()

    body = rep_api.get(f"{URL}{task.pk}/").json()
    response = rep_api.put(f"{URL}{task.pk}/", {**body, "title": "Renamed"}, format="json")

    assert response.status_code == 200, response.content
    assert response.json()["contact"] == contact.pk


# --- completion ----------------------------------------------------------------------------------


def test_complete(rep_api, rep):
    task = TaskFactory(owner=rep)

    response = complete(rep_api, task, {"rating": None, "note": "Left a voicemail"})

    assert response.status_code == 200, response.content
    body = response.json()
    assert body["id"] == task.pk
    assert body["done"] is True
    completed_at = dt.datetime.fromisoformat(body["completed_at"])
    assert abs((dt.datetime.now(dt.UTC) - completed_at).total_seconds()) < 60
    task.refresh_from_db()
    assert task.done
    assert task.note == "Left a voicemail"
    assert events(task) == [(EventKind.COMPLETED, {"note": "Left a voicemail"})]
    assert Event.objects.get(task=task).actor == rep


def test_complete_with_empty_body(rep_api, rep):
    task = TaskFactory(owner=rep)
    assert complete(rep_api, task).status_code == 200
    assert events(task) == [(EventKind.COMPLETED, {})]


def test_complete_appends_the_note(rep_api, rep):
    task = TaskFactory(owner=rep, note="Ask about pricing")
    complete(rep_api, task, {"note": "Done, sent the quote"})
    task.refresh_from_db()
    assert task.note == "Ask about pricing\n\nDone, sent the quote"


def test_completing_twice_is_idempotent(rep_api, rep):
    task = TaskFactory(owner=rep)
    first = complete(rep_api, task, {"note": "once"})
    second = complete(rep_api, task, {"note": "twice"})

    assert second.status_code == 200
    assert second.json()["completed_at"] == first.json()["completed_at"]
    assert events(task) == [(EventKind.COMPLETED, {"note": "once"})]
    task.refresh_from_db()
    assert task.note == "once"


@pytest.mark.parametrize("rating", [1, 999999, "abc", {"id": 1}, [1], 1.5])
def test_complete_with_a_rating_is_400_until_ratings_exist(rep_api, rep, rating):
    task = TaskFactory(owner=rep)

    response = complete(rep_api, task, {"rating": rating, "note": "x"})

    assert response.status_code == 400
    assert list(response.json()) == ["rating"]
    task.refresh_from_db()
    assert not task.done
    assert task.note == ""
    assert not Event.objects.exists()


def test_done_flag_completes_and_reopens(rep_api, rep):
    task = TaskFactory(owner=rep)

    done = rep_api.patch(f"{URL}{task.pk}/", {"done": True}, format="json")
    assert done.json()["done"] is True
    assert done.json()["completed_at"]

    reopened = rep_api.patch(f"{URL}{task.pk}/", {"done": False}, format="json")
    assert reopened.json()["done"] is False
    assert reopened.json()["completed_at"] is None

    rep_api.patch(f"{URL}{task.pk}/", {"done": False}, format="json")  # no-op
    assert [kind for kind, _data in events(task)] == [EventKind.COMPLETED, EventKind.REOPENED]


def test_completed_at_is_read_only(rep_api, rep):
    task = TaskFactory(owner=rep)
    rep_api.patch(f"{URL}{task.pk}/", {"completed_at": "2020-01-01T00:00:00Z"}, format="json")
    task.refresh_from_db()
    assert task.completed_at is None


def test_archived_task_cannot_be_completed(rep_api, rep):
    task = TaskFactory(owner=rep)
    rep_api.delete(f"{URL}{task.pk}/")
    assert complete(rep_api, task).status_code == 404
    task.refresh_from_db()
    assert not task.done


def test_complete_is_post_only(rep_api, rep):
    task = TaskFactory(owner=rep)
    assert rep_api.get(f"{URL}{task.pk}/complete/").status_code == 405


# --- filters -------------------------------------------------------------------------------------


def test_filters(admin_api, rep, other_rep):
    contact = ContactFactory(owner=rep)
    lead = LeadFactory(owner=rep)
    opportunity = OpportunityFactory(contact=contact)
    early = TaskFactory(owner=rep, due_on=dt.date(2026, 11, 1), contact=contact, title="Ring Ana")
    middle = TaskFactory(owner=rep, due_on=dt.date(2026, 11, 15), lead=lead, done=True)
    late = TaskFactory(
        owner=other_rep, due_on=dt.date(2026, 12, 1), opportunity=opportunity, kind="email"
    )

    def q(query):
        return ids(admin_api.get(f"{URL}?{query}"))

    assert q(f"owner={rep.pk}") == [middle.pk, early.pk]
    assert q("done=true") == [middle.pk]
    assert q("done=false") == [late.pk, early.pk]
    assert q("due_before=2026-11-15") == [middle.pk, early.pk]  # inclusive
    assert q("due_after=2026-11-15") == [late.pk, middle.pk]  # inclusive
    assert q("due_after=2026-11-02&due_before=2026-11-30") == [middle.pk]
    assert q(f"lead={lead.pk}") == [middle.pk]
    assert q(f"contact={contact.pk}") == [early.pk]
    assert q(f"opportunity={opportunity.pk}") == [late.pk]
    assert q("kind=email") == [late.pk]
    assert q("q=ring") == [early.pk]
    assert q(f"owner={other_rep.pk}&done=true") == []


@pytest.mark.parametrize(
    "query",
    ["due_before=yesterday", "due_after=2026-13-01", "lead=abc", "contact=1.5", "kind=nap"],
)
def test_bad_filter_values_are_400(admin_api, query):
    response = admin_api.get(f"{URL}?{query}")
    assert response.status_code == 400
    assert list(response.json()) == [query.split("=")[0]]


def test_rep_sees_only_their_tasks(rep_api, admin_api, rep, other_rep):
    mine = TaskFactory(owner=rep)
    theirs = TaskFactory(owner=other_rep)
    assert ids(rep_api.get(URL)) == [mine.pk]
    assert ids(rep_api.get(f"{URL}?owner={other_rep.pk}")) == []
    assert set(ids(admin_api.get(URL))) == {mine.pk, theirs.pk}
