"""A fixed-window rate limit per client address, kept in the cache (Redis when configured).

For the public endpoints (the buy-now checkout, the payment webhook): enough to stop a script
hammering them, without a dependency. Behind a proxy, set ``RATE_LIMIT_CLIENT_HEADER`` (e.g.
``HTTP_X_REAL_IP``) to the header the proxy fills in; otherwise ``REMOTE_ADDR`` is used.
"""

from __future__ import annotations

import time

from django.conf import settings
from django.core.cache import cache

WINDOW_SECONDS = 60


def client_address(request) -> str:
    header = getattr(settings, "RATE_LIMIT_CLIENT_HEADER", "")
    if header and request.META.get(header):
        return request.META[header].split(",")[0].strip()
    return request.META.get("REMOTE_ADDR", "") or "unknown"


_redis_client = None


def _redis():
    """One client (with its connection pool) per process, or None without Redis."""
    global _redis_client
    if _redis_client is None and settings.REDIS_URL:
        import redis

        _redis_client = redis.Redis.from_url(
            settings.REDIS_URL, socket_connect_timeout=1, socket_timeout=1
        )
    return _redis_client


def count(key: str, ttl: int) -> int:
    """Add one to ``key`` and return the new value, atomically across processes.

    On Redis: INCR and EXPIRE NX in one MULTI/EXEC transaction, so the key always gets its expiry
    with its first hit, and concurrent hits each see a distinct value. Without Redis (embedded
    mode, one process) the local cache's add + incr."""
    client = _redis()
    if client is not None:
        pipe = client.pipeline(transaction=True)
        pipe.incr(f"crm:{key}")
        pipe.expire(f"crm:{key}", ttl, nx=True)
        return int(pipe.execute()[0])
    cache.add(key, 0, timeout=ttl)
    return cache.incr(key)


def hit_key(scope: str, ident: str, limit: int) -> bool:
    """Count one request of ``scope`` by ``ident``; True when it is over ``limit`` in the current
    minute. The counter is the only state; an unavailable Redis never blocks anyone."""
    window = int(time.time() // WINDOW_SECONDS)
    key = f"ratelimit:{scope}:{ident}:{window}"
    try:
        value = count(key, WINDOW_SECONDS * 2)
    except Exception:  # a cache outage must not take the public pages down
        return False
    return value > limit


def hit(request, scope: str, limit: int) -> bool:
    """Count one request of ``scope`` from the client address (see :func:`hit_key`)."""
    return hit_key(scope, client_address(request), limit)


def seconds_to_next_window() -> int:
    return WINDOW_SECONDS - int(time.time()) % WINDOW_SECONDS


def login_refused(request, username: str) -> int | None:
    """Count one sign-in attempt (web form or API token) per client address and per username.

    Returns the seconds to wait (for ``Retry-After``) when either is over its limit in the current
    minute, else None. Every attempt counts, so failed ones do; a user signing in successfully
    below the limit is never refused."""
    limits = settings.LOGIN_RATE_LIMITS
    by_address = hit_key("login-address", client_address(request), limits["address"])
    name = (username or "").strip().lower()[:150]
    by_username = bool(name) and hit_key("login-username", name, limits["username"])
    if by_address or by_username:
        return seconds_to_next_window()
    return None
