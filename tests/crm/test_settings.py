"""The settings as operators meet them: ``manage.py`` in a subprocess with a controlled environment
(the test process itself runs with pytest's own environment, see pyproject)."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PG_URL = "postgres://postgres@127.0.0.1:5432/crm"
GOOD_KEY = "prod-like-test-key-" + "k3y-" * 12  # > 50 characters, many distinct ones
PROD = {"DJANGO_DEBUG": "0", "DATABASE_URL": PG_URL}

DUMP = (
    "import json; from django.conf import settings as s; print(json.dumps({"
    "'debug': s.DEBUG, 'engine': s.DATABASES['default']['ENGINE'],"
    "'name': str(s.DATABASES['default']['NAME']), 'eager': s.CELERY_TASK_ALWAYS_EAGER,"
    "'broker': s.CELERY_BROKER_URL, 'ssl_redirect': s.SECURE_SSL_REDIRECT,"
    "'cache': s.CACHES['default']['BACKEND'], 'manifest': s.STATIC_MANIFEST}))"
)


def manage(*args: str, **env: str) -> subprocess.CompletedProcess:
    """Run ``manage.py`` with only PATH/HOME/LANG from the outside plus ``env``."""
    base = {k: os.environ[k] for k in ("PATH", "HOME", "LANG", "SYSTEMROOT") if k in os.environ}
    return subprocess.run(  # noqa: S603 (fixed argv, our own interpreter)
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env={**base, **env},
        capture_output=True,
        text=True,
        timeout=120,
    )


def settings_of(**env: str) -> dict:
    result = manage("shell", "-v", "0", "-c", DUMP, **env)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize("key", [None, "", "too-short-secret-key", "x" * 49])
def test_production_refuses_to_start_without_a_long_secret_key(key):
    env = dict(PROD)
    if key is not None:
        env["DJANGO_SECRET_KEY"] = key
    result = manage("check", **env)
    assert result.returncode != 0
    assert "DJANGO_SECRET_KEY" in result.stderr
    assert "ImproperlyConfigured" in result.stderr


def test_a_database_url_alone_means_production():
    """DEBUG defaults to off as soon as DATABASE_URL is set: no key, no start."""
    result = manage("check", DATABASE_URL=PG_URL)
    assert result.returncode != 0
    assert "DJANGO_SECRET_KEY" in result.stderr


def test_deploy_check_passes_with_a_proper_key_and_default_https():
    result = manage(
        "check", "--deploy", "--fail-level", "WARNING", DJANGO_SECRET_KEY=GOOD_KEY, **PROD
    )
    assert result.returncode == 0, result.stderr + result.stdout
    s = settings_of(DJANGO_SECRET_KEY=GOOD_KEY, **PROD)
    assert s["debug"] is False
    assert s["engine"] == "django.db.backends.postgresql"
    assert s["ssl_redirect"] is True
    assert s["manifest"] is True


def test_plain_http_switch_is_reported_by_the_deploy_check():
    """DJANGO_HTTPS=0 (docker compose on localhost) is a conscious opt-out, and check says so."""
    result = manage(
        "check", "--deploy", "--fail-level", "WARNING",
        DJANGO_SECRET_KEY=GOOD_KEY, DJANGO_HTTPS="0", **PROD,
    )  # fmt: skip
    assert result.returncode != 0
    assert "security.W008" in result.stderr + result.stdout  # SECURE_SSL_REDIRECT


def test_embedded_mode_uses_sqlite_and_eager_celery():
    result = manage("check")
    assert result.returncode == 0, result.stderr
    s = settings_of()
    assert s["debug"] is True
    assert s["engine"] == "django.db.backends.sqlite3"
    assert s["name"].endswith(str(Path("var") / "db.sqlite3"))
    assert s["eager"] is True
    assert s["broker"] == "memory://"
    assert s["cache"].endswith("LocMemCache")
    assert s["manifest"] is False


def test_redis_url_switches_celery_to_the_broker():
    s = settings_of(REDIS_URL="redis://127.0.0.1:6379/1")
    assert s["eager"] is False
    assert s["broker"] == "redis://127.0.0.1:6379/1"
    assert s["cache"].endswith("RedisCache")
    assert settings_of(REDIS_URL="redis://127.0.0.1:6379/1", CELERY_TASK_ALWAYS_EAGER="1")["eager"]
