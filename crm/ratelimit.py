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


def hit(request, scope: str, limit: int) -> bool:
    """Count one request of ``scope`` from the client; True when it is over ``limit`` in the
    current minute. The cache is the only state; an unavailable cache never blocks anyone."""
    window = int(time.time() // WINDOW_SECONDS)
    key = f"ratelimit:{scope}:{client_address(request)}:{window}"
    try:
        cache.add(key, 0, timeout=WINDOW_SECONDS * 2)
        count = cache.incr(key)
    except Exception:  # a cache outage must not take the public pages down
        return False
    return count > limit
