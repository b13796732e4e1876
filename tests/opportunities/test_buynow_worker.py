"""Integration: a purchase through the public page, its actions run by a real Celery worker on
Redis, exactly once even when the purchase is replayed and the tasks are redelivered."""

import time
from decimal import Decimal

import pytest
from django.test import Client

from crm.models import Task
from opportunities import services_buynow as buynow
from opportunities.models import (
    Enrollment,
    Opportunity,
    OpportunityStatus,
    Order,
    TriggerRun,
)
from opportunities.services_automation import sequence_create, trigger_action_create
from opportunities.tasks import run_trigger_action_task
from tests.celery_worker import wait_for, worker_log
from tests.factories import OpportunityFactory

pytestmark = pytest.mark.django_db(transaction=True)


def _mails(folder) -> list[str]:
    return [p.read_text() for p in folder.glob("*.log")] if folder.exists() else []


def test_purchase_actions_run_once_in_a_real_worker(celery_worker_process, tmp_path, admin, rep):
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
    assert wait_for(lambda: len(_mails(mail)) == 1), worker_log()

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
    mails = _mails(mail)
    assert len(mails) == 1
    assert "bought through your buy-now link" in mails[0]
