"""Background e-mail carries a Message-ID made from what it is for (``crm.mail``): a copy sent
again on a retry (a worker killed between sending and committing, a batch rolled back after
sending) is the same message to the receiving side, which drops or merges it."""

import datetime as dt
from unittest import mock

import pytest
from django.core import mail as outbox

from crm import mail
from crm.services import task_reminders_send
from opportunities import services_automation as svc
from opportunities.models import StepRun, TriggerRun
from tests.factories import ContactFactory, OpportunityFactory, TaskFactory

pytestmark = pytest.mark.django_db


def test_the_same_purpose_gives_the_same_id_on_every_host_and_attempt(settings):
    settings.DEFAULT_FROM_EMAIL = "Acme CRM <noreply@crm.acme.example>"
    first = mail.message_id("trigger-run-7")
    assert first == mail.message_id("trigger-run-7")
    assert first.startswith("<trigger-run-7.") and first.endswith("@crm.acme.example>")
    assert mail.message_id("trigger-run-8") != first
    with mock.patch("socket.getfqdn", return_value="another-worker.internal"):
        assert mail.message_id("trigger-run-7") == first  # not the host's name
    settings.SECRET_KEY = "another-installation-" + "x" * 50
    assert mail.message_id("trigger-run-7") != first  # two installations, one domain
    assert settings.SECRET_KEY not in mail.message_id("trigger-run-7")


def _message_ids() -> list[str]:
    return [message.message()["Message-ID"] for message in outbox.outbox]


def test_a_batch_rolled_back_after_sending_resends_the_same_message(admin, rep):
    """The drain sends, then fails before its commit: the runs are run again one by one and
    their e-mail goes out again, with the Message-ID of the first copy."""
    from opportunities import services_runs

    deal = OpportunityFactory(owner=rep, contact=ContactFactory(owner=rep))
    svc.trigger_action_create(actor=admin, event="buy_now_clicked", action="email_owner")
    svc.trigger_fire(event="buy_now_clicked", occurrence="link:1:click", opportunity=deal)
    run = TriggerRun.objects.get()
    outbox.outbox.clear()
    with mock.patch.object(services_runs, "_write", side_effect=RuntimeError("killed")):
        TriggerRun.objects.filter(pk=run.pk).update(status="pending")
        services_runs.trigger_runs_drain()
    assert len(outbox.outbox) == 2  # sent by the batch, then again one by one
    assert len(set(_message_ids())) == 1
    assert _message_ids()[0].startswith(f"<trigger-run-{run.pk}.")


def test_sequence_steps_and_digests_carry_theirs(admin, rep):
    seq = svc.sequence_create(
        actor=admin,
        name="Mail",
        steps=[{"day_offset": 0, "kind": "email", "title": "Hello", "body": "Hi"}],
    )
    contact = ContactFactory(owner=rep, email="pat@example.com")
    enrollment, _ = svc.enrollment_start(actor=None, sequence=seq, contact=contact)
    run = StepRun.objects.get(enrollment=enrollment)
    outbox.outbox.clear()
    assert svc.step_run_execute(run_id=run.pk) == "done"
    today = dt.date(2027, 3, 15)
    TaskFactory(owner=rep, due_on=today)
    assert task_reminders_send(today=today) == 1
    assert [mid.split(".")[0] for mid in _message_ids()] == [
        f"<step-run-{run.pk}",
        f"<digest-{rep.pk}-2027-03-15",
    ]
