import datetime as dt

import pytest
from celery.schedules import crontab
from django.contrib.sessions.backends.db import SessionStore
from django.contrib.sessions.models import Session
from django.utils import timezone

from crm.celery import app
from crm.tasks import clear_expired_sessions_task


def test_app_is_configured_for_reliable_json_tasks():
    conf = app.conf
    assert conf.task_acks_late is True
    assert conf.task_reject_on_worker_lost is True
    assert conf.worker_prefetch_multiplier == 1
    assert conf.task_serializer == "json"
    assert conf.result_serializer == "json"
    assert list(conf.accept_content) == ["json"]
    assert conf.task_time_limit and conf.task_soft_time_limit
    assert 0 < conf.task_soft_time_limit < conf.task_time_limit
    assert conf.task_eager_propagates is True


def test_beat_schedule_names_only_registered_tasks():
    app.loader.import_default_modules()  # what a worker does at start: autodiscover tasks.py
    schedule = app.conf.beat_schedule
    assert "clear-expired-sessions" in schedule
    for name, entry in schedule.items():
        assert entry["task"] in app.tasks, f"beat entry {name!r}: {entry['task']} not registered"
        assert isinstance(entry["schedule"], crontab | dt.timedelta | int | float), name


def test_housekeeping_task_is_declared_for_retries():
    task = app.tasks["crm.tasks.clear_expired_sessions_task"]
    assert task.acks_late is True
    assert task.max_retries == 3
    assert task.autoretry_for


def _session(expire_date) -> str:
    store = SessionStore()
    store["k"] = "v"
    store.create()
    Session.objects.filter(session_key=store.session_key).update(expire_date=expire_date)
    return store.session_key


@pytest.mark.django_db
def test_clear_expired_sessions_is_idempotent():
    now = timezone.now()
    expired = _session(now - dt.timedelta(days=1))
    live = _session(now + dt.timedelta(days=1))

    clear_expired_sessions_task.apply().get()
    clear_expired_sessions_task.apply().get()

    keys = set(Session.objects.values_list("session_key", flat=True))
    assert expired not in keys
    assert live in keys
