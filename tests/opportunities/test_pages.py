"""The opportunity pages: list filters, board, detail with timeline, create / edit / move through
the services (the reason rule on and off, reopening), visibility (another rep's deal is a 404
everywhere) and constant query counts."""

import datetime as dt
import json
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from crm.models import Event
from crm.web import describe_events
from opportunities import services
from opportunities.models import Opportunity, StageChange
from tests.factories import ContactFactory, OpportunityFactory, StageFactory

pytestmark = pytest.mark.django_db

HTMX = {"HTTP_HX_REQUEST": "true"}


def _deal(owner, **kwargs):
    contact = kwargs.pop("contact", None) or ContactFactory(owner=owner)
    return OpportunityFactory(owner=owner, contact=contact, **kwargs)


def _settings(admin, **values):
    return services.opportunity_settings_update(actor=admin, **values)


def _snapshot():
    return (
        list(Opportunity.objects.order_by("id").values()),
        StageChange.objects.count(),
        Event.objects.count(),
    )


def _listed(client, **params) -> list[str]:
    response = client.get(reverse("opportunity-list"), params)
    assert response.status_code == 200
    return sorted(o.name for o in response.context["page_obj"])


@pytest.fixture
def deals(rep, pipeline):
    """Two open deals, two won and two lost ones, with different reasons."""
    win, loss = pipeline["win_reasons"], pipeline["loss_reasons"]
    out = {
        "prospect": _deal(rep, name="Prospect deal"),
        "proposal": _deal(rep, name="Proposal deal", stage=pipeline["Proposal"]),
        "won_price": _deal(rep, name="Won on price"),
        "won_rel": _deal(rep, name="Won by relationship"),
        "lost_budget": _deal(rep, name="Lost no budget"),
        "lost_comp": _deal(rep, name="Lost to competitor"),
    }
    move = services.opportunity_move
    move(actor=rep, opportunity=out["won_price"], stage=pipeline["Won"], win_reason=win["Price"])
    move(
        actor=rep,
        opportunity=out["won_rel"],
        stage=pipeline["Won"],
        win_reason=win["Relationship"],
    )
    move(
        actor=rep,
        opportunity=out["lost_budget"],
        stage=pipeline["Lost"],
        loss_reason=loss["No budget"],
    )
    move(
        actor=rep,
        opportunity=out["lost_comp"],
        stage=pipeline["Lost"],
        loss_reason=loss["Chose a competitor"],
    )
    return out


# --- list ----------------------------------------------------------------------------------------


def test_list_filters_by_win_and_loss_reason(rep_client, deals, pipeline):
    win, loss = pipeline["win_reasons"], pipeline["loss_reasons"]
    assert _listed(rep_client, win_reason=win["Price"].pk) == ["Won on price"]
    assert _listed(rep_client, win_reason=win["Relationship"].pk) == ["Won by relationship"]
    assert _listed(rep_client, loss_reason=loss["No budget"].pk) == ["Lost no budget"]
    assert _listed(rep_client, loss_reason=loss["Chose a competitor"].pk) == ["Lost to competitor"]
    assert _listed(rep_client, win_reason=win["Support and service"].pk) == []


def test_list_filters_by_stage_status_and_search(rep_client, deals, pipeline):
    assert _listed(rep_client, stage=pipeline["Proposal"].pk) == ["Proposal deal"]
    assert _listed(rep_client, stage=pipeline["Won"].pk) == ["Won by relationship", "Won on price"]
    assert _listed(rep_client, status="open") == ["Proposal deal", "Prospect deal"]
    assert _listed(rep_client, status="won") == ["Won by relationship", "Won on price"]
    assert _listed(rep_client, status="lost") == ["Lost no budget", "Lost to competitor"]
    assert (
        _listed(
            rep_client, status="lost", loss_reason=pipeline["loss_reasons"]["Price too high"].pk
        )
        == []
    )
    assert _listed(rep_client, q="competitor") == ["Lost to competitor"]
    contact = deals["proposal"].contact
    assert _listed(rep_client, contact=contact.pk) == ["Proposal deal"]


def test_list_shows_status_and_reason_as_text_and_offers_the_filters(rep_client, deals):
    html = rep_client.get(reverse("opportunity-list")).content.decode()
    for text in ("Open", "Won", "Lost", "Price", "No budget", "Chose a competitor"):
        assert text in html
    for label in ("Win reason", "Loss reason", "Stage", "Status", "Owner"):
        assert f">{label}" in html
    assert reverse("opportunity-board") in html
    assert "read-only" not in html


def test_list_sorts_and_paginates(rep_client, rep):
    for i in range(30):
        _deal(rep, name=f"Deal {i:02}", amount=i)
    response = rep_client.get(reverse("opportunity-list"), {"sort": "-amount"})
    names = [o.name for o in response.context["page_obj"]]
    assert names[:2] == ["Deal 29", "Deal 28"] and len(names) == 25
    response = rep_client.get(reverse("opportunity-list"), {"sort": "-amount", "page": 2})
    assert [o.name for o in response.context["page_obj"]] == [
        f"Deal {i:02}" for i in range(4, -1, -1)
    ]


def test_list_survives_garbage_in_the_url(rep_client, deals):
    garbage = {
        "q": "a\x00b",
        "owner": "1e400",
        "stage": "x",
        "contact": "99999999999999999999",
        "status": "maybe",
        "win_reason": "2.5",
        "loss_reason": "-1",
        "closed_after": "yesterday",
        "sort": "password",
        "page": "last",
    }
    response = rep_client.get(reverse("opportunity-list"), garbage)
    assert response.status_code == 200


def test_list_filter_dates_by_closing(rep_client, deals):
    today = timezone.localdate().isoformat()
    names = _listed(rep_client, closed_after=today, closed_before=today)
    assert names == ["Lost no budget", "Lost to competitor", "Won by relationship", "Won on price"]


# --- visibility ----------------------------------------------------------------------------------


def test_other_reps_deal_is_404_on_every_page(rep_client, other_rep, pipeline):
    deal = _deal(other_rep, name="Secret deal")
    before = _snapshot()
    for name in (
        "opportunity-detail",
        "opportunity-edit",
        "opportunity-move",
        "opportunity-archive",
    ):
        url = reverse(name, args=[deal.pk])
        assert rep_client.get(url).status_code == 404, name
        response = rep_client.post(url, {"name": "x", "stage": pipeline["Won"].pk})
        assert response.status_code == 404, name
    response = rep_client.post(
        reverse("opportunity-move", args=[deal.pk]), {"stage": pipeline["Proposal"].pk}, **HTMX
    )
    assert response.status_code == 404
    assert _snapshot() == before
    for url in (reverse("opportunity-list"), reverse("opportunity-board")):
        html = rep_client.get(url, {"owner": other_rep.pk}).content.decode()
        assert "Secret deal" not in html
    html = rep_client.get(reverse("opportunity-list"), {"q": "Secret"}).content.decode()
    assert "Secret deal" not in html


def test_rep_cannot_create_a_deal_on_another_reps_contact(rep_client, rep, other_rep, pipeline):
    theirs = ContactFactory(owner=other_rep, last_name="Theirs")
    html = rep_client.get(reverse("opportunity-create"), {"contact": theirs.pk}).content.decode()
    assert "Theirs" not in html
    response = rep_client.post(
        reverse("opportunity-create"),
        {
            "name": "Sneaky",
            "contact": theirs.pk,
            "owner": rep.pk,
            "amount": "10",
            "stage": pipeline["Prospecting"].pk,
        },
    )
    assert response.status_code == 400
    assert "contact" in response.context["form"].errors
    assert not Opportunity.objects.exists()


def test_anonymous_is_sent_to_login(client):
    for name in ("opportunity-list", "opportunity-board", "opportunity-create"):
        response = client.get(reverse(name))
        assert response.status_code == 302 and reverse("login") in response["Location"]


# --- create / edit -------------------------------------------------------------------------------


def test_create_preselects_the_contact_and_saves_through_the_service(rep_client, rep, pipeline):
    contact = ContactFactory(owner=rep, first_name="Lucía", last_name="Pérez")
    response = rep_client.get(reverse("opportunity-create"), {"contact": contact.pk})
    assert response.status_code == 200
    assert response.context["form"]["contact"].value() == contact.pk
    assert (
        f'<option value="{contact.pk}" selected>Lucía Pérez</option>' in response.content.decode()
    )
    assert rep_client.get(reverse("opportunity-create"), {"contact": "x"}).status_code == 200

    response = rep_client.post(
        reverse("opportunity-create") + f"?contact={contact.pk}",
        {
            "name": "  Renewal 2025 ",
            "contact": contact.pk,
            "owner": rep.pk,
            "amount": "12345.67",
            "stage": pipeline["Qualification"].pk,
        },
    )
    deal = Opportunity.objects.get()
    assert response.status_code == 302 and response["Location"] == reverse(
        "opportunity-detail", args=[deal.pk]
    )
    assert (deal.name, deal.amount, deal.stage, deal.status) == (
        "Renewal 2025",
        Decimal("12345.67"),
        pipeline["Qualification"],
        "open",
    )
    assert StageChange.objects.filter(opportunity=deal).count() == 1
    assert Event.objects.filter(opportunity=deal, kind="created").exists()


def test_create_with_bad_input_shows_field_errors_and_saves_nothing(rep_client, rep, pipeline):
    contact = ContactFactory(owner=rep)
    bad = {
        "name": "",
        "contact": "abc",
        "owner": "999999",
        "amount": "lots",
        "stage": "1e400",
        "win_reason": "\x00",
    }
    response = rep_client.post(reverse("opportunity-create"), bad)
    assert response.status_code == 400
    errors = response.context["form"].errors
    assert {"name", "contact", "owner", "amount", "stage"} <= set(errors)
    html = response.content.decode()
    assert "Please correct the errors below." in html
    response = rep_client.post(
        reverse("opportunity-create"),
        {
            "name": "x",
            "contact": contact.pk,
            "owner": rep.pk,
            "amount": "-5",
            "stage": pipeline["Prospecting"].pk,
        },
    )
    assert response.status_code == 400 and "amount" in response.context["form"].errors
    response = rep_client.post(
        reverse("opportunity-create"),
        {
            "name": "x",
            "contact": contact.pk,
            "owner": rep.pk,
            "amount": "1" * 20,
            "stage": pipeline["Prospecting"].pk,
        },
    )
    assert response.status_code == 400 and "amount" in response.context["form"].errors
    assert not Opportunity.objects.exists() and not StageChange.objects.exists()


def test_create_errors_are_translated(rep_client, rep):
    response = rep_client.post(
        reverse("opportunity-create"), {"name": ""}, HTTP_ACCEPT_LANGUAGE="es"
    )
    assert response.status_code == 400
    assert "Este campo es requerido." in response.content.decode()


def test_create_in_the_win_stage_follows_the_reason_rule(rep_client, rep, admin, pipeline):
    contact = ContactFactory(owner=rep)
    data = {
        "name": "Closed at once",
        "contact": contact.pk,
        "owner": rep.pk,
        "amount": "5",
        "stage": pipeline["Won"].pk,
    }
    response = rep_client.post(reverse("opportunity-create"), data)
    assert response.status_code == 400
    assert response.context["form"].errors["win_reason"] == ["Choose why this deal was won."]
    assert not Opportunity.objects.exists()
    _settings(admin, require_win_reason=False)
    response = rep_client.post(reverse("opportunity-create"), data)
    assert response.status_code == 302
    deal = Opportunity.objects.get()
    assert (deal.status, deal.win_reason) == ("won", None)


def test_edit_changes_fields_and_moves_through_the_service(rep_client, rep, pipeline):
    deal = _deal(rep, name="Old name", amount=10)
    url = reverse("opportunity-edit", args=[deal.pk])
    response = rep_client.get(url)
    assert response.status_code == 200
    form_data = {
        "name": "New name",
        "contact": deal.contact_id,
        "owner": rep.pk,
        "amount": "20",
        "stage": pipeline["Won"].pk,
        "win_reason": "",
        "loss_reason": "",
    }
    before = _snapshot()
    response = rep_client.post(url, form_data)
    assert response.status_code == 400
    assert "Choose why this deal was won." in response.content.decode()
    assert _snapshot() == before  # the name change was rolled back with the refused move
    form_data["win_reason"] = pipeline["win_reasons"]["Price"].pk
    response = rep_client.post(url, form_data)
    assert response.status_code == 302
    deal.refresh_from_db()
    assert (deal.name, deal.amount, deal.status, deal.win_reason.name) == (
        "New name",
        Decimal("20"),
        "won",
        "Price",
    )
    assert Event.objects.filter(opportunity=deal, kind="updated").exists()
    assert Event.objects.filter(opportunity=deal, kind="stage_changed").exists()


def test_edit_handing_the_deal_to_another_rep_goes_back_to_the_list(
    rep_client, rep, other_rep, pipeline
):
    deal = _deal(rep)
    response = rep_client.post(
        reverse("opportunity-edit", args=[deal.pk]),
        {
            "name": deal.name,
            "contact": deal.contact_id,
            "owner": other_rep.pk,
            "amount": "1000",
            "stage": deal.stage_id,
        },
    )
    assert response.status_code == 302 and response["Location"] == reverse("opportunity-list")
    deal.refresh_from_db()
    assert deal.owner == other_rep
    html = rep_client.get(response["Location"]).content.decode()
    assert "now belongs to Otto Other" in html


# --- move ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("stage", "field", "setting", "reason", "message"),
    [
        ("Won", "win_reason", "require_win_reason", "Price", "Choose why this deal was won."),
        (
            "Lost",
            "loss_reason",
            "require_loss_reason",
            "No budget",
            "Choose why this deal was lost.",
        ),
    ],
)
def test_move_page_follows_the_reason_rule(
    rep_client, rep, admin, pipeline, stage, field, setting, reason, message
):
    deal = _deal(rep, stage=pipeline["Negotiation"])
    url = reverse("opportunity-move", args=[deal.pk])
    before = _snapshot()
    response = rep_client.post(url, {"stage": pipeline[stage].pk})
    assert response.status_code == 400
    assert message in response.content.decode()
    assert response.context["form"].errors[field] == [message]
    assert _snapshot() == before

    reasons = pipeline["win_reasons" if field == "win_reason" else "loss_reasons"]
    response = rep_client.post(url, {"stage": pipeline[stage].pk, field: reasons[reason].pk})
    assert response.status_code == 302
    assert response["Location"] == reverse("opportunity-detail", args=[deal.pk])
    deal.refresh_from_db()
    assert deal.status == stage.lower() and getattr(deal, field) == reasons[reason]

    # The switch off: moving there without a reason is accepted.
    other = _deal(rep, stage=pipeline["Negotiation"])
    _settings(admin, **{setting: False})
    response = rep_client.post(
        reverse("opportunity-move", args=[other.pk]), {"stage": pipeline[stage].pk}
    )
    assert response.status_code == 302
    other.refresh_from_db()
    assert other.status == stage.lower() and getattr(other, field) is None


def test_move_page_get_is_the_no_js_form(rep_client, rep, pipeline):
    deal = _deal(rep, name="Plain deal")
    response = rep_client.get(reverse("opportunity-move", args=[deal.pk]))
    assert response.status_code == 200
    html = response.content.decode()
    assert "Move “Plain deal”" in html and 'name="win_reason"' in html


def test_move_with_garbage_is_a_form_error(rep_client, rep, pipeline):
    deal = _deal(rep)
    before = _snapshot()
    url = reverse("opportunity-move", args=[deal.pk])
    for data in (
        {"stage": "abc"},
        {},
        {"stage": "99999999"},
        {"stage": pipeline["Won"].pk, "win_reason": "x"},
    ):
        response = rep_client.post(url, data)
        assert response.status_code == 400, data
    assert _snapshot() == before


def test_move_to_an_archived_stage_is_refused(rep_client, rep, admin, pipeline):
    old = StageFactory(name="Old stage")
    services.stage_delete(actor=admin, stage=old)
    deal = _deal(rep)
    response = rep_client.post(reverse("opportunity-move", args=[deal.pk]), {"stage": old.pk})
    assert response.status_code == 400
    deal.refresh_from_db()
    assert deal.stage == pipeline["Prospecting"]


def test_reopening_clears_the_reason_and_says_so(rep_client, rep, pipeline):
    deal = _deal(rep, name="Comeback")
    services.opportunity_move(
        actor=rep,
        opportunity=deal,
        stage=pipeline["Lost"],
        loss_reason=pipeline["loss_reasons"]["No budget"],
    )
    response = rep_client.post(
        reverse("opportunity-move", args=[deal.pk]),
        {"stage": pipeline["Proposal"].pk, "loss_reason": pipeline["loss_reasons"]["No budget"].pk},
        follow=True,
    )
    deal.refresh_from_db()
    assert (deal.status, deal.loss_reason, deal.closed_at) == ("open", None, None)
    html = response.content.decode()
    assert "“Comeback” moved to Proposal: open again, its reason cleared." in html
    assert "Rita Rep reopened the deal: moved from Lost to Proposal." in html
    assert "Reason cleared (was: No budget)." in html
    # the history keeps the reason
    assert StageChange.objects.filter(opportunity=deal, loss_reason__name="No budget").exists()


def test_same_stage_changes_why_it_was_won(rep_client, rep, pipeline):
    win = pipeline["win_reasons"]
    deal = _deal(rep)
    services.opportunity_move(
        actor=rep, opportunity=deal, stage=pipeline["Won"], win_reason=win["Price"]
    )
    response = rep_client.post(
        reverse("opportunity-move", args=[deal.pk]),
        {"stage": pipeline["Won"].pk, "win_reason": win["Relationship"].pk},
        follow=True,
    )
    deal.refresh_from_db()
    assert deal.win_reason == win["Relationship"]
    html = response.content.decode()
    assert "Rita Rep changed why the deal was won: Relationship." in html
    assert "Before: Price" in html


def test_move_to_the_same_open_stage_changes_nothing(rep_client, rep, pipeline):
    deal = _deal(rep, name="Stay")
    before = _snapshot()
    response = rep_client.post(
        reverse("opportunity-move", args=[deal.pk]), {"stage": deal.stage_id}, follow=True
    )
    assert "“Stay” is already in Prospecting." in response.content.decode()
    assert _snapshot() == before


def test_htmx_move_redraws_the_board_and_announces(rep_client, rep, pipeline):
    deal = _deal(rep, name="Drag me")
    response = rep_client.post(
        reverse("opportunity-move", args=[deal.pk]),
        {
            "stage": pipeline["Won"].pk,
            "win_reason": pipeline["win_reasons"]["Price"].pk,
            "board_owner": "",
        },
        **HTMX,
    )
    assert response.status_code == 200
    assert json.loads(response["HX-Trigger"]) == {
        "crm:announce": "“Drag me” moved to Won: won (Price)."
    }
    html = response.content.decode()
    assert html.startswith('<div id="board"') and "<html" not in html
    won_column = html.split(f'data-stage="{pipeline["Won"].pk}" aria-labelledby')[1]
    assert "Drag me" in won_column.split("</section>")[0]
    deal.refresh_from_db()
    assert deal.status == "won"


def test_htmx_move_without_a_required_reason_is_a_400_with_the_error_on_the_card(
    rep_client, rep, pipeline
):
    deal = _deal(rep, name="Bypass")
    before = _snapshot()
    response = rep_client.post(
        reverse("opportunity-move", args=[deal.pk]), {"stage": pipeline["Lost"].pk}, **HTMX
    )
    assert response.status_code == 400
    assert json.loads(response["HX-Trigger"]) == {"crm:announce": "Choose why this deal was lost."}
    html = response.content.decode()
    assert f'id="card-{deal.pk}-errors"' in html and "Choose why this deal was lost." in html
    assert _snapshot() == before


def test_no_js_board_move_goes_back_to_the_board(rep_client, rep, pipeline):
    deal = _deal(rep)
    board = reverse("opportunity-board")
    response = rep_client.post(
        reverse("opportunity-move", args=[deal.pk]),
        {"stage": pipeline["Proposal"].pk, "next": board},
    )
    assert response.status_code == 302 and response["Location"] == board
    response = rep_client.post(
        reverse("opportunity-move", args=[deal.pk]),
        {"stage": pipeline["Negotiation"].pk, "next": "https://evil.example/"},
    )
    assert response["Location"] == reverse("opportunity-detail", args=[deal.pk])


# --- detail, timeline, archive -------------------------------------------------------------------


def test_detail_shows_the_deal_and_a_readable_history(rep_client, rep, pipeline):
    contact = ContactFactory(owner=rep, first_name="Ana", last_name="Gil")
    deal = services.opportunity_create(
        actor=rep, name="Big one", contact=contact, amount=Decimal("1500.50")
    )
    services.opportunity_move(actor=rep, opportunity=deal, stage=pipeline["Proposal"])
    services.opportunity_move(
        actor=rep,
        opportunity=deal,
        stage=pipeline["Won"],
        win_reason=pipeline["win_reasons"]["Price"],
    )
    html = rep_client.get(reverse("opportunity-detail", args=[deal.pk])).content.decode()
    assert f'href="{reverse("contact-detail", args=[contact.pk])}"' in html
    assert "Ana Gil" in html and "1,500.50" in html
    assert "Won: Price." in html
    assert "Less than a day in stage" in html
    assert "Rita Rep created the opportunity “Big one”." in html
    assert "Rita Rep moved the deal from Prospecting to Proposal." in html
    assert "Rita Rep moved the deal from Proposal to Won: won (Price)." in html
    assert 'action="' + reverse("opportunity-move", args=[deal.pk]) in html
    assert "Move to stage" in html


def test_detail_time_in_stage_counts_days(rep_client, rep):
    deal = _deal(rep, stage_entered_at=timezone.now() - dt.timedelta(days=3, hours=2))
    html = rep_client.get(reverse("opportunity-detail", args=[deal.pk])).content.decode()
    assert "3 days in stage" in html
    deal.stage_entered_at = timezone.now() - dt.timedelta(days=1, hours=1)
    deal.save()
    html = rep_client.get(reverse("opportunity-detail", args=[deal.pk])).content.decode()
    assert "1 day in stage" in html


def test_timeline_says_lost_without_a_reason(rep_client, rep, admin, pipeline):
    _settings(admin, require_loss_reason=False)
    deal = _deal(rep)
    services.opportunity_move(actor=rep, opportunity=deal, stage=pipeline["Lost"])
    html = rep_client.get(reverse("opportunity-detail", args=[deal.pk])).content.decode()
    assert "moved the deal from Prospecting to Lost: lost, no reason given." in html
    assert "Lost, no reason given." in html


def test_settings_and_list_events_read_as_sentences(admin, pipeline):
    _settings(admin, require_win_reason=False, default_stage=pipeline["Qualification"])
    stage = services.stage_create(actor=admin, name="Demo")
    services.stage_update(actor=admin, stage=stage, name="Demo call")
    reason = services.win_reason_create(actor=admin, name="Speed")
    services.win_reason_update(actor=admin, reason=reason, name="Fast delivery")
    services.loss_reason_delete(actor=admin, reason=pipeline["loss_reasons"]["No decision"])
    events = list(Event.objects.order_by("id"))
    summaries = [d["summary"] for d in describe_events(events, user=admin)]
    details = [line for d in describe_events(events, user=admin) for line in d["details"]]
    assert summaries == [
        "Ada Admin changed the opportunity defaults.",
        "Ada Admin added the stage “Demo” to the pipeline.",
        "Ada Admin renamed the stage “Demo” to “Demo call”.",
        "Ada Admin added the win reason “Speed”.",
        "Ada Admin renamed the win reason “Speed” to “Fast delivery”.",
        "Ada Admin deleted the loss reason “No decision”.",
    ]
    assert "Default stage: Prospecting → Qualification" in details
    assert "Require a win reason: yes → no" in details


def test_archive_with_confirmation(rep_client, rep):
    deal = _deal(rep, name="Old deal")
    url = reverse("opportunity-archive", args=[deal.pk])
    assert "Archive opportunity “Old deal”?" in rep_client.get(url).content.decode()
    response = rep_client.post(url)
    assert response.status_code == 302 and response["Location"] == reverse("opportunity-list")
    deal.refresh_from_db()
    assert deal.archived_at is not None
    assert rep_client.get(reverse("opportunity-detail", args=[deal.pk])).status_code == 404
    assert "Old deal" not in rep_client.get(reverse("opportunity-board")).content.decode()


# --- board ---------------------------------------------------------------------------------------


def test_board_has_a_column_per_stage_with_counts_totals_and_cards(
    rep_client, rep, deals, pipeline
):
    _deal(
        rep,
        name="Older",
        stage=pipeline["Proposal"],
        amount=500,
        stage_entered_at=timezone.now() - dt.timedelta(days=3),
    )
    response = rep_client.get(reverse("opportunity-board"))
    assert response.status_code == 200
    columns = {str(c.stage): c for c in response.context["columns"]}
    assert list(columns) == [
        "Prospecting",
        "Qualification",
        "Proposal",
        "Negotiation",
        "Won",
        "Lost",
    ]
    assert {name: c.count for name, c in columns.items()} == {
        "Prospecting": 1,
        "Qualification": 0,
        "Proposal": 2,
        "Negotiation": 0,
        "Won": 2,
        "Lost": 2,
    }
    assert columns["Proposal"].total == Decimal("1500")
    assert [c.name for c in columns["Won"].cards] == ["Won by relationship", "Won on price"]
    html = response.content.decode()
    assert "3 days in stage" in html and "2 deals" in html and "1,500.00" in html
    assert "Closes as won" in html and "Closes as lost" in html
    assert html.count('class="board-card"') == 7
    assert html.count("data-move-form") == 7
    assert 'id="reason-dialog-won"' in html and 'id="reason-dialog-lost"' in html
    assert "js/board.js" in html
    # the dialog's reason is required while the setting is on
    assert 'name="win_reason" required' in html and 'name="loss_reason" required' in html


def test_each_card_offers_every_stage_with_its_own_selected(rep_client, rep, pipeline):
    """The "move to" picker of every card: each stage once, in order, the card's own selected,
    the win and loss stages marked for the reason dialog, names escaped."""
    import re

    from opportunities.models import Stage

    Stage.objects.filter(pk=pipeline["Negotiation"].pk).update(name="Talks <& terms>")
    first = _deal(rep, name="First", stage=pipeline["Prospecting"])
    second = _deal(rep, name="Second", stage=pipeline["Proposal"])
    html = rep_client.get(reverse("opportunity-board")).content.decode()
    order = ["Prospecting", "Qualification", "Proposal", "Negotiation", "Won", "Lost"]
    for deal in (first, second):
        picker = re.search(rf'<select id="move-{deal.pk}"[^>]*>(.*?)</select>', html, re.S)
        options = re.findall(r'<option value="(\d+)"( selected)?( data-close="(\w+)")?>', picker[1])
        assert [int(value) for value, *_ in options] == [pipeline[name].pk for name in order]
        assert [int(value) for value, chosen, *_ in options if chosen] == [deal.stage_id]
        assert {int(v): close for v, _c, _d, close in options if close} == {
            pipeline["Won"].pk: "won",
            pipeline["Lost"].pk: "lost",
        }
        assert ">Talks &lt;&amp; terms&gt;</option>" in picker[1]


def test_board_dialog_reason_is_optional_when_not_required(rep_client, admin, pipeline):
    _settings(admin, require_win_reason=False)
    html = rep_client.get(reverse("opportunity-board")).content.decode()
    assert 'name="win_reason" required' not in html
    assert 'name="loss_reason" required' in html


def test_board_owner_filter_for_admins(admin_client_, rep, other_rep, pipeline):
    _deal(rep, name="Rita deal")
    _deal(other_rep, name="Otto deal")
    html = admin_client_.get(reverse("opportunity-board")).content.decode()
    assert "Rita deal" in html and "Otto deal" in html
    html = admin_client_.get(reverse("opportunity-board"), {"owner": rep.pk}).content.decode()
    assert "Rita deal" in html and "Otto deal" not in html
    response = admin_client_.get(reverse("opportunity-board"), {"owner": "nobody"})
    assert response.status_code == 200 and "Otto deal" in response.content.decode()


def test_board_shows_only_the_reps_own_deals(rep_client, rep, other_rep):
    _deal(rep, name="Mine")
    _deal(other_rep, name="Not mine")
    html = rep_client.get(reverse("opportunity-board")).content.decode()
    assert "Mine" in html and "Not mine" not in html


# --- contact page --------------------------------------------------------------------------------


def test_contact_page_links_to_a_new_opportunity_and_lists_its_deals(rep_client, rep, other_rep):
    contact = ContactFactory(owner=rep)
    _deal(rep, name="With this contact", contact=contact)
    _deal(other_rep, name="Another rep's", contact=contact)
    html = rep_client.get(reverse("contact-detail", args=[contact.pk])).content.decode()
    assert f"{reverse('opportunity-create')}?contact={contact.pk}" in html
    assert "With this contact" in html and "Another rep&#x27;s" not in html
    assert f"{reverse('opportunity-list')}?contact={contact.pk}" in html


# --- query counts --------------------------------------------------------------------------------


def _count(client, url, params=None):
    with CaptureQueriesContext(connection) as ctx:
        response = client.get(url, params or {})
    assert response.status_code == 200
    return len(ctx.captured_queries)


def _make_deals(n, owner, pipeline):
    stages = [pipeline[s] for s in ("Prospecting", "Proposal", "Won", "Lost")]
    for i in range(n):
        deal = _deal(owner, stage=stages[i % 2])
        if i % 4 == 2:
            services.opportunity_move(
                actor=owner,
                opportunity=deal,
                stage=stages[2],
                win_reason=pipeline["win_reasons"]["Price"],
            )
        elif i % 4 == 3:
            services.opportunity_move(
                actor=owner,
                opportunity=deal,
                stage=stages[3],
                loss_reason=pipeline["loss_reasons"]["No budget"],
            )


@pytest.mark.parametrize(
    ("url_name", "params"),
    [
        ("opportunity-list", {}),
        ("opportunity-list", {"status": "won", "sort": "-amount"}),
        ("opportunity-board", {}),
    ],
)
@pytest.mark.parametrize("who", ["rep", "admin"])
def test_list_and_board_query_counts_do_not_grow(
    client, rep, admin, pipeline, url_name, params, who
):
    user = rep if who == "rep" else admin
    client.force_login(user)
    url = reverse(url_name)
    _make_deals(5, rep, pipeline)
    few = _count(client, url, params)
    _make_deals(40, rep, pipeline)
    many = _count(client, url, params)
    assert few == many


def test_detail_query_count_does_not_grow_with_history(rep_client, rep, pipeline):
    deal = _deal(rep)
    url = reverse("opportunity-detail", args=[deal.pk])
    stages = [pipeline["Proposal"], pipeline["Negotiation"]]

    def churn(n):
        for i in range(n):
            services.opportunity_move(actor=rep, opportunity=deal, stage=stages[i % 2])
            services.opportunity_update(actor=rep, opportunity=deal, amount=Decimal(i))

    churn(2)
    few = _count(rep_client, url)
    churn(10)
    many = _count(rep_client, url)
    assert few == many


def test_huge_and_odd_ids_are_form_errors_not_500s(rep_client, rep, pipeline):
    deal = _deal(rep)
    huge = "9" * 30
    assert rep_client.get(reverse("opportunity-board"), {"owner": huge}).status_code == 200
    assert rep_client.get(reverse("opportunity-create"), {"contact": huge}).status_code == 200
    response = rep_client.post(
        reverse("opportunity-create"),
        {"name": "x", "contact": huge, "owner": huge, "amount": "1", "stage": huge},
    )
    assert response.status_code == 400
    for data in ({"stage": huge}, {"stage": pipeline["Won"].pk, "win_reason": huge}):
        response = rep_client.post(reverse("opportunity-move", args=[deal.pk]), data)
        assert response.status_code == 400
    assert rep_client.get("/opportunities/" + huge + "/").status_code == 404


def test_amount_changes_read_localized_in_the_history(rep):
    from django.utils import translation

    deal = _deal(rep)
    services.opportunity_update(actor=rep, opportunity=deal, amount=Decimal("12345.5"))
    events = list(Event.objects.filter(opportunity=deal, kind="updated"))
    with translation.override("es"):
        details = [line for d in describe_events(events, user=rep) for line in d["details"]]
    assert any("12.345,50" in line for line in details), details


def test_board_shows_the_latest_cards_and_links_to_the_rest(rep_client, rep, pipeline):
    """An open column shows its 25 most recent deals, the win and loss columns their 10 latest
    (history); each links to the list for the rest."""
    contact = ContactFactory(owner=rep)
    now = timezone.now()
    for i in range(27):
        _deal(
            rep,
            contact=contact,
            name=f"Open {i:02}",
            stage_entered_at=now - dt.timedelta(hours=i),
        )
    won = pipeline["settings"].win_stage
    for i in range(12):
        _deal(
            rep,
            contact=contact,
            name=f"Won {i:02}",
            stage=won,
            status="won",
            closed_at=now,
            stage_entered_at=now - dt.timedelta(hours=i),
        )
    response = rep_client.get(reverse("opportunity-board"))
    columns = {str(c.stage): c for c in response.context["columns"]}
    prospecting = columns["Prospecting"]
    assert prospecting.count == 27
    assert [c.name for c in prospecting.cards] == [f"Open {i:02}" for i in range(25)]
    assert [c.name for c in columns["Won"].cards] == [f"Won {i:02}" for i in range(10)]
    body = response.content.decode()
    assert "2 more deals: see the list" in body
    assert f"?stage={won.pk}" in body and "2 more deals: see the list" in body


def test_board_merges_own_and_shared_deals_newest_first(rep, other_rep, admin, pipeline):
    """A rep's board reads their own deals and the ones shared with them separately: each column
    keeps the newest of both, counts and totals add up, a deal in both parts counts once."""
    from opportunities.selectors import opportunity_board

    now = timezone.now()
    stage = pipeline["Proposal"]

    def deal(owner, name, days, amount):
        return _deal(
            owner,
            name=name,
            stage=stage,
            amount=amount,
            stage_entered_at=now - dt.timedelta(days=days),
        )

    own = [deal(rep, f"Own {d}", d, 100) for d in (1, 4, 6)]
    shared = [deal(other_rep, f"Shared {d}", d, 10) for d in (2, 3, 5, 7)]
    for opp in shared:
        services.opportunity_share(actor=admin, opportunity=opp, user=rep)
    both = deal(other_rep, "Own and shared 0", 0, 1000)
    services.opportunity_share(actor=admin, opportunity=both, user=rep)
    Opportunity.objects.filter(pk=both.pk).update(owner=rep)  # reassigned since it was shared
    deal(other_rep, "Not shared", 0, 5)

    columns = {c.stage.pk: c for c in opportunity_board(user=rep, per_column=4)}
    column = columns[stage.pk]
    assert [c.name for c in column.cards] == [
        "Own and shared 0",
        "Own 1",
        "Shared 2",
        "Shared 3",
    ]
    assert column.count == len(own) + len(shared) + 1
    assert column.total == Decimal(3 * 100 + 4 * 10 + 1000)
    admin_column = {c.stage.pk: c for c in opportunity_board(user=admin)}[stage.pk]
    assert admin_column.count == column.count + 1
    only_other = {c.stage.pk: c for c in opportunity_board(user=rep, owner_id=other_rep.pk)}
    assert [c.name for c in only_other[stage.pk].cards] == [
        "Shared 2",
        "Shared 3",
        "Shared 5",
        "Shared 7",
    ]
    assert only_other[stage.pk].total == Decimal(40)


def test_board_queries_do_not_grow_with_shared_deals(rep_client, rep, other_rep, admin, pipeline):
    def count():
        with CaptureQueriesContext(connection) as ctx:
            assert rep_client.get(reverse("opportunity-board")).status_code == 200
        return len(ctx.captured_queries)

    def share(n):
        for _ in range(n):
            opp = _deal(other_rep, stage=pipeline["Proposal"])
            services.opportunity_share(actor=admin, opportunity=opp, user=rep)

    share(1)
    small = count()
    share(12)
    assert count() == small


@pytest.mark.parametrize("sort", ["", "name", "-amount", "created", "-in_stage", "closed"])
def test_a_reps_list_in_two_parts_pages_like_the_whole(rf, rep, other_rep, admin, sort):
    """``crm.web.CappedPaginator`` over a rep's own deals and the ones shared with them gives
    the same pages and count as over their whole visible set, in every sort."""
    from crm.web import paginate
    from opportunities.filters import OpportunityFilter
    from opportunities.selectors import opportunity_list
    from opportunities.views import _visible_parts

    now = timezone.now()
    for i in range(30):
        owner = (rep, other_rep)[i % 2]
        opp = _deal(
            owner,
            name=f"Deal {i % 7}",
            amount=100 * (i % 5),
            stage_entered_at=now - dt.timedelta(days=i % 4),
        )
        if owner == other_rep and i % 4 == 1:
            services.opportunity_share(actor=admin, opportunity=opp, user=rep)
    both = _deal(other_rep, name="Both")
    services.opportunity_share(actor=admin, opportunity=both, user=rep)
    Opportunity.objects.filter(pk=both.pk).update(owner=rep)

    for page in ("1", "2", "3"):
        params = {"sort": sort, "page": page} if sort else {"page": page}
        request = rf.get("/opportunities/", params)
        request.user = rep
        fs = OpportunityFilter(request.GET, queryset=opportunity_list(user=rep), request=request)
        parts = _visible_parts(request, fs)
        assert parts is not None and len(parts) == 2
        whole = paginate(request, fs.qs)
        in_parts = paginate(request, fs.qs, parts=parts)
        assert in_parts.paginator.count == whole.paginator.count == 15 + 8 + 1 - 1 + 1
        assert [o.pk for o in in_parts.object_list] == [o.pk for o in whole.object_list]
