"""Thin Celery tasks of the automation: take ids, call one service. Each is idempotent (the
services claim a run before acting), so a redelivered or retried task does nothing twice."""

from celery import shared_task

from opportunities import services_automation as services

RETRYING = {
    "acks_late": True,
    "reject_on_worker_lost": True,
    "autoretry_for": (Exception,),
    "retry_backoff": True,
    "max_retries": 5,
}


@shared_task(**RETRYING)
def run_trigger_action_task(run_id: int) -> str:
    """Run one trigger action (apply a tag, email the owner, start a sequence) at most once."""
    return services.trigger_run_execute(run_id=run_id)


@shared_task(**RETRYING)
def run_sequence_step_task(run_id: int) -> str:
    """Run one due sequence step (a task for the owner or an email) at most once."""
    return services.step_run_execute(run_id=run_id)


@shared_task(**RETRYING)
def run_due_sequence_steps_task() -> int:
    """Beat: enqueue the sequence steps that have come due."""
    return services.step_runs_due_process()
