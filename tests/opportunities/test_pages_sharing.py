"""The sharing rules in the browser: Settings > Opportunity defaults > Visibility, the sharing panel
on the deal's page (share / unshare, owner and admins only) and the owner pickers limited to the
assign-to group. The rules themselves are the services' (tests/opportunities/test_services.py)."""

import json

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from crm.models import Event
from opportunities import services
from opportunities.models import (
    AccessReason,
    ContactAccess,
    Opportunity,
    OpportunityEvent,
    OpportunitySettings,
    OpportunityShare,
)
from tests.factories import AdminFactory, ContactFactory, TeamFactory, UserFactory

pytestmark = pytest.mark.django_db

HTMX = {"HTTP_HX_REQUEST": "true"}
DEFAULTS = reverse("settings-opportunities")
SAVE_VISIBILITY = reverse("settings-opportunity-visibility")
SWITCHES = (
    "share_contact_when_shared",
    "share_contact_when_assigned",
    "unshare_contact_when_unshared",
    "unshare_contact_when_unassigned",
    "sync_opportunity_and_contact_owners",
    "sync_owner_of_closed_leads",
)


def _settings() -> OpportunitySettings:
    return services.opportunity_settings_get()


def _visibility_data(**overrides) -> dict:
    """The Visibility form as the page would post it now, with ``overrides``."""
    settings = _settings()
    data = {"assign_to_group": str(settings.assign_to_group_id or "")}
    data.update({name: "yes" if getattr(settings, name) else "no" for name in SWITCHES})
    data.update(overrides)
    return data


def _settings_snapshot():
    return list(OpportunitySettings.objects.values()), Event.objects.count()


def _client(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def _deal(owner, **kwargs):
    contact = kwargs.pop("contact", None) or ContactFactory(owner=owner)
    return services.opportunity_create(
        actor=owner, name=kwargs.pop("name", "Big deal"), contact=contact, **kwargs
    )


def _share_state(deal):
    return (
        sorted(OpportunityShare.objects.filter(opportunity=deal).values_list("user_id", flat=True)),
        sorted(ContactAccess.objects.filter(opportunity=deal).values_list("user_id", "reason")),
        Event.objects.count(),
    )


def _detail(deal) -> str:
    return reverse("opportunity-detail", args=[deal.pk])


def _share_url(deal) -> str:
    return reverse("opportunity-share", args=[deal.pk])


def _unshare_url(deal) -> str:
    return reverse("opportunity-unshare", args=[deal.pk])


def _select_tag(html: str) -> str:
    """The opening tag of the "Share with…" select."""
    return html.split('id="share-user"')[0].rsplit("<select", 1)[1]


def _announced(response) -> str:
    return json.loads(response["HX-Trigger"])["crm:announce"]


# --- Settings > Opportunity defaults > Visibility ----------------------------------------------


def test_visibility_section_shows_the_group_and_the_six_switches(admin_client_):
    team = TeamFactory(name="Iberia")
    TeamFactory(name="Nordics")
    services.opportunity_settings_update(
        actor=AdminFactory(username="boss"),
        assign_to_group=team,
        unshare_contact_when_unassigned=False,
    )
    response = admin_client_.get(DEFAULTS)
    assert response.status_code == 200
    html = response.content.decode()
    section = html.split('id="visibility-title"')[1].split("</section>")[0]
    assert "Visibility" in html and "Assign to group" in section
    assert f'action="{SAVE_VISIBILITY}"' in section
    assert "Anyone (no group)" in section and "Nordics" in section
    assert f'<option value="{team.pk}" selected>Iberia</option>' in section
    for label in (
        "Share contact when shared",
        "Share contact when assigned",
        "Unshare contact when unshared",
        "Unshare contact when unassigned",
        "Sync opportunity and contact owners",
        "Sync owner of closed leads",
    ):
        assert f"<legend>{label}</legend>" in section
    form = response.context["visibility_form"]
    assert form["unshare_contact_when_unassigned"].value() == "no"
    assert form["share_contact_when_shared"].value() == "yes"
    # Each rule says what it does, next to it.
    assert "someone an opportunity is shared with can also see its contact" in section
    assert "earlier closed (won or lost) opportunities" in section
    assert 'aria-describedby="visibility-sync_owner_of_closed_leads_helptext"' in section


@pytest.mark.parametrize("switch", SWITCHES)
def test_each_switch_goes_off_and_on(admin_client_, admin, switch):
    assert getattr(_settings(), switch) is True
    response = admin_client_.post(SAVE_VISIBILITY, _visibility_data(**{switch: "no"}))
    assert response.status_code == 302
    assert response["Location"] == f"{DEFAULTS}#visibility-title"
    settings = _settings()
    assert getattr(settings, switch) is False
    assert all(getattr(settings, other) for other in SWITCHES if other != switch)
    event = Event.objects.filter(kind=OpportunityEvent.SETTINGS_CHANGED).latest("pk")
    assert event.actor == admin and event.data["changes"] == {switch: [True, False]}
    page = admin_client_.get(DEFAULTS)
    assert "Visibility settings saved." in page.content.decode()
    assert page.context["visibility_form"][switch].value() == "no"

    admin_client_.post(SAVE_VISIBILITY, _visibility_data(**{switch: "yes"}))
    assert getattr(_settings(), switch) is True


def test_the_group_is_set_and_cleared(admin_client_):
    team = TeamFactory(name="Iberia")
    response = admin_client_.post(SAVE_VISIBILITY, _visibility_data(assign_to_group=team.pk))
    assert response.status_code == 302
    assert _settings().assign_to_group == team
    admin_client_.post(SAVE_VISIBILITY, _visibility_data(assign_to_group=""))
    assert _settings().assign_to_group is None
    changes = [
        e.data["changes"]
        for e in Event.objects.filter(kind=OpportunityEvent.SETTINGS_CHANGED).order_by("pk")
    ]
    assert changes == [{"assign_to_group": [None, team.pk]}, {"assign_to_group": [team.pk, None]}]


def test_saving_unchanged_visibility_writes_nothing(admin_client_):
    before = _settings_snapshot()
    response = admin_client_.post(SAVE_VISIBILITY, _visibility_data(), follow=True)
    assert "Nothing changed." in response.content.decode()
    assert _settings_snapshot() == before


@pytest.mark.parametrize(
    "overrides, field",
    [
        ({"share_contact_when_shared": "maybe"}, "share_contact_when_shared"),
        ({"sync_owner_of_closed_leads": ""}, "sync_owner_of_closed_leads"),
        ({"assign_to_group": "999999"}, "assign_to_group"),
        ({"assign_to_group": "abc"}, "assign_to_group"),
        ({"assign_to_group": "9" * 30}, "assign_to_group"),
        ({"assign_to_group": "\x00"}, "assign_to_group"),
    ],
)
def test_bad_visibility_input_is_shown_next_to_the_field_and_changes_nothing(
    admin_client_, overrides, field
):
    TeamFactory(name="Iberia")
    before = _settings_snapshot()
    # Everything else changes, so a partial save would show.
    data = _visibility_data(**dict.fromkeys(SWITCHES, "no"))
    data.update(overrides)
    response = admin_client_.post(SAVE_VISIBILITY, data)
    assert response.status_code == 200
    form = response.context["visibility_form"]
    assert list(form.errors) == [field]
    html = response.content.decode()
    assert "Please correct the errors below." in html
    assert f'id="visibility-{field}_error"' in html
    assert _settings_snapshot() == before


def test_missing_visibility_fields_are_errors_not_500s(admin_client_):
    before = _settings_snapshot()
    response = admin_client_.post(SAVE_VISIBILITY, {})
    assert response.status_code == 200
    assert set(response.context["visibility_form"].errors) == set(SWITCHES)
    assert _settings_snapshot() == before


def test_service_errors_without_a_field_are_shown_above_the_visibility_form(admin_client_):
    # A settings row the service refuses (no default stage): the visibility form says why.
    OpportunitySettings.objects.update(default_stage=None)
    before = _settings_snapshot()
    response = admin_client_.post(SAVE_VISIBILITY, _visibility_data(share_contact_when_shared="no"))
    assert response.status_code == 200
    html = response.content.decode()
    section = html.split('id="visibility-title"')[1].split("</section>")[0]
    assert "Choose the stage new opportunities start in." in section
    assert _settings_snapshot() == before


def test_the_stage_defaults_form_leaves_visibility_alone(admin_client_):
    services.opportunity_settings_update(
        actor=AdminFactory(username="boss"), sync_owner_of_closed_leads=False
    )
    settings = _settings()
    data = {
        "active_stages": [str(pk) for pk in settings.active_stages.values_list("pk", flat=True)],
        "default_stage": str(settings.default_stage_id),
        "win_stage": str(settings.win_stage_id),
        "require_win_reason": "no",
        "loss_stage": str(settings.loss_stage_id),
        "require_loss_reason": "yes",
    }
    assert admin_client_.post(reverse("settings-opportunity-defaults"), data).status_code == 302
    settings = _settings()
    assert settings.require_win_reason is False
    assert settings.sync_owner_of_closed_leads is False
    assert settings.share_contact_when_shared is True


def test_visibility_is_for_admins_only(rep_client, client):
    before = _settings_snapshot()
    data = _visibility_data(share_contact_when_shared="no")
    assert rep_client.post(SAVE_VISIBILITY, data).status_code == 403
    assert "visibility-title" not in rep_client.get(DEFAULTS).content.decode()
    assert _settings_snapshot() == before
    anonymous = Client()
    response = anonymous.post(SAVE_VISIBILITY, data)
    assert response.status_code == 302 and "/login/" in response["Location"]
    assert _settings_snapshot() == before


def test_visibility_is_post_only(admin_client_):
    assert admin_client_.get(SAVE_VISIBILITY).status_code == 405


def test_visibility_needs_the_csrf_token(admin):
    client = Client(enforce_csrf_checks=True)
    client.force_login(admin)
    before = _settings_snapshot()
    response = client.post(SAVE_VISIBILITY, _visibility_data(share_contact_when_shared="no"))
    assert response.status_code == 403
    assert _settings_snapshot() == before


def test_visibility_and_the_panel_render_in_spanish(admin_client_, rep):
    response = admin_client_.get(DEFAULTS, HTTP_ACCEPT_LANGUAGE="es")
    assert response.status_code == 200
    assert '<html lang="es"' in response.content.decode()
    response = admin_client_.get(_detail(_deal(rep)), HTTP_ACCEPT_LANGUAGE="es")
    assert response.status_code == 200
    assert 'id="share-panel"' in response.content.decode()


# --- the sharing panel ---------------------------------------------------------------------------


def test_owner_sees_the_panel_with_the_users_it_may_be_shared_with(rep_client, rep, other_rep):
    inactive = UserFactory(username="gone", first_name="Gone", last_name="Away", is_active=False)
    third = UserFactory(username="third", first_name="Thea", last_name="Third")
    deal = _deal(rep)
    services.opportunity_share(actor=rep, opportunity=deal, user=third)
    response = rep_client.get(_detail(deal))
    assert response.status_code == 200
    html = response.content.decode()
    panel = html.split('id="share-panel"')[1].split("</section>")[0]
    assert "Shared with" in panel and "Thea Third" in panel
    assert f'<input type="hidden" name="user" value="{third.pk}">' in panel
    assert 'Unshare<span class="visually-hidden"> Thea Third</span>' in panel
    offered = [u for u, _label in response.context["share_form"].fields["user"].widget.choices]
    assert offered == ["", str(other_rep.pk)]  # not the owner, not Thea, not the inactive user
    assert str(inactive.pk) not in offered and str(rep.pk) not in offered
    assert f'action="{_share_url(deal)}"' in panel and f'hx-post="{_share_url(deal)}"' in panel
    assert "They can see its contact too." in panel


def test_the_panel_says_when_nobody_shares_it(rep_client, rep):
    deal = _deal(rep)
    html = rep_client.get(_detail(deal)).content.decode()
    assert "Not shared with anyone yet." in html


def test_the_panel_is_not_shown_to_a_rep_it_is_shared_with(rep, other_rep):
    deal = _deal(rep)
    services.opportunity_share(actor=rep, opportunity=deal, user=other_rep)
    response = _client(other_rep).get(_detail(deal))
    assert response.status_code == 200
    assert 'id="share-panel"' not in response.content.decode()
    assert response.context["can_manage_sharing"] is False


def test_owner_shares_without_javascript_and_the_rep_sees_the_contact(rep_client, rep, other_rep):
    deal = _deal(rep)
    other = _client(other_rep)
    contact_url = reverse("contact-detail", args=[deal.contact_id])
    assert other.get(contact_url).status_code == 404
    response = rep_client.post(_share_url(deal), {"user": other_rep.pk})
    assert response.status_code == 302
    assert response["Location"] == f"{_detail(deal)}#share-title"
    assert OpportunityShare.objects.filter(opportunity=deal, user=other_rep).exists()
    assert ContactAccess.objects.filter(
        opportunity=deal, user=other_rep, reason=AccessReason.SHARED
    ).exists()
    event = Event.objects.filter(kind=OpportunityEvent.SHARED).get()
    assert event.actor == rep and event.opportunity_id == deal.pk
    page = rep_client.get(_detail(deal)).content.decode()
    assert "“Big deal” is now shared with Otto Other." in page
    assert other.get(_detail(deal)).status_code == 200
    assert other.get(contact_url).status_code == 200


def test_owner_unshares_without_javascript_and_the_contact_goes_away(rep_client, rep, other_rep):
    deal = _deal(rep)
    services.opportunity_share(actor=rep, opportunity=deal, user=other_rep)
    other = _client(other_rep)
    contact_url = reverse("contact-detail", args=[deal.contact_id])
    assert other.get(contact_url).status_code == 200
    response = rep_client.post(_unshare_url(deal), {"user": other_rep.pk})
    assert response.status_code == 302
    assert response["Location"] == f"{_detail(deal)}#share-title"
    assert not OpportunityShare.objects.filter(opportunity=deal).exists()
    assert not ContactAccess.objects.filter(opportunity=deal, user=other_rep).exists()
    page = rep_client.get(_detail(deal)).content.decode()
    assert "“Big deal” is no longer shared with Otto Other." in page
    assert other.get(_detail(deal)).status_code == 404
    assert other.get(contact_url).status_code == 404


def test_share_with_htmx_redraws_the_panel_and_announces(rep_client, rep, other_rep):
    third = UserFactory(username="third", first_name="Thea", last_name="Third")
    deal = _deal(rep)
    response = rep_client.post(_share_url(deal), {"user": other_rep.pk}, **HTMX)
    assert response.status_code == 200
    html = response.content.decode()
    assert html.lstrip().startswith('<section id="share-panel"')
    assert "<html" not in html
    assert _announced(response) == "“Big deal” is now shared with Otto Other."
    assert f'<input type="hidden" name="user" value="{other_rep.pk}">' in html
    # Focus goes back to the picker, which now offers Thea only.
    assert "autofocus" in _select_tag(html)
    assert f'<option value="{third.pk}">Thea Third</option>' in html
    assert f'<option value="{other_rep.pk}"' not in html


def test_unshare_with_htmx_redraws_the_panel_and_announces(rep_client, rep, other_rep):
    deal = _deal(rep)
    services.opportunity_share(actor=rep, opportunity=deal, user=other_rep)
    response = rep_client.post(_unshare_url(deal), {"user": other_rep.pk}, **HTMX)
    assert response.status_code == 200
    html = response.content.decode()
    assert html.lstrip().startswith('<section id="share-panel"')
    assert _announced(response) == "“Big deal” is no longer shared with Otto Other."
    assert "Not shared with anyone yet." in html
    assert f'<option value="{other_rep.pk}">Otto Other</option>' in html
    assert not OpportunityShare.objects.exists()


def test_the_last_candidate_shared_moves_focus_to_the_panel_heading(rep_client, rep, other_rep):
    deal = _deal(rep)
    response = rep_client.post(_share_url(deal), {"user": other_rep.pk}, **HTMX)
    html = response.content.decode()
    assert "There is nobody else to share it with." in html
    assert '<h2 id="share-title" tabindex="-1" autofocus>' in html


def test_admin_shares_and_unshares_a_reps_deal(admin_client_, admin, rep, other_rep):
    deal = _deal(rep)
    assert 'id="share-panel"' in admin_client_.get(_detail(deal)).content.decode()
    assert admin_client_.post(_share_url(deal), {"user": other_rep.pk}).status_code == 302
    assert OpportunityShare.objects.filter(opportunity=deal, user=other_rep).exists()
    assert admin_client_.post(_unshare_url(deal), {"user": other_rep.pk}).status_code == 302
    assert not OpportunityShare.objects.filter(opportunity=deal).exists()
    assert list(
        Event.objects.filter(kind__in=[OpportunityEvent.SHARED, OpportunityEvent.UNSHARED])
        .order_by("pk")
        .values_list("kind", "actor")
    ) == [(OpportunityEvent.SHARED, admin.pk), (OpportunityEvent.UNSHARED, admin.pk)]


@pytest.mark.parametrize("htmx", [False, True])
def test_a_rep_it_is_shared_with_cannot_share_nor_unshare(rep, other_rep, htmx):
    third = UserFactory(username="third")
    deal = _deal(rep)
    services.opportunity_share(actor=rep, opportunity=deal, user=other_rep)
    before = _share_state(deal)
    other = _client(other_rep)
    headers = HTMX if htmx else {}
    assert other.post(_share_url(deal), {"user": third.pk}, **headers).status_code == 403
    assert other.post(_unshare_url(deal), {"user": other_rep.pk}, **headers).status_code == 403
    assert other.post(_share_url(deal), {"user": "garbage"}, **headers).status_code == 403
    assert _share_state(deal) == before


def test_a_rep_who_cannot_see_the_deal_gets_404(rep, other_rep):
    deal = _deal(rep)
    before = _share_state(deal)
    other = _client(other_rep)
    assert other.post(_share_url(deal), {"user": other_rep.pk}).status_code == 404
    assert other.post(_unshare_url(deal), {"user": other_rep.pk}).status_code == 404
    assert _share_state(deal) == before


def test_sharing_is_post_only_and_needs_a_session(rep_client, rep):
    deal = _deal(rep)
    assert rep_client.get(_share_url(deal)).status_code == 405
    assert rep_client.get(_unshare_url(deal)).status_code == 405
    response = Client().post(_share_url(deal), {"user": rep.pk})
    assert response.status_code == 302 and "/login/" in response["Location"]


def test_sharing_needs_the_csrf_token(rep, other_rep):
    deal = _deal(rep)
    client = Client(enforce_csrf_checks=True)
    client.force_login(rep)
    assert client.post(_share_url(deal), {"user": other_rep.pk}).status_code == 403
    assert not OpportunityShare.objects.exists()


@pytest.mark.parametrize(
    "who, error",
    [
        ("owner", "This user owns the opportunity already."),
        ("inactive", "Choose an active user."),
        ("empty", "Choose the user to share it with."),
        ("missing", "Choose the user to share it with."),
        ("unknown", "Select a valid choice."),
        ("garbage", "Select a valid choice."),
        ("huge", "Select a valid choice."),
    ],
)
def test_bad_shares_are_shown_next_to_the_picker_and_change_nothing(
    rep_client, rep, other_rep, who, error
):
    inactive = UserFactory(username="gone", is_active=False)
    deal = _deal(rep)
    before = _share_state(deal)
    value = {
        "owner": rep.pk,
        "inactive": inactive.pk,
        "empty": "",
        "unknown": "999999",
        "garbage": "abc",
        "huge": "9" * 30,
    }.get(who)
    data = {} if who == "missing" else {"user": value}
    response = rep_client.post(_share_url(deal), data)
    assert response.status_code == 400
    html = response.content.decode()
    panel = html.split('id="share-panel"')[1].split("</section>")[0]
    assert error in panel and 'id="share-user_error"' in panel
    assert 'aria-invalid="true"' in _select_tag(panel)
    # The page around it is whole: the move form and the history are there.
    assert 'id="move-title"' in html
    assert _share_state(deal) == before

    response = rep_client.post(_share_url(deal), data, **HTMX)
    assert response.status_code == 200
    assert error in _announced(response)
    assert error in response.content.decode()
    assert _share_state(deal) == before


def test_sharing_twice_says_so_and_writes_nothing(rep_client, rep, other_rep):
    deal = _deal(rep)
    services.opportunity_share(actor=rep, opportunity=deal, user=other_rep)
    before = _share_state(deal)
    response = rep_client.post(_share_url(deal), {"user": other_rep.pk}, follow=True)
    assert "“Big deal” is already shared with Otto Other." in response.content.decode()
    assert _share_state(deal) == before


@pytest.mark.parametrize("value", ["", "abc", "999999", "9" * 30])
def test_bad_unshares_are_400s_and_change_nothing(rep_client, rep, other_rep, value):
    deal = _deal(rep)
    services.opportunity_share(actor=rep, opportunity=deal, user=other_rep)
    before = _share_state(deal)
    response = rep_client.post(_unshare_url(deal), {"user": value})
    assert response.status_code == 400
    assert 'id="unshare-error"' in response.content.decode()
    response = rep_client.post(_unshare_url(deal), {"user": value}, **HTMX)
    assert response.status_code == 200 and 'id="unshare-error"' in response.content.decode()
    assert _share_state(deal) == before


def test_unsharing_someone_it_was_not_shared_with_says_so(rep_client, rep, other_rep):
    deal = _deal(rep)
    before = _share_state(deal)
    response = rep_client.post(_unshare_url(deal), {"user": other_rep.pk}, follow=True)
    assert "“Big deal” was not shared with Otto Other." in response.content.decode()
    assert _share_state(deal) == before


def test_an_archived_deal_cannot_be_shared(rep_client, rep, other_rep):
    deal = _deal(rep)
    services.opportunity_archive(actor=rep, opportunity=deal)
    assert rep_client.post(_share_url(deal), {"user": other_rep.pk}).status_code == 404
    assert not OpportunityShare.objects.exists()


def test_the_history_says_who_shared_it_with_whom(rep_client, rep, other_rep):
    deal = _deal(rep)
    rep_client.post(_share_url(deal), {"user": other_rep.pk})
    rep_client.post(_unshare_url(deal), {"user": other_rep.pk})
    html = rep_client.get(_detail(deal)).content.decode()
    assert "Rita Rep shared the opportunity with Otto Other." in html
    assert "Rita Rep stopped sharing the opportunity with Otto Other." in html


def test_the_audit_trail_names_the_group_and_the_rules(admin):
    from crm.web import describe_events

    team = TeamFactory(name="Iberia")
    services.opportunity_settings_update(
        actor=admin, assign_to_group=team, share_contact_when_assigned=False
    )
    event = Event.objects.filter(kind=OpportunityEvent.SETTINGS_CHANGED).get()
    [described] = describe_events([event], user=admin)
    assert described["summary"] == "Ada Admin changed the opportunity defaults."
    assert sorted(described["details"]) == [
        "Assign to group: (none) → Iberia",
        "Share contact when assigned: yes → no",
    ]


def _count(client, url) -> int:
    with CaptureQueriesContext(connection) as ctx:
        assert client.get(url).status_code == 200
    return len(ctx.captured_queries)


@pytest.mark.parametrize("who", ["owner", "admin"])
def test_detail_query_count_does_not_grow_with_shares(client, rep, admin, who):
    client.force_login(rep if who == "owner" else admin)
    deal = _deal(rep)
    users = [UserFactory(username=f"colleague{i}") for i in range(12)]
    for user in users[:2]:
        services.opportunity_share(actor=rep, opportunity=deal, user=user)
    few = _count(client, _detail(deal))
    for user in users[2:]:
        services.opportunity_share(actor=rep, opportunity=deal, user=user)
    many = _count(client, _detail(deal))
    assert few == many
    html = client.get(_detail(deal)).content.decode()
    assert html.count('name="user" value=') == 12


# --- owner pickers and the assign-to group -------------------------------------------------------


def _owner_options(response) -> list[str]:
    return [str(v) for v, _label in response.context["form"].fields["owner"].widget.choices]


def _group(admin, *members):
    team = TeamFactory(name="Closers")
    team.members.set(members)
    services.opportunity_settings_update(actor=admin, assign_to_group=team)
    return team


def test_without_a_group_every_active_user_is_offered(rep_client, rep, other_rep, admin):
    response = rep_client.get(reverse("opportunity-create"))
    assert {str(rep.pk), str(other_rep.pk), str(admin.pk)} <= set(_owner_options(response))


def test_with_a_group_the_create_form_offers_its_members_only(rep_client, rep, other_rep, admin):
    _group(admin, other_rep)
    response = rep_client.get(reverse("opportunity-create"))
    assert _owner_options(response) == [str(other_rep.pk)]
    html = response.content.decode()
    assert "Only members of the team “Closers” can own opportunities." in html


def test_a_non_member_owner_gets_the_services_error_on_the_owner_field(
    rep_client, rep, other_rep, admin, pipeline
):
    _group(admin, other_rep)
    contact = ContactFactory(owner=rep)
    data = {
        "name": "Grouped",
        "contact": contact.pk,
        "owner": rep.pk,
        "amount": "10",
        "stage": pipeline["Prospecting"].pk,
    }
    response = rep_client.post(reverse("opportunity-create"), data)
    assert response.status_code == 400
    assert response.context["form"].errors["owner"] == ["Choose an owner from the team “Closers”."]
    html = response.content.decode()
    assert 'id="id_owner_error"' in html
    # The choice stays on screen next to its error (a page loaded before the group was set).
    assert f'<option value="{rep.pk}" selected>Rita Rep</option>' in html
    assert set(_owner_options(response)) == {str(rep.pk), str(other_rep.pk)}
    assert not Opportunity.objects.exists()
    response = rep_client.post(reverse("opportunity-create"), {**data, "owner": other_rep.pk})
    assert response.status_code == 302
    assert Opportunity.objects.get().owner == other_rep


def test_the_edit_form_keeps_the_current_owner_and_refuses_non_members(
    rep_client, rep, other_rep, admin
):
    deal = _deal(rep)
    _group(admin, other_rep)
    url = reverse("opportunity-edit", args=[deal.pk])
    response = rep_client.get(url)
    assert set(_owner_options(response)) == {str(rep.pk), str(other_rep.pk)}
    outsider = UserFactory(username="outsider")
    data = {
        "name": deal.name,
        "contact": deal.contact_id,
        "owner": outsider.pk,
        "amount": "1000",
        "stage": deal.stage_id,
    }
    response = rep_client.post(url, data)
    assert response.status_code == 400
    assert "owner" in response.context["form"].errors
    deal.refresh_from_db()
    assert deal.owner == rep
    # Unchanged owner (not a member) is fine: the rule is about choosing a new one.
    response = rep_client.post(url, {**data, "owner": rep.pk, "name": "Renamed"})
    assert response.status_code == 302
    deal.refresh_from_db()
    assert deal.name == "Renamed" and deal.owner == rep
