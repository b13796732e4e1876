import pytest
from django.conf import settings
from django.core.cache import cache
from django.utils import timezone, translation
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from tests.celery_worker import celery_worker_process  # noqa: F401 (a fixture for every test)
from tests.factories import AdminFactory, UserFactory

PASSWORD = "pass-word-123"
RELIABILITY_DIR = "tests/reliability/"


def pytest_collection_modifyitems(config, items):
    """Everything under tests/reliability is marked ``reliability``: `make reliability` selects it
    (with the ``concurrency`` tests of the suite) and `make test` leaves it out."""
    for item in items:
        if RELIABILITY_DIR in item.nodeid.replace("\\", "/"):
            item.add_marker(pytest.mark.reliability)


@pytest.fixture(autouse=True)
def _default_language():
    """A request in Spanish leaves Spanish active in this thread (LocaleMiddleware activates and
    never resets): each test starts in the default language, as a fresh request would."""
    translation.activate(settings.LANGUAGE_CODE)
    yield
    translation.deactivate()


@pytest.fixture(autouse=True)
def _default_time_zone():
    """Likewise a request of a user with their own time zone leaves it active in this thread
    (UserTimeZoneMiddleware sets it when a request starts): each test starts in the default
    one. Otherwise a test's "today" could be another zone's, between midnight in one and in
    the other (tests/leads/test_list_rows.py failed so after midnight in Madrid)."""
    timezone.deactivate()
    yield
    timezone.deactivate()


@pytest.fixture(autouse=True)
def _clear_cache():
    """Throttle counters and cached values must not leak between tests."""
    from crm import api_auth

    cache.clear()
    api_auth.forget()
    yield
    cache.clear()
    api_auth.forget()


DEFAULT_DATA_MIGRATIONS = (
    "leads.migrations.0003_default_reasons",
    "leads.migrations.0005_default_ratings",
    "scoring.migrations.0002_default_criteria",
    "opportunities.migrations.0003_default_pipeline",
    "opportunities.migrations.0009_buy_now_default_reason",
)


@pytest.fixture(autouse=True)
def _default_rows(request):
    """Transactional tests flush every table, including the rows the data migrations seeded
    (default reasons, ratings, scoring criteria and settings): put them back, as on a fresh
    install. The seeding functions are idempotent."""
    marker = request.node.get_closest_marker("django_db")
    transactional = (
        "live_server" in request.fixturenames
        or "transactional_db" in request.fixturenames
        or bool(marker and marker.kwargs.get("transaction"))
    )
    if transactional:
        import importlib

        from django.apps import apps

        request.getfixturevalue("transactional_db")
        for name in DEFAULT_DATA_MIGRATIONS:
            importlib.import_module(name).create_defaults(apps, None)


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings):
    """Real hashing costs ~0.4 s per user; tests do not need it."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def admin(db):
    return AdminFactory(username="admin", first_name="Ada", last_name="Admin")


@pytest.fixture
def rep(db):
    return UserFactory(username="rep", first_name="Rita", last_name="Rep")


@pytest.fixture
def other_rep(db):
    return UserFactory(username="other", first_name="Otto", last_name="Other")


def _api_client(user) -> APIClient:
    client = APIClient()
    token, _ = Token.objects.get_or_create(user=user)
    client.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
    client.user = user
    return client


@pytest.fixture
def api_anon():
    return APIClient()


@pytest.fixture
def admin_api(admin):
    return _api_client(admin)


@pytest.fixture
def rep_api(rep):
    return _api_client(rep)


@pytest.fixture
def other_rep_api(other_rep):
    return _api_client(other_rep)


@pytest.fixture
def rep_client(client, rep):
    """A browser-like (session) client logged in as ``rep``."""
    client.force_login(rep)
    return client


@pytest.fixture
def admin_client_(client, admin):
    client.force_login(admin)
    return client
