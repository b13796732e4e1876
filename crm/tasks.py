from celery import shared_task
from django.core.management import call_command


@shared_task(acks_late=True, autoretry_for=(Exception,), retry_backoff=True, max_retries=3)
def clear_expired_sessions_task() -> None:
    """Daily housekeeping: drop expired sessions (idempotent)."""
    call_command("clearsessions")


@shared_task(acks_late=True, autoretry_for=(Exception,), retry_backoff=True, max_retries=5)
def send_task_reminders_task() -> int:
    """Each morning: one digest email per user with tasks due today (idempotent per day)."""
    from crm.services import task_reminders_send

    return task_reminders_send()
