"""Issue #7: sharing and ownership rules, exercised through the API.

Each of the six switches of ``/api/v1/settings/opportunities/`` is tested on and off: the admin
sets it over the API, the reps share, unshare, create and reassign over the API, and what each
user may see is what ``GET /api/v1/contacts/{id}/`` and ``/api/v1/opportunities/{id}/`` answer
(200 or 404) and what the lists hold. Then the assign-to group, who may share and unshare, the
``shared_with`` field, and "unshare removes exactly what sharing granted".
"""

from __future__ import annotations

import pytest
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from crm.models import Contact
from opportunities.models import AccessReason, ContactAccess, Opportunity, OpportunityShare
from tests.factories import ContactFactory, TeamFactory, UserFactory

pytestmark = pytest.mark.django_db

SETTINGS_URL = "/api/v1/settings/opportunities/"
OPPS_URL = "/api/v1/opportunities/"
CONTACTS_URL = "/api/v1/contacts/"
SWITCHES = (
    "share_contact_when_shared",
    "share_contact_when_assigned",
    "unshare_contact_when_unshared",
    "unshare_contact_when_unassigned",
    "sync_opportunity_and_contact_owners",
    "sync_owner_of_closed_leads",
)
ON_OFF = pytest.mark.parametrize("on", [True, False], ids=["on", "off"])


# --- helpers (also used by test_sharing_property) -----------------------------------------------


def api_for(user) -> APIClient:
    """A token-authenticated client (tokens are not throttled; only the token endpoint is)."""
    client = APIClient()
    token, _created = Token.objects.get_or_create(user=user)
    client.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
    client.user = user
    return client


def set_rules(admin_api, **values) -> dict:
    response = admin_api.patch(SETTINGS_URL, values, format="json")
    assert response.status_code == 200, response.content
    body = response.json()
    for key, value in values.items():
        assert body[key] == value, (key, body)
    return body


def opp_url(opp_id, action: str = "") -> str:
    return f"{OPPS_URL}{opp_id}/" + (f"{action}/" if action else "")


def contact_url(contact_id) -> str:
    return f"{CONTACTS_URL}{contact_id}/"


def list_ids(client, url: str) -> set[int]:
    ids: set[int] = set()
    next_url = f"{url}?page_size=200"
    while next_url:
        response = client.get(next_url)
        assert response.status_code == 200, response.content
        body = response.json()
        ids |= {row["id"] for row in body["results"]}
        next_url = body["next"]
    return ids


def sees(client, url: str) -> bool:
    """200 or 404 (anything else is a failure): may ``client`` see the record at ``url``?"""
    status = client.get(url).status_code
    assert status in (200, 404), (url, status)
    return status == 200


def sees_contact(client, contact_id) -> bool:
    """The detail and the list must agree."""
    detail = sees(client, contact_url(contact_id))
    assert detail == (contact_id in list_ids(client, CONTACTS_URL)), contact_id
    return detail


def sees_opportunity(client, opp_id) -> bool:
    detail = sees(client, opp_url(opp_id))
    assert detail == (opp_id in list_ids(client, OPPS_URL)), opp_id
    return detail


def create_opp(client, contact_id, owner=None, name="Deal", expect=201) -> dict:
    payload = {"name": name, "contact": contact_id}
    if owner is not None:
        payload["owner"] = owner.pk
    response = client.post(OPPS_URL, payload, format="json")
    assert response.status_code == expect, response.content
    return response.json()


def share(client, opp_id, user, expect=200, action="share") -> dict:
    response = client.post(opp_url(opp_id, action), {"user": user.pk}, format="json")
    assert response.status_code == expect, response.content
    return response.json()


def unshare(client, opp_id, user, expect=200) -> dict:
    return share(client, opp_id, user, expect=expect, action="unshare")


def reassign(client, opp_id, owner, expect=200) -> dict:
    response = client.patch(opp_url(opp_id), {"owner": owner.pk}, format="json")
    assert response.status_code == expect, response.content
    return response.json()


def close(client, opp_id, pipeline, won: bool) -> dict:
    if won:
        payload = {"stage": pipeline["Won"].pk, "win_reason": pipeline["win_reasons"]["Price"].pk}
    else:
        payload = {
            "stage": pipeline["Lost"].pk,
            "loss_reason": pipeline["loss_reasons"]["No budget"].pk,
        }
    response = client.post(opp_url(opp_id, "move"), payload, format="json")
    assert response.status_code == 200, response.content
    return response.json()


# --- fixtures -----------------------------------------------------------------------------------


@pytest.fixture
def third_rep(db):
    return UserFactory(username="third", first_name="Theo", last_name="Third")


@pytest.fixture
def third_api(third_rep):
    return api_for(third_rep)


@pytest.fixture
def contact(rep):
    """The rep's contact (the rest is created over the API)."""
    return ContactFactory(owner=rep, first_name="Carla", last_name="Contact")


# --- the defaults -------------------------------------------------------------------------------


def test_all_six_switches_default_to_yes_and_only_admins_change_them(rep_api, admin_api, pipeline):
    body = rep_api.get(SETTINGS_URL).json()
    assert {key: body[key] for key in SWITCHES} == dict.fromkeys(SWITCHES, True)
    assert body["assign_to_group"] is None
    assert rep_api.patch(SETTINGS_URL, {"share_contact_when_shared": False}).status_code == 403
    assert rep_api.get(SETTINGS_URL).json()["share_contact_when_shared"] is True
    set_rules(admin_api, **dict.fromkeys(SWITCHES, False))
    body = rep_api.get(SETTINGS_URL).json()
    assert {key: body[key] for key in SWITCHES} == dict.fromkeys(SWITCHES, False)


# --- the six rules, on and off ------------------------------------------------------------------


@ON_OFF
def test_share_contact_when_shared(rep_api, other_rep_api, admin_api, other_rep, contact, on):
    set_rules(admin_api, share_contact_when_shared=on)
    opp = create_opp(rep_api, contact.pk)
    assert not sees_opportunity(other_rep_api, opp["id"])
    assert not sees_contact(other_rep_api, contact.pk)

    body = share(rep_api, opp["id"], other_rep)

    assert body["shared_with"] == [other_rep.pk]
    assert sees_opportunity(other_rep_api, opp["id"])
    assert sees_contact(other_rep_api, contact.pk) is on
    grants = ContactAccess.objects.filter(user=other_rep, contact=contact)
    assert list(grants.values_list("reason", "opportunity_id")) == (
        [(AccessReason.SHARED, opp["id"])] if on else []
    )


@ON_OFF
@pytest.mark.parametrize("how", ["on_create", "by_reassigning"])
def test_share_contact_when_assigned(
    rep_api, other_rep_api, admin_api, other_rep, contact, on, how
):
    # Without the owner sync, the contact stays the rep's: only the rule can show it to other_rep.
    set_rules(admin_api, share_contact_when_assigned=on, sync_opportunity_and_contact_owners=False)
    if how == "on_create":
        opp = create_opp(rep_api, contact.pk, owner=other_rep)
    else:
        opp = create_opp(rep_api, contact.pk)
        assert not sees_contact(other_rep_api, contact.pk)
        reassign(rep_api, opp["id"], other_rep)

    assert sees_opportunity(other_rep_api, opp["id"])
    assert not sees_opportunity(rep_api, opp["id"])  # assigned away: no longer the rep's
    assert sees_contact(other_rep_api, contact.pk) is on
    assert sees_contact(rep_api, contact.pk)  # still the contact's owner
    assert Contact.objects.get(pk=contact.pk).owner_id == contact.owner_id


@ON_OFF
def test_unshare_contact_when_unshared(rep_api, other_rep_api, admin_api, other_rep, contact, on):
    set_rules(admin_api, unshare_contact_when_unshared=on)
    opp = create_opp(rep_api, contact.pk)
    share(rep_api, opp["id"], other_rep)
    assert sees_contact(other_rep_api, contact.pk)

    body = unshare(rep_api, opp["id"], other_rep)

    assert body["shared_with"] == []
    assert not sees_opportunity(other_rep_api, opp["id"])
    assert sees_contact(other_rep_api, contact.pk) is (not on)
    assert sees_contact(rep_api, contact.pk)


@ON_OFF
def test_unshare_contact_when_unassigned(
    rep_api, other_rep_api, third_api, admin_api, other_rep, third_rep, contact, on
):
    set_rules(
        admin_api, unshare_contact_when_unassigned=on, sync_opportunity_and_contact_owners=False
    )
    opp = create_opp(rep_api, contact.pk, owner=other_rep)
    assert sees_contact(other_rep_api, contact.pk)
    assert not sees_contact(third_api, contact.pk)

    reassign(other_rep_api, opp["id"], third_rep)

    assert not sees_opportunity(other_rep_api, opp["id"])
    assert sees_contact(other_rep_api, contact.pk) is (not on)
    assert sees_opportunity(third_api, opp["id"])
    assert sees_contact(third_api, contact.pk)  # share_contact_when_assigned is on
    assert sees_contact(rep_api, contact.pk)  # the owner of the contact is not affected


@ON_OFF
@pytest.mark.parametrize("via", ["create", "ensure"])
def test_sync_opportunity_and_contact_owners(
    rep, rep_api, other_rep_api, admin_api, other_rep, contact, on, via
):
    # Without "share contact when assigned", other_rep can see the contact only as its owner.
    set_rules(admin_api, sync_opportunity_and_contact_owners=on, share_contact_when_assigned=False)
    if via == "create":
        opp = create_opp(rep_api, contact.pk, owner=other_rep)
    else:
        response = rep_api.post(
            f"{OPPS_URL}ensure/",
            {"contact": contact.pk, "name": "Deal", "owner": other_rep.pk},
            format="json",
        )
        assert response.status_code == 201, response.content
        opp = response.json()

    assert opp["owner"] == other_rep.pk
    assert Contact.objects.get(pk=contact.pk).owner_id == (other_rep.pk if on else rep.pk)
    assert sees_contact(other_rep_api, contact.pk) is on
    assert sees_contact(rep_api, contact.pk) is (not on)
    if on:
        assert other_rep_api.get(contact_url(contact.pk)).json()["owner"] == other_rep.pk
    else:
        assert admin_api.get(contact_url(contact.pk)).json()["owner"] == rep.pk


@pytest.mark.parametrize("closed", [True, False], ids=["closed_on", "closed_off"])
@pytest.mark.parametrize("sync", [True, False], ids=["sync_on", "sync_off"])
def test_sync_owner_of_closed_leads(
    rep, rep_api, other_rep_api, admin_api, other_rep, contact, pipeline, sync, closed
):
    won = create_opp(rep_api, contact.pk, name="Won deal")
    lost = create_opp(rep_api, contact.pk, name="Lost deal")
    still_open = create_opp(rep_api, contact.pk, name="Open deal")
    close(rep_api, won["id"], pipeline, won=True)
    close(rep_api, lost["id"], pipeline, won=False)
    set_rules(
        admin_api, sync_opportunity_and_contact_owners=sync, sync_owner_of_closed_leads=closed
    )

    new = create_opp(admin_api, contact.pk, owner=other_rep, name="New deal")

    moved = sync and closed  # "sync owner of closed leads" only works with the owner sync
    for opp in (won, lost):
        body = admin_api.get(opp_url(opp["id"])).json()
        assert body["owner"] == (other_rep.pk if moved else rep.pk), body
        assert sees_opportunity(other_rep_api, opp["id"]) is moved
        assert sees_opportunity(rep_api, opp["id"]) is (not moved)
    # Open deals are never taken from their rep; the new one is other_rep's.
    assert admin_api.get(opp_url(still_open["id"])).json()["owner"] == rep.pk
    assert sees_opportunity(rep_api, still_open["id"])
    assert sees_opportunity(other_rep_api, new["id"])
    # The rep still works an open deal of the contact: they keep seeing it (assigned).
    assert sees_contact(rep_api, contact.pk)
    assert sees_contact(other_rep_api, contact.pk)
    assert Contact.objects.get(pk=contact.pk).owner_id == (other_rep.pk if sync else rep.pk)


def test_sync_of_closed_deals_takes_the_contact_from_a_rep_left_with_only_closed_deals(
    rep, rep_api, other_rep_api, admin_api, other_rep, contact, pipeline
):
    """All rules on (the defaults): the rep's only deal was won; a new deal for other_rep moves the
    contact and the won deal to other_rep, and with them the rep's access to the contact."""
    won = create_opp(rep_api, contact.pk, name="Won deal")
    close(rep_api, won["id"], pipeline, won=True)
    create_opp(admin_api, contact.pk, owner=other_rep)
    assert not sees_contact(rep_api, contact.pk)
    assert not sees_opportunity(rep_api, won["id"])
    assert sees_opportunity(other_rep_api, won["id"])
    assert not ContactAccess.objects.filter(user=rep, contact=contact).exists()


def test_rules_apply_when_the_action_happens_not_retroactively(
    rep_api, other_rep_api, admin_api, other_rep, contact
):
    """Switching "share contact when shared" on later does not grant what an earlier share did
    not; sharing again does."""
    set_rules(admin_api, share_contact_when_shared=False)
    opp = create_opp(rep_api, contact.pk)
    share(rep_api, opp["id"], other_rep)
    set_rules(admin_api, share_contact_when_shared=True)
    assert not sees_contact(other_rep_api, contact.pk)
    share(rep_api, opp["id"], other_rep)  # sharing again is harmless and applies today's rule
    assert sees_contact(other_rep_api, contact.pk)
    assert OpportunityShare.objects.filter(opportunity_id=opp["id"]).count() == 1


# --- assign-to group ----------------------------------------------------------------------------


@pytest.fixture
def group(admin_api, rep, third_rep):
    team = TeamFactory(name="Closers")
    team.members.set([rep, third_rep])
    set_rules(admin_api, assign_to_group=team.pk)
    return team


def test_group_owner_on_create(rep_api, other_rep_api, admin_api, rep, other_rep, contact, group):
    response = rep_api.post(
        OPPS_URL, {"name": "Deal", "contact": contact.pk, "owner": other_rep.pk}, format="json"
    )
    assert response.status_code == 400 and "owner" in response.json(), response.content
    assert "Closers" in response.json()["owner"][0]
    assert not Opportunity.objects.exists()
    # The owner defaults to the creator, who must be in the group too.
    theirs = ContactFactory(owner=other_rep)
    response = other_rep_api.post(OPPS_URL, {"name": "Deal", "contact": theirs.pk}, format="json")
    assert response.status_code == 400 and "owner" in response.json()
    response = admin_api.post(OPPS_URL, {"name": "Deal", "contact": contact.pk}, format="json")
    assert response.status_code == 400 and "owner" in response.json()
    # Members are fine.
    assert create_opp(rep_api, contact.pk)["owner"] == rep.pk
    assert create_opp(admin_api, contact.pk, owner=rep)["owner"] == rep.pk
    assert Opportunity.objects.count() == 2


def test_group_owner_on_patch(rep_api, admin_api, rep, other_rep, third_rep, contact, group):
    opp = create_opp(rep_api, contact.pk)
    for client in (rep_api, admin_api):
        response = client.patch(opp_url(opp["id"]), {"owner": other_rep.pk}, format="json")
        assert response.status_code == 400 and "owner" in response.json(), response.content
        response = client.put(
            opp_url(opp["id"]),
            {"name": "Deal", "contact": contact.pk, "owner": other_rep.pk},
            format="json",
        )
        assert response.status_code == 400 and "owner" in response.json(), response.content
    assert Opportunity.objects.get(pk=opp["id"]).owner_id == rep.pk
    assert reassign(rep_api, opp["id"], third_rep)["owner"] == third_rep.pk
    # The group is cleared: anyone again.
    set_rules(admin_api, assign_to_group=None)
    assert reassign(admin_api, opp["id"], other_rep)["owner"] == other_rep.pk


def test_an_owner_who_left_the_group_keeps_the_deal_while_it_is_edited(
    rep_api, admin_api, rep, contact, group
):
    opp = create_opp(rep_api, contact.pk)
    group.members.remove(rep)
    response = admin_api.patch(opp_url(opp["id"]), {"name": "Renamed", "owner": rep.pk})
    assert response.status_code == 200, response.content


def test_group_owner_on_ensure(rep_api, rep, other_rep, third_rep, contact, group):
    url = f"{OPPS_URL}ensure/"
    response = rep_api.post(
        url, {"contact": contact.pk, "name": "Deal", "owner": other_rep.pk}, format="json"
    )
    assert response.status_code == 400 and "owner" in response.json(), response.content
    assert not Opportunity.objects.exists()
    response = rep_api.post(
        url, {"contact": contact.pk, "name": "Deal", "owner": third_rep.pk}, format="json"
    )
    assert response.status_code == 201, response.content
    assert response.json()["owner"] == third_rep.pk


def test_group_must_be_a_team(admin_api):
    response = admin_api.patch(SETTINGS_URL, {"assign_to_group": 99999999}, format="json")
    assert response.status_code == 400 and "assign_to_group" in response.json()


# --- who may share and unshare ------------------------------------------------------------------


@pytest.mark.parametrize("action", ["share", "unshare"])
def test_share_permissions(
    rep_api, other_rep_api, third_api, admin_api, other_rep, third_rep, contact, action
):
    opp = create_opp(rep_api, contact.pk)
    target = UserFactory(username="target")
    # A rep who cannot see the deal: 404 (no existence leak).
    share(other_rep_api, opp["id"], target, expect=404, action=action)
    # A rep it is shared with sees it but is not its owner: 403.
    share(rep_api, opp["id"], third_rep)
    share(third_api, opp["id"], target, expect=403, action=action)
    assert set(OpportunityShare.objects.values_list("user_id", flat=True)) == {third_rep.pk}
    # The owner and admins may.
    share(rep_api, opp["id"], target, action=action)
    share(admin_api, opp["id"], target, action=action)
    shared = set(OpportunityShare.objects.values_list("user_id", flat=True))
    assert shared == ({third_rep.pk, target.pk} if action == "share" else {third_rep.pk})


def test_sharing_with_the_owner_an_inactive_or_unknown_user_is_400(rep, rep_api, contact):
    opp = create_opp(rep_api, contact.pk)
    gone = UserFactory(username="gone", is_active=False)
    for user_id in (rep.pk, gone.pk, 99999999, "abc", None):
        response = rep_api.post(opp_url(opp["id"], "share"), {"user": user_id}, format="json")
        assert response.status_code == 400 and "user" in response.json(), (user_id, response)
    response = rep_api.post(opp_url(opp["id"], "share"), {}, format="json")
    assert response.status_code == 400 and "user" in response.json()
    assert not OpportunityShare.objects.exists()
    assert not ContactAccess.objects.exclude(reason=AccessReason.ASSIGNED).exists()


def test_unsharing_a_user_it_was_not_shared_with_changes_nothing(
    rep_api, other_rep, third_rep, contact
):
    opp = create_opp(rep_api, contact.pk)
    share(rep_api, opp["id"], other_rep)
    before = set(ContactAccess.objects.values_list("user_id", "reason", "opportunity_id"))
    assert unshare(rep_api, opp["id"], third_rep)["shared_with"] == [other_rep.pk]
    assert set(ContactAccess.objects.values_list("user_id", "reason", "opportunity_id")) == before


def test_shared_with_in_payloads(rep_api, other_rep_api, rep, other_rep, third_rep, contact):
    opp = create_opp(rep_api, contact.pk)
    assert opp["shared_with"] == []
    share(rep_api, opp["id"], third_rep)
    body = share(rep_api, opp["id"], other_rep)
    assert body["shared_with"] == sorted([other_rep.pk, third_rep.pk])
    assert rep_api.get(opp_url(opp["id"])).json()["shared_with"] == body["shared_with"]
    listed = {row["id"]: row for row in rep_api.get(OPPS_URL).json()["results"]}
    assert listed[opp["id"]]["shared_with"] == body["shared_with"]
    # The user it is shared with sees the same payload.
    assert other_rep_api.get(opp_url(opp["id"])).json()["shared_with"] == body["shared_with"]
    assert unshare(rep_api, opp["id"], third_rep)["shared_with"] == [other_rep.pk]
    # shared_with is read-only: a PATCH of it changes nothing.
    response = rep_api.patch(opp_url(opp["id"]), {"shared_with": [rep.pk]}, format="json")
    assert response.status_code == 200 and response.json()["shared_with"] == [other_rep.pk]


def test_a_shared_user_works_the_deal_but_does_not_own_it(
    rep, rep_api, other_rep_api, other_rep, contact, pipeline
):
    opp = create_opp(rep_api, contact.pk)
    share(rep_api, opp["id"], other_rep)
    response = other_rep_api.patch(opp_url(opp["id"]), {"amount": "5.00"}, format="json")
    assert response.status_code == 200, response.content
    assert (
        other_rep_api.post(
            opp_url(opp["id"], "move"), {"stage": pipeline["Proposal"].pk}, format="json"
        ).status_code
        == 200
    )
    assert rep_api.get(opp_url(opp["id"])).json()["owner"] == rep.pk


def test_a_shared_user_cannot_take_the_deal_from_its_owner(
    rep, rep_api, other_rep_api, other_rep, third_rep, contact
):
    """Reassigning is the owner's or an admin's, like sharing: otherwise a user the deal was
    shared with could take it (the owner would then get 404 on their own deal) and share it on."""
    opp = create_opp(rep_api, contact.pk)
    share(rep_api, opp["id"], other_rep)
    for new_owner in (other_rep, third_rep):
        response = other_rep_api.patch(opp_url(opp["id"]), {"owner": new_owner.pk}, format="json")
        assert response.status_code == 403, response.content
    assert Opportunity.objects.get(pk=opp["id"]).owner_id == rep.pk
    assert sees_opportunity(rep_api, opp["id"])
    # Sending the current owner back (a PUT of what was read) is fine.
    body = other_rep_api.get(opp_url(opp["id"])).json()
    response = other_rep_api.put(
        opp_url(opp["id"]),
        {k: body[k] for k in ("name", "contact", "owner", "amount")},
        format="json",
    )
    assert response.status_code == 200, response.content


# --- unshare removes exactly what sharing granted -----------------------------------------------


@pytest.fixture
def no_owner_sync(admin_api):
    """Keep the contact with its owner, so that what other reps see comes from the rules alone."""
    set_rules(admin_api, sync_opportunity_and_contact_owners=False)


def test_unshared_user_keeps_the_contact_through_an_assigned_deal(
    rep_api, other_rep_api, third_api, other_rep, third_rep, contact, no_owner_sync
):
    assigned = create_opp(rep_api, contact.pk, owner=other_rep, name="Assigned")
    shared = create_opp(rep_api, contact.pk, name="Shared")
    share(rep_api, shared["id"], other_rep)

    unshare(rep_api, shared["id"], other_rep)

    assert sees_contact(other_rep_api, contact.pk)
    assert sees_opportunity(other_rep_api, assigned["id"])
    assert not sees_opportunity(other_rep_api, shared["id"])
    assert set(
        ContactAccess.objects.filter(user=other_rep).values_list("reason", "opportunity_id")
    ) == {(AccessReason.ASSIGNED, assigned["id"])}

    # Once the assigned deal goes to someone else, nothing is left.
    reassign(other_rep_api, assigned["id"], third_rep)
    assert not sees_contact(other_rep_api, contact.pk)
    assert sees_contact(third_api, contact.pk)


def test_unassigned_user_keeps_the_contact_through_a_shared_deal(
    rep_api, other_rep_api, other_rep, third_rep, contact, no_owner_sync
):
    assigned = create_opp(rep_api, contact.pk, owner=other_rep, name="Assigned")
    shared = create_opp(rep_api, contact.pk, name="Shared")
    share(rep_api, shared["id"], other_rep)

    reassign(other_rep_api, assigned["id"], third_rep)

    assert sees_contact(other_rep_api, contact.pk)
    assert not sees_opportunity(other_rep_api, assigned["id"])
    unshare(rep_api, shared["id"], other_rep)
    assert not sees_contact(other_rep_api, contact.pk)


def test_a_user_shared_two_deals_of_a_contact_keeps_it_until_both_are_unshared(
    rep_api, other_rep_api, other_rep, contact
):
    first = create_opp(rep_api, contact.pk, name="First")
    second = create_opp(rep_api, contact.pk, name="Second")
    share(rep_api, first["id"], other_rep)
    share(rep_api, second["id"], other_rep)
    unshare(rep_api, first["id"], other_rep)
    assert sees_contact(other_rep_api, contact.pk)
    assert sees_opportunity(other_rep_api, second["id"])
    unshare(rep_api, second["id"], other_rep)
    assert not sees_contact(other_rep_api, contact.pk)


def test_unsharing_never_takes_a_contact_from_its_owner(
    rep, rep_api, other_rep_api, admin_api, other_rep, contact, no_owner_sync
):
    """other_rep owns a deal of the rep's contact and shares it with the rep, then unshares it:
    the rep still owns (and sees) the contact."""
    theirs = create_opp(admin_api, contact.pk, owner=other_rep)
    share(other_rep_api, theirs["id"], rep)
    unshare(other_rep_api, theirs["id"], rep)
    assert sees_contact(rep_api, contact.pk)
    assert not sees_opportunity(rep_api, theirs["id"])


def test_reassigning_never_takes_a_contact_from_its_owner(
    rep_api, other_rep, contact, no_owner_sync
):
    opp = create_opp(rep_api, contact.pk)
    reassign(rep_api, opp["id"], other_rep)
    assert sees_contact(rep_api, contact.pk)
    assert not sees_opportunity(rep_api, opp["id"])


def test_contacts_reached_through_rules_do_not_open_their_accounts_leads_or_tasks(
    rep, rep_api, other_rep_api, other_rep
):
    """Sharing shows the deal and its contact, nothing else the owner has."""
    from tests.factories import AccountFactory, TaskFactory

    account = AccountFactory(owner=rep)
    contact = ContactFactory(owner=rep, account=account)
    opp = create_opp(rep_api, contact.pk)
    task = TaskFactory(owner=rep, contact=contact, opportunity_id=opp["id"])
    share(rep_api, opp["id"], other_rep)
    assert sees_contact(other_rep_api, contact.pk)
    assert other_rep_api.get(f"/api/v1/accounts/{account.pk}/").status_code == 404
    assert other_rep_api.get(f"/api/v1/tasks/{task.pk}/").status_code == 404


def test_moving_a_deal_to_another_contact_moves_what_it_granted(
    rep, rep_api, other_rep_api, third_api, other_rep, third_rep, no_owner_sync
):
    """What the deal granted on its old contact goes; the rules grant the new one to its owner
    and to the users it is shared with."""
    first = ContactFactory(owner=rep, last_name="First")
    second = ContactFactory(owner=rep, last_name="Second")
    opp = create_opp(rep_api, first.pk, owner=third_rep)
    share(third_api, opp["id"], other_rep)
    assert sees_contact(other_rep_api, first.pk) and sees_contact(third_api, first.pk)

    response = rep_api.patch(opp_url(opp["id"]), {"contact": second.pk}, format="json")
    assert response.status_code == 404  # assigned away: no longer the rep's to edit
    # third_rep may link only a contact they see: not the second one yet.
    response = third_api.patch(opp_url(opp["id"]), {"contact": second.pk}, format="json")
    assert response.status_code == 400 and "contact" in response.json()
    share(rep_api, create_opp(rep_api, second.pk, name="Other")["id"], third_rep)
    response = third_api.patch(opp_url(opp["id"]), {"contact": second.pk}, format="json")
    assert response.status_code == 200, response.content

    for client in (other_rep_api, third_api):
        assert sees_contact(client, second.pk)
        assert not sees_contact(client, first.pk)
    assert sees_contact(rep_api, first.pk) and sees_contact(rep_api, second.pk)
