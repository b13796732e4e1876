from celery import shared_task

from leads import services


@shared_task(acks_late=True, autoretry_for=(Exception,), retry_backoff=True, max_retries=5)
def revisit_frozen_leads_task() -> int:
    """Daily: frozen leads whose revisit date has come go back to work (idempotent)."""
    return services.lead_revisit_due_process()


@shared_task(
    acks_late=True,
    reject_on_worker_lost=True,
    autoretry_for=(Exception,),
    retry_backoff=True,
    max_retries=5,
)
def create_follow_up_task(event_id: int) -> int | None:
    """Create the follow-up a classification asked for; idempotent (keyed by the event)."""
    task = services.follow_up_for_classification(event_id=event_id)
    return task.pk if task else None


@shared_task(acks_late=True, autoretry_for=(Exception,), retry_backoff=True, max_retries=5)
def create_missing_follow_ups_task() -> int:
    """Every 15 minutes: the follow-ups whose ``create_follow_up_task`` was lost (idempotent)."""
    return services.follow_ups_missing_create()
