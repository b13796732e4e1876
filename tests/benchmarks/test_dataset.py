"""The benchmark dataset (``benchmarks.dataset``), built small in the test database: its sizes,
and rows as the app's own rules would have left them (contact grants of the sharing rules, deal
status and active flag of the stage, the disqualification history the report reads)."""

from collections import Counter

import pytest
from django.db.models import F

from benchmarks import dataset
from crm import access
from crm.models import Contact, Task, User
from leads import selectors as lead_selectors
from leads.models import Lead, LeadDisqualification, LeadStatus
from opportunities import services as opp_services
from opportunities.models import (
    ContactAccess,
    Opportunity,
    OpportunityShare,
    OpportunityStatus,
    StageChange,
)

pytestmark = pytest.mark.django_db
N = 2_000


@pytest.fixture
def built(db):
    dataset.insert_rows(N)
    return dataset.sizes(N)


def test_sizes_and_counts(built):
    assert built == {"leads": N, "accounts": 40, "contacts": 400, "opportunities": 200}
    got = dataset.counts()
    assert (got["leads"], got["scores"], got["reps"]) == (N, N, dataset.REPS)
    assert (got["contacts"], got["opportunities"]) == (400, 200)
    assert got["disqualifications"] == LeadDisqualification.objects.count() > 0
    assert StageChange.objects.count() == 200  # each deal's creation in its history
    assert Task.objects.count() > 0
    tagged = Contact.objects.filter(tags__isnull=False).distinct().count()
    assert 0.2 * 400 < tagged < 0.45 * 400


def test_contact_grants_are_what_the_sharing_rules_give(built):
    """ "Share contact when assigned": every deal's owner, "when shared": every user it is shared
    with; nothing else."""
    settings = opp_services.opportunity_settings_get()
    assert settings.share_contact_when_assigned and settings.share_contact_when_shared
    want = {(o.contact_id, o.owner_id, "assigned", o.pk) for o in Opportunity.objects.all()} | {
        (s.opportunity.contact_id, s.user_id, "shared", s.opportunity_id)
        for s in OpportunityShare.objects.select_related("opportunity")
    }
    got = set(ContactAccess.objects.values_list("contact_id", "user_id", "reason", "opportunity"))
    assert got == want
    # shared with someone else than the owner; a third of the deals reassigned since creation
    assert not OpportunityShare.objects.filter(user_id=F("opportunity__owner_id")).exists()
    moved = Opportunity.objects.exclude(owner_id=F("contact__owner_id")).count()
    assert 0.2 * 200 < moved < 0.45 * 200
    assert 0.1 * 200 < OpportunityShare.objects.count() < 0.3 * 200


def test_a_rep_sees_own_contacts_and_those_of_deals_assigned_or_shared(built):
    for rep in User.objects.filter(username__startswith="bench-rep-").order_by("id")[:5]:
        want = set(Contact.objects.filter(owner=rep).values_list("id", flat=True))
        want |= set(Opportunity.objects.filter(owner=rep).values_list("contact_id", flat=True))
        want |= set(
            OpportunityShare.objects.filter(user=rep).values_list(
                "opportunity__contact_id", flat=True
            )
        )
        assert set(access.visible_contacts(rep).values_list("id", flat=True)) == want


def test_deals_status_and_active_flag_follow_their_stage(built):
    settings = opp_services.opportunity_settings_get()
    stages = Counter()
    for o in Opportunity.objects.select_related("stage"):
        assert o.status == opp_services.stage_status(o.stage, settings)
        assert o.in_active_stage == opp_services._is_active(o.stage, settings)
        assert (o.closed_at is not None) == (o.status != OpportunityStatus.OPEN)
        stages[o.status] += 1
    assert set(stages) == {"open", "won", "lost"}


def test_disqualification_history_is_what_the_services_leave(built):
    unqualified = Lead.objects.filter(status=LeadStatus.UNQUALIFIED)
    assert unqualified.exists()
    for lead in unqualified:
        standing = LeadDisqualification.objects.get(lead=lead, superseded_at__isnull=True)
        assert (standing.reason_id, standing.owner_id, standing.source, standing.at) == (
            lead.disqualification_reason_id,
            lead.owner_id,
            lead.source,
            lead.disqualified_at,
        )
        for old in LeadDisqualification.objects.filter(lead=lead, superseded_at__isnull=False):
            assert old.at < old.superseded_at == lead.disqualified_at
    assert unqualified.filter(disqualification_reason__isnull=True).exists()  # none given
    assert LeadDisqualification.objects.filter(superseded_at__isnull=False).exists()
    # requalified leads keep their decision in the history (working, no reason on the lead)
    requalified = LeadDisqualification.objects.filter(lead__status=LeadStatus.WORKING)
    assert requalified.exists()
    assert not requalified.filter(lead__disqualification_reason__isnull=False).exists()
    admin = User.objects.create(username="bench-test-admin", role="admin")
    report = lead_selectors.disqualification_report(user=admin)
    standing = LeadDisqualification.objects.filter(superseded_at__isnull=True)
    assert report["total"] == standing.count()


def test_tasks_belong_to_their_records_owner(built):
    kinds = Counter()
    for task in Task.objects.select_related("opportunity", "contact", "lead"):
        subjects = [s for s in (task.opportunity, task.contact, task.lead) if s is not None]
        assert len(subjects) == 1 and subjects[0].owner_id == task.owner_id
        kinds[type(subjects[0]).__name__, task.done] += 1
    assert set(kinds) == {
        ("Opportunity", False),
        ("Opportunity", True),
        ("Contact", False),
        ("Lead", False),
    }
