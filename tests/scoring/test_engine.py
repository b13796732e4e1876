"""The SQL rescoring and the per-lead computation must always agree."""

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from crm.models import CompanySize
from leads.models import Answer, Lead, LeadStatus, Timeline
from scoring import services
from scoring.engine import OPERATORS_BY_FIELD, RANKS, Rule, score_lead
from scoring.models import Criterion
from tests.factories import LeadFactory, UserFactory

# Text with the cases that trip naive folding: accents, ß, dotted I, mixed case, commas, % and _.
TEXT = st.text(alphabet="aAbBeÉéñÑßİıxX %_,-", min_size=0, max_size=6)
CHOICE_VALUES = {
    "budget": [a.value for a in Answer],
    "authority": [a.value for a in Answer],
    "need": [a.value for a in Answer],
    "timeline": [t.value for t in Timeline],
    "company_size": [c.value for c in CompanySize],
}


@st.composite
def rules(draw):
    field = draw(st.sampled_from(sorted(OPERATORS_BY_FIELD)))
    operator = draw(st.sampled_from(sorted(OPERATORS_BY_FIELD[field])))
    if field in CHOICE_VALUES:
        pool = RANKS[field] if operator in ("gte", "lte") else CHOICE_VALUES[field]
        if operator == "in":
            value = ",".join(draw(st.lists(st.sampled_from(list(pool)), min_size=1, max_size=3)))
        else:
            value = draw(st.sampled_from(list(pool)))
    else:
        value = draw(TEXT.filter(lambda v: v.strip(" ,")))
    points = draw(st.integers(min_value=-50, max_value=50))
    return field, operator, value, points


@st.composite
def leads(draw):
    return {
        "budget": draw(st.sampled_from(CHOICE_VALUES["budget"])),
        "authority": draw(st.sampled_from(CHOICE_VALUES["authority"])),
        "need": draw(st.sampled_from(CHOICE_VALUES["need"])),
        "timeline": draw(st.sampled_from(CHOICE_VALUES["timeline"])),
        "company_size": draw(st.sampled_from(["", *CHOICE_VALUES["company_size"]])),
        "country": draw(TEXT),
        "industry": draw(TEXT),
        "title": draw(TEXT),
        "source": draw(TEXT),
    }


@pytest.mark.django_db
@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    criteria=st.lists(rules(), min_size=0, max_size=6),
    lead_data=st.lists(leads(), min_size=1, max_size=6),
)
def test_sql_rescoring_equals_per_lead_computation(criteria, lead_data):
    Criterion.objects.all().delete()
    Lead.objects.all().delete()
    owner = UserFactory()
    for i, (field, operator, value, points) in enumerate(criteria):
        Criterion.objects.create(
            name=f"c{i}", field=field, operator=operator, value=value, points=points
        )
    made = [LeadFactory(owner=owner, status=LeadStatus.WORKING, **data) for data in lead_data]
    job = services.RescoreJob.objects.create()
    services.rescore_run(job_id=job.pk, chunk_size=4)
    rule_list = services.rules_get()
    threshold = services.scoring_settings_get().threshold
    for lead in Lead.objects.filter(pk__in=[x.pk for x in made]):
        expected, _ = score_lead(lead, rule_list)
        assert lead.score == expected, (lead_data, criteria)
        assert lead.sales_ready == (expected >= threshold)


def test_rule_matching_examples():
    class L:
        budget, timeline, company_size, country = "yes", "3_6m", "51-200", "Spain"

    assert score_lead(L, [Rule(1, "b", "budget", "eq", "yes", 10)])[0] == 10
    assert score_lead(L, [Rule(1, "c", "country", "eq", "SPAIN", 5)])[0] == 5
    assert score_lead(L, [Rule(1, "c", "country", "contains", "pai", 5)])[0] == 5
    assert score_lead(L, [Rule(1, "t", "timeline", "lte", "6_12m", 7)])[0] == 7
    assert score_lead(L, [Rule(1, "t", "timeline", "gte", "6_12m", 7)])[0] == 0
    assert score_lead(L, [Rule(1, "s", "company_size", "gte", "11-50", -3)])[0] == -3
    assert score_lead(L, [Rule(1, "i", "timeline", "in", "lt_3m, 3_6m", 4)])[0] == 4
