"""Integration: a real Celery worker process on Redis creates follow-ups exactly once."""

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
from crm.models import Task
from leads.models import Rating
from leads.tasks import create_follow_up_task
from tests.factories import LeadFactory

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.django_db(transaction=True)


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
def celery_worker_process():
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
    }
    log = open(ROOT / "var" / "test-celery-worker.log", "w")  # noqa: SIM115
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


def _wait_for(predicate, timeout=60.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.2)
    return False


def test_classifying_through_the_api_yields_exactly_one_follow_up(
    celery_worker_process, rep, rep_api
):
    lead = LeadFactory(owner=rep)
    rating = Rating.objects.get(name="Promising prospect")
    response = rep_api.post(
        f"/api/v1/leads/{lead.pk}/classify/", {"rating": rating.pk}, format="json"
    )
    assert response.status_code == 200
    assert _wait_for(lambda: Task.objects.filter(lead=lead).exists()), (
        ROOT / "var" / "test-celery-worker.log"
    ).read_text()[-3000:]
    # the same message delivered again (a redelivery) must not create a second task
    event_id = Task.objects.get(lead=lead).source_event_id
    result_ids = [create_follow_up_task.delay(event_id).id for _ in range(2)]
    assert all(result_ids)
    time.sleep(3)  # let the worker drain the redeliveries
    assert _wait_for(lambda: celery_worker_process.poll() is None, timeout=1)
    tasks = list(Task.objects.filter(lead=lead))
    assert len(tasks) == 1
    assert tasks[0].is_follow_up and tasks[0].owner == rep
