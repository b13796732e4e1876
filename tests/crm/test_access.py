"""Who sees what, through every API route.

The routes come from the URL resolver, so an endpoint added later (by any app, under /api/v1/) is
covered without touching this file: a rep asking for another rep's record by id gets 404 on every
method, nothing changes, and lists, search and filters never include it. Admins see everything.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import pytest
from django.urls import URLPattern, URLResolver, get_resolver

from crm import access, services
from crm.models import Account, Contact, Event, Task
from leads.models import Lead
from opportunities.models import Opportunity
from tests.factories import (
    AccountFactory,
    ContactFactory,
    LeadFactory,
    OpportunityFactory,
    TaskFactory,
)

pytestmark = pytest.mark.django_db

API_PREFIX = "api/v1/"
WRITE_METHODS = ("post", "put", "patch", "delete")
OWNED_MODELS = (Account, Contact, Task, Lead, Opportunity)
MARK = "Zanzibar"  # a word only the other rep's records contain


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


# --- the route list ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Route:
    template: str  # "/api/v1/tasks/{pk}/complete/"
    name: str
    methods: tuple[str, ...]
    model: type | None

    @property
    def detail(self) -> bool:
        return "{pk}" in self.template

    def url(self, pk=None) -> str:
        return self.template.format(pk=pk)

    def __str__(self):
        return f"{self.name} {self.template}"


def _pattern_text(pattern) -> str:
    text = str(pattern.pattern)
    text = re.sub(r"\(\?P<(\w+)>[^)]*\)", r"{\1}", text)  # router regexes
    text = re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", text)  # path() converters
    return text.replace("^", "").replace("$", "").replace("\\", "")


def _model_of(view_cls) -> type | None:
    queryset = getattr(view_cls, "queryset", None)
    if queryset is not None:
        return queryset.model
    serializer_class = getattr(view_cls, "serializer_class", None)
    if serializer_class is None and hasattr(view_cls, "get_serializer_class"):
        try:
            serializer_class = view_cls(action="retrieve", kwargs={}).get_serializer_class()
        except Exception:  # a view that needs a request: no model known
            serializer_class = None
    return getattr(getattr(serializer_class, "Meta", None), "model", None)


def _methods_of(callback) -> tuple[str, ...]:
    actions = getattr(callback, "actions", None)
    if actions:
        return tuple(m for m in actions if m in ("get", *WRITE_METHODS))
    view_cls = callback.view_class
    return tuple(
        m
        for m in ("get", *WRITE_METHODS)
        if m in view_cls.http_method_names and hasattr(view_cls, m)
    )


def _walk(patterns, prefix=""):
    for entry in patterns:
        if isinstance(entry, URLResolver):
            yield from _walk(entry.url_patterns, prefix + _pattern_text(entry))
        elif isinstance(entry, URLPattern):
            yield prefix + _pattern_text(entry), entry


def api_routes() -> list[Route]:
    """Every route under /api/v1/ (format-suffix variants and the API root left out)."""
    routes = {}
    for text, entry in _walk(get_resolver().url_patterns):
        if not text.startswith(API_PREFIX) or "{format}" in text or text == API_PREFIX:
            continue
        callback = entry.callback
        if not hasattr(callback, "cls"):
            continue
        leftover = set(re.findall(r"{(\w+)}", text)) - {"pk"}
        if leftover:  # a route keyed by something else than a record id
            continue
        routes["/" + text] = Route(
            template="/" + text,
            name=entry.name or "",
            methods=_methods_of(callback),
            model=_model_of(callback.cls),
        )
    return sorted(routes.values(), key=lambda r: r.template)


def _is_record_route(route: Route) -> bool:
    return route.model in (*OWNED_MODELS, Event)


DETAIL_ROUTES = [r for r in api_routes() if r.detail and _is_record_route(r)]
LIST_ROUTES = [
    r
    for r in api_routes()
    if not r.detail and r.name.endswith("-list") and "get" in r.methods and _is_record_route(r)
]


def test_the_route_list_covers_the_core_endpoints():
    templates = {r.template for r in DETAIL_ROUTES}
    assert {
        "/api/v1/accounts/{pk}/",
        "/api/v1/contacts/{pk}/",
        "/api/v1/tasks/{pk}/",
        "/api/v1/tasks/{pk}/complete/",
        "/api/v1/events/{pk}/",
    } <= templates
    complete = next(r for r in DETAIL_ROUTES if r.template == "/api/v1/tasks/{pk}/complete/")
    assert complete.methods == ("post",)
    task = next(r for r in DETAIL_ROUTES if r.template == "/api/v1/tasks/{pk}/")
    assert set(task.methods) == {"get", "put", "patch", "delete"}
    assert {r.model for r in LIST_ROUTES} >= {Account, Contact, Task, Event}


# --- records ------------------------------------------------------------------------------------


def _make_records(owner, word: str) -> dict[type, object]:
    """One record of each owned kind (plus an event on each) for ``owner``."""
    account = AccountFactory(owner=owner, name=f"{word} Trading", industry=word, country=word)
    contact = ContactFactory(
        owner=owner,
        first_name=word,
        last_name=word,
        email=f"{word.lower()}@example.com",
        account=account,
    )
    lead = LeadFactory(owner=owner, first_name=word, last_name=word, company=word)
    opportunity = OpportunityFactory(contact=contact, owner=owner, name=f"{word} deal")
    task = TaskFactory(owner=owner, title=f"{word} call", contact=contact, lead=lead)
    records = {
        Account: account,
        Contact: contact,
        Lead: lead,
        Opportunity: opportunity,
        Task: task,
    }
    events = [
        services.event_record(actor=owner, kind="updated", **{model.__name__.lower(): obj})
        for model, obj in records.items()
    ]
    records[Event] = events[0]
    return records


@pytest.fixture
def theirs(other_rep):
    return _make_records(other_rep, MARK)


@pytest.fixture
def mine(rep):
    return _make_records(rep, "Mine")


def _state(records) -> dict:
    """Everything a request could have changed."""
    state = {model: list(model.objects.order_by("pk").values()) for model in (*OWNED_MODELS, Event)}
    state["tags"] = list(Contact.tags.through.objects.order_by("pk").values())
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
    "user": None,
}


@pytest.mark.parametrize("route", DETAIL_ROUTES, ids=str)
def test_rep_gets_404_for_other_reps_record_on_every_method(
    rep_api, rep, other_rep, theirs, mine, route
):
    target = theirs[route.model]
    before = _state(theirs)

    for method in route.methods:
        payload = None if method == "get" else {**HOSTILE, "owner": rep.pk}
        response = getattr(rep_api, method)(route.url(target.pk), payload, format="json")
        assert response.status_code == 404, (method, route, response.content)
        assert response.json() == {"detail": "Not found."}

    assert _state(theirs) == before


@pytest.mark.parametrize("route", DETAIL_ROUTES, ids=str)
def test_404_for_another_rep_looks_like_404_for_nothing(rep_api, theirs, route):
    for method in route.methods:
        payload = None if method == "get" else {}
        hidden = getattr(rep_api, method)(route.url(theirs[route.model].pk), payload, format="json")
        missing = getattr(rep_api, method)(route.url(99999999), payload, format="json")
        assert (hidden.status_code, hidden.json()) == (missing.status_code, missing.json())


@pytest.mark.parametrize("route", [r for r in DETAIL_ROUTES if "get" in r.methods], ids=str)
def test_rep_reads_their_own_and_admin_reads_everything(rep_api, admin_api, theirs, mine, route):
    assert rep_api.get(route.url(mine[route.model].pk)).status_code == 200
    assert admin_api.get(route.url(theirs[route.model].pk)).status_code == 200
    assert admin_api.get(route.url(mine[route.model].pk)).status_code == 200


def _ids(client, url) -> set[int]:
    response = client.get(url)
    assert response.status_code == 200, (url, response.content)
    body = response.json()
    rows = body["results"] if isinstance(body, dict) else body
    return {row["id"] for row in rows}


def _their_ids(route, theirs) -> set[int]:
    if route.model is Event:
        return set(
            Event.objects.filter(
                pk__in=access.visible_events(theirs[Account].owner).values("pk")
            ).values_list("pk", flat=True)
        )
    return {theirs[route.model].pk}


@pytest.mark.parametrize("route", LIST_ROUTES, ids=str)
def test_lists_search_and_filters_never_include_other_reps_records(
    rep_api, admin_api, other_rep, theirs, mine, route
):
    hidden = _their_ids(route, theirs)
    base = f"{route.url()}?page_size=200"

    everything = _ids(rep_api, base)
    assert everything, "the rep's own records are listed"
    assert not everything & hidden
    assert hidden <= _ids(admin_api, base)

    queries = [f"q={MARK}", f"q={MARK.lower()}", f"owner={other_rep.pk}"]
    for model, obj in theirs.items():
        queries.append(f"{model.__name__.lower()}={obj.pk}")
    for query in queries:
        response = rep_api.get(f"{base}&{query}")
        if response.status_code == 400:  # a filter this list does not offer with such a value
            continue
        assert not _ids(rep_api, f"{base}&{query}") & hidden, query


@pytest.mark.parametrize("route", [r for r in LIST_ROUTES if r.model is not Event], ids=str)
def test_search_finds_records_for_those_who_may_see_them(admin_api, theirs, route):
    response = admin_api.get(f"{route.url()}?page_size=200&q={MARK}")
    if response.status_code == 200 and "results" in response.json():
        assert theirs[route.model].pk in {r["id"] for r in response.json()["results"]}


def test_deactivated_rep_sees_nothing(rep, mine):
    rep.is_active = False
    rep.save()
    assert not access.visible_accounts(rep).exists()
    assert not access.visible_contacts(rep).exists()
    assert not access.visible_tasks(rep).exists()
    assert not access.visible_events(rep).exists()
    assert not access.visible_users(rep).exists()


def test_anonymous_sees_nothing(mine):
    from django.contrib.auth.models import AnonymousUser

    anonymous = AnonymousUser()
    assert not access.visible_accounts(anonymous).exists()
    assert not access.visible_events(anonymous).exists()
    assert not access.is_admin(anonymous)


def test_can_see(rep, admin, mine, theirs):
    for model in OWNED_MODELS:
        assert access.can_see(rep, mine[model])
        assert not access.can_see(rep, theirs[model])
        assert access.can_see(admin, theirs[model])


def test_archived_records_are_out_of_reach_unless_asked(rep, mine):
    services.account_archive(actor=rep, account=mine[Account])
    assert not access.visible_accounts(rep).filter(pk=mine[Account].pk).exists()
    assert access.visible_accounts(rep, include_archived=True).filter(pk=mine[Account].pk)
