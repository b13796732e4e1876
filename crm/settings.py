"""Project settings, driven by the environment (see README "Configuration").

With no environment at all the project runs *embedded*: a SQLite file under ``var/``, Celery tasks
executed in-process, DEBUG on. ``DATABASE_URL`` / ``REDIS_URL`` switch to Postgres and Redis; with a
``DATABASE_URL`` DEBUG defaults to off and a real ``DJANGO_SECRET_KEY`` becomes mandatory.
"""

from datetime import timedelta
from pathlib import Path

import environ
from celery.schedules import crontab
from django.core.exceptions import ImproperlyConfigured
from django.utils.translation import gettext_lazy as _

BASE_DIR = Path(__file__).resolve().parent.parent
env = environ.Env()

EMBEDDED = not env.str("DATABASE_URL", default="")
DEBUG = env.bool("DJANGO_DEBUG", default=EMBEDDED)

_DEV_SECRET = "embedded-development-key-not-for-production"  # noqa: S105
SECRET_KEY = env.str("DJANGO_SECRET_KEY", default=_DEV_SECRET if DEBUG else "")
if not DEBUG and (not SECRET_KEY or SECRET_KEY == _DEV_SECRET or len(SECRET_KEY) < 50):
    raise ImproperlyConfigured(
        "DJANGO_SECRET_KEY must be set to a random value of at least 50 characters when "
        "DJANGO_DEBUG is off."
    )

ALLOWED_HOSTS = env.list("DJANGO_ALLOWED_HOSTS", default=["127.0.0.1", "localhost"])
CSRF_TRUSTED_ORIGINS = env.list("DJANGO_CSRF_TRUSTED_ORIGINS", default=[])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.humanize",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "rest_framework",
    "rest_framework.authtoken",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "crm",
    "leads",
    "opportunities",
    "scoring",
]

MIDDLEWARE = [
    "crm.middleware.HealthProbeMiddleware",  # /healthz, /readyz: no host check, redirect, session
    "crm.logs.RequestIdMiddleware",  # X-Request-ID, on every log record of the request
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "crm.middleware.UserTimeZoneMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "crm.middleware.ContentSecurityPolicyMiddleware",
]

ROOT_URLCONF = "crm.urls"
WSGI_APPLICATION = "crm.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.i18n",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "crm.context_processors.navigation",
            ],
        },
    },
]

# --- Database -----------------------------------------------------------------------------------
(BASE_DIR / "var").mkdir(exist_ok=True)
DATABASES = {
    "default": env.db_url("DATABASE_URL", default=f"sqlite:///{BASE_DIR / 'var' / 'db.sqlite3'}")
}
DATABASES["default"]["ATOMIC_REQUESTS"] = False
DATABASES["default"].setdefault("CONN_MAX_AGE", 0 if EMBEDDED else 60)
if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
    # The planner's default (4) prices random reads as on spinning disks: it then prefers a
    # sequential scan of a million contacts to ~10,000 index lookups for a rep's visible rows.
    # 1.1 is the usual value for SSD or cached data (see benchmarks/README.md, "visibility").
    _page_cost = env.float("DATABASE_RANDOM_PAGE_COST", default=1.1)
    DATABASES["default"].setdefault("OPTIONS", {})["options"] = f"-c random_page_cost={_page_cost}"
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Cache / Redis ------------------------------------------------------------------------------
REDIS_URL = env.str("REDIS_URL", default="")
if REDIS_URL:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": "crm",
        }
    }
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

# --- Auth ---------------------------------------------------------------------------------------
AUTH_USER_MODEL = "crm.User"
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

# --- I18n ---------------------------------------------------------------------------------------
LANGUAGE_CODE = "en"
LANGUAGES = [("en", _("English")), ("es", _("Spanish"))]
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = env.str("DJANGO_TIME_ZONE", default="Europe/Madrid")
USE_I18N = True
FORMAT_MODULE_PATH = ["crm.formats"]
USE_TZ = True

# --- Static -------------------------------------------------------------------------------------
STATIC_URL = "/static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STATICFILES_DIRS = [BASE_DIR / "static"]
# Hashed, compressed files from ``collectstatic`` in production; served straight from the source
# folders in development and tests (DJANGO_STATIC_MANIFEST=0), so no build step is needed there.
STATIC_MANIFEST = env.bool("DJANGO_STATIC_MANIFEST", default=not DEBUG)
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"
        if STATIC_MANIFEST
        else "django.contrib.staticfiles.storage.StaticFilesStorage"
    },
}
WHITENOISE_USE_FINDERS = not STATIC_MANIFEST

# --- Email --------------------------------------------------------------------------------------
vars().update(env.email_url("EMAIL_URL", default="consolemail://"))
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="crm@localhost")

# --- Buy now ------------------------------------------------------------------------------------
#: Shown to prospects on the public checkout page as the seller.
ORGANIZATION_NAME = env.str("ORGANIZATION_NAME", default="CRM")
#: Absolute links (emails, the API's buy-now ``url`` outside a request) start with this.
SITE_URL = env.str("SITE_URL", default="http://127.0.0.1:8000")
#: The currency of a buy-now link when the rep names none (ISO 4217).
DEFAULT_CURRENCY = env.str("DEFAULT_CURRENCY", default="EUR")
#: The shared secret of ``POST /api/v1/webhooks/payments/`` (HMAC-SHA256); empty: disabled.
PAYMENT_WEBHOOK_SECRET = env.str("PAYMENT_WEBHOOK_SECRET", default="")
#: Seconds a signed webhook timestamp may differ from our clock.
PAYMENT_WEBHOOK_TOLERANCE = env.int("PAYMENT_WEBHOOK_TOLERANCE", default=300)
#: The provider the checkout page pays through (``opportunities.payments``).
BUY_NOW_PAYMENT_PROVIDER = env.str(
    "BUY_NOW_PAYMENT_PROVIDER", default="opportunities.payments.ManualInvoiceProvider"
)
#: Requests per client address and minute on the public endpoints: (page views, purchases and
#: webhook calls).
BUY_NOW_RATE_LIMITS = {
    "view": env.int("BUY_NOW_VIEWS_PER_MINUTE", default=60),
    "buy": env.int("BUY_NOW_PURCHASES_PER_MINUTE", default=10),
    "webhook": env.int("PAYMENT_WEBHOOKS_PER_MINUTE", default=300),
}
#: Sign-in attempts (web /login/ and API token) per minute, per client address and per username.
LOGIN_RATE_LIMITS = {
    "address": env.int("LOGIN_ATTEMPTS_PER_MINUTE_PER_ADDRESS", default=20),
    "username": env.int("LOGIN_ATTEMPTS_PER_MINUTE_PER_USERNAME", default=5),
}

# --- Security -----------------------------------------------------------------------------------
# HTTPS hardening is on whenever DEBUG is off; DJANGO_HTTPS=0 turns it off for a plain-HTTP local
# stack (docker compose on localhost, the test suite).
HTTPS = env.bool("DJANGO_HTTPS", default=not DEBUG)
SECURE_SSL_REDIRECT = HTTPS
SESSION_COOKIE_SECURE = HTTPS
CSRF_COOKIE_SECURE = HTTPS
SECURE_HSTS_SECONDS = 60 * 60 * 24 * 365 if HTTPS else 0
SECURE_HSTS_INCLUDE_SUBDOMAINS = HTTPS
SECURE_HSTS_PRELOAD = HTTPS
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
CSRF_COOKIE_SAMESITE = "Lax"
X_FRAME_OPTIONS = "DENY"
# The CSRF token reaches JavaScript through the page (the body's hx-headers, the forms' hidden
# field, the API docs' init script), never through the cookie: scripts cannot read it.
CSRF_COOKIE_HTTPONLY = True
#: Sent on every response (crm.middleware.ContentSecurityPolicyMiddleware) that has no policy of
#: its own (crm.middleware.content_security_policy); "" sends none. Scripts and styles only from
#: files on this origin: no inline <script>, style="" attribute, <style> block or eval.
CONTENT_SECURITY_POLICY = env.str(
    "CONTENT_SECURITY_POLICY",
    default=(
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'self'; "
        "object-src 'none'"
    ),
)

# --- REST framework -----------------------------------------------------------------------------
#: seconds a process remembers an API token's user (crm/api_auth.py); 0: read it every request
API_TOKEN_CACHE_SECONDS = env.float("API_TOKEN_CACHE_SECONDS", default=5.0)
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "crm.api_auth.TokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_RENDERER_CLASSES": [
        "crm.api_renderers.JSONRenderer",
        "rest_framework.renderers.BrowsableAPIRenderer",
    ],
    "DEFAULT_PARSER_CLASSES": [
        "crm.api_parsers.StrictJSONParser",
        "rest_framework.parsers.FormParser",
        "rest_framework.parsers.MultiPartParser",
    ],
    "DEFAULT_PAGINATION_CLASS": "crm.pagination.StableCursorPagination",
    "DEFAULT_FILTER_BACKENDS": ["crm.filters.FilterBackend"],
    "DEFAULT_SCHEMA_CLASS": "crm.api_schema.AutoSchema",
    "EXCEPTION_HANDLER": "crm.api_errors.exception_handler",
    "NON_FIELD_ERRORS_KEY": "detail",
    "DEFAULT_THROTTLE_RATES": {
        "token": env.str("API_TOKEN_THROTTLE_RATE", default="10/minute"),
    },
    "UNAUTHENTICATED_USER": "django.contrib.auth.models.AnonymousUser",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "CRM API",
    "DESCRIPTION": "Leads, qualification, contacts, accounts, tasks and opportunities.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "COMPONENT_SPLIT_REQUEST": True,
    "SCHEMA_PATH_PREFIX": r"/api/v1",
    "ENUM_NAME_OVERRIDES": {"AnswerEnum": "leads.models.Answer"},
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
}

# --- Celery -------------------------------------------------------------------------------------
CELERY_BROKER_URL = REDIS_URL or "memory://"
CELERY_RESULT_BACKEND = None
CELERY_TASK_ALWAYS_EAGER = env.bool("CELERY_TASK_ALWAYS_EAGER", default=not REDIS_URL)
#: The queue tasks are sent to (and a worker started without ``-Q`` consumes).
CELERY_TASK_DEFAULT_QUEUE = env.str("CELERY_TASK_DEFAULT_QUEUE", default="celery")
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_SERIALIZER = "json"
CELERY_RESULT_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TASK_TIME_LIMIT = 300
CELERY_TASK_SOFT_TIME_LIMIT = 240
#: Seconds after which an automation run (trigger action, sequence step) still ``running`` is
#: taken to have lost its worker and is claimed again. Keep the default (the task time limit, so
#: a live task is never overtaken) outside tests.
AUTOMATION_RUN_LEASE_SECONDS = max(
    env.int("AUTOMATION_RUN_LEASE_SECONDS", default=CELERY_TASK_TIME_LIMIT), 1
)
#: Seconds before Redis hands an unacknowledged task (its worker died) to another worker. Longer
#: than CELERY_TASK_TIME_LIMIT: a live task is never delivered twice (the rescore job, whose own
#: limit is longer, is also serialized by its advisory lock and skips a finished job).
CELERY_BROKER_TRANSPORT_OPTIONS = {
    "visibility_timeout": env.int("CELERY_VISIBILITY_TIMEOUT", default=600)
}
CELERY_TIMEZONE = TIME_ZONE
CELERY_BEAT_SCHEDULE = {
    "clear-expired-sessions": {
        "task": "crm.tasks.clear_expired_sessions_task",
        "schedule": crontab(hour=3, minute=15),
    },
    "task-reminders": {
        "task": "crm.tasks.send_task_reminders_task",
        "schedule": crontab(hour=env.int("REMINDER_HOUR", default=7), minute=30),
    },
    "revisit-frozen-leads": {
        "task": "leads.tasks.revisit_frozen_leads_task",
        "schedule": crontab(hour=env.int("REVISIT_HOUR", default=6), minute=0),
    },
    "run-due-sequence-steps": {
        "task": "opportunities.tasks.run_due_sequence_steps_task",
        "schedule": crontab(minute="*/15"),
    },
    "create-missing-follow-ups": {
        "task": "leads.tasks.create_missing_follow_ups_task",
        "schedule": crontab(minute="7-59/15"),
    },
}

# --- Logging ------------------------------------------------------------------------------------
#: json (one object per line, the default with DEBUG off) or text; both carry the request id.
LOG_FORMAT = env.str("LOG_FORMAT", default="text" if DEBUG else "json")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"request_id": {"()": "crm.logs.RequestIdFilter"}},
    "formatters": {
        "text": {"format": "%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s"},
        "json": {"()": "crm.logs.JsonFormatter"},
    },
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "formatter": "json" if LOG_FORMAT == "json" else "text",
            "filters": ["request_id"],
        }
    },
    "root": {"handlers": ["console"], "level": env.str("DJANGO_LOG_LEVEL", default="INFO")},
}

SESSION_COOKIE_AGE = int(timedelta(days=14).total_seconds())
