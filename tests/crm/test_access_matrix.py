"""Issue #7: who sees what, as a matrix generated from the URL configuration.

Every route under ``/api/v1/`` (found by walking the URL resolver, DRF routers included) is
classified in ``ROUTES`` below; ``test_every_api_route_is_classified`` fails as soon as a route is
added (or removed) without this file saying how it is covered. Each classified route is then
exercised by the users of one small world:

- ``owner``: a rep who owns an account, a contact of it, a lead, a task and two deals of the
  contact: ``opportunity`` (shared with ``shared``) and ``assigned_opportunity`` (reassigned to
  ``assigned``);
- ``shared``: the rep ``opportunity`` is shared with, who sees it and (by the rule) its contact;
- ``assigned``: the rep ``assigned_opportunity`` was reassigned to, who sees it and its contact;
- ``unrelated``: a rep with nothing to do with any of it;
- ``admin``, who sees everything.

Detail routes: a user who may not see the record gets 404 ("Not found.", as for an id that does
not exist) on every method, and nothing changes; a user who may see it gets 200 on GET and no 404
on any other method. Lists hold exactly the records each user may see; nothing the unrelated rep
can GET (lists, searches, exports, reports, settings) mentions the world's records.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field

import pytest
from django.db import transaction
from django.urls import URLPattern, URLResolver, get_resolver
from django.utils import timezone

from crm import services as crm_services
from crm.models import Account, Contact, Event, Task
from leads.models import Lead
from opportunities import services as opp_services
from opportunities import services_automation
from opportunities.models import ContactAccess, Enrollment, Opportunity, OpportunityShare
from tests.crm.test_access import API_PREFIX, WRITE_METHODS, _methods_of, _model_of, _pattern_text
from tests.factories import AccountFactory, AdminFactory, LeadFactory, UserFactory
from tests.opportunities.test_sharing_rules import api_for

pytestmark = pytest.mark.django_db

MARK = "Quetzalcoatl"  # a word only the world's records contain
ROLES = ("owner", "shared", "assigned", "unrelated", "admin")

# Who may see each record of the world (the rules of crm/access.py and issue #7).
VISIBLE_TO: dict[str, set[str]] = {
    "account": {"owner", "admin"},  # accounts are never shared
    "contact": {"owner", "shared", "assigned", "admin"},  # granted through its deals
    "lead": {"owner", "admin"},
    "opportunity": {"owner", "shared", "admin"},
    "assigned_opportunity": {"assigned", "admin"},  # reassigned away from its creator
    "task": {"owner", "admin"},  # tasks are their owner's, whatever they concern
    "event_account": {"owner", "admin"},
    "event_contact": {"owner", "shared", "assigned", "admin"},
    "event_lead": {"owner", "admin"},
    "event_opportunity": {"owner", "shared", "admin"},
    "event_assigned_opportunity": {"assigned", "admin"},
    "event_task": {"owner", "admin"},  # a task's events follow the task
    "enrollment": {"owner", "shared", "assigned", "admin"},  # follows its contact
}


# --- route classification -----------------------------------------------------------------------


@dataclass(frozen=True)
class Detail:
    """A route about one record, by id: checked for each of ``targets``."""

    model: type
    targets: tuple[str, ...]


@dataclass(frozen=True)
class Listing:
    """The list of a record kind: each user sees exactly the targets visible to them."""

    model: type
    targets: tuple[str, ...]


@dataclass(frozen=True)
class Search:
    """A GET over records that is not a plain list (search, export): ``query`` finds the world's
    records; those a user may see are in the answer, the others are not."""

    query: str
    expect_mark_for: frozenset[str] = field(default_factory=frozenset)


@dataclass(frozen=True)
class RecordInBody:
    """A collection action that takes a record id in its body (tested in its own test)."""

    why: str


@dataclass(frozen=True)
class NoRecord:
    """No rep's record in or out (settings, admin lists, auth, users, reports of aggregates):
    a GET by the unrelated rep must still not mention the world's records."""

    why: str


OPP_TARGETS = ("opportunity", "assigned_opportunity")
EVENT_TARGETS = tuple(key for key in VISIBLE_TO if key.startswith("event_"))
ENROLLMENT = ("enrollment",)
CONFIG = NoRecord("admin-maintained list or setting, the same for everyone")

ROUTES: dict[str, object] = {
    "/api/v1/activities/": RecordInBody("lead, contact or opportunity id"),
    "/api/v1/accounts/": Listing(Account, ("account",)),
    "/api/v1/accounts/{pk}/": Detail(Account, ("account",)),
    "/api/v1/auth/token/": NoRecord("authentication"),
    "/api/v1/contacts/": Listing(Contact, ("contact",)),
    "/api/v1/contacts/bulk/": RecordInBody("contact ids"),
    "/api/v1/contacts/{pk}/": Detail(Contact, ("contact",)),
    "/api/v1/contacts/{pk}/classify/": Detail(Contact, ("contact",)),
    "/api/v1/disqualification-reasons/": CONFIG,
    "/api/v1/enrollments/": Listing(Enrollment, ENROLLMENT),
    "/api/v1/enrollments/{pk}/": Detail(Enrollment, ENROLLMENT),
    "/api/v1/enrollments/{pk}/stop/": Detail(Enrollment, ENROLLMENT),
    "/api/v1/disqualification-reasons/reorder/": CONFIG,
    "/api/v1/disqualification-reasons/{pk}/": CONFIG,
    "/api/v1/events/": Listing(Event, EVENT_TARGETS),
    "/api/v1/events/{pk}/": Detail(Event, EVENT_TARGETS),
    "/api/v1/leads/": Listing(Lead, ("lead",)),
    "/api/v1/leads/bulk/": RecordInBody("lead ids"),
    "/api/v1/leads/bulk-assign/": RecordInBody("lead ids"),
    "/api/v1/leads/duplicates/": Search(
        f"email={MARK.lower()}@example.com",
        # The lead is the owner's; the contact (same e-mail) is also seen through the rules.
        expect_mark_for=frozenset({"owner", "shared", "assigned", "admin"}),
    ),
    "/api/v1/leads/export/": Search("", expect_mark_for=frozenset({"owner", "admin"})),
    "/api/v1/leads/import/": NoRecord("creates the caller's own leads from a file"),
    "/api/v1/leads/{pk}/": Detail(Lead, ("lead",)),
    "/api/v1/leads/{pk}/classify/": Detail(Lead, ("lead",)),
    "/api/v1/leads/{pk}/convert/": Detail(Lead, ("lead",)),
    "/api/v1/leads/{pk}/disqualify/": Detail(Lead, ("lead",)),
    "/api/v1/leads/{pk}/requalify/": Detail(Lead, ("lead",)),
    "/api/v1/leads/{pk}/score/": Detail(Lead, ("lead",)),
    "/api/v1/loss-reasons/": CONFIG,
    "/api/v1/loss-reasons/reorder/": CONFIG,
    "/api/v1/loss-reasons/{pk}/": CONFIG,
    "/api/v1/opportunities/": Listing(Opportunity, OPP_TARGETS),
    "/api/v1/opportunities/bulk/": RecordInBody("opportunity ids"),
    "/api/v1/opportunities/ensure/": RecordInBody("contact id"),
    "/api/v1/opportunities/{pk}/": Detail(Opportunity, OPP_TARGETS),
    "/api/v1/opportunities/{pk}/buy-now-links/": Detail(Opportunity, OPP_TARGETS),
    "/api/v1/opportunities/{pk}/move/": Detail(Opportunity, OPP_TARGETS),
    "/api/v1/opportunities/{pk}/share/": Detail(Opportunity, OPP_TARGETS),
    "/api/v1/opportunities/{pk}/unshare/": Detail(Opportunity, OPP_TARGETS),
    "/api/v1/ratings/": CONFIG,
    "/api/v1/ratings/reorder/": CONFIG,
    "/api/v1/ratings/{pk}/": CONFIG,
    "/api/v1/reports/disqualification/": NoRecord("counts over the caller's own leads"),
    "/api/v1/reports/qualification-by-source/": NoRecord("counts over the caller's own leads"),
    "/api/v1/reports/win-loss/": NoRecord("counts over the caller's own deals"),
    "/api/v1/saved-views/": NoRecord("the caller's own saved views and the default views"),
    "/api/v1/saved-views/{pk}/": NoRecord("a saved view: the caller's own or a default"),
    "/api/v1/scoring/criteria/": CONFIG,
    "/api/v1/search/": Search(
        f"q={MARK}",
        # The account and lead are the owner's; the contact and the deals are also seen through
        # the rules (shared, assigned).
        expect_mark_for=frozenset({"owner", "shared", "assigned", "admin"}),
    ),
    "/api/v1/sequences/": CONFIG,
    "/api/v1/sequences/{pk}/": CONFIG,
    "/api/v1/sequences/{pk}/enroll/": RecordInBody("contact or lead id"),
    "/api/v1/scoring/criteria/{pk}/": CONFIG,
    "/api/v1/scoring/jobs/{pk}/": NoRecord("a rescoring job (admin)"),
    "/api/v1/scoring/rescore/": NoRecord("starts a rescoring job (admin)"),
    "/api/v1/settings/leads/": CONFIG,
    "/api/v1/settings/opportunities/": CONFIG,
    "/api/v1/settings/scoring/": CONFIG,
    "/api/v1/stages/": CONFIG,
    "/api/v1/stages/reorder/": CONFIG,
    "/api/v1/stages/{pk}/": CONFIG,
    "/api/v1/tasks/": Listing(Task, ("task",)),
    "/api/v1/tasks/{pk}/": Detail(Task, ("task",)),
    "/api/v1/tasks/{pk}/complete/": Detail(Task, ("task",)),
    "/api/v1/trigger-actions/": CONFIG,
    "/api/v1/trigger-actions/{pk}/": CONFIG,
    "/api/v1/teams/": NoRecord("teams: every signed-in user lists them"),
    "/api/v1/teams/{pk}/": NoRecord("a team"),
    "/api/v1/users/": NoRecord("colleagues: every signed-in user lists them"),
    "/api/v1/users/me/": NoRecord("the caller"),
    "/api/v1/users/{pk}/": NoRecord("a colleague"),
    "/api/v1/win-reasons/": CONFIG,
    "/api/v1/win-reasons/reorder/": CONFIG,
    "/api/v1/webhooks/payments/": NoRecord("public: authenticated by its signature"),
    "/api/v1/win-reasons/{pk}/": CONFIG,
}


@dataclass(frozen=True)
class Route:
    template: str  # "/api/v1/tasks/{pk}/complete/"; any other keyword is filled like pk
    methods: tuple[str, ...]
    model: type | None

    def url(self, pk=None) -> str:
        return re.sub(r"{\w+}", str(pk), self.template)

    def __str__(self):
        return self.template


def _walk(patterns, prefix=""):
    for entry in patterns:
        if isinstance(entry, URLResolver):
            yield from _walk(entry.url_patterns, prefix + _pattern_text(entry))
        elif isinstance(entry, URLPattern):
            yield prefix + _pattern_text(entry), entry


def discover_routes() -> dict[str, Route]:
    """Every route under /api/v1/ (format-suffix variants and the API root left out), whatever
    its view (DRF viewset, APIView, plain Django view) and its URL keywords."""
    routes = {}
    for text, entry in _walk(get_resolver().url_patterns):
        if not text.startswith(API_PREFIX) or "{format}" in text or text == API_PREFIX:
            continue
        callback = entry.callback
        if hasattr(callback, "actions") or hasattr(callback, "view_class"):
            methods = _methods_of(callback)
        else:  # a function view: assume it may answer anything
            methods = ("get", *WRITE_METHODS)
        view_cls = getattr(callback, "cls", None)
        routes["/" + text] = Route(
            template="/" + text,
            methods=methods,
            model=_model_of(view_cls) if view_cls is not None else None,
        )
    return routes


DISCOVERED = discover_routes()


def test_every_api_route_is_classified():
    """A new API route fails here until ROUTES says how its access is covered."""
    discovered, classified = set(DISCOVERED), set(ROUTES)
    assert not discovered - classified, (
        "API routes with no access rule in tests/crm/test_access_matrix.py ROUTES: "
        f"{sorted(discovered - classified)}"
    )
    assert not classified - discovered, f"routes gone from the URLconf: {classified - discovered}"


def test_the_classification_matches_the_views():
    for template, kind in ROUTES.items():
        route = DISCOVERED.get(template)
        if route is None:
            continue
        if isinstance(kind, Detail):
            assert "{" in template, template
            assert route.model in (kind.model, None), (template, route.model)
            assert set(kind.targets) <= set(VISIBLE_TO)
        if isinstance(kind, Listing):
            assert "{" not in template and "get" in route.methods, template
            assert route.model is kind.model, (template, route.model)
        if isinstance(kind, Search):
            assert "get" in route.methods, template


def _cases(kind_type):
    return [
        (DISCOVERED[t], kind)
        for t, kind in ROUTES.items()
        if isinstance(kind, kind_type) and t in DISCOVERED
    ]


DETAIL_CASES = [
    pytest.param(route, target, id=f"{route}-{target}")
    for route, kind in _cases(Detail)
    for target in kind.targets
]
LIST_CASES = [pytest.param(route, kind, id=str(route)) for route, kind in _cases(Listing)]
SEARCH_CASES = [pytest.param(route, kind, id=str(route)) for route, kind in _cases(Search)]
GET_COLLECTIONS = [
    pytest.param(route, id=str(route))
    for template, route in DISCOVERED.items()
    if "get" in route.methods and "{" not in template
]


# --- the world ----------------------------------------------------------------------------------


@dataclass
class World:
    users: dict[str, object]
    clients: dict[str, object]
    records: dict[str, object]

    def pk(self, target: str) -> int:
        return self.records[target].pk


def _build_world() -> World:
    users = {
        "owner": UserFactory(username="m-owner"),
        "shared": UserFactory(username="m-shared"),
        "assigned": UserFactory(username="m-assigned"),
        "unrelated": UserFactory(username="m-unrelated"),
        "admin": AdminFactory(username="m-admin"),
    }
    owner = users["owner"]
    email = f"{MARK.lower()}@example.com"
    account = AccountFactory(owner=owner, name=f"{MARK} Trading", industry=MARK)
    contact = crm_services.contact_create(
        actor=owner, first_name=MARK, last_name=MARK, email=email, account=account
    )
    lead = LeadFactory(owner=owner, first_name=MARK, last_name=MARK, company=MARK, email=email)
    opportunity = opp_services.opportunity_create(actor=owner, name=f"{MARK} deal", contact=contact)
    opp_services.opportunity_share(actor=owner, opportunity=opportunity, user=users["shared"])
    assigned = opp_services.opportunity_create(
        actor=owner, name=f"{MARK} assigned deal", contact=contact
    )
    opp_services.opportunity_update(actor=owner, opportunity=assigned, owner=users["assigned"])
    task = crm_services.task_create(
        actor=owner,
        title=f"{MARK} call",
        due_on=timezone.localdate() + dt.timedelta(days=2),
        contact=contact,
        opportunity=opportunity,
    )
    sequence = services_automation.sequence_create(
        actor=users["admin"],
        name="Matrix sequence",
        steps=[{"day_offset": 5, "kind": "task", "title": "Later", "body": ""}],
    )
    enrollment, _created = services_automation.enrollment_start(
        actor=owner, sequence=sequence, contact=contact
    )
    records = {
        "account": account,
        "contact": contact,
        "lead": lead,
        "opportunity": opportunity,
        "assigned_opportunity": assigned,
        "task": task,
    }
    for key in list(records):
        subject = "opportunity" if key == "assigned_opportunity" else key
        records[f"event_{key}"] = crm_services.event_record(
            actor=owner, kind="updated", data={"note": MARK}, **{subject: records[key]}
        )
    records["enrollment"] = enrollment  # after the loop: it has no events of its own here
    return World(users=users, clients={r: api_for(u) for r, u in users.items()}, records=records)


@pytest.fixture
def world() -> World:
    return _build_world()


def test_the_world_is_what_the_rules_make_it(world):
    """The grants behind the matrix, so that a failure below points at visibility, not setup."""
    contact = world.records["contact"]
    assert set(
        ContactAccess.objects.filter(contact=contact).values_list(
            "user__username", "reason", "opportunity_id"
        )
    ) == {
        ("m-owner", "assigned", world.pk("opportunity")),
        ("m-shared", "shared", world.pk("opportunity")),
        ("m-assigned", "assigned", world.pk("assigned_opportunity")),
    }
    assert Contact.objects.get(pk=contact.pk).owner == world.users["owner"]
    assert list(OpportunityShare.objects.values_list("user__username", flat=True)) == ["m-shared"]


def _state() -> dict:
    """Every row a request about a record could change."""
    models = (Account, Contact, Lead, Opportunity, Task, OpportunityShare, ContactAccess)
    state = {m.__name__: list(m.objects.order_by("pk").values()) for m in models}
    state["Event"] = Event.objects.count()
    return state


HOSTILE = {
    "name": "Hacked",
    "title": "Hacked",
    "first_name": "Hacked",
    "last_name": "Hacked",
    "company": "Hacked",
    "email": "hacked@example.com",
    "due_on": "2030-01-01",
    "note": "hacked",
    "done": True,
    "tags": ["hacked"],
    "rating": None,
    "reason": None,
    "revisit_on": None,
    "create_opportunity": False,
    "stage": None,
}


# --- detail routes ------------------------------------------------------------------------------


def _check_hidden(world, route, pk, role):
    client, user = world.clients[role], world.users[role]
    before = _state()
    for method in route.methods:
        payload = None if method == "get" else {**HOSTILE, "owner": user.pk, "user": user.pk}
        hidden = getattr(client, method)(route.url(pk), payload, format="json")
        missing = getattr(client, method)(route.url(99999999), payload, format="json")
        assert hidden.status_code == 404, (role, method, hidden.status_code, hidden.content)
        assert hidden.json() == missing.json() == {"detail": "Not found."}, (role, method)
    assert _state() == before, role


def _check_visible(world, route, pk, role):
    client = world.clients[role]
    for method in route.methods:  # get, post, put, patch, delete: the DELETE comes last
        payload = None if method == "get" else {}
        response = getattr(client, method)(route.url(pk), payload, format="json")
        if method == "get":
            assert response.status_code == 200, (role, response.status_code, response.content)
        else:
            assert response.status_code != 404, (role, method, response.content)
            assert response.status_code < 500, (role, method, response.status_code)


@pytest.mark.parametrize(("route", "target"), DETAIL_CASES)
def test_detail_route(world, route, target):
    """Each role in turn, each within a savepoint rolled back afterwards: what one role's PUT or
    DELETE did is undone before the next role asks."""
    pk = world.pk(target)
    for role in ROLES:
        with transaction.atomic():
            if role in VISIBLE_TO[target]:
                _check_visible(world, route, pk, role)
            else:
                _check_hidden(world, route, pk, role)
            transaction.set_rollback(True)


# --- lists, searches, everything a rep can GET --------------------------------------------------


def _body(response) -> bytes:
    return b"".join(response.streaming_content) if response.streaming else response.content


def _ids(client, url) -> set[int]:
    ids: set[int] = set()
    sep = "&" if "?" in url else "?"
    next_url = f"{url}{sep}page_size=200"
    while next_url:
        response = client.get(next_url)
        assert response.status_code == 200, (url, response.content)
        body = response.json()
        ids |= {row["id"] for row in body["results"]}
        next_url = body.get("next")
    return ids


@pytest.mark.parametrize(("route", "kind"), LIST_CASES)
def test_list_route(world, route, kind):
    for role in ROLES:
        listed = _ids(world.clients[role], route.url())
        for target in kind.targets:
            assert (world.pk(target) in listed) is (role in VISIBLE_TO[target]), (role, target)
    # Nothing of the world at all for the unrelated rep (nor the events the services wrote).
    listed = _ids(world.clients["unrelated"], route.url())
    assert not listed & set(kind.model.objects.values_list("pk", flat=True))


@pytest.mark.parametrize(("route", "kind"), SEARCH_CASES)
def test_search_route(world, route, kind):
    url = route.url() + (f"?{kind.query}" if kind.query else "")
    for role in ROLES:
        response = world.clients[role].get(url)
        assert response.status_code == 200, (role, response.content)
        body = _body(response)
        assert (MARK.encode() in body) is (role in kind.expect_mark_for), (role, body[:500])


@pytest.mark.parametrize("route", GET_COLLECTIONS)
def test_nothing_an_unrelated_rep_can_get_mentions_the_world(world, route):
    response = world.clients["unrelated"].get(route.url())
    assert response.status_code < 500
    body = _body(response)
    assert MARK.encode() not in body, body[:500]
    assert MARK.lower().encode() not in body.lower()


def test_duplicates_show_the_contact_to_those_the_rules_grant_it(world):
    url = f"/api/v1/leads/duplicates/?email={MARK.lower()}@example.com"
    for role in ROLES:
        body = world.clients[role].get(url).json()
        contacts = {row["id"] for row in body["contacts"]}
        leads = {row["id"] for row in body["leads"]}
        assert (world.pk("contact") in contacts) is (role in VISIBLE_TO["contact"]), role
        assert (world.pk("lead") in leads) is (role in VISIBLE_TO["lead"]), role


# --- collection actions that take a record in their body ----------------------------------------


def test_ensure_for_a_contact_out_of_reach_is_does_not_exist(world):
    """ensure with the world's contact: "does not exist" for the unrelated rep (as for a missing
    id), the shared deal for those who see it, a 409 for a rep who sees the contact but not the
    engaged deal."""
    url = "/api/v1/opportunities/ensure/"
    payload = {"contact": world.pk("contact"), "name": "Mine now"}
    before = Opportunity.objects.count()

    hidden = world.clients["unrelated"].post(url, payload, format="json")
    missing = world.clients["unrelated"].post(url, {**payload, "contact": 99999999}, format="json")
    assert hidden.status_code == 400 and "contact" in hidden.json(), hidden.content
    assert hidden.json() == missing.json()

    for role in ("owner", "shared", "admin"):
        response = world.clients[role].post(url, payload, format="json")
        assert response.status_code == 200, (role, response.content)
        assert response.json()["id"] == world.pk("opportunity")
    response = world.clients["assigned"].post(url, payload, format="json")
    assert response.status_code == 409, response.content
    assert MARK not in response.content.decode()
    assert Opportunity.objects.count() == before


@pytest.mark.parametrize(
    "url,key", [("leads", "lead"), ("contacts", "contact"), ("opportunities", "opportunity")]
)
def test_bulk_actions_on_records_out_of_reach_are_404(world, url, key):
    """Bulk actions (issue #9): an id the caller may not see makes the whole request 404; those
    who see the record get through (an owner change to its current owner changes nothing)."""
    record = world.records[key]
    payload = {"ids": [record.pk], "action": "assign", "owner": record.owner_id}
    for role in ROLES:
        response = world.clients[role].post(f"/api/v1/{url}/bulk/", payload, format="json")
        if role in VISIBLE_TO[key]:
            assert response.status_code == 200, (role, response.content)
            assert response.json() == {"updated": 0}
        else:
            assert response.status_code == 404, (role, response.content)
            assert MARK not in response.content.decode()


def test_bulk_assign_of_leads_out_of_reach_changes_nothing(world):
    url = "/api/v1/leads/bulk-assign/"
    lead = world.records["lead"]
    for role in ("shared", "assigned", "unrelated"):
        user = world.users[role]
        response = world.clients[role].post(
            url, {"ids": [lead.pk], "owner": user.pk}, format="json"
        )
        assert response.status_code in (200, 400, 403), response.content
        if response.status_code == 200:
            assert response.json() == {"updated": 0}
        assert Lead.objects.get(pk=lead.pk).owner_id == world.users["owner"].pk
    response = world.clients["owner"].post(
        url, {"ids": [lead.pk], "owner": world.users["shared"].pk}, format="json"
    )
    assert response.status_code == 200 and response.json() == {"updated": 1}
