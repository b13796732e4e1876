"""Security behaviour under production-like conditions: atomic rate-limit counters on real Redis."""

import re
import threading
import uuid

import pytest
from django.conf import settings
from django.http import HttpResponse
from django.test import RequestFactory

from crm import ratelimit
from crm.middleware import (
    ContentSecurityPolicyMiddleware,
    allow_inline_styles,
    content_security_policy,
    with_sources,
)

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
        "s.CSRF_COOKIE_SECURE, s.CSRF_COOKIE_SAMESITE, s.CONTENT_SECURITY_POLICY,"
        "s.CSRF_COOKIE_HTTPONLY]))"
    )
    env = {"DJANGO_DEBUG": "0", "DJANGO_SECRET_KEY": GOOD_KEY, "DJANGO_ALLOWED_HOSTS": "crm.test"}
    result = manage("shell", "-v", "0", "-c", code, **env)
    assert result.returncode == 0, result.stderr
    import json

    secure, httponly, samesite, csrf_secure, csrf_samesite, csp, csrf_httponly = json.loads(
        result.stdout
    )
    assert (secure, httponly, samesite) == (True, True, "Lax")
    assert (csrf_secure, csrf_samesite, csrf_httponly) == (True, "Lax", True)
    assert "frame-ancestors 'none'" in csp
    _assert_strict(_directives(csp))


# --- Content-Security-Policy ---------------------------------------------------------------------


def _directives(policy: str) -> dict[str, list[str]]:
    parsed = {}
    for part in policy.split(";"):
        name, *sources = part.split()
        assert name not in parsed, f"{name} given twice"
        parsed[name] = sources
    return parsed


def _assert_strict(directives: dict) -> None:
    """Scripts, styles, fetches and form posts from this origin only; no inline code or eval."""
    assert directives["default-src"] == ["'self'"]
    assert directives["script-src"] == ["'self'"]
    assert directives["style-src"] == ["'self'"]
    assert directives["img-src"] == ["'self'", "data:"]
    assert directives["connect-src"] == ["'self'"]
    assert directives["form-action"] == ["'self'"]
    assert directives["frame-ancestors"] == ["'none'"]
    assert directives["base-uri"] == ["'self'"]
    assert directives["object-src"] == ["'none'"]
    for name, sources in directives.items():
        for source in ("'unsafe-inline'", "'unsafe-eval'", "*", "http:", "https:"):
            assert source not in sources, (name, source)


@pytest.mark.django_db
def test_an_html_page_gets_the_strict_policy(client, rep):
    for response in (client.get("/login/"), client.get("/nowhere/")):
        assert response["Content-Type"].startswith("text/html")
        _assert_strict(_directives(response["Content-Security-Policy"]))
    client.force_login(rep)
    response = client.get("/leads/")
    assert response.status_code == 200
    _assert_strict(_directives(response["Content-Security-Policy"]))


@pytest.mark.django_db
def test_an_api_response_gets_the_strict_policy(rep_api, api_anon):
    for response in (rep_api.get("/api/v1/leads/"), api_anon.get("/api/v1/leads/")):
        assert response["Content-Type"] == "application/json"
        _assert_strict(_directives(response["Content-Security-Policy"]))


@pytest.mark.django_db
def test_the_browsable_api_may_use_inline_styles_but_scripts_stay_strict(rep_api):
    response = rep_api.get("/api/v1/leads/", HTTP_ACCEPT="text/html")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/html")
    directives = _directives(response["Content-Security-Policy"])
    assert directives["style-src"] == ["'self'", "'unsafe-inline'"]
    directives["style-src"] = ["'self'"]
    _assert_strict(directives)


@pytest.mark.django_db
def test_the_api_docs_need_no_inline_code(client):
    page = client.get("/api/docs/")
    _assert_strict(_directives(page["Content-Security-Policy"]))
    html = page.content.decode()
    assert "<style" not in html and " style=" not in html
    scripts = re.findall(r"<script\b([^>]*)>", html)
    assert scripts and all("src=" in attributes for attributes in scripts), scripts
    init = re.search(r'<script src="(/api/docs/\?[^"]*script=[^"]*)"', html)
    assert init, "the Swagger UI init script is not a same-origin file"
    script = client.get(init.group(1).replace("&amp;", "&"))
    assert script.status_code == 200
    assert script["Content-Type"].startswith("application/javascript")
    assert "SwaggerUIBundle(" in script.content.decode()


@pytest.mark.django_db
def test_the_csrf_cookie_is_out_of_scripts_reach_and_pages_carry_the_token(client, rep):
    client.force_login(rep)
    response = client.get("/leads/")
    cookie = response.cookies[settings.CSRF_COOKIE_NAME]
    assert cookie["httponly"] is True
    # htmx sends the token from the body's hx-headers, forms from their hidden field.
    token = re.search(r"hx-headers='\{\"X-CSRFToken\": \"([^\"]+)\"\}'", response.content.decode())
    assert token and len(token.group(1)) == 64


def _middleware(view, policy: str):
    from django.test import override_settings

    with override_settings(CONTENT_SECURITY_POLICY=policy):
        return ContentSecurityPolicyMiddleware(view)


def test_a_decorated_view_gets_its_own_policy():
    site = "default-src 'self'; style-src 'self'; frame-ancestors 'none'"
    request = RequestFactory().get("/")

    plain = _middleware(lambda request: HttpResponse("ok"), site)
    assert plain(request)["Content-Security-Policy"] == site

    own = content_security_policy("default-src 'none'")(lambda request: HttpResponse("ok"))
    assert _middleware(own, site)(request)["Content-Security-Policy"] == "default-src 'none'"

    relaxed = content_security_policy(allow_inline_styles)(lambda request: HttpResponse("ok"))
    assert _middleware(relaxed, site)(request)["Content-Security-Policy"] == (
        "default-src 'self'; style-src 'self' 'unsafe-inline'; frame-ancestors 'none'"
    )
    # An operator who turns the header off ("") turns it off everywhere.
    assert "Content-Security-Policy" not in _middleware(relaxed, "")(request)
    # A policy the view set itself is kept.
    preset = HttpResponse("ok", headers={"Content-Security-Policy": "sandbox"})
    assert (
        _middleware(lambda request: preset, site)(request)["Content-Security-Policy"] == "sandbox"
    )


def test_sources_are_added_to_the_directive_or_to_a_copy_of_default_src():
    assert with_sources("default-src 'self' data:", "style-src", "'unsafe-inline'") == (
        "default-src 'self' data:; style-src 'self' data: 'unsafe-inline'"
    )
    assert with_sources("style-src 'self'", "style-src", "'self'", "x.test") == (
        "style-src 'self' x.test"
    )
    # Neither style-src nor default-src: styles are not restricted, nothing to add.
    assert with_sources("frame-ancestors 'none'", "style-src", "'unsafe-inline'") == (
        "frame-ancestors 'none'"
    )
