"""Settings > Leads: disqualification reasons and the "ask for a reason" setting (admins only)."""

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from crm.models import Event
from leads import selectors, services
from leads.models import DisqualificationReason, LeadEvent, LeadSettings
from tests.factories import LeadFactory

pytestmark = pytest.mark.django_db

TAB = reverse("settings-leads")


def _snapshot():
    return (
        list(DisqualificationReason.objects.values().order_by("pk")),
        list(LeadSettings.objects.values()),
        Event.objects.count(),
    )


def _reason_events(action=None):
    events = Event.objects.filter(kind=LeadEvent.REASON_CHANGED).order_by("pk")
    return [e for e in events if action is None or e.data["action"] == action]


def _active_names():
    return list(selectors.disqualification_reason_choices().values_list("name", flat=True))


# --- access --------------------------------------------------------------------------------------

WRITES = [
    ("settings-lead-reason-create", False, {"name": "Too small"}),
    ("settings-lead-reason-edit", True, {"name": "Renamed"}),
    ("settings-lead-reason-delete", True, {}),
    ("settings-lead-reason-move", True, {"direction": "down"}),
    ("settings-lead-ask", False, {"ask": "no"}),
]
ALL_URLS = [("settings-leads", False, {}), *WRITES]


@pytest.mark.parametrize(("name", "with_pk", "data"), ALL_URLS)
def test_rep_gets_403_everywhere_and_nothing_changes(rep_client, reasons, name, with_pk, data):
    url = reverse(name, args=[reasons["No need"].pk] if with_pk else [])
    before = _snapshot()
    assert rep_client.get(url).status_code == 403
    assert rep_client.post(url, data).status_code == 403
    assert rep_client.post(url, data, HTTP_HX_REQUEST="true").status_code == 403
    assert _snapshot() == before


@pytest.mark.parametrize(("name", "with_pk", "data"), ALL_URLS)
def test_anonymous_is_sent_to_login(client, reasons, name, with_pk, data):
    url = reverse(name, args=[reasons["No need"].pk] if with_pk else [])
    before = _snapshot()
    response = client.post(url, data)
    assert response.status_code == 302 and response["Location"].startswith(reverse("login"))
    assert _snapshot() == before


@pytest.mark.parametrize(("name", "with_pk", "data"), WRITES)
def test_writes_need_the_csrf_token(admin, reasons, name, with_pk, data):
    browser = Client(enforce_csrf_checks=True)
    browser.force_login(admin)
    url = reverse(name, args=[reasons["No need"].pk] if with_pk else [])
    before = _snapshot()
    assert browser.post(url, data).status_code == 403
    assert _snapshot() == before


@pytest.mark.parametrize(
    "name", ["settings-lead-reason-create", "settings-lead-reason-move", "settings-lead-ask"]
)
def test_changes_are_post_only(admin_client_, reasons, name):
    args = [reasons["No need"].pk] if name.endswith("move") else []
    assert admin_client_.get(reverse(name, args=args)).status_code == 405


def test_settings_nav_has_a_leads_tab(admin_client_):
    html = admin_client_.get(reverse("settings-users")).content.decode()
    assert f'href="{TAB}"' in html
    html = admin_client_.get(TAB).content.decode()
    assert f'href="{TAB}" aria-current="page"' in html


# --- the tab -------------------------------------------------------------------------------------


def test_tab_lists_reasons_in_order_with_usage_counts(admin_client_, rep, reasons):
    for _ in range(3):
        services.lead_disqualify(actor=rep, lead=LeadFactory(owner=rep), reason=reasons["No need"])
    response = admin_client_.get(TAB)
    assert response.status_code == 200
    rows = {r.name: r for r in response.context["active_reasons"]}
    assert rows["No need"].usage_count == 3 and rows["No budget"].usage_count == 0
    assert [r.name for r in response.context["active_reasons"]] == _active_names()
    assert response.context["archived_reasons"] == []
    html = response.content.decode()
    assert '<th scope="row" data-label="Reason">No need</th>' in html
    assert "Archived reasons" not in html
    assert 'name="ask" value="yes"' in html


def test_the_first_cannot_move_up_nor_the_last_down(admin_client_):
    html = admin_client_.get(TAB).content.decode()
    first, *_, last = selectors.disqualification_reason_choices()
    off = 'class="secondary outline compact" aria-disabled="true"'
    assert f'id="move-up-{first.pk}" {off}' in html
    assert f'id="move-down-{last.pk}" {off}' in html
    assert f'id="move-down-{first.pk}" class="secondary outline compact">' in html


# --- add -----------------------------------------------------------------------------------------


def test_admin_adds_a_reason(admin_client_, admin):
    response = admin_client_.post(reverse("settings-lead-reason-create"), {"name": "  Too small "})
    reason = DisqualificationReason.objects.get(name="Too small")
    assert response.status_code == 302
    assert response["Location"] == f"{TAB}#reason-{reason.pk}"
    assert _active_names()[-1] == "Too small"
    (event,) = _reason_events("created")
    assert event.actor == admin and event.data["reason"] == reason.pk
    html = admin_client_.get(TAB).content.decode()
    assert "Reason “Too small” added." in html


@pytest.mark.parametrize(
    ("name", "error"),
    [
        ("", "This field is required."),
        ("    ", "This field is required."),
        ("no BUDGET", "A reason with this name already exists."),
        ("x" * 101, "Ensure this value has at most 100 characters (it has 101)."),
    ],
)
def test_bad_new_names_are_shown_next_to_the_field(admin_client_, reasons, name, error):
    before = _snapshot()
    response = admin_client_.post(reverse("settings-lead-reason-create"), {"name": name})
    assert response.status_code == 200
    assert response.context["add_form"].errors == {"name": [error]}
    html = response.content.decode()
    errors = html[html.index('<ul class="errorlist" id="add-reason-name_error">') :]
    assert errors.split("</li>")[0].endswith(f'<span aria-hidden="true">⚠</span> {error}')
    assert 'aria-invalid="true"' in html and 'role="alert"' in html
    assert _snapshot() == before


def test_an_archived_name_can_be_used_again(admin_client_, rep, reasons):
    services.lead_disqualify(actor=rep, lead=LeadFactory(owner=rep), reason=reasons["Duplicate"])
    admin_client_.post(reverse("settings-lead-reason-delete", args=[reasons["Duplicate"].pk]))
    admin_client_.post(reverse("settings-lead-reason-create"), {"name": "Duplicate"})
    assert DisqualificationReason.objects.filter(name="Duplicate").count() == 2


# --- rename --------------------------------------------------------------------------------------


def test_admin_renames_a_reason_in_place(admin_client_, admin, rep, reasons):
    reason = reasons["No need"]
    lead = LeadFactory(owner=rep)
    services.lead_disqualify(actor=rep, lead=lead, reason=reason)
    url = reverse("settings-lead-reason-edit", args=[reason.pk])
    response = admin_client_.post(url, {"name": "Does not need it"})
    assert response["Location"] == f"{TAB}#reason-{reason.pk}"
    reason.refresh_from_db()
    assert reason.name == "Does not need it"
    lead.refresh_from_db()
    assert lead.disqualification_reason == reason
    (event,) = _reason_events("renamed")
    assert event.actor == admin and event.data["name"] == ["No need", "Does not need it"]
    html = admin_client_.get(TAB).content.decode()
    assert "Reason “No need” renamed to “Does not need it”." in html
    # The in-place form is in the row, labelled with the reason's name.
    assert f'action="{url}"' in html
    assert "New name for “Does not need it”" in html


def test_renaming_to_the_same_name_changes_nothing(admin_client_, reasons):
    url = reverse("settings-lead-reason-edit", args=[reasons["No need"].pk])
    response = admin_client_.post(url, {"name": "No need"}, follow=True)
    assert "Nothing changed." in response.content.decode()
    assert _reason_events() == []


@pytest.mark.parametrize(
    ("name", "error"),
    [("", "This field is required."), ("No BUDGET", "A reason with this name already exists.")],
)
def test_bad_renames_are_shown_in_the_row(admin_client_, reasons, name, error):
    reason = reasons["No need"]
    before = _snapshot()
    response = admin_client_.post(
        reverse("settings-lead-reason-edit", args=[reason.pk]), {"name": name}
    )
    assert response.status_code == 200
    html = response.content.decode()
    row = html[html.index(f'id="reason-{reason.pk}"') :]
    row = row[: row.index("</tr>")]
    assert '<details class="rename" open>' in row
    assert f'id="rename-{reason.pk}-name_error"' in row and error in row
    assert html.count('<details class="rename" open>') == 1
    assert _snapshot() == before


# --- delete --------------------------------------------------------------------------------------


def test_deleting_an_unused_reason_removes_it(admin_client_, admin, reasons):
    reason = reasons["Duplicate"]
    response = admin_client_.post(reverse("settings-lead-reason-delete", args=[reason.pk]))
    assert response["Location"] == TAB
    assert not DisqualificationReason.objects.filter(pk=reason.pk).exists()
    (event,) = _reason_events("deleted")
    assert event.actor == admin
    html = admin_client_.get(TAB).content.decode()
    assert "Reason “Duplicate” deleted." in html


def test_deleting_a_used_reason_archives_it_and_the_lead_keeps_it(admin_client_, rep, reasons):
    reason = reasons["No budget"]
    lead = LeadFactory(owner=rep)
    services.lead_disqualify(actor=rep, lead=lead, reason=reason)
    response = admin_client_.post(
        reverse("settings-lead-reason-delete", args=[reason.pk]), follow=True
    )
    reason.refresh_from_db()
    assert reason.archived
    lead.refresh_from_db()
    assert lead.disqualification_reason == reason
    assert "No budget" not in _active_names()  # pickers hide it
    assert len(_reason_events("archived")) == 1
    html = response.content.decode()
    assert "Reason “No budget” archived" in html
    assert [r.name for r in response.context["archived_reasons"]] == ["No budget"]
    archived = html[html.index('id="archived-title"') :]
    assert "No budget" in archived and "Archived" in archived  # in text, not colour only
    assert "No budget" not in html[html.index('id="reason-table"') : html.index("New reason")]


def test_a_reason_only_in_history_is_archived_too(admin_client_, rep, reasons):
    reason = reasons["Bad timing"]
    lead = LeadFactory(owner=rep)
    services.lead_disqualify(actor=rep, lead=lead, reason=reason)
    services.lead_requalify(actor=rep, lead=lead)
    admin_client_.post(reverse("settings-lead-reason-delete", args=[reason.pk]))
    reason.refresh_from_db()
    assert reason.archived


def test_delete_dialog_and_confirmation_page_say_what_will_happen(admin_client_, rep, reasons):
    services.lead_disqualify(actor=rep, lead=LeadFactory(owner=rep), reason=reasons["No need"])
    html = admin_client_.get(TAB).content.decode()
    assert f'data-dialog="delete-reason-{reasons["No need"].pk}"' in html
    assert "One lead uses “No need”, so it will be archived" in html
    assert "No lead uses “Duplicate” now, so it will be deleted." in html
    url = reverse("settings-lead-reason-delete", args=[reasons["No need"].pk])
    response = admin_client_.get(url)  # the no-JavaScript twin of the dialog
    assert response.status_code == 200
    assert "Delete “No need”?" in response.content.decode()
    assert DisqualificationReason.objects.filter(pk=reasons["No need"].pk).exists()


# --- move ----------------------------------------------------------------------------------------


def test_move_up_and_down(admin_client_, admin):
    names = _active_names()
    second = DisqualificationReason.objects.get(name=names[1])
    url = reverse("settings-lead-reason-move", args=[second.pk])
    response = admin_client_.post(url, {"direction": "up"})
    assert response["Location"] == f"{TAB}#reason-{second.pk}"
    assert _active_names() == [names[1], names[0], *names[2:]]
    admin_client_.post(url, {"direction": "down"})
    admin_client_.post(url, {"direction": "down"})
    assert _active_names() == [names[0], names[2], names[1], *names[3:]]
    events = _reason_events("reordered")
    assert len(events) == 3 and all(e.actor == admin for e in events)
    html = admin_client_.get(TAB).content.decode()
    assert f"“{names[1]}” moved down." in html


def test_move_with_htmx_returns_the_table_and_announces(admin_client_):
    names = _active_names()
    second = DisqualificationReason.objects.get(name=names[1])
    response = admin_client_.post(
        reverse("settings-lead-reason-move", args=[second.pk]),
        {"direction": "up"},
        HTTP_HX_REQUEST="true",
    )
    assert response.status_code == 200
    assert "moved up" in response["HX-Trigger"]
    html = response.content.decode()
    assert 'id="reason-table"' in html
    assert html.index(f'<th scope="row" data-label="Reason">{names[1]}<') < html.index(
        f'<th scope="row" data-label="Reason">{names[0]}<'
    )
    # The message is announced, not queued for the next page.
    assert "moved up" not in admin_client_.get(TAB).content.decode()


def test_moving_past_the_ends_changes_nothing(admin_client_):
    first, *_, last = selectors.disqualification_reason_choices()
    before = _snapshot()
    response = admin_client_.post(
        reverse("settings-lead-reason-move", args=[first.pk]), {"direction": "up"}, follow=True
    )
    assert f"“{first.name}” is already first." in response.content.decode()
    response = admin_client_.post(
        reverse("settings-lead-reason-move", args=[last.pk]),
        {"direction": "down"},
        HTTP_HX_REQUEST="true",
    )
    assert "is already last" in response["HX-Trigger"]
    assert _snapshot() == before


@pytest.mark.parametrize("data", [{}, {"direction": "sideways"}, {"direction": ""}])
def test_move_with_a_bad_direction_is_a_friendly_error(admin_client_, reasons, data):
    before = _snapshot()
    url = reverse("settings-lead-reason-move", args=[reasons["No need"].pk])
    response = admin_client_.post(url, data, follow=True)
    assert response.status_code == 200
    assert "Choose whether to move the reason up or down." in response.content.decode()
    assert _snapshot() == before


def test_an_archived_reason_cannot_be_moved(admin_client_, admin, rep, reasons):
    reason = reasons["No need"]
    services.lead_disqualify(actor=rep, lead=LeadFactory(owner=rep), reason=reason)
    services.disqualification_reason_delete(actor=admin, reason=reason)
    before = _snapshot()
    response = admin_client_.post(
        reverse("settings-lead-reason-move", args=[reason.pk]), {"direction": "up"}, follow=True
    )
    assert "An archived reason has no place in the order." in response.content.decode()
    assert _snapshot() == before


# --- garbage -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "name",
    ["settings-lead-reason-edit", "settings-lead-reason-delete", "settings-lead-reason-move"],
)
@pytest.mark.parametrize("pk", [0, 987654, 2**63, 10**30])
def test_unknown_ids_are_404(admin_client_, reasons, name, pk):
    before = _snapshot()
    response = admin_client_.post(reverse(name, args=[pk]), {"name": "x", "direction": "up"})
    assert response.status_code == 404
    assert _snapshot() == before


@pytest.mark.parametrize("path", ["reasons/abc/edit/", "reasons/-1/delete/", "reasons/1.5/move/"])
def test_non_numeric_ids_are_404(admin_client_, path):
    assert admin_client_.post(f"{TAB}{path}", {"direction": "up"}).status_code == 404


@pytest.mark.parametrize(
    "body",
    ["name=%00bad", "name=a&name=b", "name=%ED%A0%80", "name=%FF%FE", "name", "&&&=", "a" * 5000],
)
def test_garbage_names_never_break_the_page(admin_client_, reasons, body):
    form = "application/x-www-form-urlencoded"
    for url in (
        reverse("settings-lead-reason-create"),
        reverse("settings-lead-reason-edit", args=[reasons["No need"].pk]),
        reverse("settings-lead-reason-move", args=[reasons["No need"].pk]),
        reverse("settings-lead-ask"),
    ):
        response = admin_client_.post(url, body, content_type=form)
        assert response.status_code in (200, 302), url


# --- ask for a reason ----------------------------------------------------------------------------


def test_admin_turns_the_reason_off_and_on(admin_client_, admin):
    url = reverse("settings-lead-ask")
    response = admin_client_.post(url, {"ask": "no"})
    assert response["Location"] == TAB
    assert services.lead_settings_get().ask_disqualification_reason is False
    html = admin_client_.get(TAB).content.decode()
    assert "the disqualification reason is now optional" in html
    assert '<input type="radio" name="ask" value="no" id="ask-ask_1" required checked>' in html
    admin_client_.post(url, {"ask": "yes"})
    assert services.lead_settings_get().ask_disqualification_reason is True
    events = Event.objects.filter(kind=LeadEvent.SETTINGS_CHANGED).order_by("pk")
    assert [e.data["changes"] for e in events] == [
        {"ask_disqualification_reason": [True, False]},
        {"ask_disqualification_reason": [False, True]},
    ]
    assert all(e.actor == admin for e in events)


def test_saving_the_same_answer_writes_no_event(admin_client_):
    admin_client_.post(reverse("settings-lead-ask"), {"ask": "yes"})
    assert not Event.objects.filter(kind=LeadEvent.SETTINGS_CHANGED).exists()


def test_the_setting_drives_the_reason_rule(admin_client_, rep, ask_reason):
    from django.core.exceptions import ValidationError

    lead = LeadFactory(owner=rep)
    with pytest.raises(ValidationError):
        services.lead_disqualify(actor=rep, lead=lead)
    admin_client_.post(reverse("settings-lead-ask"), {"ask": "no"})
    services.lead_disqualify(actor=rep, lead=lead)  # no reason needed any more


@pytest.mark.parametrize("data", [{}, {"ask": "maybe"}, {"ask": ""}, {"ask": "true"}])
def test_bad_ask_values_are_shown_next_to_the_field(admin_client_, data):
    before = _snapshot()
    response = admin_client_.post(reverse("settings-lead-ask"), data)
    assert response.status_code == 200
    assert "ask" in response.context["ask_form"].errors
    assert 'id="ask-ask_error"' in response.content.decode()
    assert _snapshot() == before


def test_tab_query_count_does_not_grow_with_reasons_or_leads(admin_client_, admin, rep):
    def count():
        with CaptureQueriesContext(connection) as ctx:
            assert admin_client_.get(TAB).status_code == 200
        return len(ctx.captured_queries)

    small = count()
    for i in range(15):
        reason = services.disqualification_reason_create(actor=admin, name=f"Reason {i}")
        services.lead_disqualify(actor=rep, lead=LeadFactory(owner=rep), reason=reason)
        if i % 3 == 0:
            services.disqualification_reason_delete(actor=admin, reason=reason)
    assert count() == small
