"""A real worker killed with SIGKILL in the middle of a follow-up, an action and a rescore.

Each test enqueues the task, then holds a table lock the task needs and starts the worker,
so the worker is caught mid-task (its backend
waits on the lock, its transaction open, earlier steps such as a claim already committed); the
whole worker is then killed with SIGKILL (no cleanup, no acknowledgement), the lock released and
a new worker started on the same queue. Redis hands the unacknowledged message to it once the
visibility timeout has passed (``acks_late``), the database's idempotency keys and the run
leases make the second delivery finish the work, and nothing is done twice.

The worker runs with a short visibility timeout and automation lease (the production defaults
are minutes: long enough never to overtake a live task).
"""

from __future__ import annotations

import contextlib
import time

import psycopg2
import pytest
from django.db import connection

from crm.models import Task
from leads.models import Lead, Rating
from leads.services import prospect_classify
from opportunities.models import (
    Enrollment,
    Opportunity,
    OpportunityStatus,
    Order,
    StepRun,
    TriggerRun,
)
from scoring.engine import score_lead
from scoring.models import Criterion, JobStatus, RescoreJob
from scoring.services import criterion_update, rules_get, scoring_settings_get
from tests.celery_worker import Worker, mails, purchase_setup, wait_for, worker_broker, worker_log
from tests.factories import LeadFactory

pytestmark = pytest.mark.django_db(transaction=True)

VISIBILITY = 3  # seconds before Redis gives an unacknowledged message to another worker
LEASE = 2  # seconds before a claimed automation run is taken to have lost its worker


@pytest.fixture
def worker(tmp_path):
    worker = Worker(
        tmp_path,
        CELERY_VISIBILITY_TIMEOUT=str(VISIBILITY),
        AUTOMATION_RUN_LEASE_SECONDS=str(LEASE),
    )
    try:
        with worker_broker(worker):
            yield worker
    finally:
        worker.stop()


def _dsn() -> str:
    db = connection.settings_dict
    return (
        f"dbname={db['NAME']} user={db.get('USER') or 'postgres'} "
        f"host={db.get('HOST') or '127.0.0.1'} port={db.get('PORT') or 5432}"
        + (f" password={db['PASSWORD']}" if db.get("PASSWORD") else "")
    )


@contextlib.contextmanager
def table_locked(table: str):
    """Hold ``table`` (ACCESS EXCLUSIVE) on a connection of the test's own until the block
    ends; yields a function listing the other backends of this database waiting on a lock."""
    conn = psycopg2.connect(_dsn())
    try:
        cur = conn.cursor()
        cur.execute(f'LOCK TABLE "{table}" IN ACCESS EXCLUSIVE MODE')

        def waiting() -> list[int]:
            cur.execute("SELECT pg_stat_clear_snapshot()")  # a fresh view inside the transaction
            cur.execute(
                "SELECT pid FROM pg_stat_activity WHERE datname = current_database() "
                "AND wait_event_type = 'Lock' AND pid <> pg_backend_pid()"
            )
            return [row[0] for row in cur.fetchall()]

        yield waiting
    finally:
        conn.rollback()
        conn.close()


def _kill_mid_task(worker: Worker, table: str, enqueue) -> None:
    """Enqueue the task (no worker runs yet), lock ``table``, start the worker and wait until
    it waits on the lock; SIGKILL it, release the lock, let the visibility timeout pass and
    start a new worker."""
    enqueue()
    with table_locked(table) as waiting:
        worker.start()
        assert wait_for(lambda: bool(waiting()), timeout=60), worker_log()
        worker.kill()
    time.sleep(VISIBILITY + 1)
    worker.start()


def test_a_follow_up_interrupted_by_a_killed_worker_is_created_once(worker, rep):
    lead = LeadFactory(owner=rep)
    rating = Rating.objects.get(name="Promising prospect")
    assert rating.follow_up_days is not None

    _kill_mid_task(
        worker, "crm_task", lambda: prospect_classify(actor=rep, rating=rating, lead=lead)
    )

    assert wait_for(lambda: Task.objects.filter(lead=lead).exists(), timeout=60), worker_log()
    time.sleep(VISIBILITY + 1)  # room for any further delivery
    tasks = list(Task.objects.filter(lead=lead))
    assert len(tasks) == 1
    assert tasks[0].is_follow_up and tasks[0].owner == rep and not tasks[0].done
    assert worker.proc.poll() is None, worker_log()


def test_purchase_actions_interrupted_by_a_killed_worker_run_once(worker, tmp_path, admin, rep):
    deal, buyer, url, form = purchase_setup(admin, rep)

    def purchase():
        assert buyer.post(url, form).status_code == 302

    # The tag insert is the batch's first write: the claim is committed, nothing else is.
    _kill_mid_task(worker, "crm_contact_tags", purchase)

    assert wait_for(
        lambda: (
            TriggerRun.objects.filter(status="done").count() == 3
            and StepRun.objects.filter(status="done").exists()
        ),
        timeout=60,
    ), worker_log()
    mail = tmp_path / "mail"
    assert wait_for(lambda: len(mails(mail)) == 1), worker_log()
    assert buyer.post(url, form).status_code == 200  # the purchase replayed: nothing new
    time.sleep(VISIBILITY + 1)

    assert Order.objects.count() == 1
    assert Opportunity.objects.get(pk=deal.pk).status == OpportunityStatus.WON
    runs = list(TriggerRun.objects.values_list("status", "attempts"))
    assert runs == [("done", 2)] * 3  # claimed by the killed worker, then by the new one
    assert list(deal.contact.tags.values_list("name", flat=True)) == ["Bought now"]
    assert Enrollment.objects.filter(contact=deal.contact).count() == 1
    assert Task.objects.filter(title="Welcome call", owner=rep).count() == 1
    assert len(mails(mail)) == 1
    assert worker.proc.poll() is None, worker_log()


def test_a_rescore_interrupted_by_a_killed_worker_completes(worker, admin):
    leads = [LeadFactory(budget=b) for b in ("yes", "no", "unknown") * 5]
    budget = Criterion.objects.get(field="budget", operator="eq", value="yes")

    def change_rules():
        criterion_update(actor=admin, criterion=budget, points=budget.points + 7)

    _kill_mid_task(worker, "leads_leadscore", change_rules)

    job = RescoreJob.objects.get()  # one job, started by the rules' change
    assert job.status == JobStatus.RUNNING  # the killed worker had started it
    assert wait_for(
        lambda: RescoreJob.objects.filter(pk=job.pk, status=JobStatus.DONE).exists(), timeout=90
    ), worker_log()
    rules, threshold = rules_get(), scoring_settings_get().threshold
    for lead in Lead.objects.filter(pk__in=[x.pk for x in leads]).select_related("lead_score"):
        expected, _why = score_lead(lead, rules)
        assert lead.lead_score.score == expected, lead.pk
        assert lead.lead_score.sales_ready == (expected >= threshold)
    assert RescoreJob.objects.count() == 1
    assert worker.proc.poll() is None, worker_log()
