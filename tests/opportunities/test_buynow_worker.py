"""Integration: a purchase through the public page, its actions run by a real Celery worker on
Redis, exactly once even when the purchase is replayed and the tasks are redelivered."""

import time

import pytest

from crm.models import Task
from opportunities.models import (
    Enrollment,
    Opportunity,
    OpportunityStatus,
    Order,
    TriggerRun,
)
from opportunities.tasks import run_trigger_action_task
from tests.celery_worker import mails, purchase_setup, wait_for, worker_log

pytestmark = pytest.mark.django_db(transaction=True)


def test_purchase_actions_run_once_in_a_real_worker(celery_worker_process, tmp_path, admin, rep):
    deal, buyer, url, form = purchase_setup(admin, rep)
    assert buyer.post(url, form).status_code == 302
    assert buyer.post(url, form).status_code == 200  # replayed: the thank-you page again

    assert Opportunity.objects.get(pk=deal.pk).status == OpportunityStatus.WON
    assert wait_for(
        lambda: (
            TriggerRun.objects.filter(status="done").count() == 3
            and Task.objects.filter(title="Welcome call").exists()
        )
    ), worker_log()
    mail = tmp_path / "mail"
    assert wait_for(lambda: len(mails(mail)) == 1), worker_log()

    # Redeliver every action's message: the worker claims nothing twice.
    for run in TriggerRun.objects.all():
        run_trigger_action_task.delay(run.pk)
    time.sleep(3)
    assert celery_worker_process.poll() is None, worker_log()
    assert Order.objects.count() == 1
    assert TriggerRun.objects.count() == 3
    assert list(deal.contact.tags.values_list("name", flat=True)) == ["Bought now"]
    assert Enrollment.objects.filter(contact=deal.contact).count() == 1
    assert Task.objects.filter(title="Welcome call", owner=rep).count() == 1
    sent = mails(mail)
    assert len(sent) == 1
    assert "bought through your buy-now link" in sent[0]
