from celery import shared_task

from scoring import services


@shared_task(
    acks_late=True, reject_on_worker_lost=True, max_retries=0, time_limit=3600, soft_time_limit=3500
)
def rescore_leads_task(job_id: int) -> str:
    """Run one rescoring job (set-based, in chunks). A finished job is never run twice."""
    return services.rescore_run(job_id=job_id).status
