"""Issue #9.6 in the browser: the checkbox column, the toolbar and the confirmation page."""

from __future__ import annotations

import pytest
from django.urls import reverse

from crm.models import Contact, Event, EventKind
from leads.models import Lead, LeadSettings, LeadStatus
from opportunities.models import Opportunity, OpportunitySettings
from tests.factories import ContactFactory, LeadFactory, OpportunityFactory, UserFactory

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    "list_name,key,factory",
    [
        ("lead-list", "leads", lambda rep: LeadFactory(owner=rep)),
        ("contact-list", "contacts", lambda rep: ContactFactory(owner=rep)),
        (
            "opportunity-list",
            "opportunities",
            lambda rep: OpportunityFactory(contact=ContactFactory(owner=rep), owner=rep),
        ),
    ],
)
def test_lists_have_a_checkbox_column_select_all_and_the_toolbar(
    rep_client, rep, list_name, key, factory
):
    obj = factory(rep)
    html = rep_client.get(reverse(list_name)).content.decode()
    assert f'action="{reverse("bulk-action", args=[key])}" id="bulk-form"' in html
    assert f'name="ids" value="{obj.pk}"' in html and 'form="bulk-form"' in html
    assert 'data-select-all="bulk-form" aria-label="Select all on this page"' in html
    assert f'aria-label="Select {obj}"' in html
    assert html.count('<th scope="col" class="select-cell">') == 1


def test_confirmation_states_how_many_then_changes_them(rep_client, rep):
    target = UserFactory(first_name="Tess", last_name="Target")
    leads = LeadFactory.create_batch(3, owner=rep)
    LeadFactory(owner=rep, status=LeadStatus.NEW)  # not ticked
    list_url = reverse("lead-list") + "?sort=name"
    data = {"ids": [x.pk for x in leads], "action": "assign", "owner": target.pk, "next": list_url}
    url = reverse("bulk-action", args=["leads"])
    page = rep_client.post(url, data)
    html = page.content.decode()
    assert page.status_code == 200
    assert "3 leads will be reassigned to Tess Target." in html
    assert 'name="confirm" value="1"' in html
    assert not Event.objects.filter(kind=EventKind.OWNER_CHANGED).exists()  # nothing yet
    response = rep_client.post(url, {**data, "confirm": "1"})
    assert response.status_code == 302 and response["Location"] == list_url
    assert Lead.objects.filter(owner=target).count() == 3
    assert Event.objects.filter(kind=EventKind.OWNER_CHANGED).count() == 3
    html = rep_client.get(list_url).content.decode()
    assert "Change owner: 3 records changed." in html


def test_a_broken_rule_shows_the_confirmation_again_with_the_error(rep_client, rep):
    LeadSettings.objects.update_or_create(pk=1, defaults={"ask_disqualification_reason": True})
    leads = LeadFactory.create_batch(2, owner=rep)
    url = reverse("bulk-action", args=["leads"])
    data = {"ids": [x.pk for x in leads], "action": "disqualify", "confirm": "1"}
    response = rep_client.post(url, data)
    assert response.status_code == 400
    html = response.content.decode()
    assert "Choose a disqualification reason." in html
    assert "2 leads will be disqualified." in html
    assert not Lead.objects.filter(status=LeadStatus.UNQUALIFIED).exists()


def test_move_needs_the_win_reason_on_the_page_too(rep_client, rep):
    OpportunitySettings.objects.filter(pk=1).update(require_win_reason=True)
    settings = OpportunitySettings.objects.get(pk=1)
    opp = OpportunityFactory(contact=ContactFactory(owner=rep), owner=rep)
    url = reverse("bulk-action", args=["opportunities"])
    data = {"ids": [opp.pk], "action": "move", "stage": settings.win_stage_id, "confirm": "1"}
    response = rep_client.post(url, data)
    assert response.status_code == 400
    assert "Choose why this deal was won." in response.content.decode()
    assert Opportunity.objects.get(pk=opp.pk).stage_id != settings.win_stage_id


def test_invisible_rows_are_404_and_bad_input_a_message(rep_client, rep, other_rep):
    theirs = ContactFactory(owner=other_rep)
    mine = ContactFactory(owner=rep)
    url = reverse("bulk-action", args=["contacts"])
    response = rep_client.post(
        url, {"ids": [mine.pk, theirs.pk], "action": "tag", "tag": "x", "confirm": "1"}
    )
    assert response.status_code == 404
    assert not Contact.objects.filter(tags__isnull=False).exists()
    response = rep_client.post(url, {"action": "tag", "tag": "x"}, follow=True)
    assert response.status_code == 200 and "Tick at least one row." in response.content.decode()
    response = rep_client.post(url, {"ids": [mine.pk], "action": "assign"}, follow=True)
    assert "Choose the new owner." in response.content.decode()
    assert rep_client.post(reverse("bulk-action", args=["users"]), {}).status_code == 404
    assert rep_client.get(url).status_code == 405
