"""Security behaviour under production-like conditions: atomic rate-limit counters on real Redis."""

import threading
import uuid

import pytest
from django.test import RequestFactory

from crm import ratelimit

needs_redis = pytest.mark.skipif(not ratelimit.settings.REDIS_URL, reason="needs REDIS_URL")


@needs_redis
def test_exactly_limit_requests_pass_out_of_many_parallel_ones():
    scope = f"test-{uuid.uuid4().hex}"
    limit, attempts = 7, 40
    request = RequestFactory().get("/", REMOTE_ADDR="203.0.113.9")
    refused = []
    barrier = threading.Barrier(attempts)

    def attempt():
        barrier.wait()
        refused.append(ratelimit.hit(request, scope, limit))

    threads = [threading.Thread(target=attempt) for _ in range(attempts)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert refused.count(False) == limit
    assert refused.count(True) == attempts - limit


@needs_redis
def test_the_counter_expires_with_its_first_hit():
    key = f"ratelimit:test-{uuid.uuid4().hex}"
    assert ratelimit.count(key, 30) == 1
    assert ratelimit.count(key, 30) == 2
    ttl = ratelimit._redis().ttl(f"crm:{key}")
    assert 0 < ttl <= 30


def test_other_clients_are_counted_apart():
    scope = f"test-{uuid.uuid4().hex}"
    first = RequestFactory().get("/", REMOTE_ADDR="203.0.113.1")
    second = RequestFactory().get("/", REMOTE_ADDR="203.0.113.2")
    assert not ratelimit.hit(first, scope, 1)
    assert ratelimit.hit(first, scope, 1)
    assert not ratelimit.hit(second, scope, 1)


@pytest.fixture
def limits(settings):
    settings.LOGIN_RATE_LIMITS = {"address": 100, "username": 3}
    return settings.LOGIN_RATE_LIMITS


@pytest.mark.django_db
def test_web_login_refuses_the_attempt_after_the_limit(client, limits, django_user_model):
    django_user_model.objects.create_user(username="rl-web", password="right-pass-123")
    for _ in range(limits["username"] - 1):
        response = client.post("/login/", {"username": "rl-web", "password": "wrong"})
        assert response.status_code == 200
        assert "rate_limited" not in str(response.context["form"].errors.as_data())
    # Success below the limit is not blocked.
    assert (
        client.post("/login/", {"username": "rl-web", "password": "right-pass-123"}).status_code
        == 302
    )
    client.logout()
    response = client.post("/login/", {"username": "rl-web", "password": "right-pass-123"})
    assert response.status_code == 200
    assert response.context["form"].errors.as_data()["__all__"][0].code == "rate_limited"
    assert "Too many sign-in attempts" in response.content.decode()


@pytest.mark.django_db
def test_api_token_answers_429_with_retry_after(client, limits, django_user_model):
    django_user_model.objects.create_user(username="rl-api", password="right-pass-123")
    for _ in range(limits["username"]):
        response = client.post("/api/v1/auth/token/", {"username": "rl-api", "password": "wrong"})
        assert response.status_code == 400
    response = client.post(
        "/api/v1/auth/token/", {"username": "rl-api", "password": "right-pass-123"}
    )
    assert response.status_code == 429
    assert 0 < int(response["Retry-After"]) <= 60
    # Another user from the same address is still served (per-username limit).
    django_user_model.objects.create_user(username="rl-other", password="right-pass-123")
    response = client.post(
        "/api/v1/auth/token/", {"username": "rl-other", "password": "right-pass-123"}
    )
    assert response.status_code == 200


@pytest.mark.django_db
def test_the_address_limit_applies_across_usernames(client, settings):
    settings.LOGIN_RATE_LIMITS = {"address": 2, "username": 100}
    codes = [
        client.post("/api/v1/auth/token/", {"username": f"u{i}", "password": "x"}).status_code
        for i in range(3)
    ]
    assert codes == [400, 400, 429]


@pytest.mark.django_db
@pytest.mark.parametrize("path", ["/login/", "/api/v1/auth/token/", "/api/docs/"])
def test_security_headers_on_pages_and_api(client, settings, path):
    settings.SECURE_HSTS_SECONDS = 31536000
    response = client.get(path, secure=True)
    assert "frame-ancestors 'none'" in response["Content-Security-Policy"]
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Referrer-Policy"] == "same-origin"
    assert response["X-Frame-Options"] == "DENY"
    assert response["Strict-Transport-Security"].startswith("max-age=31536000")


def test_production_cookies_are_secure_httponly_and_same_site():
    from tests.crm.test_settings import GOOD_KEY, manage

    code = (
        "import json; from django.conf import settings as s; print(json.dumps(["
        "s.SESSION_COOKIE_SECURE, s.SESSION_COOKIE_HTTPONLY, s.SESSION_COOKIE_SAMESITE,"
        "s.CSRF_COOKIE_SECURE, s.CSRF_COOKIE_SAMESITE, s.CONTENT_SECURITY_POLICY]))"
    )
    env = {"DJANGO_DEBUG": "0", "DJANGO_SECRET_KEY": GOOD_KEY, "DJANGO_ALLOWED_HOSTS": "crm.test"}
    result = manage("shell", "-v", "0", "-c", code, **env)
    assert result.returncode == 0, result.stderr
    import json

    secure, httponly, samesite, csrf_secure, csrf_samesite, csp = json.loads(result.stdout)
    assert (secure, httponly, samesite) == (True, True, "Lax")
    assert (csrf_secure, csrf_samesite) == (True, "Lax")
    assert "frame-ancestors 'none'" in csp
