"""Token authentication (crm.api_auth): DRF's answers, in one statement."""

import datetime as dt

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from crm import api_auth, services
from crm.api_auth import token_with_user

pytestmark = pytest.mark.django_db
ME = "/api/v1/users/me/"


def _client(key: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    return client


def test_a_token_loads_its_user_and_itself_in_one_statement(rep):
    rep.time_zone = "Europe/Madrid"
    rep.save()
    token = Token.objects.create(user=rep)
    with CaptureQueriesContext(connection) as ctx:
        found = token_with_user(Token, token.key)
    assert len(ctx.captured_queries) == 1
    assert found.key == token.key and found.created == token.created
    assert found.user_id == rep.pk
    with CaptureQueriesContext(connection) as ctx:
        user = found.user
    assert ctx.captured_queries == []
    for field in type(rep)._meta.concrete_fields:
        assert getattr(user, field.attname) == getattr(rep, field.attname), field.name
    assert not user._state.adding and user._state.db == "default"


def test_the_api_answers_as_the_token_user(rep):
    token = Token.objects.create(user=rep)
    response = _client(token.key).get(ME)
    assert response.status_code == 200
    assert response.json()["username"] == rep.username


@pytest.mark.parametrize("key", ["nope", "x" * 40, "", "'OR'1'='1", "%s"])
def test_an_unknown_token_is_401_invalid_token(rep, key):
    Token.objects.create(user=rep)
    response = _client(key).get(ME)
    assert response.status_code == 401
    if key.strip():
        assert response.json()["detail"] == "Invalid token."


def test_an_inactive_users_token_is_401(rep):
    token = Token.objects.create(user=rep)
    type(rep).objects.filter(pk=rep.pk).update(is_active=False)
    response = _client(token.key).get(ME)
    assert response.status_code == 401
    assert response.json()["detail"] == "User inactive or deleted."


def test_a_deleted_token_no_longer_authenticates(rep):
    token = Token.objects.create(user=rep)
    key = token.key
    assert _client(key).get(ME).status_code == 200
    token.delete()
    assert _client(key).get(ME).status_code == 401


def test_the_messages_are_translated(rep):
    response = _client("nope").get(ME, HTTP_ACCEPT_LANGUAGE="es")
    assert response.status_code == 401
    assert response.json()["detail"] == "Token inválido."


# --- a process remembers a token's user for API_TOKEN_CACHE_SECONDS ------------------------------


class _Clock:
    def __init__(self, monkeypatch):
        self.now = 1000.0
        monkeypatch.setattr(api_auth.time, "monotonic", lambda: self.now)


def _token_queries(client) -> int:
    with CaptureQueriesContext(connection) as ctx:
        assert client.get(ME).status_code == 200
    return sum("authtoken_token" in q["sql"] for q in ctx.captured_queries)


def test_a_remembered_token_is_not_read_again(rep, settings):
    settings.API_TOKEN_CACHE_SECONDS = 5
    client = _client(Token.objects.create(user=rep).key)
    assert _token_queries(client) == 1
    assert _token_queries(client) == 0
    settings.API_TOKEN_CACHE_SECONDS = 0
    api_auth.forget()
    assert _token_queries(client) == 1
    assert _token_queries(client) == 1


def test_each_request_gets_its_own_user_instance(rep, settings):
    settings.API_TOKEN_CACHE_SECONDS = 5
    token = Token.objects.create(user=rep)
    first, second = token_with_user(Token, token.key), token_with_user(Token, token.key)
    assert first.user is not second.user and first.user.pk == second.user.pk == rep.pk
    first.user.first_name = "Changed in one request"
    assert token_with_user(Token, token.key).user.first_name == rep.first_name


def test_a_change_in_this_process_is_seen_at_once(rep, admin, settings):
    settings.API_TOKEN_CACHE_SECONDS = 5
    client = _client(Token.objects.create(user=rep).key)
    assert client.get(ME).json()["role"] == "rep"
    assert len(api_auth._remembered) == 1  # remembered, and forgotten on the change
    services.user_update(actor=admin, user=rep, role="admin")
    assert client.get(ME).json()["role"] == "admin"
    services.user_deactivate(actor=admin, user=rep)
    assert client.get(ME).status_code == 401


def test_another_process_s_change_is_seen_within_the_seconds(rep, settings, monkeypatch):
    """A change this process did not make (another worker's, here a bare UPDATE) reaches it
    when the remembered row expires."""
    settings.API_TOKEN_CACHE_SECONDS = 5
    clock = _Clock(monkeypatch)
    token = Token.objects.create(user=rep)
    client = _client(token.key)
    assert client.get(ME).status_code == 200
    type(rep).objects.filter(pk=rep.pk).update(is_active=False)
    clock.now += 4.9
    assert client.get(ME).status_code == 200
    clock.now += 0.2
    assert client.get(ME).status_code == 401


def test_unknown_keys_are_not_remembered(rep, settings):
    settings.API_TOKEN_CACHE_SECONDS = 5
    Token.objects.create(user=rep)
    for n in range(20):
        assert _client(f"unknown-{n}").get(ME).status_code == 401
    assert api_auth._remembered == {}


def test_at_most_max_remembered_keys(rep, other_rep, monkeypatch, settings):
    settings.API_TOKEN_CACHE_SECONDS = 5
    monkeypatch.setattr(api_auth, "MAX_REMEMBERED", 1)
    for user in (rep, other_rep):
        assert _client(Token.objects.create(user=user).key).get(ME).status_code == 200
    assert len(api_auth._remembered) == 1


# 23:30 UTC on 24 November 2026: already the 25th in Madrid (UTC+1), still the 24th in New York.
LATE_EVENING_UTC = dt.datetime(2026, 11, 24, 23, 30, tzinfo=dt.UTC)


@pytest.mark.parametrize(
    ("zone", "offset", "state"),
    [("America/New_York", "-05:00", "later"), ("Europe/Madrid", "+01:00", "today")],
)
def test_a_token_request_runs_in_the_users_time_zone(rep, client, zone, offset, state):
    """The time-zone middleware sees a token request as anonymous (DRF reads the token later):
    the token's user still gets their own "today" and their own offsets, as with a session."""
    from tests.factories import LeadFactory, TaskFactory

    rep.time_zone = zone
    rep.save()
    with time_machine.travel(LATE_EVENING_UTC, tick=False):
        lead = LeadFactory(owner=rep)
        TaskFactory(owner=rep, lead=lead, due_on=dt.date(2026, 11, 25))
        token = Token.objects.create(user=rep)
        by_token = APIClient()
        by_token.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
        client.force_login(rep)
        for api in (by_token, client):
            for url in (f"/api/v1/leads/{lead.pk}/", "/api/v1/leads/"):
                body = api.get(url).json()
                row = body if "id" in body else body["results"][0]
                assert row["created_at"].endswith(offset), (api, url, row["created_at"])
                assert row["next_activity"] == {"state": state, "due_on": "2026-11-25"}
