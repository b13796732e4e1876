"""Where the other services fire the automation: a lead disqualified (nurture), a purchase and a
first click through a buy-now link, and a deal won or lost (sequences that say so stop)."""

from decimal import Decimal

import pytest

from crm.models import Task
from leads.models import DisqualificationReason
from leads.services import lead_disqualify
from opportunities import services_buynow as buynow
from opportunities.models import Enrollment, EnrollmentStatus, TriggerRun
from opportunities.services import opportunity_move
from opportunities.services_automation import (
    enrollment_start,
    sequence_create,
    trigger_action_create,
)
from tests.factories import LeadFactory, OpportunityFactory


@pytest.fixture
def nurture(admin):
    return sequence_create(
        actor=admin,
        name="Nurture",
        steps=[
            {"day_offset": 0, "kind": "task", "title": "Send the newsletter", "body": ""},
            {"day_offset": 30, "kind": "task", "title": "Check in again", "body": ""},
        ],
    )


def test_disqualifying_a_lead_starts_the_nurture_sequence_for_chosen_reasons(
    admin, rep, nurture, django_capture_on_commit_callbacks
):
    reasons = list(DisqualificationReason.objects.order_by("order")[:2])
    trigger_action_create(
        actor=admin,
        event="lead_disqualified",
        action="start_sequence",
        sequence=nurture,
        reasons=[reasons[0]],
    )
    chosen = LeadFactory(owner=rep)
    other = LeadFactory(owner=rep)
    with django_capture_on_commit_callbacks(execute=True):
        lead_disqualify(actor=rep, lead=chosen, reason=reasons[0])
        lead_disqualify(actor=rep, lead=other, reason=reasons[1])
    enrollment = Enrollment.objects.get()
    assert enrollment.lead == chosen
    assert enrollment.sequence == nurture
    assert enrollment.status == EnrollmentStatus.ACTIVE
    # The day-0 step ran at once: a task for the lead's owner.
    assert Task.objects.filter(lead=chosen, owner=rep, title="Send the newsletter").exists()
    assert not Task.objects.filter(lead=other).exists()


def test_an_action_without_reasons_nurtures_every_disqualified_lead(
    admin, rep, nurture, django_capture_on_commit_callbacks
):
    trigger_action_create(
        actor=admin, event="lead_disqualified", action="start_sequence", sequence=nurture
    )
    lead = LeadFactory(owner=rep)
    with django_capture_on_commit_callbacks(execute=True):
        lead_disqualify(actor=rep, lead=lead, reason=DisqualificationReason.objects.first())
    # Disqualifying again (a new reason) is a new occurrence, but the enrollment is once per
    # sequence while active.
    with django_capture_on_commit_callbacks(execute=True):
        lead_disqualify(actor=rep, lead=lead, reason=DisqualificationReason.objects.last())
    assert Enrollment.objects.filter(lead=lead).count() == 1
    assert TriggerRun.objects.count() == 2


def test_a_won_deal_stops_the_sequences_that_say_so(admin, rep, pipeline, nurture):
    keep = sequence_create(
        actor=admin,
        name="Onboarding",
        stop_when_closed=False,
        steps=[{"day_offset": 5, "kind": "task", "title": "Call", "body": ""}],
    )
    deal = OpportunityFactory(owner=rep, contact__owner=rep)
    stops, _ = enrollment_start(actor=rep, sequence=nurture, contact=deal.contact, opportunity=deal)
    stays, _ = enrollment_start(actor=rep, sequence=keep, contact=deal.contact, opportunity=deal)
    settings = pipeline["settings"]
    reason = pipeline["win_reasons"]["Price"]
    opportunity_move(actor=rep, opportunity=deal, stage=settings.win_stage, win_reason=reason)
    stops.refresh_from_db()
    stays.refresh_from_db()
    assert stops.status == EnrollmentStatus.STOPPED
    assert stays.status == EnrollmentStatus.ACTIVE


def test_buy_now_purchase_tags_the_contact_and_starts_the_sequence(
    admin, rep, pipeline, nurture, django_capture_on_commit_callbacks
):
    follow_up = sequence_create(
        actor=admin,
        name="After purchase",
        stop_when_closed=False,
        steps=[{"day_offset": 0, "kind": "task", "title": "Welcome call", "body": ""}],
    )
    trigger_action_create(
        actor=admin, event="buy_now_purchased", action="apply_tag", tag="Bought now"
    )
    trigger_action_create(
        actor=admin, event="buy_now_purchased", action="start_sequence", sequence=follow_up
    )
    trigger_action_create(actor=admin, event="buy_now_clicked", action="apply_tag", tag="Clicked")
    deal = OpportunityFactory(owner=rep, contact__owner=rep)
    link = buynow.buy_now_link_create(
        actor=rep, opportunity=deal, product="Plan", amount=Decimal("10.00")
    )
    for _ in range(2):  # a second click and a replayed purchase add nothing
        with django_capture_on_commit_callbacks(execute=True):
            buynow.buy_now_click(link=link)
        with django_capture_on_commit_callbacks(execute=True):
            buynow.buy_now_purchase(
                link=link, name="Ana", email="ana@example.com", provider="manual"
            )
    contact = deal.contact
    assert sorted(t.name for t in contact.tags.all()) == ["Bought now", "Clicked"]
    assert Enrollment.objects.get(contact=contact).sequence == follow_up
    assert Task.objects.filter(contact=contact, title="Welcome call", owner=rep).count() == 1
    assert TriggerRun.objects.count() == 3
    assert set(TriggerRun.objects.values_list("status", flat=True)) == {"done"}


def test_the_timeline_tells_what_the_automation_did(
    admin, rep, pipeline, rep_client, django_capture_on_commit_callbacks
):
    from django.urls import reverse

    sequence = sequence_create(
        actor=admin,
        name="Welcome",
        steps=[{"day_offset": 0, "kind": "task", "title": "Welcome call", "body": ""}],
    )
    trigger_action_create(actor=admin, event="buy_now_purchased", action="apply_tag", tag="VIP")
    trigger_action_create(
        actor=admin, event="buy_now_purchased", action="start_sequence", sequence=sequence
    )
    deal = OpportunityFactory(owner=rep, contact__owner=rep)
    link = buynow.buy_now_link_create(
        actor=rep, opportunity=deal, product="Plan", amount=Decimal("10.00")
    )
    with django_capture_on_commit_callbacks(execute=True):
        buynow.buy_now_purchase(link=link, name="Ana", email="ana@example.com", provider="m")
    body = rep_client.get(reverse("opportunity-detail", args=[deal.pk])).content.decode()
    assert "Automation (purchased via buy now): apply the tag “VIP”." in body
    assert "Automation (purchased via buy now): start the sequence “Welcome”." in body
    assert "The system enrolled this record in the sequence “Welcome”." in body
    assert "Sequence “Welcome”: added the task “Welcome call”." in body
