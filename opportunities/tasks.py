"""Thin Celery tasks of the automation: take ids, call one service. Each is idempotent (the
services claim a run before acting), so a redelivered or retried task does nothing twice."""

import datetime as dt

from celery import shared_task

from opportunities import services_automation as services
from opportunities import services_runs

RETRYING = {
    "acks_late": True,
    "reject_on_worker_lost": True,
    "autoretry_for": (Exception,),
    "retry_backoff": True,
    "max_retries": 5,
}


@shared_task(**RETRYING)
def run_trigger_runs_task() -> int:
    """Run the pending trigger actions (apply a tag, email the owner, start a sequence) in
    batches, each at most once; enqueued once per occurrence and by beat (runs whose worker
    died). Hands what is left after a while to a new task."""
    handled, more = services_runs.trigger_runs_drain()
    if more:
        run_trigger_runs_task.delay()
    return handled


@shared_task(**RETRYING)
def run_sequence_steps_task(today: str | None = None) -> int:
    """Run the due sequence steps (a task for the owner or an email) in batches, each at most
    once. ``today`` (ISO date) is the beat's, so that a late task runs what was due then."""
    handled, more = services_runs.step_runs_drain(
        today=dt.date.fromisoformat(today) if today else None
    )
    if more:
        run_sequence_steps_task.delay(today)
    return handled


@shared_task(**RETRYING)
def run_trigger_action_task(run_id: int) -> str:
    """Run one trigger action at most once (messages enqueued before the batch drain)."""
    return services.trigger_run_execute(run_id=run_id)


@shared_task(**RETRYING)
def run_sequence_step_task(run_id: int) -> str:
    """Run one due sequence step at most once (messages enqueued before the batch drain)."""
    return services.step_run_execute(run_id=run_id)


@shared_task(**RETRYING)
def run_due_sequence_steps_task() -> int:
    """Beat: run the sequence steps that have come due, and any trigger action whose worker
    died (claimed again after its lease)."""
    run_trigger_runs_task.delay()
    return services.step_runs_due_process()
