import datetime as dt

import pytest
import time_machine
from django.conf import settings
from django.core import mail

from crm.services import task_reminders_send
from crm.tasks import send_task_reminders_task
from tests.factories import LeadFactory, TaskFactory, UserFactory

pytestmark = pytest.mark.django_db
TODAY = dt.date(2027, 3, 15)


def test_each_rep_with_tasks_due_today_gets_one_digest(rep, other_rep):
    lead = LeadFactory(owner=rep, first_name="Ana", last_name="Gil")
    TaskFactory(owner=rep, due_on=TODAY, title="Call Ana", lead=lead)
    TaskFactory(owner=rep, due_on=TODAY, title="Send offer")
    TaskFactory(owner=rep, due_on=TODAY, title="Already done", done=True)
    TaskFactory(owner=rep, due_on=TODAY + dt.timedelta(days=1), title="Tomorrow")
    TaskFactory(owner=other_rep, due_on=TODAY - dt.timedelta(days=1), title="Yesterday")
    idle = UserFactory(is_active=False)
    TaskFactory(owner=idle, due_on=TODAY)

    assert task_reminders_send(today=TODAY) == 1
    (message,) = mail.outbox
    assert message.to == [rep.email]
    assert "(2)" in message.subject
    assert "Call Ana (Ana Gil)" in message.body and "Send offer" in message.body
    assert "Already done" not in message.body and "Tomorrow" not in message.body


def test_a_rerun_sends_nothing_twice(rep):
    TaskFactory(owner=rep, due_on=TODAY)
    assert task_reminders_send(today=TODAY) == 1
    assert task_reminders_send(today=TODAY) == 0
    assert len(mail.outbox) == 1
    assert task_reminders_send(today=TODAY + dt.timedelta(days=1)) == 0


def test_beat_task_uses_today(rep):
    TaskFactory(owner=rep, due_on=TODAY)
    with time_machine.travel(dt.datetime(2027, 3, 15, 7, 30, tzinfo=dt.UTC), tick=False):
        assert send_task_reminders_task.run() == 1
        assert send_task_reminders_task.run() == 0
    assert len(mail.outbox) == 1


def test_beat_schedule_has_the_morning_digest():
    entry = settings.CELERY_BEAT_SCHEDULE["task-reminders"]
    assert entry["task"] == "crm.tasks.send_task_reminders_task"
    assert entry["schedule"].hour == {7}
