"""Issue #9.6: bulk actions on the lead, contact and opportunity lists, through the API twins
(the pages call the same services: tests/crm/test_pages_bulk.py)."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from crm.models import Contact, Event, EventKind
from leads.models import DisqualificationReason, Lead, LeadSettings, LeadStatus
from opportunities.models import (
    AccessReason,
    ContactAccess,
    Opportunity,
    OpportunitySettings,
    OpportunityStatus,
    StageChange,
)
from tests.factories import (
    ContactFactory,
    LeadFactory,
    OpportunityFactory,
    TagFactory,
    TeamFactory,
    UserFactory,
)

pytestmark = pytest.mark.django_db

LEADS = "/api/v1/leads/bulk/"
CONTACTS = "/api/v1/contacts/bulk/"
OPPS = "/api/v1/opportunities/bulk/"


def _snapshot(model):
    return list(model.objects.order_by("pk").values())


@pytest.mark.parametrize("n", [10, 100])
def test_bulk_owner_change_of_leads_writes_one_event_each_in_constant_queries(
    rep, admin_api, n, django_assert_max_num_queries
):
    target = UserFactory()
    leads = LeadFactory.create_batch(n, owner=rep)
    with django_assert_max_num_queries(10):
        r = admin_api.post(
            LEADS, {"ids": [x.pk for x in leads], "action": "assign", "owner": target.pk}
        )
    assert r.status_code == 200, r.content
    assert r.json() == {"updated": n}
    assert Lead.objects.filter(owner=target).count() == n
    events = Event.objects.filter(kind=EventKind.OWNER_CHANGED, lead__in=leads)
    assert events.count() == n
    assert all(e.data == {"from": rep.pk, "to": target.pk} for e in events)


def test_the_same_query_count_for_10_and_100_leads(rep, admin_api):
    target = UserFactory()

    def run(n):
        ids = [x.pk for x in LeadFactory.create_batch(n, owner=rep)]
        with CaptureQueriesContext(connection) as ctx:
            r = admin_api.post(LEADS, {"ids": ids, "action": "assign", "owner": target.pk})
        assert r.json() == {"updated": n}
        return len(ctx.captured_queries)

    assert run(10) == run(100)


def test_invisible_ids_are_404_and_nothing_changes(rep, other_rep, rep_api):
    mine = LeadFactory(owner=rep)
    theirs = LeadFactory(owner=other_rep)
    before = _snapshot(Lead)
    for payload in (
        {"ids": [mine.pk, theirs.pk], "action": "assign", "owner": other_rep.pk},
        {"ids": [mine.pk, 99999999], "action": "archive"},
    ):
        r = rep_api.post(LEADS, payload, format="json")
        assert r.status_code == 404, r.content
        assert r.json() == {"detail": "Not found."}
    assert _snapshot(Lead) == before
    assert not Event.objects.filter(lead__in=[mine, theirs]).exists()


def test_missing_reason_when_required_is_400_and_nothing_changes(rep, rep_api):
    LeadSettings.objects.update_or_create(pk=1, defaults={"ask_disqualification_reason": True})
    leads = LeadFactory.create_batch(3, owner=rep)
    before = _snapshot(Lead)
    r = rep_api.post(LEADS, {"ids": [x.pk for x in leads], "action": "disqualify"}, format="json")
    assert r.status_code == 400
    assert "reason" in r.json()
    assert _snapshot(Lead) == before
    # An archived reason is refused the same way.
    reason = DisqualificationReason.objects.first()
    DisqualificationReason.objects.filter(pk=reason.pk).update(archived_at="2026-01-01T00:00Z")
    r = rep_api.post(
        LEADS, {"ids": [leads[0].pk], "action": "disqualify", "reason": reason.pk}, format="json"
    )
    assert r.status_code == 400 and "reason" in r.json()
    assert _snapshot(Lead) == before


def test_bulk_disqualify_goes_through_the_rule_with_one_event_each(rep, rep_api):
    LeadSettings.objects.update_or_create(pk=1, defaults={"ask_disqualification_reason": True})
    reason = DisqualificationReason.objects.filter(archived_at__isnull=True).first()
    leads = LeadFactory.create_batch(3, owner=rep)
    r = rep_api.post(
        LEADS,
        {"ids": [x.pk for x in leads], "action": "disqualify", "reason": reason.pk, "note": "n"},
        format="json",
    )
    assert r.status_code == 200 and r.json() == {"updated": 3}
    assert set(Lead.objects.values_list("status", "disqualification_reason")) == {
        (LeadStatus.UNQUALIFIED, reason.pk)
    }
    assert Event.objects.filter(kind="disqualified", lead__in=leads).count() == 3


def test_a_converted_lead_makes_the_whole_disqualification_fail(rep, rep_api):
    LeadSettings.objects.update_or_create(pk=1, defaults={"ask_disqualification_reason": False})
    ok = LeadFactory(owner=rep)
    converted = LeadFactory(owner=rep, status=LeadStatus.CONVERTED, last_name="Done")
    r = rep_api.post(LEADS, {"ids": [ok.pk, converted.pk], "action": "disqualify"}, format="json")
    assert r.status_code == 400 and "Done" in str(r.json()["ids"])
    assert Lead.objects.get(pk=ok.pk).status == LeadStatus.NEW


def test_actions_of_another_list_and_missing_parameters_are_400(rep, rep_api):
    lead = LeadFactory(owner=rep)
    r = rep_api.post(LEADS, {"ids": [lead.pk], "action": "tag", "tag": "x"}, format="json")
    assert r.status_code == 400 and "action" in r.json()
    r = rep_api.post(LEADS, {"ids": [lead.pk], "action": "assign"}, format="json")
    assert r.status_code == 400 and "owner" in r.json()
    r = rep_api.post(LEADS, {"ids": [], "action": "archive"}, format="json")
    assert r.status_code == 400 and "ids" in r.json()
    r = rep_api.post(LEADS, {"ids": ["x"], "action": "archive"}, format="json")
    assert r.status_code == 400


def test_bulk_archive_leads_and_the_old_bulk_assign_endpoint_still_works(rep, other_rep, rep_api):
    leads = LeadFactory.create_batch(2, owner=rep)
    r = rep_api.post(LEADS, {"ids": [x.pk for x in leads], "action": "archive"}, format="json")
    assert r.status_code == 200 and r.json() == {"updated": 2}
    assert Event.objects.filter(kind=EventKind.ARCHIVED, lead__in=leads).count() == 2
    lead = LeadFactory(owner=rep)
    r = rep_api.post(
        "/api/v1/leads/bulk-assign/", {"ids": [lead.pk], "owner": other_rep.pk}, format="json"
    )
    assert r.json() == {"updated": 1}


# --- contacts ------------------------------------------------------------------------------------


@pytest.mark.parametrize("n", [10, 100])
def test_contact_owner_change_and_tags_in_constant_queries(
    rep, admin_api, n, django_assert_max_num_queries
):
    target = UserFactory()
    vip = TagFactory(name="VIP")
    contacts = ContactFactory.create_batch(n, owner=rep)
    contacts[0].tags.add(vip)
    ids = [c.pk for c in contacts]
    with django_assert_max_num_queries(10):
        r = admin_api.post(CONTACTS, {"ids": ids, "action": "assign", "owner": target.pk})
    assert r.json() == {"updated": n}
    assert Contact.objects.filter(owner=target).count() == n
    with django_assert_max_num_queries(12):
        r = admin_api.post(CONTACTS, {"ids": ids, "action": "tag", "tag": "vip"}, format="json")
    assert r.json() == {"updated": n - 1}  # the first had it already (names ignore case)
    assert Contact.objects.filter(tags=vip).count() == n
    event = Event.objects.filter(kind=EventKind.UPDATED, contact=contacts[1]).get()
    assert event.data == {"changes": {"tags": [[], ["VIP"]]}}
    with django_assert_max_num_queries(12):
        r = admin_api.post(CONTACTS, {"ids": ids[:5], "action": "untag", "tag": "VIP"})
    assert r.json() == {"updated": 5}
    assert Contact.objects.filter(tags=vip).count() == n - 5
    assert Event.objects.filter(kind=EventKind.OWNER_CHANGED, contact__in=ids).count() == n


def test_contact_tag_needs_a_tag_and_archive_works(rep, rep_api):
    contacts = ContactFactory.create_batch(2, owner=rep)
    ids = [c.pk for c in contacts]
    r = rep_api.post(CONTACTS, {"ids": ids, "action": "tag", "tag": "  "}, format="json")
    assert r.status_code == 400 and "tag" in r.json()
    r = rep_api.post(CONTACTS, {"ids": ids, "action": "archive"}, format="json")
    assert r.json() == {"updated": 2}
    assert not Contact.objects.filter(archived_at__isnull=True).exists()


# --- opportunities -------------------------------------------------------------------------------


@pytest.mark.parametrize("n", [10, 100])
def test_opportunity_owner_change_applies_the_sharing_rules_in_constant_queries(
    admin, admin_api, n, django_assert_max_num_queries
):
    OpportunitySettings.objects.filter(pk=1).update(
        share_contact_when_assigned=True, unshare_contact_when_unassigned=True
    )
    old, new = UserFactory(), UserFactory()
    opps = [OpportunityFactory(contact=ContactFactory(owner=admin), owner=old) for _ in range(n)]
    for opp in opps:
        ContactAccess.objects.create(
            contact=opp.contact, user=old, reason=AccessReason.ASSIGNED, opportunity=opp
        )
    with django_assert_max_num_queries(14):
        r = admin_api.post(OPPS, {"ids": [o.pk for o in opps], "action": "assign", "owner": new.pk})
    assert r.status_code == 200 and r.json() == {"updated": n}
    assert Opportunity.objects.filter(owner=new).count() == n
    assert not ContactAccess.objects.filter(user=old).exists()
    assert ContactAccess.objects.filter(user=new, reason=AccessReason.ASSIGNED).count() == n
    assert Event.objects.filter(kind=EventKind.OWNER_CHANGED, opportunity__in=opps).count() == n


def test_opportunity_owner_change_respects_assign_to_group_and_owner_only(rep, other_rep):
    from tests.opportunities.test_sharing_rules import api_for

    team = TeamFactory()
    team.members.add(other_rep)
    OpportunitySettings.objects.filter(pk=1).update(assign_to_group=team)
    outsider = UserFactory()
    opp = OpportunityFactory(contact=ContactFactory(owner=rep), owner=rep)
    r = api_for(rep).post(OPPS, {"ids": [opp.pk], "action": "assign", "owner": outsider.pk})
    assert r.status_code == 400 and "owner" in r.json()
    assert Opportunity.objects.get(pk=opp.pk).owner_id == rep.pk
    # A rep it is shared with works the deal but may not reassign it.
    from opportunities.services import opportunity_share

    opportunity_share(actor=rep, opportunity=opp, user=other_rep)
    r = api_for(other_rep).post(OPPS, {"ids": [opp.pk], "action": "assign", "owner": other_rep.pk})
    assert r.status_code == 403
    r = api_for(rep).post(OPPS, {"ids": [opp.pk], "action": "assign", "owner": other_rep.pk})
    assert r.status_code == 200 and r.json() == {"updated": 1}


def test_move_to_the_win_stage_needs_the_reason_when_required(rep, rep_api):
    settings = OpportunitySettings.objects.get(pk=1)
    OpportunitySettings.objects.filter(pk=1).update(require_win_reason=True)
    opps = [OpportunityFactory(contact=ContactFactory(owner=rep), owner=rep) for _ in range(3)]
    ids = [o.pk for o in opps]
    before = _snapshot(Opportunity)
    r = rep_api.post(OPPS, {"ids": ids, "action": "move", "stage": settings.win_stage_id})
    assert r.status_code == 400 and "win_reason" in r.json()
    assert _snapshot(Opportunity) == before
    from opportunities.models import WinReason

    reason = WinReason.objects.filter(archived_at__isnull=True).first()
    r = rep_api.post(
        OPPS,
        {"ids": ids, "action": "move", "stage": settings.win_stage_id, "win_reason": reason.pk},
    )
    assert r.status_code == 200 and r.json() == {"updated": 3}
    assert set(Opportunity.objects.values_list("status", "win_reason")) == {
        (OpportunityStatus.WON, reason.pk)
    }
    assert StageChange.objects.filter(opportunity__in=ids, to_stage=settings.win_stage).count() == 3
    assert Event.objects.filter(kind="stage_changed", opportunity__in=ids).count() == 3


def test_archive_opportunities_only_by_their_owner(rep, other_rep):
    from opportunities.services import opportunity_share
    from tests.opportunities.test_sharing_rules import api_for

    opp = OpportunityFactory(contact=ContactFactory(owner=rep), owner=rep)
    opportunity_share(actor=rep, opportunity=opp, user=other_rep)
    assert api_for(other_rep).post(OPPS, {"ids": [opp.pk], "action": "archive"}).status_code == 403
    assert Opportunity.objects.get(pk=opp.pk).archived_at is None
    r = api_for(rep).post(OPPS, {"ids": [opp.pk], "action": "archive"})
    assert r.status_code == 200 and Opportunity.objects.get(pk=opp.pk).archived_at is not None
