from celery import shared_task

from leads import services


@shared_task(acks_late=True, autoretry_for=(Exception,), retry_backoff=True, max_retries=5)
def revisit_frozen_leads_task() -> int:
    """Daily: frozen leads whose revisit date has come go back to work (idempotent)."""
    return services.lead_revisit_due_process()
