"""A real Celery worker process on Redis, for the integration tests that need one.

``celery_worker_process`` (exposed to every test by ``tests/conftest.py``) starts
``celery -A crm worker`` against this test run's database, on a private Redis database and a
queue of its own, and points this process's Celery app at them for the test.
"""

import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connection

from crm.celery import app as celery_app

ROOT = Path(__file__).resolve().parents[1]
LOG = ROOT / "var" / "test-celery-worker.log"


def _database_url() -> str:
    db = connection.settings_dict
    user = db.get("USER") or "postgres"
    host = db.get("HOST") or "127.0.0.1"
    port = db.get("PORT") or 5432
    password = f":{db['PASSWORD']}" if db.get("PASSWORD") else ""
    return f"postgres://{user}{password}@{host}:{port}/{db['NAME']}"


def _private_broker_url() -> str:
    """This run's Redis, another database: cache flushes elsewhere cannot eat the queue."""
    base = settings.REDIS_URL.rsplit("/", 1)[0]
    return f"{base}/14"


def _use_broker(url: str, queue: str) -> None:
    celery_app.conf.broker_url = url
    celery_app.conf.task_default_queue = queue
    celery_app._pool = None  # the connection pools are built lazily from broker_url
    celery_app.amqp._producer_pool = None


@pytest.fixture
def celery_worker_process(tmp_path):
    """Start ``celery -A crm worker`` against the test database and a private broker."""
    if not settings.REDIS_URL:
        pytest.fail("REDIS_URL must be set for the worker test")
    broker = _private_broker_url()
    queue = f"test-{uuid.uuid4().hex}"  # concurrent test runs never consume each other's tasks
    env = {
        **os.environ,
        "DATABASE_URL": _database_url(),
        "REDIS_URL": broker,
        "CELERY_TASK_ALWAYS_EAGER": "0",
        # What the worker itself enqueues (e.g. a sequence's day-0 step) stays on this queue.
        "CELERY_TASK_DEFAULT_QUEUE": queue,
        # Emails the worker sends land in files the test can read.
        # (django-environ drops one leading slash of the path: hence four.)
        "EMAIL_URL": f"filemail:///{tmp_path / 'mail'}",
    }
    log = open(LOG, "w")  # noqa: SIM115
    proc = subprocess.Popen(  # noqa: S603 (our own interpreter and arguments)
        [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "crm",
            "worker",
            "--pool=solo",
            "-l",
            "info",
            "--without-heartbeat",
            "--without-mingle",
            "--without-gossip",
            "-Q",
            queue,
        ],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    eager, previous_broker = celery_app.conf.task_always_eager, celery_app.conf.broker_url
    previous_queue = celery_app.conf.task_default_queue
    celery_app.conf.task_always_eager = False
    _use_broker(broker, queue)
    try:
        yield proc
    finally:
        celery_app.conf.task_always_eager = eager
        _use_broker(previous_broker, previous_queue)
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        log.close()


def wait_for(predicate, timeout=60.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.2)
    return False


def worker_log() -> str:
    return LOG.read_text()[-3000:] if LOG.exists() else ""
