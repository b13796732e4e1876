"""Every read of lead scoring for the pages: the latest rescoring job and the scoring report.

The report covers the leads ``user`` may see (``crm.access``: a rep counts their own leads only)
and is aggregated in SQL (GROUP BY, conditional counts): a fixed number of queries whatever the
number of leads.
"""

from __future__ import annotations

from django.db.models import Count, FloatField, Max, Min, Q, QuerySet, Value
from django.db.models.functions import Cast, Floor
from django.utils.translation import gettext_lazy as _

from crm import access
from crm.models import User
from leads.models import Lead, LeadStatus
from scoring.models import Criterion, RescoreJob
from scoring.services import SCORED_STATUSES

#: At most this many bars in the distribution: the bucket widens (25, 50, 100, 250...) to fit.
MAX_BUCKETS = 20
BASE_BUCKET = 25


def criterion_list() -> QuerySet[Criterion]:
    return Criterion.objects.order_by("id")


def rescore_job_latest() -> RescoreJob | None:
    return RescoreJob.objects.order_by("-id").first()


def _scored_leads(user: User) -> QuerySet[Lead]:
    """Leads whose score is kept up to date (new, working, qualified) that ``user`` may see.
    Their score is ``lead_score__score`` (every lead has its row: an inner join)."""
    return access.visible_leads(user).filter(status__in=SCORED_STATUSES, lead_score__isnull=False)


def _bucket_size(lo: int, hi: int) -> int:
    size, steps = BASE_BUCKET, (2, 2, 2.5)
    i = 0
    while hi // size - lo // size + 1 > MAX_BUCKETS:
        size = int(size * steps[i % 3])
        i += 1
    return size


def score_distribution(user: User) -> dict:
    """How many of the scored leads fall in each score range (``size`` points wide).

    ``{"size", "total", "buckets": [{"low", "high", "count"}]}``: every range from the lowest
    score to the highest, empty ones included, so the bars read as a histogram.
    """
    leads = _scored_leads(user)
    bounds = leads.aggregate(
        lo=Min("lead_score__score"), hi=Max("lead_score__score"), total=Count("id")
    )
    if not bounds["total"]:
        return {"size": BASE_BUCKET, "total": 0, "buckets": []}
    lo, hi = bounds["lo"], bounds["hi"]
    size = _bucket_size(lo, hi)
    bucket = Floor(Cast("lead_score__score", FloatField()) / Value(float(size)))
    rows = (
        leads.annotate(bucket=bucket)
        .values("bucket")
        .annotate(count=Count("id"))
        .order_by("bucket")
        .values_list("bucket", "count")
    )
    counts = {int(b): n for b, n in rows}
    return {
        "size": size,
        "total": bounds["total"],
        "buckets": [
            {"low": b * size, "high": b * size + size - 1, "count": counts.get(b, 0)}
            for b in range(lo // size, hi // size + 1)
        ],
    }


FUNNEL_STEPS = (
    ("new", _("New")),
    ("sales_ready", _("Sales-ready")),
    ("qualified", _("Qualified")),
    ("converted", _("Converted")),
)


def lead_funnel(user: User) -> list[dict]:
    """New → sales-ready → qualified → converted: how many of the leads reached each step.

    Every lead starts new. Sales-ready: its score reached the threshold (or it went further).
    Qualified: qualified or converted. Converted: converted. One query.
    """
    further = [LeadStatus.QUALIFIED, LeadStatus.CONVERTED]
    counts = access.visible_leads(user).aggregate(
        new=Count("id"),
        sales_ready=Count("id", filter=Q(lead_score__sales_ready=True) | Q(status__in=further)),
        qualified=Count("id", filter=Q(status__in=further)),
        converted=Count("id", filter=Q(status=LeadStatus.CONVERTED)),
    )
    return [{"key": key, "label": label, "count": counts[key]} for key, label in FUNNEL_STEPS]
