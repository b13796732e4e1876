"""The pipeline rules in the services: status follows the stage, the reason rule, reopening,
history, ensure, settings validation, stages and reasons archived rather than deleted."""

import pytest
from django.core.exceptions import PermissionDenied, ValidationError

from crm.models import Contact, Event
from leads import services as lead_services
from leads.models import LeadStatus
from opportunities import services
from opportunities.models import (
    Opportunity,
    OpportunityEvent,
    OpportunityStatus,
    Stage,
    StageChange,
    WinReason,
)
from tests.factories import ContactFactory, LeadFactory, OpportunityFactory, StageFactory

pytestmark = pytest.mark.django_db


def test_fresh_install_has_a_pipeline_with_won_and_lost(pipeline):
    s = pipeline["settings"]
    names = list(Stage.objects.order_by("order").values_list("name", flat=True))
    assert names == ["Prospecting", "Qualification", "Proposal", "Negotiation", "Won", "Lost"]
    assert (s.default_stage.name, s.win_stage.name, s.loss_stage.name) == (
        "Prospecting",
        "Won",
        "Lost",
    )
    assert {st.name for st in s.active_stages.all()} == {
        "Prospecting",
        "Qualification",
        "Proposal",
        "Negotiation",
    }
    assert s.require_win_reason and s.require_loss_reason
    assert pipeline["win_reasons"] and pipeline["loss_reasons"]


def test_create_starts_in_the_default_stage_and_records_history(rep, pipeline):
    contact = ContactFactory(owner=rep)
    opp = services.opportunity_create(actor=rep, name=" Big deal ", contact=contact)
    assert (opp.name, opp.stage, opp.status, opp.owner) == (
        "Big deal",
        pipeline["Prospecting"],
        "open",
        rep,
    )
    assert opp.closed_at is None and opp.stage_entered_at is not None
    change = StageChange.objects.get(opportunity=opp)
    assert (change.from_stage, change.to_stage, change.status) == (
        None,
        pipeline["Prospecting"],
        "open",
    )
    assert Event.objects.get(opportunity=opp).kind == "created"


def test_win_requires_a_reason_when_the_switch_is_on(rep, pipeline):
    opp = OpportunityFactory(owner=rep, contact=ContactFactory(owner=rep))
    with pytest.raises(ValidationError) as exc:
        services.opportunity_move(actor=rep, opportunity=opp, stage=pipeline["Won"])
    assert "win_reason" in exc.value.message_dict
    opp.refresh_from_db()
    assert (opp.stage, opp.status) == (pipeline["Prospecting"], "open")
    assert not StageChange.objects.filter(opportunity=opp, to_stage=pipeline["Won"]).exists()


def test_loss_requires_a_reason_when_the_switch_is_on(rep, pipeline):
    opp = OpportunityFactory(owner=rep, contact=ContactFactory(owner=rep))
    with pytest.raises(ValidationError) as exc:
        services.opportunity_move(actor=rep, opportunity=opp, stage=pipeline["Lost"])
    assert "loss_reason" in exc.value.message_dict


def test_switches_off_allow_closing_without_a_reason(admin, rep, pipeline):
    services.opportunity_settings_update(
        actor=admin, require_win_reason=False, require_loss_reason=False
    )
    won = OpportunityFactory(owner=rep, contact=ContactFactory(owner=rep))
    lost = OpportunityFactory(owner=rep, contact=ContactFactory(owner=rep))
    won = services.opportunity_move(actor=rep, opportunity=won, stage=pipeline["Won"])
    lost = services.opportunity_move(actor=rep, opportunity=lost, stage=pipeline["Lost"])
    assert (won.status, won.win_reason, won.closed_at is not None) == ("won", None, True)
    assert (lost.status, lost.loss_reason, lost.closed_at is not None) == ("lost", None, True)


def test_winning_with_a_reason_then_reopening_clears_it_and_keeps_history(rep, pipeline):
    price = pipeline["win_reasons"]["Price"]
    opp = services.opportunity_create(actor=rep, name="Deal", contact=ContactFactory(owner=rep))
    opp = services.opportunity_move(
        actor=rep, opportunity=opp, stage=pipeline["Won"], win_reason=price
    )
    assert (opp.status, opp.win_reason, opp.loss_reason) == ("won", price, None)
    closed_at = opp.closed_at
    assert closed_at is not None
    opp = services.opportunity_move(actor=rep, opportunity=opp, stage=pipeline["Negotiation"])
    assert (opp.status, opp.win_reason, opp.closed_at) == ("open", None, None)
    history = list(StageChange.objects.filter(opportunity=opp).order_by("id"))
    assert [(h.to_stage.name, h.status, h.win_reason) for h in history] == [
        ("Prospecting", "open", None),
        ("Won", "won", price),
        ("Negotiation", "open", None),
    ]
    reopened = Event.objects.filter(opportunity=opp, kind=OpportunityEvent.STAGE_CHANGED).first()
    assert reopened.data["reopened"] is True
    assert reopened.data["previous_win_reason_name"] == "Price"


def test_an_archived_reason_is_refused(admin, rep, pipeline):
    price = pipeline["win_reasons"]["Price"]
    used = OpportunityFactory(owner=rep, contact=ContactFactory(owner=rep))
    services.opportunity_move(actor=rep, opportunity=used, stage=pipeline["Won"], win_reason=price)
    assert services.win_reason_delete(actor=admin, reason=price) == "archived"
    opp = OpportunityFactory(owner=rep, contact=ContactFactory(owner=rep))
    with pytest.raises(ValidationError) as exc:
        services.opportunity_move(
            actor=rep,
            opportunity=opp,
            stage=pipeline["Won"],
            win_reason=WinReason.objects.get(pk=price.pk),
        )
    assert "win_reason" in exc.value.message_dict


def test_a_loss_reason_on_a_won_deal_is_dropped(rep, pipeline):
    opp = OpportunityFactory(owner=rep, contact=ContactFactory(owner=rep))
    opp = services.opportunity_move(
        actor=rep,
        opportunity=opp,
        stage=pipeline["Won"],
        win_reason=pipeline["win_reasons"]["Price"],
        loss_reason=pipeline["loss_reasons"]["No budget"],
    )
    assert opp.loss_reason is None


def test_changing_the_reason_in_the_same_stage_is_recorded(rep, pipeline):
    reasons = pipeline["win_reasons"]
    opp = OpportunityFactory(owner=rep, contact=ContactFactory(owner=rep))
    opp = services.opportunity_move(
        actor=rep, opportunity=opp, stage=pipeline["Won"], win_reason=reasons["Price"]
    )
    closed_at = opp.closed_at
    opp = services.opportunity_move(
        actor=rep, opportunity=opp, stage=pipeline["Won"], win_reason=reasons["Relationship"]
    )
    assert opp.win_reason == reasons["Relationship"] and opp.closed_at == closed_at
    event = Event.objects.filter(opportunity=opp, kind=OpportunityEvent.STAGE_CHANGED).first()
    assert (event.data["previous_win_reason_name"], event.data["win_reason_name"]) == (
        "Price",
        "Relationship",
    )
    # Nothing changed: no event.
    before = Event.objects.count()
    services.opportunity_move(
        actor=rep, opportunity=opp, stage=pipeline["Won"], win_reason=reasons["Relationship"]
    )
    assert Event.objects.count() == before


def test_owner_change_is_an_event(rep, other_rep, pipeline):
    opp = OpportunityFactory(owner=rep, contact=ContactFactory(owner=rep))
    services.opportunity_update(actor=rep, opportunity=opp, owner=other_rep, amount=500)
    kinds = set(Event.objects.filter(opportunity=opp).values_list("kind", flat=True))
    assert {"owner_changed", "updated"} <= kinds


def test_update_with_stage_goes_through_the_reason_rule(rep, pipeline):
    opp = OpportunityFactory(owner=rep, contact=ContactFactory(owner=rep))
    with pytest.raises(ValidationError):
        services.opportunity_update(actor=rep, opportunity=opp, stage=pipeline["Lost"])
    opp = services.opportunity_update(
        actor=rep,
        opportunity=opp,
        stage=pipeline["Lost"],
        loss_reason=pipeline["loss_reasons"]["No budget"],
    )
    assert opp.status == "lost"


# --- ensure --------------------------------------------------------------------------------------


def test_ensure_creates_in_the_default_stage_owned_by_the_contact_owner(admin, rep, pipeline):
    contact = ContactFactory(owner=rep)
    opp, created = services.opportunity_ensure(actor=admin, contact=contact, name="Auto")
    assert created and opp.stage == pipeline["Prospecting"] and opp.owner == rep


def test_ensure_returns_the_active_one_even_when_another_rep_owns_it(rep, other_rep, pipeline):
    contact = ContactFactory(owner=rep)
    theirs = OpportunityFactory(contact=contact, owner=other_rep, stage=pipeline["Proposal"])
    opp, created = services.opportunity_ensure(actor=rep, contact=contact, name="Mine", owner=rep)
    assert not created and opp == theirs
    assert Opportunity.objects.get(pk=theirs.pk).owner == other_rep
    assert Opportunity.objects.filter(contact=contact).count() == 1


def test_ensure_ignores_deals_in_non_active_stages(admin, rep, pipeline):
    contact = ContactFactory(owner=rep)
    old = OpportunityFactory(contact=contact, owner=rep)
    services.opportunity_move(
        actor=rep,
        opportunity=old,
        stage=pipeline["Lost"],
        loss_reason=pipeline["loss_reasons"]["No budget"],
    )
    parked = StageFactory(name="On hold")  # not an active stage
    OpportunityFactory(contact=contact, owner=rep, stage=parked)
    opp, created = services.opportunity_ensure(actor=rep, contact=contact, name="New")
    assert created and opp.stage == pipeline["Prospecting"]
    # Making "On hold" active makes that deal block the next ensure.
    services.opportunity_settings_update(
        actor=admin, active_stages=[parked, pipeline["Prospecting"]]
    )
    again, created = services.opportunity_ensure(actor=rep, contact=contact, name="Again")
    assert not created and again.stage == parked


def test_ensure_ignores_archived_deals(rep, pipeline):
    contact = ContactFactory(owner=rep)
    old = OpportunityFactory(contact=contact, owner=rep)
    services.opportunity_archive(actor=rep, opportunity=old)
    _opp, created = services.opportunity_ensure(actor=rep, contact=contact, name="New")
    assert created


def test_manual_creation_is_not_restricted(rep, pipeline):
    contact = ContactFactory(owner=rep)
    OpportunityFactory(contact=contact, owner=rep)
    services.opportunity_create(actor=rep, name="Second", contact=contact)
    assert Opportunity.objects.filter(contact=contact).count() == 2


def test_lead_conversion_creates_the_opportunity_through_ensure(rep, pipeline):
    lead = LeadFactory(owner=rep, company="Acme", email="ana@acme.test")
    result = lead_services.lead_convert(
        actor=rep, lead=lead, create_opportunity=True, opportunity_name="Acme deal"
    )
    assert result.opportunity_created
    opp = result.opportunity
    assert (opp.name, opp.contact, opp.lead, opp.stage) == (
        "Acme deal",
        result.contact,
        result.lead,
        pipeline["Prospecting"],
    )
    # A second lead for the same person converts into the same contact: no second deal.
    lead2 = LeadFactory(owner=rep, company="Acme", email="ana@acme.test")
    result2 = lead_services.lead_convert(actor=rep, lead=lead2, create_opportunity=True)
    assert result2.contact == result.contact and result2.opportunity == opp
    assert not result2.opportunity_created
    assert result2.lead.status == LeadStatus.CONVERTED


# --- settings, stages, reasons -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("change", "field"),
    [
        (lambda p: {"loss_stage": p["Won"]}, "loss_stage"),
        (lambda p: {"default_stage": p["Won"]}, "default_stage"),
        (lambda p: {"active_stages": [p["Lost"], p["Proposal"]]}, "active_stages"),
        (lambda p: {"active_stages": [p["Proposal"]]}, "active_stages"),
        (lambda p: {"default_stage": None}, "default_stage"),
        (lambda p: {"win_stage": None}, "win_stage"),
    ],
)
def test_settings_refuse_contradictions(admin, pipeline, change, field):
    before = services.opportunity_settings_get()
    with pytest.raises(ValidationError) as exc:
        services.opportunity_settings_update(actor=admin, **change(pipeline))
    assert field in exc.value.message_dict
    after = services.opportunity_settings_get()
    assert (after.loss_stage_id, after.default_stage_id) == (
        before.loss_stage_id,
        before.default_stage_id,
    )
    assert after.active_stages.count() == 4


def test_settings_are_admin_only_and_audited(admin, rep, pipeline):
    with pytest.raises(PermissionDenied):
        services.opportunity_settings_update(actor=rep, require_win_reason=False)
    services.opportunity_settings_update(actor=admin, require_win_reason=False)
    event = Event.objects.filter(kind=OpportunityEvent.SETTINGS_CHANGED).get()
    assert event.data["changes"]["require_win_reason"] == [True, False]


def test_a_used_stage_is_archived_an_unused_one_deleted(admin, rep, pipeline):
    used = StageFactory(name="Demo")
    unused = StageFactory(name="Spare")
    services.opportunity_settings_update(actor=admin, active_stages=[used, pipeline["Prospecting"]])
    OpportunityFactory(owner=rep, contact=ContactFactory(owner=rep), stage=used)
    assert services.stage_delete(actor=admin, stage=used) == "archived"
    assert services.stage_delete(actor=admin, stage=unused) == "deleted"
    assert Stage.objects.get(pk=used.pk).archived
    assert used not in services.opportunity_settings_get().active_stages.all()
    change = Event.objects.filter(kind=OpportunityEvent.SETTINGS_CHANGED).first()
    assert used.pk in change.data["changes"]["active_stages"][0]
    assert used.pk not in change.data["changes"]["active_stages"][1]
    with pytest.raises(ValidationError):
        services.stage_delete(actor=admin, stage=pipeline["Won"])


def test_moving_into_an_archived_stage_is_refused(admin, rep, pipeline):
    stage = StageFactory(name="Old")
    opp = OpportunityFactory(owner=rep, contact=ContactFactory(owner=rep), stage=stage)
    services.stage_delete(actor=admin, stage=stage)
    other = OpportunityFactory(owner=rep, contact=ContactFactory(owner=rep))
    with pytest.raises(ValidationError) as exc:
        services.opportunity_move(
            actor=rep, opportunity=other, stage=Stage.objects.get(pk=stage.pk)
        )
    assert "stage" in exc.value.message_dict
    # A deal already there can still change its other fields.
    services.opportunity_update(actor=rep, opportunity=opp, amount=10)


def test_stage_probability_is_validated(admin):
    with pytest.raises(ValidationError) as exc:
        services.stage_create(actor=admin, name="Too sure", probability=101)
    assert "probability" in exc.value.message_dict


def test_reason_names_are_unique_among_active_ones(admin, pipeline):
    with pytest.raises(ValidationError):
        services.loss_reason_create(actor=admin, name="no budget")
    services.loss_reason_create(actor=admin, name="Timing")
    assert list(OpportunityStatus) == ["open", "won", "lost"]


def test_archiving_is_for_the_owner_and_takes_back_its_grants(admin, rep, other_rep, pipeline):
    from crm import access
    from opportunities.models import ContactAccess

    contact = ContactFactory(owner=admin)
    opp = services.opportunity_create(actor=admin, name="Deal", contact=contact, owner=rep)
    services.opportunity_share(actor=rep, opportunity=opp, user=other_rep)
    assert access.can_see(other_rep, contact) and access.can_see(
        rep, Contact.objects.get(pk=contact.pk)
    )
    with pytest.raises(PermissionDenied):
        services.opportunity_archive(actor=other_rep, opportunity=opp)
    services.opportunity_archive(actor=rep, opportunity=opp)
    assert not ContactAccess.objects.filter(opportunity=opp).exists()
    assert not access.can_see(other_rep, Contact.objects.get(pk=contact.pk))


@pytest.mark.django_db(transaction=True)
def test_ensure_lookup_survives_a_rollback_and_a_new_connection(rep):
    """The lookup is a prepared statement: it must keep working after a rolled-back transaction
    that prepared it, and on a fresh connection."""
    from django.db import connection, transaction

    contact = ContactFactory(owner=rep)
    try:
        with transaction.atomic():
            services.opportunity_ensure(actor=rep, contact=contact, name="First")
            raise RuntimeError("roll back")
    except RuntimeError:
        pass
    assert not Opportunity.objects.exists()
    opp, created = services.opportunity_ensure(actor=rep, contact=contact, name="Again")
    assert created
    connection.close()
    again, created = services.opportunity_ensure(actor=rep, contact=contact, name="Third")
    assert (again, created) == (opp, False)
