"""A real Celery worker process on Redis, for the integration tests that need one.

``celery_worker_process`` (exposed to every test by ``tests/conftest.py``) starts
``celery -A crm worker`` against this test run's database, on a private Redis database and a
queue of its own, and points this process's Celery app at them for the test.
"""

import contextlib
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


class Worker:
    """``celery -A crm worker`` (solo pool) on the test database, a private Redis database and a
    queue of its own; ``extra_env`` adds settings (e.g. short leases for the kill tests).
    Started again after a kill, it consumes the same queue, as a restarted server would."""

    def __init__(self, tmp_path, **extra_env: str):
        if not settings.REDIS_URL:
            pytest.fail("REDIS_URL must be set for the worker test")
        self.broker = _private_broker_url()
        self.queue = f"test-{uuid.uuid4().hex}"  # concurrent runs never consume each other's
        self.env = {
            **os.environ,
            "DATABASE_URL": _database_url(),
            "REDIS_URL": self.broker,
            "CELERY_TASK_ALWAYS_EAGER": "0",
            # What the worker itself enqueues (e.g. a sequence's day-0 step) stays on this queue.
            "CELERY_TASK_DEFAULT_QUEUE": self.queue,
            # Emails the worker sends land in files the test can read.
            # (django-environ drops one leading slash of the path: hence four.)
            "EMAIL_URL": f"filemail:///{tmp_path / 'mail'}",
            **extra_env,
        }
        self.proc: subprocess.Popen | None = None
        self._log = None

    def start(self) -> subprocess.Popen:
        self._log = open(LOG, "a")  # noqa: SIM115
        self.proc = subprocess.Popen(  # noqa: S603 (our own interpreter and arguments)
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
                self.queue,
            ],
            cwd=ROOT,
            env=self.env,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        return self.proc

    def kill(self) -> None:
        """SIGKILL, as a crash or the OOM killer would: no cleanup, no acknowledgement."""
        os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait()
        self._log.close()

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
        if self._log is not None and not self._log.closed:
            self._log.close()


@contextlib.contextmanager
def worker_broker(worker: Worker):
    """Point this process's Celery app at the worker's broker and queue (not eager)."""
    eager, previous_broker = celery_app.conf.task_always_eager, celery_app.conf.broker_url
    previous_queue = celery_app.conf.task_default_queue
    celery_app.conf.task_always_eager = False
    _use_broker(worker.broker, worker.queue)
    try:
        yield
    finally:
        celery_app.conf.task_always_eager = eager
        _use_broker(previous_broker, previous_queue)


@pytest.fixture
def celery_worker_process(tmp_path):
    """Start ``celery -A crm worker`` against the test database and a private broker."""
    LOG.write_text("")
    worker = Worker(tmp_path)
    proc = worker.start()
    try:
        with worker_broker(worker):
            yield proc
    finally:
        worker.stop()


def wait_for(predicate, timeout=60.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.2)
    return False


def worker_log() -> str:
    return LOG.read_text()[-3000:] if LOG.exists() else ""


def mails(folder) -> list[str]:
    """The emails the worker wrote (``filemail``) into ``folder``."""
    return [p.read_text() for p in folder.glob("*.log")] if folder.exists() else []


def purchase_setup(admin, rep):
    """Three purchase actions (tag, email the owner, a sequence with a day-0 task), a deal of
    ``rep`` with a buy-now link, and a buyer on its page: (deal, buyer, url, form)."""
    from decimal import Decimal

    from django.test import Client

    from opportunities import services_buynow as buynow
    from opportunities.services_automation import sequence_create, trigger_action_create
    from tests.factories import OpportunityFactory

    sequence = sequence_create(
        actor=admin,
        name="After purchase",
        stop_when_closed=False,
        steps=[{"day_offset": 0, "kind": "task", "title": "Welcome call", "body": "Say hi."}],
    )
    for action in (
        {"action": "apply_tag", "tag": "Bought now"},
        {"action": "email_owner"},
        {"action": "start_sequence", "sequence": sequence},
    ):
        trigger_action_create(actor=admin, event="buy_now_purchased", **action)
    deal = OpportunityFactory(owner=rep, contact__owner=rep, name="Plan deal")
    link = buynow.buy_now_link_create(
        actor=rep, opportunity=deal, product="Plan", amount=Decimal("10.00")
    )
    buyer = Client(enforce_csrf_checks=True)
    url = buynow.link_path(link)
    token = buyer.get(url).cookies["csrftoken"].value
    form = {"name": "Ana Buyer", "email": "ana@example.com", "csrfmiddlewaretoken": token}
    return deal, buyer, url, form
