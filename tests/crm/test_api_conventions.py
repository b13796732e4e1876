"""API.md "Conventions": auth, pagination, CRUD status codes, error format, i18n, formats."""

import datetime as dt
import re
from pathlib import Path

import pytest
from django.conf import settings
from django.middleware.csrf import get_token
from django.test import RequestFactory
from django.urls import reverse
from django.utils import timezone
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient
from rest_framework.throttling import ScopedRateThrottle

from crm import api_urls, services
from crm.models import Account, Contact, Event, Task, Team, User
from tests.conftest import PASSWORD
from tests.factories import (
    AccountFactory,
    ContactFactory,
    TaskFactory,
    TeamFactory,
    UserFactory,
)

pytestmark = pytest.mark.django_db

TOKEN_URL = "/api/v1/auth/token/"
DATETIME_WITH_OFFSET = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?([+-]\d\d:\d\d|Z)$")
ISO_DATE = re.compile(r"^\d{4}-\d\d-\d\d$")
LIST_BASENAMES = [b.removeprefix("api-") for _prefix, _viewset, b in api_urls.router.registry]
ES_MO = Path(settings.BASE_DIR) / "locale" / "es" / "LC_MESSAGES" / "django.mo"


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


def list_url(basename: str) -> str:
    return reverse(f"api-{basename}-list")


def detail_url(basename: str, pk: int) -> str:
    return reverse(f"api-{basename}-detail", args=[pk])


# --- token authentication ------------------------------------------------------------------------


def test_token_endpoint_returns_a_token_that_authenticates(api_anon, rep):
    response = api_anon.post(TOKEN_URL, {"username": "rep", "password": PASSWORD}, format="json")

    assert response.status_code == 200
    assert set(response.json()) == {"token"}
    token = response.json()["token"]
    assert token == Token.objects.get(user=rep).key

    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    me = client.get("/api/v1/users/me/")
    assert me.status_code == 200
    assert me.json()["username"] == "rep"


def test_token_endpoint_accepts_form_data(api_anon, rep):
    response = api_anon.post(TOKEN_URL, {"username": "rep", "password": PASSWORD})
    assert response.status_code == 200
    assert response.json()["token"]


def test_token_with_wrong_password_is_400_with_a_clear_message(api_anon, rep):
    response = api_anon.post(TOKEN_URL, {"username": "rep", "password": "nope"}, format="json")

    assert response.status_code == 400
    body = response.json()
    assert "token" not in body
    assert list(body) == ["detail"]
    assert "credentials" in body["detail"][0]
    assert not Token.objects.filter(user=rep).exists()


def test_token_for_unknown_user_is_the_same_400(api_anon, rep):
    wrong_password = api_anon.post(TOKEN_URL, {"username": "rep", "password": "x"}, format="json")
    unknown_user = api_anon.post(TOKEN_URL, {"username": "ghost", "password": "x"}, format="json")
    assert unknown_user.status_code == wrong_password.status_code == 400
    assert unknown_user.json() == wrong_password.json()


@pytest.mark.parametrize(
    ("payload", "field"),
    [({"password": PASSWORD}, "username"), ({"username": "rep"}, "password")],
)
def test_token_with_missing_field_is_400_on_that_field(api_anon, rep, payload, field):
    response = api_anon.post(TOKEN_URL, payload, format="json")
    assert response.status_code == 400
    assert field in response.json()


def test_token_endpoint_is_throttled_after_the_overridden_rate(api_anon, rep, monkeypatch):
    monkeypatch.setitem(ScopedRateThrottle.THROTTLE_RATES, "token", "3/minute")

    for _ in range(3):
        response = api_anon.post(TOKEN_URL, {"username": "rep", "password": "x"}, format="json")
        assert response.status_code == 400

    # Even the right password is refused once the budget is spent.
    response = api_anon.post(TOKEN_URL, {"username": "rep", "password": PASSWORD}, format="json")
    assert response.status_code == 429
    assert response.json()["detail"]
    assert int(response.headers["Retry-After"]) > 0
    assert not Token.objects.filter(user=rep).exists()


def test_token_endpoint_is_throttled_after_the_configured_rate(api_anon):
    configured = settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"]["token"]
    assert ScopedRateThrottle.THROTTLE_RATES["token"] == configured
    allowed, _duration = ScopedRateThrottle().parse_rate(configured)

    # Incomplete payloads are cheap (no password hashing) and still count against the budget.
    for _ in range(allowed):
        assert api_anon.post(TOKEN_URL, {}, format="json").status_code == 400
    assert api_anon.post(TOKEN_URL, {}, format="json").status_code == 429


def test_throttling_counts_per_client_address(api_anon, rep, monkeypatch):
    monkeypatch.setitem(ScopedRateThrottle.THROTTLE_RATES, "token", "1/minute")
    payload = {"username": "rep", "password": PASSWORD}
    assert api_anon.post(TOKEN_URL, payload, format="json").status_code == 200
    assert api_anon.post(TOKEN_URL, payload, format="json").status_code == 429

    elsewhere = APIClient(REMOTE_ADDR="10.1.2.3")
    assert elsewhere.post(TOKEN_URL, payload, format="json").status_code == 200


def test_inactive_user_gets_no_token_and_their_token_stops_working(api_anon, rep, rep_api):
    rep.is_active = False
    rep.save()

    response = api_anon.post(TOKEN_URL, {"username": "rep", "password": PASSWORD}, format="json")
    assert response.status_code == 400
    assert rep_api.get("/api/v1/users/me/").status_code == 401


def test_bad_token_is_401(api_anon, rep):
    api_anon.credentials(HTTP_AUTHORIZATION="Token not-a-real-token")
    response = api_anon.get("/api/v1/users/me/")
    assert response.status_code == 401
    assert response.json()["detail"]


@pytest.mark.parametrize("basename", LIST_BASENAMES)
def test_unauthenticated_requests_are_refused_with_a_detail(api_anon, basename):
    for response in (
        api_anon.get(list_url(basename)),
        api_anon.post(list_url(basename), {}, format="json"),
        api_anon.get(detail_url(basename, 1)),
    ):
        assert response.status_code in (401, 403)
        assert response.json()["detail"]
    assert api_anon.get(list_url(basename)).status_code == 401  # with WWW-Authenticate: Token


def test_unauthenticated_response_names_the_token_scheme(api_anon):
    response = api_anon.get("/api/v1/accounts/")
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"] == "Token"


# --- session authentication and CSRF -------------------------------------------------------------


def _csrf_pair():
    """A (cookie value, header value) pair as a browser would hold after loading a page."""
    request = RequestFactory().get("/")
    header = get_token(request)
    return request.META["CSRF_COOKIE"], header


def test_session_auth_reads_without_csrf(rep):
    client = APIClient(enforce_csrf_checks=True)
    client.force_login(rep)
    assert client.get("/api/v1/accounts/").status_code == 200
    assert client.get("/api/v1/users/me/").json()["username"] == "rep"


@pytest.mark.parametrize("method", ["post", "put", "patch", "delete"])
def test_session_auth_requires_csrf_for_unsafe_methods(rep, method):
    account = AccountFactory(owner=rep, name="Before")
    client = APIClient(enforce_csrf_checks=True)
    client.force_login(rep)
    url = "/api/v1/accounts/" if method == "post" else f"/api/v1/accounts/{account.pk}/"

    response = getattr(client, method)(url, {"name": "After"}, format="json")

    assert response.status_code == 403
    assert "CSRF" in response.json()["detail"]
    account.refresh_from_db()
    assert account.name == "Before"
    assert account.archived_at is None
    assert Account.objects.count() == 1
    assert not Event.objects.exists()


def test_session_auth_with_csrf_token_may_write(rep):
    client = APIClient(enforce_csrf_checks=True)
    client.force_login(rep)
    cookie, header = _csrf_pair()
    client.cookies[settings.CSRF_COOKIE_NAME] = cookie

    response = client.post(
        "/api/v1/accounts/", {"name": "Acme"}, format="json", HTTP_X_CSRFTOKEN=header
    )
    assert response.status_code == 201, response.content


def test_token_auth_needs_no_csrf(rep_api):
    rep_api.handler.enforce_csrf_checks = True
    response = rep_api.post("/api/v1/accounts/", {"name": "Acme"}, format="json")
    assert response.status_code == 201


# --- cursor pagination ---------------------------------------------------------------------------


def _make_rows(basename: str, n: int, owner: User) -> None:
    """``n`` rows of the list behind ``basename`` (visible to ``owner`` and to admins)."""
    if basename == "user":
        UserFactory.create_batch(n)
    elif basename == "team":
        TeamFactory.create_batch(n)
    elif basename == "account":
        AccountFactory.create_batch(n, owner=owner)
    elif basename == "contact":
        ContactFactory.create_batch(n, owner=owner)
    elif basename == "task":
        TaskFactory.create_batch(n, owner=owner)
    elif basename == "event":
        account = AccountFactory(owner=owner)
        for i in range(n):
            services.event_record(actor=owner, kind="updated", account=account, data={"i": i})
    elif basename == "saved-view":
        for i in range(n):
            services.saved_view_create(actor=owner, list_key="leads", name=f"View {i}", query="")
    else:  # pragma: no cover - a new endpoint needs rows here
        raise AssertionError(f"add rows for {basename!r}")


def _walk(client, url):
    pages = []
    while url:
        response = client.get(url)
        assert response.status_code == 200, response.content
        pages.append(response.json())
        url = response.json()["next"]
    return pages


@pytest.mark.parametrize("basename", LIST_BASENAMES)
def test_list_shape(admin_api, admin, basename):
    _make_rows(basename, 3, admin)
    body = admin_api.get(list_url(basename)).json()
    assert {"next", "previous", "results"} <= set(body)
    assert body["next"] is None
    assert body["previous"] is None
    assert isinstance(body["results"], list)
    assert body["results"]


@pytest.mark.parametrize("basename", LIST_BASENAMES)
def test_walking_next_visits_every_record_exactly_once(admin_api, admin, basename):
    _make_rows(basename, 23, admin)
    everything = admin_api.get(f"{list_url(basename)}?page_size=200").json()["results"]
    expected = [row["id"] for row in everything]

    pages = _walk(admin_api, f"{list_url(basename)}?page_size=4")

    ids = [row["id"] for page in pages for row in page["results"]]
    assert ids == expected  # same records, same stable order, no duplicates
    assert len(ids) == len(set(ids)) >= 23
    assert all(len(page["results"]) == 4 for page in pages[:-1])
    assert pages[0]["previous"] is None
    assert all(page["previous"] for page in pages[1:])


def test_walk_is_stable_while_records_are_added(rep_api, rep):
    AccountFactory.create_batch(12, owner=rep)
    before = set(Account.objects.values_list("pk", flat=True))

    first = rep_api.get("/api/v1/accounts/?page_size=5").json()
    AccountFactory.create_batch(3, owner=rep)  # newer rows land before the cursor
    rest = _walk(rep_api, first["next"])

    ids = [row["id"] for row in first["results"]] + [
        row["id"] for page in rest for row in page["results"]
    ]
    assert len(ids) == len(set(ids))
    assert set(ids) == before


def test_previous_link_walks_back(rep_api, rep):
    AccountFactory.create_batch(9, owner=rep)
    pages = _walk(rep_api, "/api/v1/accounts/?page_size=3")
    back = rep_api.get(pages[-1]["previous"]).json()
    assert [r["id"] for r in back["results"]] == [r["id"] for r in pages[-2]["results"]]


def test_page_size_is_honoured_and_capped_at_200(rep_api, rep):
    Account.objects.bulk_create(Account(name=f"Acme {i}", owner=rep) for i in range(205))

    def size(query=""):
        return len(rep_api.get(f"/api/v1/accounts/{query}").json()["results"])

    assert size("?page_size=7") == 7
    assert size("?page_size=200") == 200
    assert size("?page_size=201") == 200
    assert size("?page_size=100000") == 200
    assert size() == 50  # the default
    assert size("?page_size=abc") == 50
    assert size("?page_size=-3") == 50


def test_invalid_cursor_is_a_client_error(rep_api):
    response = rep_api.get("/api/v1/accounts/?cursor=garbage")
    assert 400 <= response.status_code < 500
    assert response.json()["detail"]


# --- create / update / delete --------------------------------------------------------------------


def _payloads(rep, basename):
    if basename == "account":
        create = {"name": "Acme", "industry": "Retail", "country": "Spain", "company_size": "11-50"}
        return create, {"country": "France"}, {**create, "name": "Acme Corp"}
    if basename == "contact":
        account = AccountFactory(owner=rep)
        create = {
            "first_name": "Ana",
            "last_name": "García",
            "email": "ana@example.com",
            "phone": "+34 600 000 000",
            "account": account.pk,
            "tags": ["vip", "newsletter"],
        }
        return create, {"phone": "+34 611 111 111"}, {**create, "last_name": "Gómez"}
    create = {"title": "Call Ana", "kind": "call", "due_on": "2026-12-01"}
    return create, {"due_on": "2026-12-24"}, {**create, "title": "Call Ana again"}


CONTRACT_FIELDS = {
    "account": {"id", "name", "industry", "country", "company_size", "owner"},
    "contact": {"id", "first_name", "last_name", "email", "phone", "account", "owner", "tags"},
    "task": {
        "id",
        "title",
        "kind",
        "due_on",
        "owner",
        "lead",
        "contact",
        "opportunity",
        "done",
        "completed_at",
    },
}
MODELS = {"account": Account, "contact": Contact, "task": Task}


def _assert_matches(body, payload):
    for key, value in payload.items():
        if key == "tags":
            assert sorted(body[key]) == sorted(value)
        else:
            assert body[key] == value, key


@pytest.mark.parametrize("basename", ["account", "contact", "task"])
def test_create_returns_201_with_the_full_object(rep_api, rep, basename):
    create, _patch, _put = _payloads(rep, basename)

    response = rep_api.post(list_url(basename), create, format="json")

    assert response.status_code == 201, response.content
    body = response.json()
    assert CONTRACT_FIELDS[basename] <= set(body)
    _assert_matches(body, create)
    assert body["owner"] == rep.pk  # defaults to the caller
    assert isinstance(body["id"], int)
    assert MODELS[basename].objects.filter(pk=body["id"]).exists()
    assert rep_api.get(detail_url(basename, body["id"])).json() == body


@pytest.mark.parametrize("basename", ["account", "contact", "task"])
def test_patch_and_put_return_200_with_the_full_object(rep_api, rep, basename):
    create, patch, put = _payloads(rep, basename)
    pk = rep_api.post(list_url(basename), create, format="json").json()["id"]

    patched = rep_api.patch(detail_url(basename, pk), patch, format="json")
    assert patched.status_code == 200, patched.content
    assert CONTRACT_FIELDS[basename] <= set(patched.json())
    _assert_matches(patched.json(), {**create, **patch})

    replaced = rep_api.put(detail_url(basename, pk), put, format="json")
    assert replaced.status_code == 200, replaced.content
    assert CONTRACT_FIELDS[basename] <= set(replaced.json())
    _assert_matches(replaced.json(), put)
    assert rep_api.get(detail_url(basename, pk)).json() == replaced.json()


@pytest.mark.parametrize("basename", ["account", "contact", "task"])
def test_delete_is_204_and_archives(rep_api, rep, basename):
    create, _patch, _put = _payloads(rep, basename)
    pk = rep_api.post(list_url(basename), create, format="json").json()["id"]

    response = rep_api.delete(detail_url(basename, pk))

    assert response.status_code == 204
    assert not response.content
    obj = MODELS[basename].objects.get(pk=pk)  # still in the database
    assert obj.archived_at is not None
    assert rep_api.get(detail_url(basename, pk)).status_code == 404
    assert pk not in [r["id"] for r in rep_api.get(list_url(basename)).json()["results"]]
    archived = Event.objects.filter(kind="archived", **{basename: obj})
    assert archived.count() == 1
    assert archived.get().actor == rep
    # Deleting again: it is gone for the API.
    assert rep_api.delete(detail_url(basename, pk)).status_code == 404
    assert Event.objects.filter(kind="archived", **{basename: obj}).count() == 1


def test_archived_account_cannot_be_linked(rep_api, rep):
    account = AccountFactory(owner=rep, archived_at=timezone.now())
    response = rep_api.post(
        "/api/v1/contacts/", {"last_name": "X", "account": account.pk}, format="json"
    )
    assert response.status_code == 400
    assert "account" in response.json()


# --- errors --------------------------------------------------------------------------------------


def test_validation_errors_are_field_keyed_lists_of_sentences(rep_api):
    response = rep_api.post("/api/v1/tasks/", {"kind": "nope"}, format="json")

    assert response.status_code == 400
    body = response.json()
    assert set(body) == {"title", "due_on", "kind"}
    for messages in body.values():
        assert isinstance(messages, list)
        assert all(isinstance(m, str) and m.endswith(".") for m in messages)


def test_non_field_errors_are_under_detail(rep_api):
    response = rep_api.post("/api/v1/accounts/", ["not", "an", "object"], format="json")
    assert response.status_code == 400
    assert list(response.json()) == ["detail"]


def test_service_non_field_error_is_under_detail(admin_api, admin):
    response = admin_api.delete(f"/api/v1/users/{admin.pk}/")
    assert response.status_code == 400
    assert list(response.json()) == ["detail"]
    assert isinstance(response.json()["detail"], list)


def test_malformed_json_is_400_with_detail(rep_api):
    response = rep_api.post(
        "/api/v1/accounts/", data='{"name": "Acme",', content_type="application/json"
    )
    assert response.status_code == 400
    assert response.json()["detail"]
    assert not Account.objects.exists()


def test_unknown_record_is_404_with_detail(rep_api):
    response = rep_api.get("/api/v1/accounts/999999/")
    assert response.status_code == 404
    assert response.json() == {"detail": "Not found."}


def test_other_users_record_is_404_not_403(rep_api, other_rep):
    account = AccountFactory(owner=other_rep)
    response = rep_api.get(f"/api/v1/accounts/{account.pk}/")
    assert response.status_code == 404
    # Exactly like an id that does not exist: nothing tells them apart.
    assert response.json() == rep_api.get("/api/v1/accounts/999999/").json()


def test_admin_only_operation_by_a_rep_is_403(rep_api):
    response = rep_api.post("/api/v1/teams/", {"name": "Sales"}, format="json")
    assert response.status_code == 403
    assert response.json()["detail"]
    assert not Team.objects.exists()


# --- i18n ----------------------------------------------------------------------------------------


def test_validation_messages_follow_accept_language(rep_api):
    english = rep_api.post("/api/v1/accounts/", {}, format="json")
    spanish = rep_api.post("/api/v1/accounts/", {}, format="json", HTTP_ACCEPT_LANGUAGE="es")

    assert english.json() == {"name": ["This field is required."]}
    assert spanish.json() == {"name": ["Este campo es requerido."]}
    assert spanish.headers["Content-Language"] == "es"


def test_not_found_follows_accept_language(rep_api):
    response = rep_api.get("/api/v1/accounts/999999/", HTTP_ACCEPT_LANGUAGE="es")
    assert response.json() == {"detail": "No encontrado."}


@pytest.mark.skipif(
    not ES_MO.exists(),
    reason="locale/es/LC_MESSAGES/django.mo not compiled yet (the Spanish catalog is in progress)",
)
def test_project_messages_are_translated_to_spanish(rep_api, other_rep):
    other_rep.is_active = False
    other_rep.save()
    payload = {"name": "Acme", "owner": other_rep.pk}

    english = rep_api.post("/api/v1/accounts/", payload, format="json").json()["owner"][0]
    spanish = rep_api.post(
        "/api/v1/accounts/", payload, format="json", HTTP_ACCEPT_LANGUAGE="es"
    ).json()["owner"][0]

    assert english == "Choose an active user as the owner."
    assert spanish
    assert spanish != english


# --- formats -------------------------------------------------------------------------------------


def test_ids_are_ints_dates_iso_and_datetimes_carry_an_offset(rep_api, rep):
    contact = ContactFactory(owner=rep)
    task = rep_api.post(
        "/api/v1/tasks/",
        {"title": "Call", "due_on": "2026-11-23", "contact": contact.pk},
        format="json",
    ).json()
    done = rep_api.post(f"/api/v1/tasks/{task['id']}/complete/", {}, format="json").json()

    assert isinstance(done["id"], int)
    assert isinstance(done["owner"], int)
    assert isinstance(done["contact"], int)
    assert ISO_DATE.match(done["due_on"])
    assert dt.date.fromisoformat(done["due_on"]) == dt.date(2026, 11, 23)
    assert DATETIME_WITH_OFFSET.match(done["completed_at"])
    assert dt.datetime.fromisoformat(done["completed_at"].replace("Z", "+00:00")).tzinfo
    assert DATETIME_WITH_OFFSET.match(done["created_at"])

    event = rep_api.get(f"/api/v1/events/?task={task['id']}").json()["results"][0]
    assert isinstance(event["id"], int)
    assert isinstance(event["actor"], int)
    assert DATETIME_WITH_OFFSET.match(event["at"])


def test_dates_accept_iso_only(rep_api):
    response = rep_api.post(
        "/api/v1/tasks/", {"title": "Call", "due_on": "23/11/2026"}, format="json"
    )
    assert response.status_code == 400
    assert "due_on" in response.json()
