"""Liveness and readiness probes for container healthchecks and load balancers.

``/healthz`` answers as long as the process serves requests: it touches neither the database nor
Redis, so a database outage does not get every web container restarted. ``/readyz`` checks the
database and Redis with short timeouts and answers 503 naming the dependency that failed, so a load
balancer stops sending traffic to an instance that cannot serve it. Neither needs a session or a
login, and both are exempt from the HTTPS redirect (``SECURE_REDIRECT_EXEMPT``) because container
healthchecks call them over plain HTTP.
"""

import logging

from django.conf import settings
from django.db import connection
from django.http import JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_safe

logger = logging.getLogger(__name__)

#: Seconds a readiness check may wait for each dependency.
CHECK_TIMEOUT = 2


@never_cache
@require_safe
def healthz(request):
    return JsonResponse({"status": "ok"})


def _check_database():
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("SET statement_timeout = %s", [CHECK_TIMEOUT * 1000])
            try:
                cursor.execute("SELECT 1")
            finally:
                cursor.execute("RESET statement_timeout")
        else:
            cursor.execute("SELECT 1")


def _check_redis():
    if not settings.REDIS_URL:
        return  # embedded mode: no Redis configured, nothing to wait for
    import redis

    client = redis.Redis.from_url(
        settings.REDIS_URL, socket_connect_timeout=CHECK_TIMEOUT, socket_timeout=CHECK_TIMEOUT
    )
    try:
        client.ping()
    finally:
        client.close()


CHECKS = {"database": _check_database, "redis": _check_redis}


@never_cache
@require_safe
def readyz(request):
    checks = {}
    for name, check in CHECKS.items():
        try:
            check()
        except Exception as exc:  # any failure of a dependency means "not ready"
            logger.warning("readiness check %s failed: %s", name, exc)
            checks[name] = "fail"
        else:
            checks[name] = "ok"
    failed = [name for name, result in checks.items() if result != "ok"]
    body = {"status": "fail" if failed else "ok", "checks": checks}
    if failed:
        body["failed"] = failed
    return JsonResponse(body, status=503 if failed else 200)
