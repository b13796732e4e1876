"""/api/v1/events/: the read-only audit trail, its filters and who sees which events."""

import pytest

from crm import services
from crm.models import Event, EventKind
from tests.factories import AccountFactory, ContactFactory, LeadFactory, OpportunityFactory

pytestmark = pytest.mark.django_db

URL = "/api/v1/events/"


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


def ids(response):
    assert response.status_code == 200, response.content
    return [row["id"] for row in response.json()["results"]]


def test_event_shape(rep_api, rep):
    contact = services.contact_create(actor=rep, last_name="García", tags=["vip"])
    event = Event.objects.get(contact=contact)

    body = rep_api.get(f"{URL}{event.pk}/").json()

    assert {"id", "at", "actor", "kind", "lead", "contact", "opportunity", "data"} <= set(body)
    assert body["id"] == event.pk
    assert body["actor"] == rep.pk
    assert body["kind"] == "created"
    assert body["contact"] == contact.pk
    assert body["lead"] is None
    assert body["opportunity"] is None
    assert body["data"] == {"name": "García", "tags": ["vip"]}
    assert rep_api.get(URL).json()["results"] == [body]


def test_every_api_write_is_on_the_trail(rep_api, rep):
    account = rep_api.post("/api/v1/accounts/", {"name": "Acme"}, format="json").json()
    contact = rep_api.post(
        "/api/v1/contacts/", {"last_name": "García", "account": account["id"]}, format="json"
    ).json()
    task = rep_api.post(
        "/api/v1/tasks/",
        {"title": "Call", "due_on": "2026-12-01", "contact": contact["id"]},
        format="json",
    ).json()
    rep_api.patch(f"/api/v1/contacts/{contact['id']}/", {"phone": "1"}, format="json")
    rep_api.post(f"/api/v1/tasks/{task['id']}/complete/", {"note": "ok"}, format="json")
    rep_api.delete(f"/api/v1/accounts/{account['id']}/")

    rows = rep_api.get(URL).json()["results"]
    trail = [(r["kind"], r["account"], r["contact"], r["task"], r["data"]) for r in rows]
    assert trail == [
        ("archived", account["id"], None, None, {}),
        ("completed", None, None, task["id"], {"note": "ok"}),
        ("updated", None, contact["id"], None, {"changes": {"phone": ["", "1"]}}),
        ("created", None, None, task["id"], {"title": "Call", "due_on": "2026-12-01"}),
        ("created", None, contact["id"], None, {"name": "García", "tags": []}),
        ("created", account["id"], None, None, {"name": "Acme"}),
    ]
    assert all(r["actor"] == rep.pk for r in rows)


def test_filters_include_the_events_of_the_records_tasks(admin_api, admin, rep):
    contact = ContactFactory(owner=rep)
    lead = LeadFactory(owner=rep)
    opportunity = OpportunityFactory(contact=contact)
    on_contact = services.event_record(actor=rep, kind="updated", contact=contact)
    on_lead = services.event_record(actor=rep, kind="updated", lead=lead)
    on_opportunity = services.event_record(actor=rep, kind="updated", opportunity=opportunity)
    contact_task = services.task_create(actor=rep, title="T", due_on="2026-12-01", contact=contact)
    lead_task = services.task_create(actor=rep, title="T", due_on="2026-12-01", lead=lead)
    opp_task = services.task_create(
        actor=rep, title="T", due_on="2026-12-01", opportunity=opportunity
    )
    created = {t: Event.objects.get(task=t).pk for t in (contact_task, lead_task, opp_task)}

    assert ids(admin_api.get(f"{URL}?contact={contact.pk}")) == [
        created[contact_task],
        on_contact.pk,
    ]
    assert ids(admin_api.get(f"{URL}?lead={lead.pk}")) == [created[lead_task], on_lead.pk]
    assert ids(admin_api.get(f"{URL}?opportunity={opportunity.pk}")) == [
        created[opp_task],
        on_opportunity.pk,
    ]
    assert ids(admin_api.get(f"{URL}?task={lead_task.pk}")) == [created[lead_task]]
    assert ids(admin_api.get(f"{URL}?kind=updated")) == [
        on_opportunity.pk,
        on_lead.pk,
        on_contact.pk,
    ]


def test_rep_sees_events_of_their_records_only(rep_api, admin_api, admin, rep, other_rep):
    mine = services.account_create(actor=rep, name="Mine")
    theirs = services.account_create(actor=other_rep, name="Theirs")
    their_contact = services.contact_create(actor=other_rep, last_name="X")
    # My task about their contact is mine to see; their task about it is not.
    my_task = services.task_create(actor=admin, title="T", due_on="2026-12-01", owner=rep)
    services.task_update(actor=admin, task=my_task, contact=their_contact)
    services.task_create(actor=other_rep, title="T", due_on="2026-12-01", contact=their_contact)
    services.user_update(actor=admin, user=other_rep, first_name="Otto 2")
    services.team_create(actor=admin, name="North")

    visible = {(e["kind"], e["account"], e["task"]) for e in rep_api.get(URL).json()["results"]}
    assert visible == {
        ("created", mine.pk, None),
        ("created", None, my_task.pk),
        ("updated", None, my_task.pk),
    }
    everything = admin_api.get(f"{URL}?page_size=200").json()["results"]
    assert len(everything) == Event.objects.count()
    assert rep_api.get(f"{URL}?account={theirs.pk}").json()["results"] == []
    their_event = Event.objects.get(account=theirs)
    assert rep_api.get(f"{URL}{their_event.pk}/").status_code == 404


def test_events_of_handed_over_records_leave_with_them(rep_api, admin, rep, other_rep):
    account = services.account_create(actor=rep, name="Acme")
    services.account_update(actor=admin, account=account, owner=other_rep)
    assert rep_api.get(URL).json()["results"] == []


def test_user_and_team_events_are_for_admins(rep_api, admin_api, admin, rep):
    services.user_update(actor=admin, user=rep, first_name="Rosa")
    team = services.team_create(actor=admin, name="North", members=[rep])
    assert rep_api.get(URL).json()["results"] == []
    kinds = [e["kind"] for e in admin_api.get(URL).json()["results"]]
    assert kinds == [EventKind.TEAM_CHANGED, EventKind.USER_UPDATED]
    assert Event.objects.get(team=team).data == {"name": "North", "members": [rep.pk]}


@pytest.mark.parametrize("method", ["post", "put", "patch", "delete"])
def test_events_have_no_write_methods(admin_api, admin, method):
    account = services.account_create(actor=admin, name="Acme")
    event = Event.objects.get(account=account)
    url = URL if method == "post" else f"{URL}{event.pk}/"

    response = getattr(admin_api, method)(url, {"kind": "hacked", "data": {}}, format="json")

    assert response.status_code == 405
    event.refresh_from_db()
    assert event.kind == "created"
    assert event.data == {"name": "Acme"}
    assert Event.objects.count() == 1


def test_events_for_an_unknown_record_are_empty_not_an_error(rep_api):
    response = rep_api.get(f"{URL}?contact=999999&lead=999999")
    assert response.status_code == 200
    assert response.json()["results"] == []


def test_account_events_are_visible_through_the_account(rep_api, rep):
    account = AccountFactory(owner=rep)
    event = services.event_record(actor=rep, kind="updated", account=account, data={"a": 1})
    assert ids(rep_api.get(f"{URL}?account={account.pk}")) == [event.pk]
