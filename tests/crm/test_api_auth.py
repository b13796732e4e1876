"""Token authentication (crm.api_auth): DRF's answers, in one statement."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

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
