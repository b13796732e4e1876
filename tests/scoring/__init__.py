from leads.models import Lead, LeadScore
from tests.factories import LeadFactory


def scored_lead(*, score: int, sales_ready: bool = False, **fields) -> Lead:
    """A lead (LeadFactory) whose stored score row holds ``score`` and ``sales_ready``."""
    lead = LeadFactory(**fields)
    score_set(lead, score=score, sales_ready=sales_ready)
    return lead


def score_set(lead: Lead, *, score: int, sales_ready: bool = False) -> None:
    """Overwrite a lead's stored score (as if computed with other rules)."""
    LeadScore.objects.filter(pk=lead.pk).update(score=score, sales_ready=sales_ready)
