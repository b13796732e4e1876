"""Bad input: 400 on the right field with nothing changed, and never a 500 for any payload."""

from __future__ import annotations

import functools
import json
import re

import pytest
from rest_framework.authtoken.models import Token

from crm.models import Account, Contact, Event, Tag, Task, Team, User
from leads.models import Lead
from opportunities.models import Opportunity
from tests.crm.test_access import api_routes
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

MODELS = (Account, Contact, Task, Team, User, Tag, Event, Lead, Opportunity, Token)


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


def db_state() -> dict:
    """Every row the API could write, so "nothing changed" means exactly that."""
    state = {model.__name__: list(model.objects.order_by("pk").values()) for model in MODELS}
    state["contact_tags"] = list(Contact.tags.through.objects.order_by("pk").values())
    state["team_members"] = list(Team.members.through.objects.order_by("pk").values())
    return state


@pytest.fixture
def world(rep, other_rep, admin):
    """Records of the rep (to update), of another rep (to link illegally), a deactivated user."""
    gone = UserFactory(username="gone", is_active=False)
    their_contact = ContactFactory(owner=other_rep, last_name="Theirs")
    team = TeamFactory(name="North")
    team.members.set([rep])
    my_account = AccountFactory(owner=rep, name="Mine", company_size="11-50")
    my_contact = ContactFactory(owner=rep, last_name="Mine", tags=[TagFactory(name="vip")])
    return {
        "gone": gone,
        "their_account": AccountFactory(owner=other_rep, name="Theirs"),
        "their_contact": their_contact,
        "their_lead": LeadFactory(owner=other_rep),
        "their_opportunity": OpportunityFactory(contact=their_contact),
        "account": my_account,
        "contact": my_contact,
        "task": TaskFactory(owner=rep, title="Mine"),
        "team": team,
        "rep": rep,
        "user": rep,
    }


VALID = {
    "account": {"name": "Acme"},
    "contact": {"last_name": "García"},
    "task": {"title": "Call", "due_on": "2026-12-01"},
    "team": {"name": "South"},
    "user": {"username": "newbie", "password": "Correct-Horse-Battery-9", "role": "rep"},
}
URLS = {
    "account": "/api/v1/accounts/",
    "contact": "/api/v1/contacts/",
    "task": "/api/v1/tasks/",
    "team": "/api/v1/teams/",
    "user": "/api/v1/users/",
}

# (resource, bad fields (callables get the world), expected error key, checked on POST / PATCH)
BOTH, POST, PATCH = ("post", "patch"), ("post",), ("patch",)
CASES = [
    # missing required fields
    ("account", {"name": None}, "name", BOTH),
    ("account", {"name": ""}, "name", BOTH),
    ("account", {"name": "   "}, "name", BOTH),
    ("contact", {"last_name": ""}, "last_name", BOTH),
    ("task", {"title": ""}, "title", BOTH),
    ("task", {"due_on": None}, "due_on", BOTH),
    # wrong types
    ("account", {"name": {"first": "Acme"}}, "name", BOTH),
    ("account", {"name": ["Acme"]}, "name", BOTH),
    ("account", {"name": True}, "name", BOTH),
    ("account", {"owner": [1]}, "owner", BOTH),
    ("account", {"owner": {"id": 1}}, "owner", BOTH),
    ("account", {"owner": "abc"}, "owner", BOTH),
    ("account", {"owner": True}, "owner", BOTH),
    ("account", {"owner": 2.5}, "owner", BOTH),
    ("contact", {"account": [1]}, "account", BOTH),
    ("contact", {"tags": "vip"}, "tags", BOTH),
    ("contact", {"tags": [{"name": "vip"}]}, "tags", BOTH),
    ("contact", {"tags": [""]}, "tags", BOTH),
    ("contact", {"tags": [None]}, "tags", BOTH),
    ("task", {"due_on": "tomorrow"}, "due_on", BOTH),
    ("task", {"due_on": "2026-02-30"}, "due_on", BOTH),
    ("task", {"due_on": 20261201}, "due_on", BOTH),
    ("task", {"due_on": ["2026-12-01"]}, "due_on", BOTH),
    ("task", {"due_on": "2026-12-01T10:00:00+01:00"}, "due_on", BOTH),
    ("task", {"done": "maybe"}, "done", BOTH),
    ("task", {"title": {"x": 1}}, "title", BOTH),
    ("task", {"contact": "1; DROP TABLE crm_task"}, "contact", BOTH),
    ("team", {"members": 5}, "members", BOTH),
    ("team", {"members": [[1]]}, "members", BOTH),
    ("user", {"is_active": "sometimes"}, "is_active", PATCH),
    # unknown ids
    ("account", {"owner": 99999999}, "owner", BOTH),
    ("account", {"owner": 99999999999999999999999}, "owner", BOTH),
    ("contact", {"account": 99999999}, "account", BOTH),
    ("contact", {"account": -1}, "account", BOTH),
    ("task", {"contact": 99999999}, "contact", BOTH),
    ("task", {"lead": 99999999}, "lead", BOTH),
    ("task", {"opportunity": 99999999}, "opportunity", BOTH),
    ("team", {"members": [99999999]}, "members", BOTH),
    # someone else's ids
    ("contact", {"account": lambda w: w["their_account"].pk}, "account", BOTH),
    ("task", {"contact": lambda w: w["their_contact"].pk}, "contact", BOTH),
    ("task", {"lead": lambda w: w["their_lead"].pk}, "lead", BOTH),
    ("task", {"opportunity": lambda w: w["their_opportunity"].pk}, "opportunity", BOTH),
    # owner = deactivated user
    ("account", {"owner": lambda w: w["gone"].pk}, "owner", BOTH),
    ("contact", {"owner": lambda w: w["gone"].pk}, "owner", BOTH),
    ("task", {"owner": lambda w: w["gone"].pk}, "owner", BOTH),
    # over-long strings
    ("account", {"name": "x" * 201}, "name", BOTH),
    ("account", {"industry": "x" * 101}, "industry", BOTH),
    ("account", {"country": "x" * 101}, "country", BOTH),
    ("contact", {"last_name": "x" * 101}, "last_name", BOTH),
    ("contact", {"first_name": "x" * 101}, "first_name", BOTH),
    ("contact", {"phone": "1" * 41}, "phone", BOTH),
    ("contact", {"email": "a" * 250 + "@example.com"}, "email", BOTH),
    ("contact", {"tags": ["x" * 51]}, "tags", BOTH),
    ("task", {"title": "x" * 201}, "title", BOTH),
    ("team", {"name": "x" * 101}, "name", BOTH),
    ("user", {"username": "x" * 151}, "username", POST),
    ("user", {"last_name": "x" * 151}, "last_name", BOTH),
    # invalid email
    ("contact", {"email": "not-an-email"}, "email", BOTH),
    ("contact", {"email": "ana@"}, "email", BOTH),
    ("user", {"email": "@example.com"}, "email", BOTH),
    # null characters (Postgres cannot store them)
    ("account", {"name": "Ac\x00me"}, "name", BOTH),
    ("contact", {"tags": ["v\x00ip"]}, "tags", BOTH),
    # unknown enum values
    ("account", {"company_size": "huge"}, "company_size", BOTH),
    ("account", {"company_size": "1-10 "}, "company_size", BOTH),
    ("task", {"kind": "nap"}, "kind", BOTH),
    ("task", {"kind": "CALL"}, "kind", BOTH),
    ("user", {"role": "boss"}, "role", BOTH),
    ("user", {"role": "Admin"}, "role", BOTH),
]


def _resolve(fields: dict, world: dict) -> dict:
    return {k: (v(world) if callable(v) else v) for k, v in fields.items()}


def _case_id(case):
    resource, fields, key, _modes = case
    return f"{resource}-{key}-{json.dumps(fields, default=lambda _: 'ref')[:40]}"


POST_CASES = [c for c in CASES if "post" in c[3]]
PATCH_CASES = [c for c in CASES if "patch" in c[3]]


@pytest.mark.parametrize("case", POST_CASES, ids=[_case_id(c) for c in POST_CASES])
def test_bad_create_is_400_on_the_field_and_changes_nothing(admin_api, world, case):
    resource, fields, key, _modes = case
    payload = {**VALID[resource], **_resolve(fields, world)}
    client = admin_api
    if resource in ("contact", "task") and any(
        k in fields for k in ("account", "contact", "lead", "opportunity")
    ):
        client = _rep_client(world)  # an admin may link anything; a rep may not
    before = db_state()

    response = client.post(URLS[resource], payload, format="json")

    assert response.status_code == 400, response.content
    assert key in response.json(), response.json()
    messages = response.json()[key]
    assert isinstance(messages, list)
    assert messages
    assert all(isinstance(m, str) and m for m in messages)
    assert db_state() == before


@pytest.mark.parametrize("case", PATCH_CASES, ids=[_case_id(c) for c in PATCH_CASES])
def test_bad_update_is_400_on_the_field_and_changes_nothing(admin_api, world, case):
    resource, fields, key, _modes = case
    payload = _resolve(fields, world)
    client = admin_api
    if any(k in fields for k in ("account", "contact", "lead", "opportunity")):
        client = _rep_client(world)
    url = f"{URLS[resource]}{world[resource].pk}/"
    before = db_state()

    response = client.patch(url, payload, format="json")

    assert response.status_code == 400, response.content
    assert key in response.json(), response.json()
    assert db_state() == before


def _rep_client(world):
    from rest_framework.test import APIClient

    client = APIClient()
    token, _ = Token.objects.get_or_create(user=world["rep"])
    client.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
    return client


def test_raw_json_overflow_and_constants_are_400(admin_api, world):
    before = db_state()
    for raw in (
        '{"name": "Acme", "owner": 1e400}',
        '{"name": "Acme", "owner": -1e400}',
        '{"name": "Acme", "owner": NaN}',
        '{"name": "Acme", "owner": Infinity}',
        '{"name": "\\ud800"}',
        '{"name": "Acme", "company_size": "\\udfff"}',
        '{"name": "Acme", "\\ud800": 1}',
        '{"name": "Acme", "owner": 1.0e2}',
    ):
        response = admin_api.post(URLS["account"], data=raw, content_type="application/json")
        assert response.status_code == 400, (raw, response.content)
    assert db_state() == before


DEEP = "[" * 100_000 + "]" * 100_000
MALFORMED = ['{"name": ', "{'name': 'x'}", "[1, 2", "\xff\xfe", "{name: 1}", DEEP]
NOT_AN_OBJECT = ["[]", '"text"', "42", "true", '[{"name": "Acme"}]']


@pytest.mark.parametrize("resource", list(URLS))
@pytest.mark.parametrize("body", MALFORMED + NOT_AN_OBJECT, ids=lambda b: repr(b[:12]))
def test_malformed_or_non_object_json_is_400_with_detail(admin_api, world, resource, body):
    before = db_state()
    for method, url in (
        ("post", URLS[resource]),
        ("patch", f"{URLS[resource]}{world[resource].pk}/"),
    ):
        response = getattr(admin_api, method)(
            url, data=body.encode("latin-1"), content_type="application/json"
        )
        assert response.status_code == 400, (method, url, response.content)
        assert list(response.json()) == ["detail"]
    assert db_state() == before


@pytest.mark.parametrize(
    ("body", "error"),
    [
        ("", {"name": ["This field is required."]}),
        ("{}", {"name": ["This field is required."]}),
        ("null", {"detail": ["No data provided"]}),
    ],
)
def test_empty_body_creates_nothing(admin_api, world, body, error):
    before = db_state()
    created = admin_api.post(URLS["account"], data=body, content_type="application/json")
    assert created.status_code == 400
    assert created.json() == error
    url = f"{URLS['account']}{world['account'].pk}/"
    assert admin_api.patch(url, data=body, content_type="application/json").status_code in (
        200,
        400,
    )
    assert db_state() == before


def test_unsupported_media_type_is_415(admin_api, world):
    before = db_state()
    response = admin_api.post(URLS["account"], data="name=Acme", content_type="text/plain")
    assert response.status_code == 415
    assert response.json()["detail"]
    assert db_state() == before


def test_complete_with_bad_body_changes_nothing(rep_api, world):
    task = world["task"]
    before = db_state()
    for body in ({"rating": 1}, {"note": None}, {"note": {"a": 1}}, ["x"], {"rating": "x"}):
        response = rep_api.post(f"/api/v1/tasks/{task.pk}/complete/", body, format="json")
        assert response.status_code == 400, (body, response.content)
    assert db_state() == before


def test_unknown_fields_and_read_only_fields_are_ignored(rep_api, world):
    task = world["task"]
    response = rep_api.patch(
        f"/api/v1/tasks/{task.pk}/",
        {"id": 12345, "created_at": "2000-01-01T00:00:00Z", "completed_at": None, "bogus": 1},
        format="json",
    )
    assert response.status_code == 200
    assert response.json()["id"] == task.pk
    assert not Event.objects.filter(task=task).exists()


# --- the sweep: no payload makes any write endpoint fail ----------------------------------------

JUNK = [
    "{}",
    "[]",
    "null",
    "true",
    "0",
    "-1",
    "1.5",
    "1e400",
    "-1e400",
    "99999999999999999999999999",
    '""',
    '"   "',
    '"\\u0000"',
    '"\\ud800"',
    '"' + "x" * 10_000 + '"',
    '"2026-02-30"',
    '"<script>alert(1)</script>"',
    '"1; DROP TABLE crm_account"',
    '["a", "a", "A"]',
    "[null]",
    "[1, 1]",
    "[[[[[[]]]]]]",
    '{"id": 1}',
    '{"$gt": ""}',
]
FIELDS = sorted(
    {
        *("name", "industry", "country", "company_size", "owner"),
        *("first_name", "last_name", "email", "phone", "account", "tags"),
        *("title", "kind", "due_on", "lead", "contact", "opportunity", "done", "note", "rating"),
        *("username", "password", "role", "is_active", "time_zone", "members"),
        *("company", "source", "status", "reason", "revisit_on", "account_name"),
        *("create_opportunity", "opportunity_name", "amount", "user", "ids", "file"),
        *("archived", "order", "ask_disqualification_reason", "threshold", "auto_qualify"),
    }
)
BASES = {  # a valid body per collection, so junk in one field reaches the deeper checks
    "/api/v1/accounts/": VALID["account"],
    "/api/v1/contacts/": VALID["contact"],
    "/api/v1/tasks/": VALID["task"],
    "/api/v1/teams/": VALID["team"],
    "/api/v1/users/": VALID["user"],
}


# Junk that may get past a field's own parsing, so it is also sent alone on a valid body to
# reach the services behind the serializer. (Type errors are caught by the all-fields body: DRF
# parses every field of it.)
PASSABLE = [
    "null",
    '""',
    '"   "',
    "0",
    "-1",
    "1.5",
    "true",
    "1e400",
    "99999999999999999999999999",
    '"\\u0000"',
    '"' + "x" * 10_000 + '"',
    '"2026-02-30"',
    "[]",
    "{}",
    '["a", "a", "A"]',
    "[1, 1]",
]


@functools.cache
def _schema_inputs() -> dict[tuple[str, str], tuple[set[str], set[str]]]:
    """``{(path template, method): (body field names, query parameter names)}`` per the schema."""
    from drf_spectacular.generators import SchemaGenerator

    schema = SchemaGenerator().get_schema(request=None, public=True)
    components = schema["components"]["schemas"]
    inputs = {}
    for path, operations in schema["paths"].items():
        for method, operation in operations.items():
            body = set()
            for media in operation.get("requestBody", {}).get("content", {}).values():
                ref = media["schema"].get("$ref", "")
                body |= set(components.get(ref.rsplit("/", 1)[-1], {}).get("properties", {}))
            query = {p["name"] for p in operation.get("parameters", []) if p["in"] == "query"}
            inputs[(re.sub(r"{\w+}", "{pk}", path), method)] = (body, query)
    return inputs


def _fields_for(route, method) -> list[str]:
    """The body fields the schema documents (every known name for an undocumented route)."""
    documented = _schema_inputs().get((route.template, method))
    return sorted(documented[0] if documented else FIELDS)


def _params_for(route) -> list[str]:
    documented = _schema_inputs().get((route.template, "get"))
    return sorted(documented[1] if documented else FIELDS)


def _sweep_targets():
    targets = []
    for route in api_routes():
        for method in route.methods:
            if method in ("post", "put", "patch"):
                targets.append((route, method))
    return targets


SWEEP = _sweep_targets()


def _fixture_pk(route, world):
    """An id of a record the route's model has, so detail routes reach validation."""
    by_model = {
        Account: world["account"],
        Contact: world["contact"],
        Task: world["task"],
        Team: world["team"],
        User: world["rep"],
        Lead: world["their_lead"],
        Opportunity: world["their_opportunity"],
    }
    obj = by_model.get(route.model)
    if obj is None and route.model is not None:
        obj = route.model.objects.order_by("pk").first()
    return obj.pk if obj is not None else 1


def test_the_sweep_covers_every_core_write_route():
    covered = {(r.template, m) for r, m in SWEEP}
    for template in ("/api/v1/accounts/", "/api/v1/contacts/", "/api/v1/tasks/"):
        assert (template, "post") in covered
        assert (template + "{pk}/", "patch") in covered
        assert (template + "{pk}/", "put") in covered
    assert ("/api/v1/tasks/{pk}/complete/", "post") in covered
    assert ("/api/v1/users/", "post") in covered
    assert ("/api/v1/teams/{pk}/", "patch") in covered
    assert ("/api/v1/auth/token/", "post") in covered


@pytest.mark.parametrize(("route", "method"), SWEEP, ids=[f"{m} {r.template}" for r, m in SWEEP])
def test_garbage_never_causes_a_server_error(admin_api, world, route, method):
    admin_api.raise_request_exception = False
    url = route.url(_fixture_pk(route, world)) if route.detail else route.url()
    base = BASES.get(route.template, {})
    failures = []

    def send(body: str) -> None:
        response = getattr(admin_api, method)(url, data=body, content_type="application/json")
        if response.status_code >= 500:
            failures.append((body[:120], response.status_code))

    send(DEEP)
    for junk in JUNK:
        send(junk)  # the whole body
        send("{" + ", ".join(f'"{field}": {junk}' for field in FIELDS) + "}")  # every field
    for junk in PASSABLE:
        for field in _fields_for(route, method):  # one at a time on an otherwise valid body
            body = {**base}
            body.pop(field, None)
            text = json.dumps(body)[:-1]
            send(text + (", " if body else "") + f'"{field}": {junk}' + "}")

    assert not failures, failures


@pytest.mark.parametrize(
    "route",
    [r for r in api_routes() if not r.detail and "get" in r.methods],
    ids=lambda r: r.template,
)
def test_garbage_query_strings_never_cause_a_server_error(admin_api, world, route):
    admin_api.raise_request_exception = False
    known = [*FIELDS, "q", "page_size", "cursor", "sort", "due_before", "due_after", "since"]
    params = _params_for(route)
    values = ["", "abc", "-1", "1.5", "1e400", "9" * 30, "%00", "%ED%A0%80", "2026-02-30", "[]"]
    failures = []
    for value in values:
        query = "&".join(f"{p}={value}" for p in sorted({*known, *params}))
        for url in (f"{route.url()}?{query}", *(f"{route.url()}?{p}={value}" for p in params)):
            response = admin_api.get(url)
            if response.status_code >= 500:
                failures.append((url[:120], response.status_code))
    assert not failures, failures


def test_garbage_ids_in_the_path_are_404(admin_api, world):
    admin_api.raise_request_exception = False
    for pk in ("abc", "1.5", "-1", "0", "99999999999999999999999", "%00", "1e400"):
        for base in ("/api/v1/accounts/", "/api/v1/tasks/", "/api/v1/users/", "/api/v1/teams/"):
            response = admin_api.get(f"{base}{pk}/")
            assert response.status_code == 404, (base, pk)
        assert admin_api.post(f"/api/v1/tasks/{pk}/complete/", {}).status_code == 404


@pytest.mark.parametrize("route", api_routes(), ids=lambda r: r.template)
def test_browsable_api_and_options_never_cause_a_server_error(admin_api, world, route):
    admin_api.raise_request_exception = False
    url = route.url(_fixture_pk(route, world)) if route.detail else route.url()
    assert admin_api.options(url).status_code < 500
    if "get" in route.methods:
        assert admin_api.get(url, HTTP_ACCEPT="text/html").status_code < 500
