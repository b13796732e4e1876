"""Liveness and readiness probes (crm/health.py) as container healthchecks meet them."""

import pytest
from django.test import override_settings

from crm import health

pytestmark = pytest.mark.django_db


def test_healthz_answers_without_touching_the_database(client, django_assert_num_queries):
    with django_assert_num_queries(0):
        response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}
    assert "sessionid" not in response.cookies
    assert "no-cache" in response["Cache-Control"]


def test_readyz_ok_when_database_and_redis_answer(client):
    response = client.get("/readyz")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ok"
    assert body["checks"]["database"] == "ok"
    assert body["checks"]["redis"] == "ok"


def test_readyz_names_the_failed_database(client, monkeypatch):
    def broken():
        raise OSError("connection refused")

    monkeypatch.setitem(health.CHECKS, "database", broken)
    response = client.get("/readyz")
    assert response.status_code == 503
    assert response.json()["failed"] == ["database"]
    assert response.json()["checks"]["redis"] == "ok"


def test_readyz_names_an_unreachable_redis(client):
    # Port 1 refuses connections at once: the check fails fast instead of hanging.
    with override_settings(REDIS_URL="redis://127.0.0.1:1/0"):
        response = client.get("/readyz")
    assert response.status_code == 503
    assert response.json()["failed"] == ["redis"]
    assert response.json()["checks"]["database"] == "ok"


@override_settings(SECURE_SSL_REDIRECT=True)
@pytest.mark.parametrize("path", ["/healthz", "/readyz"])
def test_probes_are_not_redirected_to_https(client, path):
    assert client.get(path).status_code == 200
    # Any other page still is.
    assert client.get("/login/").status_code == 301


@pytest.mark.parametrize("path", ["/healthz", "/readyz"])
def test_probes_refuse_writes(client, path):
    assert client.post(path).status_code == 405


@override_settings(ALLOWED_HOSTS=["crm.example.com"])
@pytest.mark.parametrize("path", ["/healthz", "/readyz"])
def test_probes_answer_a_container_healthcheck_whatever_its_host(client, path):
    # The healthcheck calls the container's internal address, not the public host name.
    assert client.get(path, HTTP_HOST="172.18.0.5:8000").status_code == 200
