"""Mass assignment beyond leads and contacts: every other writable resource of the API.

A request that names read-only fields (ids, timestamps, counts, statuses that only actions
change, who created a row) has them ignored; one that names a link the caller may not make (an
inactive owner, an owner outside the assign-to group, a record out of the caller's reach, an
archived stage) or that a rep may not make at all (settings, admin lists) is refused with the
contract's 400/403/404. Either way the stored rows are compared column by column (a fresh
``values()`` read, so non-editable columns such as ``created_at`` count too), and a refused
request writes no ``Event``.
"""

import datetime as dt
from decimal import Decimal

import pytest
from django.urls import reverse
from django.utils import timezone

from crm.models import Account, Event, SavedView, Task, Team, User
from leads.models import DisqualificationReason, LeadSettings, Rating
from opportunities import services as opp_services
from opportunities.models import (
    BuyNowLink,
    Enrollment,
    LossReason,
    Opportunity,
    OpportunitySettings,
    Sequence,
    Stage,
    TriggerAction,
    WinReason,
)
from scoring.models import Criterion, ScoringSettings
from tests.factories import (
    AccountFactory,
    ContactFactory,
    LeadFactory,
    OpportunityFactory,
    SequenceFactory,
    SequenceStepFactory,
    TaskFactory,
    TeamFactory,
    TriggerActionFactory,
    UserFactory,
)

pytestmark = pytest.mark.django_db

STAMP = "2001-01-01T00:00:00Z"


def _row(obj, *, keep_updated_at: bool = True) -> dict:
    """Every column of ``obj`` as stored now (``updated_at`` aside when an accepted write may
    touch it)."""
    row = type(obj)._base_manager.filter(pk=obj.pk).values().get()
    if not keep_updated_at:
        row.pop("updated_at", None)
    return row


def _rows(*objs, keep_updated_at: bool = True) -> list[dict]:
    return [_row(o, keep_updated_at=keep_updated_at) for o in objs]


def _events() -> int:
    return Event.objects.count()


def _assert_refused(response, codes, field=None):
    assert response.status_code in codes, (response.status_code, response.content)
    if field is not None:
        assert field in response.json(), response.json()


def _team(*members) -> Team:
    team = TeamFactory()
    team.members.set(members)
    return team


def _settings() -> OpportunitySettings:
    return OpportunitySettings.objects.get(pk=1)


# --- accounts ------------------------------------------------------------------------------------


def test_account_read_only_fields_are_ignored(rep, rep_api):
    account = AccountFactory(owner=rep)
    before, events = _row(account), _events()
    response = rep_api.patch(
        f"/api/v1/accounts/{account.pk}/",
        {"id": 999999, "created_at": STAMP, "updated_at": STAMP, "archived_at": STAMP},
        format="json",
    )
    assert response.status_code == 200, response.content
    assert _row(account) == before
    assert _events() == events
    assert Account.objects.count() == 1


def test_account_created_with_read_only_fields_gets_its_own(rep, rep_api):
    response = rep_api.post(
        "/api/v1/accounts/",
        {"name": "Acme", "id": 424242, "created_at": STAMP, "archived_at": STAMP},
        format="json",
    )
    assert response.status_code == 201, response.content
    account = Account.objects.get()
    assert account.pk != 424242
    assert account.created_at.year == timezone.now().year
    assert account.archived_at is None
    assert account.owner == rep


@pytest.mark.parametrize("who", ["inactive", "missing"])
def test_account_owner_who_may_not_own_is_refused(rep, rep_api, who):
    owner_id = UserFactory(is_active=False).pk if who == "inactive" else 987654
    account = AccountFactory(owner=rep)
    before, events = _row(account), _events()
    response = rep_api.patch(
        f"/api/v1/accounts/{account.pk}/", {"owner": owner_id, "name": "Changed"}, format="json"
    )
    _assert_refused(response, {400}, "owner")
    assert _row(account) == before
    assert _events() == events


def test_account_of_another_rep_is_404_and_unchanged(rep_api, other_rep):
    account = AccountFactory(owner=other_rep)
    before, events = _row(account), _events()
    for method in ("patch", "put"):
        response = getattr(rep_api, method)(
            f"/api/v1/accounts/{account.pk}/", {"name": "Mine", "owner": None}, format="json"
        )
        assert response.status_code == 404
    assert _row(account) == before
    assert _events() == events


# --- contacts: links the rep may not make ---------------------------------------------------------


def test_contact_account_out_of_reach_is_refused(rep, rep_api, other_rep):
    contact = ContactFactory(owner=rep, account=None)
    foreign = AccountFactory(owner=other_rep)
    before, events = _row(contact), _events()
    response = rep_api.patch(
        f"/api/v1/contacts/{contact.pk}/",
        {"account": foreign.pk, "first_name": "Changed"},
        format="json",
    )
    _assert_refused(response, {400}, "account")
    assert _row(contact) == before
    assert _events() == events


def test_contact_created_on_an_account_out_of_reach_is_refused(rep_api, other_rep):
    foreign = AccountFactory(owner=other_rep)
    events = _events()
    response = rep_api.post(
        "/api/v1/contacts/", {"last_name": "Doe", "account": foreign.pk}, format="json"
    )
    _assert_refused(response, {400}, "account")
    assert not foreign.contacts.exists()
    assert _events() == events


def _shared_contact(owner, grantee):
    """A contact ``grantee`` sees only through the sharing rules (a deal of it shared)."""
    contact = ContactFactory(owner=owner)
    opportunity = OpportunityFactory(contact=contact)
    opp_services.opportunity_share(actor=owner, opportunity=opportunity, user=grantee)
    return contact


def test_a_rep_who_sees_a_contact_through_sharing_cannot_take_it(rep, other_rep, other_rep_api):
    contact = _shared_contact(rep, other_rep)
    before, events = _row(contact), _events()
    response = other_rep_api.patch(
        f"/api/v1/contacts/{contact.pk}/",
        {"owner": other_rep.pk, "first_name": "Changed"},
        format="json",
    )
    _assert_refused(response, {403})
    assert response.json() == {
        "detail": "Only the owner of the contact or an administrator can do this."
    }
    response = other_rep_api.post(
        "/api/v1/contacts/bulk/",
        {"ids": [contact.pk], "action": "assign", "owner": other_rep.pk},
        format="json",
    )
    _assert_refused(response, {403})
    assert _row(contact) == before
    assert _events() == events


def test_a_rep_who_sees_a_contact_through_sharing_still_edits_it(rep, other_rep, other_rep_api):
    """Working the contact is allowed: an edit that sends back its owner unchanged goes through."""
    contact = _shared_contact(rep, other_rep)
    response = other_rep_api.patch(
        f"/api/v1/contacts/{contact.pk}/",
        {"owner": rep.pk, "phone": "+34 600 11 22 33"},
        format="json",
    )
    assert response.status_code == 200, response.content
    contact.refresh_from_db()
    assert contact.owner == rep
    assert contact.phone == "+34 600 11 22 33"


def test_the_owner_and_an_admin_may_hand_a_contact_over(rep, rep_api, admin_api, other_rep):
    contact = ContactFactory(owner=rep)
    response = rep_api.patch(
        f"/api/v1/contacts/{contact.pk}/", {"owner": other_rep.pk}, format="json"
    )
    assert response.status_code == 200, response.content
    response = admin_api.post(
        "/api/v1/contacts/bulk/",
        {"ids": [contact.pk], "action": "assign", "owner": rep.pk},
        format="json",
    )
    assert response.status_code == 200, response.content
    contact.refresh_from_db()
    assert contact.owner == rep


def test_contact_grantee_refusal_in_spanish(rep, other_rep, other_rep_api):
    contact = _shared_contact(rep, other_rep)
    response = other_rep_api.patch(
        f"/api/v1/contacts/{contact.pk}/",
        {"owner": other_rep.pk},
        format="json",
        HTTP_ACCEPT_LANGUAGE="es",
    )
    assert response.status_code == 403
    assert response.json() == {
        "detail": "Solo el propietario del contacto o un administrador puede hacer esto."
    }


def test_contact_page_of_a_grantee_cannot_change_the_owner(client, rep, other_rep):
    contact = _shared_contact(rep, other_rep)
    before, events = _row(contact), _events()
    client.force_login(other_rep)
    response = client.post(
        reverse("contact-edit", args=[contact.pk]),
        {"first_name": "Changed", "last_name": contact.last_name, "owner": other_rep.pk},
    )
    assert response.status_code == 403
    assert _row(contact) == before
    assert _events() == events


# --- opportunities -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "payload",
    [
        {"id": 999999},
        {"closed_at": STAMP, "stage_entered_at": STAMP, "created_at": STAMP},
        {"shared_with": [999], "next_activity": {"state": "none"}, "rotting": True},
        {"lead": 1},
        {"archived_at": STAMP, "in_active_stage": False},
    ],
    ids=["id", "timestamps", "computed", "lead", "archive-flags"],
)
def test_opportunity_read_only_fields_are_ignored(rep, rep_api, other_rep, payload):
    if "lead" in payload:
        payload = {"lead": LeadFactory(owner=rep).pk}
    if "shared_with" in payload:
        payload = {**payload, "shared_with": [other_rep.pk]}
    opportunity = OpportunityFactory(contact=ContactFactory(owner=rep))
    before, events = _row(opportunity), _events()
    response = rep_api.patch(f"/api/v1/opportunities/{opportunity.pk}/", payload, format="json")
    assert response.status_code == 200, response.content
    assert _row(opportunity) == before
    assert not opportunity.shares.exists()
    assert _events() == events


@pytest.mark.parametrize("status", ["won", "lost", "open"])
def test_opportunity_status_is_refused(rep, rep_api, status):
    opportunity = OpportunityFactory(contact=ContactFactory(owner=rep))
    before, events = _row(opportunity), _events()
    response = rep_api.patch(
        f"/api/v1/opportunities/{opportunity.pk}/",
        {"status": status, "name": "Changed"},
        format="json",
    )
    _assert_refused(response, {400}, "status")
    assert _row(opportunity) == before
    assert _events() == events


def test_opportunity_win_stage_without_required_reason_changes_nothing(rep, rep_api):
    """A PATCH that edits fields and moves to the win stage without the required reason: the
    whole request is refused, the edits too."""
    settings = _settings()
    assert settings.require_win_reason and settings.win_stage_id
    opportunity = OpportunityFactory(contact=ContactFactory(owner=rep))
    before, events = _row(opportunity), _events()
    response = rep_api.patch(
        f"/api/v1/opportunities/{opportunity.pk}/",
        {"name": "Renamed", "amount": "5.00", "stage": settings.win_stage_id},
        format="json",
    )
    _assert_refused(response, {400}, "win_reason")
    assert _row(opportunity) == before
    assert _events() == events


def test_opportunity_reason_of_an_open_deal_is_not_kept(rep, rep_api):
    """A win or loss reason belongs to a closed deal: on an open one the PATCH stores none."""
    opportunity = OpportunityFactory(contact=ContactFactory(owner=rep))
    win = WinReason.objects.filter(archived_at__isnull=True).first()
    loss = LossReason.objects.filter(archived_at__isnull=True).first()
    before, events = _row(opportunity), _events()
    response = rep_api.patch(
        f"/api/v1/opportunities/{opportunity.pk}/",
        {"win_reason": win.pk, "loss_reason": loss.pk},
        format="json",
    )
    assert response.status_code == 200, response.content
    assert _row(opportunity) == before
    assert _events() == events


def test_opportunity_archived_stage_is_refused(rep, rep_api):
    opportunity = OpportunityFactory(contact=ContactFactory(owner=rep))
    stage = Stage.objects.create(name="Old", order=99, archived_at=timezone.now())
    before, events = _row(opportunity), _events()
    response = rep_api.patch(
        f"/api/v1/opportunities/{opportunity.pk}/", {"stage": stage.pk}, format="json"
    )
    _assert_refused(response, {400}, "stage")
    assert _row(opportunity) == before
    assert _events() == events


def test_opportunity_contact_out_of_reach_is_refused(rep, rep_api, other_rep):
    opportunity = OpportunityFactory(contact=ContactFactory(owner=rep))
    foreign = ContactFactory(owner=other_rep)
    before, events = _row(opportunity), _events()
    response = rep_api.patch(
        f"/api/v1/opportunities/{opportunity.pk}/", {"contact": foreign.pk}, format="json"
    )
    _assert_refused(response, {400}, "contact")
    assert _row(opportunity) == before
    assert _events() == events


def test_opportunity_created_on_a_contact_out_of_reach_is_refused(rep_api, other_rep):
    foreign = ContactFactory(owner=other_rep)
    events = _events()
    response = rep_api.post(
        "/api/v1/opportunities/", {"name": "Steal", "contact": foreign.pk}, format="json"
    )
    _assert_refused(response, {400}, "contact")
    assert not Opportunity.objects.exists()
    assert _events() == events


def test_opportunity_created_with_status_is_refused(rep, rep_api):
    contact = ContactFactory(owner=rep)
    events = _events()
    response = rep_api.post(
        "/api/v1/opportunities/",
        {"name": "Deal", "contact": contact.pk, "status": "won", "closed_at": STAMP},
        format="json",
    )
    _assert_refused(response, {400}, "status")
    assert not Opportunity.objects.exists()
    assert _events() == events


def test_opportunity_created_with_read_only_fields_gets_its_own(rep, rep_api):
    contact = ContactFactory(owner=rep)
    lead = LeadFactory(owner=rep)
    response = rep_api.post(
        "/api/v1/opportunities/",
        {
            "name": "Deal",
            "contact": contact.pk,
            "closed_at": STAMP,
            "stage_entered_at": STAMP,
            "created_at": STAMP,
            "lead": lead.pk,
            "shared_with": [rep.pk],
        },
        format="json",
    )
    assert response.status_code == 201, response.content
    opportunity = Opportunity.objects.get()
    assert opportunity.status == "open"
    assert opportunity.closed_at is None
    assert opportunity.lead_id is None
    assert opportunity.stage_entered_at.year == timezone.now().year
    assert opportunity.created_at.year == timezone.now().year
    assert not opportunity.shares.exists()


@pytest.mark.parametrize("who", ["inactive", "outside-group"])
def test_opportunity_owner_who_may_not_own_is_refused(rep, rep_api, who):
    newcomer = UserFactory(is_active=who != "inactive")
    if who == "outside-group":
        settings = _settings()
        settings.assign_to_group = _team(rep)
        settings.save()
    opportunity = OpportunityFactory(contact=ContactFactory(owner=rep))
    before, events = _row(opportunity), _events()
    response = rep_api.patch(
        f"/api/v1/opportunities/{opportunity.pk}/",
        {"owner": newcomer.pk, "name": "Changed"},
        format="json",
    )
    _assert_refused(response, {400}, "owner")
    assert _row(opportunity) == before
    assert _events() == events


def test_opportunity_a_rep_it_is_shared_with_cannot_take_it(rep, other_rep, other_rep_api):
    opportunity = OpportunityFactory(contact=ContactFactory(owner=rep))
    opp_services.opportunity_share(actor=rep, opportunity=opportunity, user=other_rep)
    before, events = _row(opportunity), _events()
    response = other_rep_api.patch(
        f"/api/v1/opportunities/{opportunity.pk}/",
        {"owner": other_rep.pk, "name": "Mine now"},
        format="json",
    )
    _assert_refused(response, {403})
    assert _row(opportunity) == before
    assert _events() == events


def test_opportunity_of_another_rep_is_404_and_unchanged(rep_api, other_rep):
    opportunity = OpportunityFactory(contact=ContactFactory(owner=other_rep))
    before, events = _row(opportunity), _events()
    response = rep_api.patch(
        f"/api/v1/opportunities/{opportunity.pk}/", {"name": "Mine"}, format="json"
    )
    assert response.status_code == 404
    assert _row(opportunity) == before
    assert _events() == events


def test_sharing_with_an_inactive_user_is_refused(rep, rep_api):
    opportunity = OpportunityFactory(contact=ContactFactory(owner=rep))
    inactive = UserFactory(is_active=False)
    events = _events()
    response = rep_api.post(
        f"/api/v1/opportunities/{opportunity.pk}/share/", {"user": inactive.pk}, format="json"
    )
    _assert_refused(response, {400}, "user")
    assert not opportunity.shares.exists()
    assert _events() == events


@pytest.mark.parametrize("action", ["share", "unshare"])
def test_a_rep_it_is_shared_with_cannot_share_it_on(rep, other_rep, other_rep_api, action):
    opportunity = OpportunityFactory(contact=ContactFactory(owner=rep))
    opp_services.opportunity_share(actor=rep, opportunity=opportunity, user=other_rep)
    third = UserFactory()
    if action == "unshare":
        opp_services.opportunity_share(actor=rep, opportunity=opportunity, user=third)
    shares = sorted(opportunity.shares.values_list("user_id", flat=True))
    before, events = _row(opportunity), _events()
    response = other_rep_api.post(
        f"/api/v1/opportunities/{opportunity.pk}/{action}/", {"user": third.pk}, format="json"
    )
    _assert_refused(response, {403})
    assert sorted(opportunity.shares.values_list("user_id", flat=True)) == shares
    assert _row(opportunity) == before
    assert _events() == events


def test_opportunity_created_for_an_owner_outside_the_group_is_refused(rep, rep_api):
    settings = _settings()
    settings.assign_to_group = _team(rep)
    settings.save()
    outsider = UserFactory()
    contact = ContactFactory(owner=rep)
    events = _events()
    response = rep_api.post(
        "/api/v1/opportunities/",
        {"name": "Deal", "contact": contact.pk, "owner": outsider.pk},
        format="json",
    )
    _assert_refused(response, {400}, "owner")
    response = rep_api.post(
        "/api/v1/opportunities/ensure/",
        {"name": "Deal", "contact": contact.pk, "owner": outsider.pk},
        format="json",
    )
    _assert_refused(response, {400}, "owner")
    assert not Opportunity.objects.exists()
    assert _events() == events


def test_ensure_on_a_contact_out_of_reach_is_refused(rep_api, other_rep):
    foreign = ContactFactory(owner=other_rep)
    events = _events()
    response = rep_api.post(
        "/api/v1/opportunities/ensure/", {"contact": foreign.pk, "name": "Steal"}, format="json"
    )
    _assert_refused(response, {400, 404}, None)
    assert not Opportunity.objects.exists()
    assert _events() == events


# --- buy-now links -------------------------------------------------------------------------------


def test_buy_now_link_read_only_fields_are_ignored(rep, rep_api, other_rep):
    opportunity = OpportunityFactory(contact=ContactFactory(owner=rep))
    response = rep_api.post(
        f"/api/v1/opportunities/{opportunity.pk}/buy-now-links/",
        {
            "product": "Plan",
            "amount": "10.00",
            "id": 777,
            "url": "https://evil.example/",
            "expires_at": STAMP,
            "status": "purchased",
            "click_count": 50,
            "first_clicked_at": STAMP,
            "purchased_at": STAMP,
            "created_at": STAMP,
            "created_by": other_rep.pk,
            "opportunity": 1,
            "key": "k" * 40,
        },
        format="json",
    )
    assert response.status_code == 201, response.content
    link = BuyNowLink.objects.get()
    assert link.pk != 777
    assert link.opportunity == opportunity
    assert link.created_by == rep
    assert link.click_count == 0
    assert link.first_clicked_at is None and link.purchased_at is None
    assert link.key != "k" * 40
    assert link.expires_at > timezone.now()
    assert link.created_at.year == timezone.now().year
    assert "evil" not in response.json()["url"]


def test_buy_now_link_on_a_deal_out_of_reach_is_404(rep_api, other_rep):
    opportunity = OpportunityFactory(contact=ContactFactory(owner=other_rep))
    events = _events()
    response = rep_api.post(
        f"/api/v1/opportunities/{opportunity.pk}/buy-now-links/",
        {"product": "Plan", "amount": "10.00"},
        format="json",
    )
    assert response.status_code == 404
    assert not BuyNowLink.objects.exists()
    assert _events() == events


# --- tasks ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "payload",
    [
        {"id": 999999},
        {"completed_at": STAMP, "created_at": STAMP, "updated_at": STAMP},
        {"is_follow_up": True, "priority": 1, "superseded_at": STAMP, "source_event": 1},
        {"archived_at": STAMP},
    ],
    ids=["id", "timestamps", "follow-up-bookkeeping", "archived"],
)
def test_task_read_only_fields_are_ignored(rep, rep_api, payload):
    task = TaskFactory(owner=rep)
    before, events = _row(task), _events()
    response = rep_api.patch(f"/api/v1/tasks/{task.pk}/", payload, format="json")
    assert response.status_code == 200, response.content
    assert _row(task) == before
    assert _events() == events


def test_task_done_sets_its_own_completion_time(rep, rep_api):
    task = TaskFactory(owner=rep)
    response = rep_api.patch(
        f"/api/v1/tasks/{task.pk}/", {"done": True, "completed_at": STAMP}, format="json"
    )
    assert response.status_code == 200, response.content
    task.refresh_from_db()
    assert task.done is True
    assert task.completed_at.year == timezone.now().year


def test_task_created_with_read_only_fields_gets_its_own(rep, rep_api):
    response = rep_api.post(
        "/api/v1/tasks/",
        {
            "title": "Call",
            "due_on": "2030-01-01",
            "id": 5555,
            "completed_at": STAMP,
            "created_at": STAMP,
            "is_follow_up": True,
            "priority": 1,
            "archived_at": STAMP,
        },
        format="json",
    )
    assert response.status_code == 201, response.content
    task = Task.objects.get()
    assert task.pk != 5555
    assert task.completed_at is None and task.done is False
    assert task.is_follow_up is False and task.priority == 100
    assert task.archived_at is None
    assert task.created_at.year == timezone.now().year
    assert task.owner == rep


@pytest.mark.parametrize("link", ["lead", "contact", "opportunity"])
def test_task_link_out_of_reach_is_refused(rep, rep_api, other_rep, link):
    foreign = {
        "lead": lambda: LeadFactory(owner=other_rep),
        "contact": lambda: ContactFactory(owner=other_rep),
        "opportunity": lambda: OpportunityFactory(contact=ContactFactory(owner=other_rep)),
    }[link]()
    task = TaskFactory(owner=rep)
    before, events = _row(task), _events()
    response = rep_api.patch(
        f"/api/v1/tasks/{task.pk}/", {link: foreign.pk, "title": "Changed"}, format="json"
    )
    _assert_refused(response, {400}, link)
    assert _row(task) == before
    assert _events() == events
    response = rep_api.post(
        "/api/v1/tasks/", {"title": "Spy", "due_on": "2030-01-01", link: foreign.pk}, format="json"
    )
    _assert_refused(response, {400}, link)
    assert Task.objects.count() == 1
    assert _events() == events


def test_task_owner_inactive_is_refused(rep, rep_api):
    task = TaskFactory(owner=rep)
    inactive = UserFactory(is_active=False)
    before, events = _row(task), _events()
    response = rep_api.patch(
        f"/api/v1/tasks/{task.pk}/", {"owner": inactive.pk, "title": "Changed"}, format="json"
    )
    _assert_refused(response, {400}, "owner")
    assert _row(task) == before
    assert _events() == events


def test_task_of_another_rep_is_404_and_unchanged(rep_api, other_rep):
    task = TaskFactory(owner=other_rep)
    before, events = _row(task), _events()
    response = rep_api.patch(f"/api/v1/tasks/{task.pk}/", {"done": True}, format="json")
    assert response.status_code == 404
    response = rep_api.post(f"/api/v1/tasks/{task.pk}/complete/", {}, format="json")
    assert response.status_code == 404
    assert _row(task) == before
    assert _events() == events


# --- users and teams -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "payload",
    [
        {"id": 999999, "username": "renamed"},
        {"password": "new-pass-word-1", "is_superuser": True, "is_staff": True},
        {"last_login": STAMP, "date_joined": STAMP},
    ],
    ids=["id-username", "password-superuser", "timestamps"],
)
def test_user_read_only_fields_are_ignored_for_an_admin(admin_api, payload):
    user = UserFactory()
    before, events = _row(user), _events()
    response = admin_api.patch(f"/api/v1/users/{user.pk}/", payload, format="json")
    assert response.status_code == 200, response.content
    assert _row(user) == before
    assert _events() == events


def test_user_created_with_extra_fields_gets_none_of_them(admin_api):
    response = admin_api.post(
        "/api/v1/users/",
        {
            "username": "newbie",
            "password": "pass-word-123",
            "id": 31337,
            "is_superuser": True,
            "is_staff": True,
            "is_active": False,
            "date_joined": STAMP,
        },
        format="json",
    )
    assert response.status_code == 201, response.content
    user = User.objects.get(username="newbie")
    assert user.pk != 31337
    assert not user.is_superuser and not user.is_staff
    assert user.is_active
    assert user.role == "rep"


@pytest.mark.parametrize(
    "payload",
    [{"role": "admin"}, {"is_active": False}, {"first_name": "Changed"}],
    ids=["promote", "deactivate", "rename"],
)
def test_a_rep_cannot_write_users(rep, rep_api, other_rep, payload):
    before, events = _rows(rep, other_rep), _events()
    for target in (rep, other_rep):
        response = rep_api.patch(f"/api/v1/users/{target.pk}/", payload, format="json")
        assert response.status_code == 403
    assert rep_api.patch("/api/v1/users/me/", payload, format="json").status_code == 405
    response = rep_api.post(
        "/api/v1/users/", {"username": "x", "password": "pass-word-123"}, format="json"
    )
    assert response.status_code == 403
    assert _rows(rep, other_rep) == before
    assert not User.objects.filter(username="x").exists()
    assert _events() == events


def test_an_admin_cannot_demote_or_deactivate_themselves(admin, admin_api):
    before, events = _row(admin), _events()
    for payload in ({"role": "rep"}, {"is_active": False}):
        response = admin_api.patch(f"/api/v1/users/{admin.pk}/", payload, format="json")
        assert response.status_code == 400
    assert _row(admin) == before
    assert _events() == events


def test_team_read_only_fields_are_ignored(admin_api, rep):
    team = _team(rep)
    before, events = _row(team), _events()
    response = admin_api.patch(
        f"/api/v1/teams/{team.pk}/", {"id": 999999, "created_at": STAMP}, format="json"
    )
    assert response.status_code == 200, response.content
    assert _row(team) == before
    assert list(team.members.all()) == [rep]
    assert _events() == events


def test_a_rep_cannot_write_teams(rep, rep_api, other_rep):
    team = _team(other_rep)
    before, events = _row(team), _events()
    response = rep_api.patch(
        f"/api/v1/teams/{team.pk}/", {"members": [rep.pk], "name": "Mine"}, format="json"
    )
    assert response.status_code == 403
    response = rep_api.post("/api/v1/teams/", {"name": "New", "members": [rep.pk]}, format="json")
    assert response.status_code == 403
    assert _row(team) == before
    assert list(team.members.all()) == [other_rep]
    assert Team.objects.count() == 1
    assert _events() == events


# --- admin lists: reasons, ratings, stages, criteria, trigger actions, sequences ----------------


def _reason(model):
    return model.objects.create(name=f"Reason {model.__name__}", order=50)


LISTS = {
    "disqualification-reasons": lambda: _reason(DisqualificationReason),
    "win-reasons": lambda: _reason(WinReason),
    "loss-reasons": lambda: _reason(LossReason),
    "ratings": lambda: Rating.objects.create(name="Lukewarm", order=50, follow_up_days=3),
    "stages": lambda: Stage.objects.create(name="Extra", order=50, probability=10),
}


@pytest.mark.parametrize("resource", sorted(LISTS))
def test_admin_list_read_only_fields_are_ignored(admin_api, resource):
    obj = LISTS[resource]()
    obj.archived_at = timezone.now()
    obj.save()
    before, events = _row(obj), _events()
    response = admin_api.patch(
        f"/api/v1/{resource}/{obj.pk}/",
        {"id": 999999, "order": 1, "archived": False, "usage_count": 99, "created_at": STAMP},
        format="json",
    )
    assert response.status_code == 200, response.content
    assert _row(obj) == before
    assert _events() == events


@pytest.mark.parametrize("resource", sorted(LISTS))
def test_admin_list_created_with_read_only_fields_gets_its_own(admin_api, resource):
    payload = {"name": "Brand new", "id": 4242, "order": 0, "archived": True, "usage_count": 9}
    response = admin_api.post(f"/api/v1/{resource}/", payload, format="json")
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["id"] != 4242
    assert body["archived"] is False
    model = {
        "disqualification-reasons": DisqualificationReason,
        "win-reasons": WinReason,
        "loss-reasons": LossReason,
        "ratings": Rating,
        "stages": Stage,
    }[resource]
    obj = model.objects.get(pk=body["id"])
    assert obj.archived_at is None
    assert obj.order == max(model.objects.values_list("order", flat=True))


@pytest.mark.parametrize("resource", sorted(LISTS))
def test_a_rep_cannot_write_admin_lists(rep_api, resource):
    obj = LISTS[resource]()
    before, events, count = _row(obj), _events(), type(obj).objects.count()
    assert (
        rep_api.patch(f"/api/v1/{resource}/{obj.pk}/", {"name": "X"}, format="json").status_code
        == 403
    )
    assert rep_api.post(f"/api/v1/{resource}/", {"name": "Y"}, format="json").status_code == 403
    assert rep_api.delete(f"/api/v1/{resource}/{obj.pk}/").status_code == 403
    response = rep_api.post(f"/api/v1/{resource}/reorder/", {"ids": [obj.pk]}, format="json")
    assert response.status_code == 403
    assert _row(obj) == before
    assert type(obj).objects.count() == count
    assert _events() == events


def test_criterion_id_is_ignored_and_reps_cannot_write(admin_api, rep_api):
    criterion = Criterion.objects.create(
        name="Big", field="company_size", operator="eq", value="x", points=5
    )
    before, events = _row(criterion), _events()
    response = admin_api.patch(
        f"/api/v1/scoring/criteria/{criterion.pk}/", {"id": 999999}, format="json"
    )
    assert response.status_code == 200, response.content
    assert _row(criterion) == before
    response = rep_api.patch(
        f"/api/v1/scoring/criteria/{criterion.pk}/", {"points": 1000}, format="json"
    )
    assert response.status_code == 403
    assert rep_api.post("/api/v1/scoring/rescore/").status_code == 403
    assert _row(criterion) == before
    assert _events() == events


def test_trigger_action_read_only_fields_are_ignored(admin_api):
    trigger = TriggerActionFactory()
    before, events = _row(trigger), _events()
    response = admin_api.patch(
        f"/api/v1/trigger-actions/{trigger.pk}/",
        {"id": 999999, "created_at": STAMP, "run_count": 50, "failed_count": 9},
        format="json",
    )
    assert response.status_code == 200, response.content
    assert _row(trigger) == before
    assert _events() == events


def test_a_rep_cannot_write_trigger_actions(rep_api):
    trigger = TriggerActionFactory()
    before, events = _row(trigger), _events()
    response = rep_api.patch(
        f"/api/v1/trigger-actions/{trigger.pk}/", {"action": "apply_tag", "tag": "x"}, format="json"
    )
    assert response.status_code == 403
    response = rep_api.post(
        "/api/v1/trigger-actions/",
        {"event": "buy_now_clicked", "action": "email_owner"},
        format="json",
    )
    assert response.status_code == 403
    assert _row(trigger) == before
    assert TriggerAction.objects.count() == 1
    assert _events() == events


def test_sequence_read_only_fields_are_ignored(admin_api):
    sequence = SequenceFactory()
    step = SequenceStepFactory(sequence=sequence, position=1)
    before, step_before, events = _row(sequence), _row(step), _events()
    response = admin_api.patch(
        f"/api/v1/sequences/{sequence.pk}/",
        {
            "id": 999999,
            "created_at": STAMP,
            "archived": True,
            "active_count": 7,
            "enrollment_count": 7,
        },
        format="json",
    )
    assert response.status_code == 200, response.content
    assert _row(sequence) == before
    assert _row(step) == step_before
    assert _events() == events


def test_a_rep_cannot_write_sequences(rep_api):
    sequence = SequenceFactory()
    before, events = _row(sequence), _events()
    response = rep_api.patch(
        f"/api/v1/sequences/{sequence.pk}/", {"name": "Mine", "steps": []}, format="json"
    )
    assert response.status_code == 403
    assert rep_api.delete(f"/api/v1/sequences/{sequence.pk}/").status_code == 403
    assert _row(sequence) == before
    assert Sequence.objects.count() == 1
    assert _events() == events


@pytest.mark.parametrize("link", ["contact", "lead", "opportunity"])
def test_enrolling_a_record_out_of_reach_is_404(rep, rep_api, other_rep, link):
    sequence = SequenceFactory()
    SequenceStepFactory(sequence=sequence)
    foreign = {
        "contact": lambda: ContactFactory(owner=other_rep),
        "lead": lambda: LeadFactory(owner=other_rep),
        "opportunity": lambda: OpportunityFactory(contact=ContactFactory(owner=other_rep)),
    }[link]()
    events = _events()
    response = rep_api.post(
        f"/api/v1/sequences/{sequence.pk}/enroll/", {link: foreign.pk}, format="json"
    )
    assert response.status_code == 404
    assert not Enrollment.objects.exists()
    assert _events() == events


def test_enrollment_fields_beyond_the_record_are_ignored(rep, rep_api, other_rep):
    sequence = SequenceFactory()
    SequenceStepFactory(sequence=sequence)
    contact = ContactFactory(owner=rep)
    response = rep_api.post(
        f"/api/v1/sequences/{sequence.pk}/enroll/",
        {
            "contact": contact.pk,
            "owner": other_rep.pk,
            "enrolled_by": other_rep.pk,
            "status": "stopped",
            "started_on": "2001-01-01",
        },
        format="json",
    )
    assert response.status_code == 201, response.content
    enrollment = Enrollment.objects.get()
    assert enrollment.enrolled_by == rep
    assert enrollment.owner == rep
    assert enrollment.status == "active"
    assert enrollment.started_on >= timezone.localdate() - dt.timedelta(days=1)


# --- settings ------------------------------------------------------------------------------------


SETTINGS = {
    "leads": (LeadSettings, {"ask_disqualification_reason": False}),
    "opportunities": (OpportunitySettings, {"require_win_reason": False}),
    "scoring": (ScoringSettings, {"threshold": 1}),
}


@pytest.mark.parametrize("name", sorted(SETTINGS))
def test_a_rep_cannot_change_settings(rep_api, admin_api, name):
    model, payload = SETTINGS[name]
    admin_api.get(f"/api/v1/settings/{name}/")  # the single row exists
    obj = model.objects.get()
    before, events = _row(obj), _events()
    response = rep_api.patch(f"/api/v1/settings/{name}/", payload, format="json")
    assert response.status_code == 403
    assert _row(obj) == before
    assert _events() == events


@pytest.mark.parametrize("name", sorted(SETTINGS))
def test_settings_read_only_fields_are_ignored(admin_api, name):
    model, _payload = SETTINGS[name]
    admin_api.get(f"/api/v1/settings/{name}/")
    obj = model.objects.get()
    before, events = _row(obj), _events()
    response = admin_api.patch(
        f"/api/v1/settings/{name}/",
        {"id": 42, "version": 99, "updated_at": STAMP},
        format="json",
    )
    assert response.status_code == 200, response.content
    assert _row(obj, keep_updated_at=False) == {
        k: v for k, v in before.items() if k != "updated_at"
    }
    assert model.objects.count() == 1
    assert _events() == events


def test_opportunity_settings_archived_stage_is_refused(admin_api):
    settings = _settings()
    archived = Stage.objects.create(name="Gone", order=98, archived_at=timezone.now())
    before, events = _row(settings), _events()
    active = sorted(settings.active_stages.values_list("pk", flat=True))
    response = admin_api.patch(
        "/api/v1/settings/opportunities/",
        {"default_stage": archived.pk, "require_win_reason": False},
        format="json",
    )
    assert response.status_code == 400
    assert _row(settings) == before
    assert sorted(settings.active_stages.values_list("pk", flat=True)) == active
    assert _events() == events


# --- saved views and bulk ------------------------------------------------------------------------


def test_saved_view_list_owner_and_default_cannot_be_changed(rep, rep_api, other_rep):
    view = SavedView.objects.create(user=rep, list_key="leads", name="Mine", query="", order=1)
    before, events = _row(view), _events()
    response = rep_api.patch(
        f"/api/v1/saved-views/{view.pk}/",
        {"list": "contacts", "default": True, "user": other_rep.pk, "id": 5, "created_at": STAMP},
        format="json",
    )
    assert response.status_code == 200, response.content
    assert _row(view) == before
    assert _events() == events


def test_a_rep_cannot_create_or_change_default_views(rep_api, admin):
    default = SavedView.objects.create(user=None, list_key="leads", name="All", query="", order=1)
    before, events = _row(default), _events()
    response = rep_api.patch(f"/api/v1/saved-views/{default.pk}/", {"name": "X"}, format="json")
    assert response.status_code == 403
    response = rep_api.post(
        "/api/v1/saved-views/",
        {"list": "leads", "name": "Everyone", "default": True},
        format="json",
    )
    assert response.status_code == 403
    assert _row(default) == before
    assert SavedView.objects.count() == 1
    assert _events() == events


@pytest.mark.parametrize("resource", ["leads", "contacts", "opportunities"])
def test_bulk_assign_refuses_foreign_records_and_inactive_owners(rep, rep_api, other_rep, resource):
    make = {
        "leads": lambda owner: LeadFactory(owner=owner),
        "contacts": lambda owner: ContactFactory(owner=owner),
        "opportunities": lambda owner: OpportunityFactory(contact=ContactFactory(owner=owner)),
    }[resource]
    mine, foreign = make(rep), make(other_rep)
    inactive = UserFactory(is_active=False)
    before, events = _rows(mine, foreign), _events()
    response = rep_api.post(
        f"/api/v1/{resource}/bulk/",
        {"ids": [mine.pk, foreign.pk], "action": "assign", "owner": rep.pk},
        format="json",
    )
    assert response.status_code == 404
    response = rep_api.post(
        f"/api/v1/{resource}/bulk/",
        {"ids": [mine.pk], "action": "assign", "owner": inactive.pk},
        format="json",
    )
    _assert_refused(response, {400}, "owner")
    assert _rows(mine, foreign) == before
    assert _events() == events


def test_bulk_assign_of_opportunities_outside_the_group_is_refused(rep, rep_api):
    settings = _settings()
    settings.assign_to_group = _team(rep)
    settings.save()
    outsider = UserFactory()
    opportunity = OpportunityFactory(contact=ContactFactory(owner=rep))
    before, events = _row(opportunity), _events()
    response = rep_api.post(
        "/api/v1/opportunities/bulk/",
        {"ids": [opportunity.pk], "action": "assign", "owner": outsider.pk},
        format="json",
    )
    _assert_refused(response, {400}, "owner")
    assert _row(opportunity) == before
    assert _events() == events


def test_amounts_are_not_negative(rep, rep_api):
    opportunity = OpportunityFactory(contact=ContactFactory(owner=rep))
    before, events = _row(opportunity), _events()
    response = rep_api.patch(
        f"/api/v1/opportunities/{opportunity.pk}/", {"amount": "-5.00"}, format="json"
    )
    _assert_refused(response, {400}, "amount")
    response = rep_api.post(
        f"/api/v1/opportunities/{opportunity.pk}/buy-now-links/",
        {"product": "Plan", "amount": "-1.00"},
        format="json",
    )
    _assert_refused(response, {400}, "amount")
    assert _row(opportunity) == before
    assert opportunity.amount == Decimal(1000)
    assert not BuyNowLink.objects.exists()
    assert _events() == events


def test_saved_view_of_another_rep_is_404_and_unchanged(rep_api, other_rep):
    view = SavedView.objects.create(user=other_rep, list_key="leads", name="Theirs", order=1)
    before, events = _row(view), _events()
    response = rep_api.patch(f"/api/v1/saved-views/{view.pk}/", {"name": "Mine"}, format="json")
    assert response.status_code == 404
    assert rep_api.delete(f"/api/v1/saved-views/{view.pk}/").status_code == 404
    assert _row(view) == before
    assert _events() == events


def test_enrollment_of_another_rep_cannot_be_stopped(rep, other_rep, other_rep_api):
    from opportunities.services_automation import enrollment_start

    sequence = SequenceFactory()
    SequenceStepFactory(sequence=sequence)
    enrollment, _created = enrollment_start(
        actor=rep, sequence=sequence, contact=ContactFactory(owner=rep)
    )
    before, events = _row(enrollment), _events()
    response = other_rep_api.post(
        f"/api/v1/enrollments/{enrollment.pk}/stop/", {"reason": "mine"}, format="json"
    )
    assert response.status_code == 404
    assert _row(enrollment) == before
    assert _events() == events


def test_lead_import_takes_only_the_lead_fields(rep, rep_api, other_rep):
    from django.core.files.uploadedfile import SimpleUploadedFile

    from leads.models import Lead

    inactive = UserFactory(is_active=False, username="gone")
    body = (
        "id,last_name,status,score,sales_ready,created_at,converted_at,rating,owner\n"
        f"777,Doe,converted,999,true,2001-01-01,2001-01-01,1,\n"
        f"778,Roe,qualified,999,true,2001-01-01,2001-01-01,1,{inactive.username}\n"
    )
    upload = SimpleUploadedFile("leads.csv", body.encode(), content_type="text/csv")
    response = rep_api.post("/api/v1/leads/import/", {"file": upload}, format="multipart")
    assert response.status_code == 201, response.content
    assert response.json()["imported"] == 1 and response.json()["invalid"] == 1
    lead = Lead.objects.get()
    assert lead.pk != 777
    assert lead.last_name == "Doe"
    assert lead.status == "new"
    assert lead.owner == rep
    assert lead.rating_id is None and lead.converted_at is None
    assert lead.created_at.year == timezone.now().year
    assert lead.lead_score.score != 999


def test_sequence_steps_of_another_sequence_are_not_touched(admin_api):
    theirs = SequenceFactory()
    their_step = SequenceStepFactory(sequence=theirs, position=1)
    mine = SequenceFactory()
    before = _row(their_step)
    response = admin_api.patch(
        f"/api/v1/sequences/{mine.pk}/",
        {
            "steps": [
                {
                    "id": their_step.pk,
                    "position": 9,
                    "sequence": theirs.pk,
                    "day_offset": 2,
                    "kind": "task",
                    "title": "Mine",
                }
            ]
        },
        format="json",
    )
    assert response.status_code == 200, response.content
    assert _row(their_step) == before
    assert [s["title"] for s in response.json()["steps"]] == ["Mine"]
    assert response.json()["steps"][0]["id"] != their_step.pk
