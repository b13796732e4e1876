"""Integration: a real Celery worker process on Redis creates follow-ups exactly once."""

import time

import pytest

from crm.models import Task
from leads.models import Rating
from leads.tasks import create_follow_up_task
from tests.celery_worker import wait_for, worker_log
from tests.factories import LeadFactory

pytestmark = pytest.mark.django_db(transaction=True)


def test_classifying_through_the_api_yields_exactly_one_follow_up(
    celery_worker_process, rep, rep_api
):
    lead = LeadFactory(owner=rep)
    rating = Rating.objects.get(name="Promising prospect")
    response = rep_api.post(
        f"/api/v1/leads/{lead.pk}/classify/", {"rating": rating.pk}, format="json"
    )
    assert response.status_code == 200
    assert wait_for(lambda: Task.objects.filter(lead=lead).exists()), worker_log()
    # the same message delivered again (a redelivery) must not create a second task
    event_id = Task.objects.get(lead=lead).source_event_id
    result_ids = [create_follow_up_task.delay(event_id).id for _ in range(2)]
    assert all(result_ids)
    time.sleep(3)  # let the worker drain the redeliveries
    assert wait_for(lambda: celery_worker_process.poll() is None, timeout=1)
    tasks = list(Task.objects.filter(lead=lead))
    assert len(tasks) == 1
    assert tasks[0].is_follow_up and tasks[0].owner == rep
