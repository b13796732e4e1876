"""Security behaviour under production-like conditions: atomic rate-limit counters on real Redis."""

import threading
import uuid

import pytest
from django.test import RequestFactory

from crm import ratelimit

pytestmark = pytest.mark.skipif(not ratelimit.settings.REDIS_URL, reason="needs REDIS_URL")


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
