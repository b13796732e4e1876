"""Settings > Pipeline and Settings > Opportunity defaults (admins only)."""

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from crm.models import Event
from opportunities import selectors, services
from opportunities.models import (
    LossReason,
    OpportunityEvent,
    OpportunitySettings,
    Stage,
    StageChange,
    WinReason,
)
from tests.factories import OpportunityFactory, StageFactory

pytestmark = pytest.mark.django_db

PIPELINE = reverse("settings-pipeline")
DEFAULTS = reverse("settings-opportunities")
SAVE_DEFAULTS = reverse("settings-opportunity-defaults")
MODELS = {"win": WinReason, "loss": LossReason}


def _settings() -> OpportunitySettings:
    return services.opportunity_settings_get()


def _stage(name: str) -> Stage:
    return Stage.objects.get(name=name, archived_at__isnull=True)


def _stage_names() -> list[str]:
    return list(selectors.stage_choices().values_list("name", flat=True))


def _reason_names(kind: str) -> list[str]:
    return list(selectors.reason_choices(MODELS[kind]).values_list("name", flat=True))


def _snapshot():
    settings = _settings()
    return (
        list(Stage.objects.values().order_by("pk")),
        list(OpportunitySettings.objects.values()),
        sorted(settings.active_stages.values_list("pk", flat=True)),
        list(WinReason.objects.values().order_by("pk")),
        list(LossReason.objects.values().order_by("pk")),
        Event.objects.count(),
    )


def _events(kind, action=None):
    events = Event.objects.filter(kind=kind).order_by("pk")
    return [e for e in events if action is None or e.data.get("action") == action]


def _row(html: str, row_id: str) -> str:
    return html.split(f'id="{row_id}"')[1].split("</tr>")[0]


def _defaults_data(**overrides) -> dict:
    """The defaults form as the page would post it now, with ``overrides``."""
    settings = _settings()
    data = {
        "active_stages": [str(pk) for pk in settings.active_stages.values_list("pk", flat=True)],
        "default_stage": str(settings.default_stage_id),
        "win_stage": str(settings.win_stage_id),
        "require_win_reason": "yes" if settings.require_win_reason else "no",
        "loss_stage": str(settings.loss_stage_id),
        "require_loss_reason": "yes" if settings.require_loss_reason else "no",
    }
    data.update(overrides)
    return data


def _win(admin, reason=None):
    """A deal won with ``reason``: the reason is used by the deal and by the stage history."""
    opportunity = OpportunityFactory()
    return services.opportunity_move(
        actor=admin, opportunity=opportunity, stage=_settings().win_stage, win_reason=reason
    )


def _lose(admin, reason=None):
    opportunity = OpportunityFactory()
    return services.opportunity_move(
        actor=admin, opportunity=opportunity, stage=_settings().loss_stage, loss_reason=reason
    )


# --- access --------------------------------------------------------------------------------------


def _urls():
    stage = _stage("Proposal").pk
    win = WinReason.objects.get(name="Price").pk
    loss = LossReason.objects.get(name="No budget").pk
    return [
        (PIPELINE, {}),
        (reverse("settings-stage-create"), {"name": "Demo", "probability": "40"}),
        (reverse("settings-stage-edit", args=[stage]), {"name": "X", "probability": "5"}),
        (reverse("settings-stage-delete", args=[stage]), {}),
        (reverse("settings-stage-move", args=[stage]), {"direction": "up"}),
        (DEFAULTS, {}),
        (SAVE_DEFAULTS, _defaults_data(require_win_reason="no")),
        (reverse("settings-win-reason-create"), {"name": "Speed"}),
        (reverse("settings-win-reason-edit", args=[win]), {"name": "Cost"}),
        (reverse("settings-win-reason-delete", args=[win]), {}),
        (reverse("settings-win-reason-move", args=[win]), {"direction": "up"}),
        (reverse("settings-loss-reason-create"), {"name": "Timing"}),
        (reverse("settings-loss-reason-edit", args=[loss]), {"name": "Broke"}),
        (reverse("settings-loss-reason-delete", args=[loss]), {}),
        (reverse("settings-loss-reason-move", args=[loss]), {"direction": "up"}),
    ]


def test_rep_gets_403_everywhere_and_nothing_changes(rep_client):
    before = _snapshot()
    for url, data in _urls():
        assert rep_client.get(url).status_code in (403, 405), url
        assert rep_client.post(url, data).status_code == 403, url
        assert rep_client.post(url, data, HTTP_HX_REQUEST="true").status_code == 403, url
    assert _snapshot() == before


def test_anonymous_is_sent_to_login(client):
    before = _snapshot()
    for url, data in _urls():
        response = client.post(url, data)
        assert response.status_code == 302 and response["Location"].startswith(reverse("login"))
    assert _snapshot() == before


def test_writes_need_the_csrf_token(admin):
    browser = Client(enforce_csrf_checks=True)
    browser.force_login(admin)
    before = _snapshot()
    for url, data in _urls():
        if url not in (PIPELINE, DEFAULTS):
            assert browser.post(url, data).status_code == 403, url
    assert _snapshot() == before


def test_changes_are_post_only(admin_client_):
    stage = _stage("Proposal").pk
    win = WinReason.objects.get(name="Price").pk
    for url in (
        reverse("settings-stage-create"),
        reverse("settings-stage-edit", args=[stage]),
        reverse("settings-stage-move", args=[stage]),
        SAVE_DEFAULTS,
        reverse("settings-win-reason-create"),
        reverse("settings-win-reason-edit", args=[win]),
        reverse("settings-win-reason-move", args=[win]),
    ):
        assert admin_client_.get(url).status_code == 405, url


def test_settings_nav_has_the_two_tabs(admin_client_):
    html = admin_client_.get(reverse("settings-users")).content.decode()
    assert f'href="{PIPELINE}">Pipeline<' in html
    assert f'href="{DEFAULTS}">Opportunity defaults<' in html
    html = admin_client_.get(PIPELINE).content.decode()
    assert f'href="{PIPELINE}" aria-current="page"' in html
    html = admin_client_.get(DEFAULTS).content.decode()
    assert f'href="{DEFAULTS}" aria-current="page"' in html


# --- Settings > Pipeline -------------------------------------------------------------------------


def test_pipeline_lists_stages_in_order_with_probability_counts_and_roles(admin_client_):
    OpportunityFactory.create_batch(3)  # in the default stage
    OpportunityFactory(stage=_stage("Proposal"))
    response = admin_client_.get(PIPELINE)
    assert response.status_code == 200
    rows = response.context["active_stages"]
    assert (
        [s.name for s in rows]
        == _stage_names()
        == [
            "Prospecting",
            "Qualification",
            "Proposal",
            "Negotiation",
            "Won",
            "Lost",
        ]
    )
    assert {s.name: s.usage_count for s in rows}["Prospecting"] == 3
    assert response.context["archived_stages"] == []
    html = response.content.decode()
    prospecting = _row(html, f"stage-{_stage('Prospecting').pk}")
    assert '<th scope="row" data-label="Stage">Prospecting</th>' in prospecting
    assert "10%" in prospecting and ">3<" in prospecting
    # Roles are words, never colour alone.
    assert '<span class="badge">Default</span>' in prospecting
    assert '<span class="badge">Active</span>' in prospecting
    proposal = _row(html, f"stage-{_stage('Proposal').pk}")
    assert "60%" in proposal and ">1<" in proposal and "Default" not in proposal
    won = _row(html, f"stage-{_stage('Won').pk}")
    assert '<span class="badge">Win</span>' in won and "Active" not in won
    lost = _row(html, f"stage-{_stage('Lost').pk}")
    assert '<span class="badge">Loss</span>' in lost
    assert "Archived stages" not in html


def test_an_inactive_open_stage_says_so(admin, admin_client_):
    settings = _settings()
    services.opportunity_settings_update(
        actor=admin, active_stages=[s for s in settings.active_stages.all() if s.name != "Proposal"]
    )
    html = admin_client_.get(PIPELINE).content.decode()
    assert "Not active" in _row(html, f"stage-{_stage('Proposal').pk}")
    assert "Not active" not in _row(html, f"stage-{_stage('Won').pk}")


def test_the_first_cannot_move_up_nor_the_last_down(admin_client_):
    html = admin_client_.get(PIPELINE).content.decode()
    first, *_, last = selectors.stage_choices()
    off = 'class="secondary outline compact" aria-disabled="true"'
    assert f'id="move-up-{first.pk}" {off}' in html
    assert f'id="move-down-{last.pk}" {off}' in html
    assert f'id="move-down-{first.pk}" class="secondary outline compact">' in html


def test_admin_adds_a_stage(admin_client_, admin):
    response = admin_client_.post(
        reverse("settings-stage-create"), {"name": "  Demo booked ", "probability": "40"}
    )
    stage = _stage("Demo booked")
    assert response.status_code == 302
    assert response["Location"] == f"{PIPELINE}#stage-{stage.pk}"
    assert stage.probability == 40
    assert _stage_names()[-1] == "Demo booked"
    (event,) = _events(OpportunityEvent.STAGE_LIST_CHANGED, "created")
    assert event.actor == admin
    html = admin_client_.get(PIPELINE).content.decode()
    assert "Stage “Demo booked” added." in html
    assert '<span class="muted small">Not active</span>' in _row(html, f"stage-{stage.pk}")


@pytest.mark.parametrize(
    ("data", "field", "error"),
    [
        ({"name": "", "probability": "10"}, "name", "This field is required."),
        ({"name": "   ", "probability": "10"}, "name", "This field is required."),
        ({"name": "proposal", "probability": "10"}, "name", "A stage with this name exists."),
        (
            {"name": "x" * 61, "probability": "10"},
            "name",
            "Ensure this value has at most 60 characters (it has 61).",
        ),
        (
            {"name": "Demo", "probability": "101"},
            "probability",
            "Ensure this value is less than or equal to 100.",
        ),
        (
            {"name": "Demo", "probability": "-1"},
            "probability",
            "Ensure this value is greater than or equal to 0.",
        ),
        ({"name": "Demo", "probability": "abc"}, "probability", "Enter a whole number."),
        ({"name": "Demo"}, "probability", "This field is required."),
    ],
)
def test_bad_new_stages_are_shown_next_to_the_field(admin_client_, data, field, error):
    before = _snapshot()
    response = admin_client_.post(reverse("settings-stage-create"), data)
    assert response.status_code == 200
    assert response.context["add_form"].errors == {field: [error]}
    html = response.content.decode()
    errors = html[html.index(f'<ul class="errorlist" id="add-stage-{field}_error">') :]
    assert errors.split("</li>")[0].endswith(f'<span aria-hidden="true">⚠</span> {error}')
    assert 'aria-invalid="true"' in html and 'role="alert"' in html
    assert _snapshot() == before


def test_admin_renames_a_stage_and_changes_its_probability_in_place(admin_client_, admin):
    stage = _stage("Proposal")
    opportunity = OpportunityFactory(stage=stage)
    url = reverse("settings-stage-edit", args=[stage.pk])
    html = admin_client_.get(PIPELINE).content.decode()
    row = _row(html, f"stage-{stage.pk}")
    assert f'action="{url}"' in row and f'id="stage-{stage.pk}-probability"' in row
    response = admin_client_.post(url, {"name": "Quote sent", "probability": "60"})
    assert response["Location"] == f"{PIPELINE}#stage-{stage.pk}"
    stage.refresh_from_db()
    assert stage.name == "Quote sent" and stage.probability == 60
    opportunity.refresh_from_db()
    assert opportunity.stage == stage
    html = admin_client_.get(PIPELINE).content.decode()
    assert "Stage “Proposal” renamed to “Quote sent”." in html
    admin_client_.post(url, {"name": "Quote sent", "probability": "65"})
    stage.refresh_from_db()
    assert stage.probability == 65
    assert (
        "Stage “Quote sent” saved: probability 65%." in admin_client_.get(PIPELINE).content.decode()
    )
    events = _events(OpportunityEvent.STAGE_LIST_CHANGED, "updated")
    assert [e.data["changes"] for e in events] == [
        {"name": ["Proposal", "Quote sent"]},
        {"probability": [60, 65]},
    ]


def test_saving_a_stage_unchanged_says_so(admin_client_):
    stage = _stage("Proposal")
    response = admin_client_.post(
        reverse("settings-stage-edit", args=[stage.pk]),
        {"name": "Proposal", "probability": "60"},
        follow=True,
    )
    assert "Nothing changed." in response.content.decode()
    assert _events(OpportunityEvent.STAGE_LIST_CHANGED) == []


@pytest.mark.parametrize(
    ("data", "field", "error"),
    [
        ({"name": "", "probability": "60"}, "name", "This field is required."),
        ({"name": "NEGOTIATION", "probability": "60"}, "name", "A stage with this name exists."),
        (
            {"name": "Proposal", "probability": "500"},
            "probability",
            "Ensure this value is less than or equal to 100.",
        ),
    ],
)
def test_bad_stage_edits_are_shown_in_the_row(admin_client_, data, field, error):
    stage = _stage("Proposal")
    before = _snapshot()
    response = admin_client_.post(reverse("settings-stage-edit", args=[stage.pk]), data)
    assert response.status_code == 200
    html = response.content.decode()
    row = _row(html, f"stage-{stage.pk}")
    assert '<details class="rename" open>' in row
    assert f'id="stage-{stage.pk}-{field}_error"' in row and error in row
    assert html.count('<details class="rename" open>') == 1
    assert _snapshot() == before


def test_move_stages_up_and_down(admin_client_, admin):
    names = _stage_names()
    second = _stage(names[1])
    url = reverse("settings-stage-move", args=[second.pk])
    response = admin_client_.post(url, {"direction": "up"})
    assert response["Location"] == f"{PIPELINE}#stage-{second.pk}"
    assert _stage_names() == [names[1], names[0], *names[2:]]
    admin_client_.post(url, {"direction": "down"})
    admin_client_.post(url, {"direction": "down"})
    assert _stage_names() == [names[0], names[2], names[1], *names[3:]]
    events = _events(OpportunityEvent.STAGE_LIST_CHANGED, "reordered")
    assert len(events) == 3 and all(e.actor == admin for e in events)
    assert f"“{names[1]}” moved down." in admin_client_.get(PIPELINE).content.decode()


def test_move_stage_with_htmx_returns_the_table_and_announces(admin_client_):
    names = _stage_names()
    response = admin_client_.post(
        reverse("settings-stage-move", args=[_stage(names[1]).pk]),
        {"direction": "up"},
        HTTP_HX_REQUEST="true",
    )
    assert response.status_code == 200
    assert "moved up" in response["HX-Trigger"] and "crm:announce" in response["HX-Trigger"]
    html = response.content.decode()
    assert 'id="stage-table"' in html
    assert html.index(f'data-label="Stage">{names[1]}<') < html.index(
        f'data-label="Stage">{names[0]}<'
    )
    assert "moved up" not in admin_client_.get(PIPELINE).content.decode()


def test_moving_a_stage_past_the_ends_or_sideways_changes_nothing(admin_client_):
    first, *_, last = selectors.stage_choices()
    before = _snapshot()
    response = admin_client_.post(
        reverse("settings-stage-move", args=[first.pk]), {"direction": "up"}, follow=True
    )
    assert f"“{first.name}” is already first." in response.content.decode()
    response = admin_client_.post(
        reverse("settings-stage-move", args=[last.pk]),
        {"direction": "down"},
        HTTP_HX_REQUEST="true",
    )
    assert "is already last" in response["HX-Trigger"]
    for data in ({}, {"direction": "sideways"}):
        response = admin_client_.post(
            reverse("settings-stage-move", args=[first.pk]), data, follow=True
        )
        assert "Choose whether to move the stage up or down." in response.content.decode()
    assert _snapshot() == before


def test_deleting_an_unused_stage_removes_it(admin_client_, admin):
    stage = StageFactory(name="Demo booked")
    html = admin_client_.get(PIPELINE).content.decode()
    assert "No opportunity is or has been in “Demo booked”, so the stage will be deleted." in html
    response = admin_client_.post(reverse("settings-stage-delete", args=[stage.pk]))
    assert response["Location"] == PIPELINE
    assert not Stage.objects.filter(pk=stage.pk).exists()
    (event,) = _events(OpportunityEvent.STAGE_LIST_CHANGED, "deleted")
    assert event.actor == admin
    assert "Stage “Demo booked” deleted." in admin_client_.get(PIPELINE).content.decode()


def test_deleting_a_used_stage_archives_it_and_lists_it_apart(admin_client_, admin):
    stage = _stage("Negotiation")
    opportunity = OpportunityFactory(stage=stage)
    html = admin_client_.get(PIPELINE).content.decode()
    row = _row(html, f"stage-{stage.pk}")
    assert "One opportunity is in “Negotiation”, so the stage will be archived" in row
    assert ">Archive<" in row
    response = admin_client_.post(reverse("settings-stage-delete", args=[stage.pk]), follow=True)
    stage.refresh_from_db()
    assert stage.archived
    opportunity.refresh_from_db()
    assert opportunity.stage == stage
    assert "Negotiation" not in _stage_names()
    assert stage.pk not in _settings().active_stages.values_list("pk", flat=True)
    assert len(_events(OpportunityEvent.STAGE_LIST_CHANGED, "archived")) == 1
    html = response.content.decode()
    assert "Stage “Negotiation” archived" in html
    assert [s.name for s in response.context["archived_stages"]] == ["Negotiation"]
    archived = html[html.index('id="archived-title"') :]
    assert "Negotiation" in archived and "Archived" in archived  # in words, not colour only
    assert "Negotiation" not in html[html.index('id="stage-table"') : html.index("Add a stage")]


def test_a_stage_only_in_the_history_is_archived_too(admin_client_, admin):
    stage = StageFactory(name="Demo booked")
    opportunity = OpportunityFactory()
    StageChange.objects.create(
        opportunity=opportunity, to_stage=stage, status="open", owner=opportunity.owner
    )
    html = admin_client_.get(PIPELINE).content.decode()
    assert "Opportunities have been in “Demo booked”, so the stage will be archived" in html
    admin_client_.post(reverse("settings-stage-delete", args=[stage.pk]))
    stage.refresh_from_db()
    assert stage.archived


@pytest.mark.parametrize(
    ("name", "says"),
    [
        ("Prospecting", "is the default stage"),
        ("Won", "is the win stage"),
        ("Lost", "is the loss stage"),
    ],
)
def test_the_default_win_and_loss_stages_cannot_be_deleted(admin_client_, name, says):
    stage = _stage(name)
    url = reverse("settings-stage-delete", args=[stage.pk])
    html = admin_client_.get(PIPELINE).content.decode()
    assert f"“{name}” {says}" in _row(html, f"stage-{stage.pk}")
    page = admin_client_.get(url)
    assert page.status_code == 200 and f"“{name}” cannot be deleted" in page.content.decode()
    before = _snapshot()
    response = admin_client_.post(url, follow=True)
    assert response.status_code == 200
    assert "choose another one in the opportunity defaults first" in response.content.decode()
    assert '<p class="message message-error">' in response.content.decode()
    assert _snapshot() == before


def test_delete_confirmation_page_is_the_no_js_twin(admin_client_):
    stage = StageFactory(name="Demo booked")
    response = admin_client_.get(reverse("settings-stage-delete", args=[stage.pk]))
    assert response.status_code == 200
    assert "Delete “Demo booked”?" in response.content.decode()
    assert Stage.objects.filter(pk=stage.pk).exists()


def test_archived_stages_cannot_be_edited_moved_or_deleted(admin_client_, admin):
    stage = _stage("Negotiation")
    OpportunityFactory(stage=stage)
    services.stage_delete(actor=admin, stage=stage)
    before = _snapshot()
    for name, data in (
        ("settings-stage-edit", {"name": "Back", "probability": "5"}),
        ("settings-stage-move", {"direction": "up"}),
        ("settings-stage-delete", {}),
    ):
        assert admin_client_.post(reverse(name, args=[stage.pk]), data).status_code == 404
    assert _snapshot() == before


# --- Settings > Opportunity defaults -------------------------------------------------------------


def test_defaults_page_shows_the_current_settings(admin_client_):
    response = admin_client_.get(DEFAULTS)
    assert response.status_code == 200
    html = response.content.decode()
    settings = _settings()
    for stage in settings.active_stages.all():
        assert (
            f'<input type="checkbox" name="active_stages" value="{stage.pk}" '
            f'id="defaults-active_stages_' in html
        )
    checked = html.count('name="active_stages" value=')
    assert checked == Stage.objects.count()
    assert f'<option value="{settings.default_stage_id}" selected>Prospecting</option>' in html
    assert f'<option value="{settings.win_stage_id}" selected>Won</option>' in html
    assert f'<option value="{settings.loss_stage_id}" selected>Lost</option>' in html
    assert 'name="require_win_reason" value="yes" id="defaults-require_win_reason_0"' in html
    assert "<legend>Active stages</legend>" in html
    assert "Win reasons" in html and "Loss reasons" in html
    for name in _reason_names("win") + _reason_names("loss"):
        assert f'data-label="Reason">{name}</th>' in html


def test_admin_saves_active_default_win_and_loss_stages(admin_client_, admin):
    stage = StageFactory(name="Closed won (web)")
    lost = StageFactory(name="Closed lost (web)")
    active = [_stage("Qualification"), _stage("Proposal")]
    data = _defaults_data(
        active_stages=[str(s.pk) for s in active],
        default_stage=str(_stage("Qualification").pk),
        win_stage=str(stage.pk),
        loss_stage=str(lost.pk),
    )
    response = admin_client_.post(SAVE_DEFAULTS, data)
    assert response.status_code == 302 and response["Location"] == DEFAULTS
    settings = _settings()
    assert sorted(settings.active_stages.values_list("pk", flat=True)) == sorted(
        s.pk for s in active
    )
    assert settings.default_stage.name == "Qualification"
    assert settings.win_stage == stage and settings.loss_stage == lost
    (event,) = _events(OpportunityEvent.SETTINGS_CHANGED)
    assert event.actor == admin
    assert set(event.data["changes"]) == {
        "active_stages",
        "default_stage",
        "win_stage",
        "loss_stage",
    }
    html = admin_client_.get(DEFAULTS).content.decode()
    assert "Opportunity defaults saved." in html
    pipeline = admin_client_.get(PIPELINE).content.decode()
    assert '<span class="badge">Win</span>' in _row(pipeline, f"stage-{stage.pk}")
    assert '<span class="badge">Default</span>' in _row(
        pipeline, f"stage-{_stage('Qualification').pk}"
    )


def test_the_require_switches_go_off_and_on(admin_client_):
    admin_client_.post(
        SAVE_DEFAULTS, _defaults_data(require_win_reason="no", require_loss_reason="no")
    )
    settings = _settings()
    assert settings.require_win_reason is False and settings.require_loss_reason is False
    html = admin_client_.get(DEFAULTS).content.decode()
    assert (
        'name="require_win_reason" value="no" id="defaults-require_win_reason_1" required checked'
        in html
    )
    assert (
        'name="require_loss_reason" value="no" id="defaults-require_loss_reason_1" required checked'
        in html
    )
    admin_client_.post(SAVE_DEFAULTS, _defaults_data(require_win_reason="yes"))
    settings = _settings()
    assert settings.require_win_reason is True and settings.require_loss_reason is False
    admin_client_.post(SAVE_DEFAULTS, _defaults_data(require_loss_reason="yes"))
    assert _settings().require_loss_reason is True
    changes = [e.data["changes"] for e in _events(OpportunityEvent.SETTINGS_CHANGED)]
    assert changes == [
        {"require_win_reason": [True, False], "require_loss_reason": [True, False]},
        {"require_win_reason": [False, True]},
        {"require_loss_reason": [False, True]},
    ]


def test_the_switches_drive_the_reason_rule(admin_client_, admin):
    from django.core.exceptions import ValidationError

    with pytest.raises(ValidationError):
        _win(admin)
    admin_client_.post(SAVE_DEFAULTS, _defaults_data(require_win_reason="no"))
    assert _win(admin).status == "won"


def test_saving_unchanged_defaults_writes_nothing(admin_client_):
    before = _snapshot()
    response = admin_client_.post(SAVE_DEFAULTS, _defaults_data(), follow=True)
    assert "Nothing changed." in response.content.decode()
    assert _snapshot() == before


def _archived_stage(admin) -> Stage:
    stage = StageFactory(name="Old stage")
    OpportunityFactory(stage=stage)
    services.stage_delete(actor=admin, stage=stage)
    return stage


@pytest.mark.parametrize(
    ("overrides", "field", "error"),
    [
        (
            lambda: {"loss_stage": str(_settings().win_stage_id)},
            "loss_stage",
            "The loss stage must be another stage than the win stage.",
        ),
        (
            lambda: {"default_stage": str(_settings().win_stage_id)},
            "default_stage",
            "New opportunities cannot start won or lost: choose an open stage.",
        ),
        (
            lambda: {"default_stage": str(_settings().loss_stage_id)},
            "default_stage",
            "New opportunities cannot start won or lost: choose an open stage.",
        ),
        (
            lambda: {"active_stages": [str(_settings().win_stage_id)]},
            "active_stages",
            "The win and loss stages close a deal; they cannot be active stages.",
        ),
        (
            lambda: {"win_stage": str(Stage.objects.get(name="Old stage").pk)},
            "win_stage",
            "That stage is archived; choose an active one.",
        ),
        (
            lambda: {"active_stages": [str(Stage.objects.get(name="Old stage").pk)]},
            "active_stages",
            "An archived stage cannot be active; choose active stages only.",
        ),
        (
            lambda: {"default_stage": "987654"},
            "default_stage",
            "Select a valid choice. 987654 is not one of the available choices.",
        ),
        (
            lambda: {"active_stages": ["abc"]},
            "active_stages",
            "Select a valid choice. abc is not one of the available choices.",
        ),
        (lambda: {"win_stage": ""}, "win_stage", "This field is required."),
        (
            lambda: {"require_loss_reason": "maybe"},
            "require_loss_reason",
            "Select a valid choice. maybe is not one of the available choices.",
        ),
    ],
)
def test_invalid_defaults_show_the_field_error_and_change_nothing(
    admin_client_, admin, overrides, field, error
):
    _archived_stage(admin)
    before = _snapshot()
    data = _defaults_data(**overrides())
    data["require_win_reason"] = "no"  # a valid change alongside: it is not saved either
    response = admin_client_.post(SAVE_DEFAULTS, data)
    assert response.status_code == 200
    form = response.context["settings_form"]
    assert error in form.errors[field]
    html = response.content.decode()
    errors = html[html.index(f'<ul class="errorlist" id="defaults-{field}_error">') :]
    assert error in errors.split("</ul>")[0]
    assert 'role="alert"' in html
    assert _snapshot() == before
    # The form shows what was posted, so the admin can correct it.
    assert (
        'name="require_win_reason" value="no" id="defaults-require_win_reason_1" required checked'
        in html
    )


def test_missing_fields_and_garbage_never_break_the_page(admin_client_):
    before = _snapshot()
    form = "application/x-www-form-urlencoded"
    for body in ("", "active_stages=%00", "default_stage=1&default_stage=2", "&&&=", "a" * 5000):
        response = admin_client_.post(SAVE_DEFAULTS, body, content_type=form)
        assert response.status_code == 200, body
        assert response.context["settings_form"].errors
    assert _snapshot() == before


def test_archived_stages_are_not_offered(admin_client_, admin):
    stage = _archived_stage(admin)
    html = admin_client_.get(DEFAULTS).content.decode()
    form = html[html.index('id="defaults-title"') : html.index('id="win-reasons-title"')]
    assert f'value="{stage.pk}"' not in form


# --- win and loss reasons ------------------------------------------------------------------------

KINDS = ["win", "loss"]


@pytest.mark.parametrize("kind", KINDS)
def test_admin_adds_a_reason(admin_client_, admin, kind):
    response = admin_client_.post(reverse(f"settings-{kind}-reason-create"), {"name": " Speed "})
    reason = MODELS[kind].objects.get(name="Speed")
    assert response["Location"] == f"{DEFAULTS}#{kind}-reason-{reason.pk}"
    assert _reason_names(kind)[-1] == "Speed"
    event_kind = getattr(OpportunityEvent, f"{kind.upper()}_REASON_CHANGED")
    (event,) = _events(event_kind, "created")
    assert event.actor == admin
    label = "Win" if kind == "win" else "Loss"
    assert f"{label} reason “Speed” added." in admin_client_.get(DEFAULTS).content.decode()


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize(
    ("name", "error"),
    [
        ("", "This field is required."),
        ("x" * 101, "Ensure this value has at most 100 characters (it has 101)."),
    ],
)
def test_bad_new_reasons_are_shown_next_to_the_field(admin_client_, kind, name, error):
    before = _snapshot()
    response = admin_client_.post(reverse(f"settings-{kind}-reason-create"), {"name": name})
    assert response.status_code == 200
    html = response.content.decode()
    errors = html[html.index(f'<ul class="errorlist" id="add-{kind}-reason-name_error">') :]
    assert error in errors.split("</ul>")[0]
    assert _snapshot() == before


@pytest.mark.parametrize("kind", KINDS)
def test_a_duplicate_reason_name_is_refused(admin_client_, kind):
    existing = _reason_names(kind)[0]
    before = _snapshot()
    response = admin_client_.post(
        reverse(f"settings-{kind}-reason-create"), {"name": existing.upper()}
    )
    html = response.content.decode()
    assert "A reason with this name already exists." in html
    assert f'id="add-{kind}-reason-name_error"' in html
    assert _snapshot() == before


@pytest.mark.parametrize("kind", KINDS)
def test_admin_renames_a_reason_in_place(admin_client_, kind):
    reason = MODELS[kind].objects.get(name=_reason_names(kind)[1])
    old = reason.name
    url = reverse(f"settings-{kind}-reason-edit", args=[reason.pk])
    html = admin_client_.get(DEFAULTS).content.decode()
    assert f'action="{url}"' in _row(html, f"{kind}-reason-{reason.pk}")
    response = admin_client_.post(url, {"name": "Renamed"})
    assert response["Location"] == f"{DEFAULTS}#{kind}-reason-{reason.pk}"
    reason.refresh_from_db()
    assert reason.name == "Renamed"
    assert f"reason “{old}” renamed to “Renamed”." in admin_client_.get(DEFAULTS).content.decode()
    response = admin_client_.post(url, {"name": "Renamed"}, follow=True)
    assert "Nothing changed." in response.content.decode()


@pytest.mark.parametrize("kind", KINDS)
def test_bad_renames_are_shown_in_the_row(admin_client_, kind):
    first, second = _reason_names(kind)[:2]
    reason = MODELS[kind].objects.get(name=second)
    before = _snapshot()
    response = admin_client_.post(
        reverse(f"settings-{kind}-reason-edit", args=[reason.pk]), {"name": first.lower()}
    )
    assert response.status_code == 200
    html = response.content.decode()
    row = _row(html, f"{kind}-reason-{reason.pk}")
    assert '<details class="rename" open>' in row
    assert f'id="rename-{kind}-{reason.pk}-name_error"' in row
    assert "A reason with this name already exists." in row
    assert html.count('<details class="rename" open>') == 1
    assert _snapshot() == before


@pytest.mark.parametrize("kind", KINDS)
def test_an_unused_reason_is_deleted(admin_client_, kind):
    reason = MODELS[kind].objects.get(name=_reason_names(kind)[-1])
    html = admin_client_.get(DEFAULTS).content.decode()
    assert f"No deal uses “{reason.name}”, so it will be deleted." in html
    response = admin_client_.post(reverse(f"settings-{kind}-reason-delete", args=[reason.pk]))
    assert response["Location"] == f"{DEFAULTS}#{kind}-reasons-title"
    assert not MODELS[kind].objects.filter(pk=reason.pk).exists()
    assert f"reason “{reason.name}” deleted." in admin_client_.get(DEFAULTS).content.decode()


@pytest.mark.parametrize("kind", KINDS)
def test_a_used_reason_is_archived_and_listed_apart(admin_client_, admin, kind):
    reason = MODELS[kind].objects.get(name=_reason_names(kind)[0])
    deal = (_win if kind == "win" else _lose)(admin, reason)
    html = admin_client_.get(DEFAULTS).content.decode()
    row = _row(html, f"{kind}-reason-{reason.pk}")
    assert f"One deal uses “{reason.name}”, so it will be archived" in row
    assert ">1<" in row  # the usage count
    response = admin_client_.post(
        reverse(f"settings-{kind}-reason-delete", args=[reason.pk]), follow=True
    )
    reason.refresh_from_db()
    assert reason.archived
    deal.refresh_from_db()
    assert getattr(deal, f"{kind}_reason") == reason
    assert reason.name not in _reason_names(kind)
    html = response.content.decode()
    assert f"reason “{reason.name}” archived" in html
    label = "Archived win reasons" if kind == "win" else "Archived loss reasons"
    archived = html[html.index(f'id="{kind}-archived-title"') :]
    assert label in archived and reason.name in archived.split("</table>")[0]
    assert "Archived" in _row(html, f"{kind}-reason-{reason.pk}")
    block = html[
        html.index(f'id="{kind}-reason-table"') : html.index(f'id="{kind}-archived-title"')
    ]
    assert f'data-label="Reason">{reason.name}<' not in block


@pytest.mark.parametrize("kind", KINDS)
def test_a_reason_only_in_the_history_is_archived(admin_client_, admin, kind):
    reason = MODELS[kind].objects.get(name=_reason_names(kind)[0])
    deal = (_win if kind == "win" else _lose)(admin, reason)
    services.opportunity_move(actor=admin, opportunity=deal, stage=_settings().default_stage)
    html = admin_client_.get(DEFAULTS).content.decode()
    assert f"Deals used “{reason.name}” earlier, so it will be archived" in html
    admin_client_.post(reverse(f"settings-{kind}-reason-delete", args=[reason.pk]))
    reason.refresh_from_db()
    assert reason.archived


@pytest.mark.parametrize("kind", KINDS)
def test_reason_delete_confirmation_page(admin_client_, kind):
    reason = MODELS[kind].objects.get(name=_reason_names(kind)[0])
    response = admin_client_.get(reverse(f"settings-{kind}-reason-delete", args=[reason.pk]))
    assert response.status_code == 200
    assert f"Delete “{reason.name}”?" in response.content.decode()
    assert MODELS[kind].objects.filter(pk=reason.pk).exists()


@pytest.mark.parametrize("kind", KINDS)
def test_move_reasons(admin_client_, kind):
    names = _reason_names(kind)
    other = "loss" if kind == "win" else "win"
    others = _reason_names(other)
    second = MODELS[kind].objects.get(name=names[1])
    url = reverse(f"settings-{kind}-reason-move", args=[second.pk])
    response = admin_client_.post(url, {"direction": "up"})
    assert response["Location"] == f"{DEFAULTS}#{kind}-reason-{second.pk}"
    assert _reason_names(kind) == [names[1], names[0], *names[2:]]
    response = admin_client_.post(url, {"direction": "down"}, HTTP_HX_REQUEST="true")
    assert "moved down" in response["HX-Trigger"]
    assert f'id="{kind}-reason-table"' in response.content.decode()
    assert _reason_names(kind) == names
    assert _reason_names(other) == others  # the other list is untouched
    response = admin_client_.post(url, {"direction": "sideways"}, follow=True)
    assert "Choose whether to move the reason up or down." in response.content.decode()
    assert _reason_names(kind) == names


@pytest.mark.parametrize("kind", KINDS)
def test_archived_reasons_cannot_be_edited_moved_or_deleted(admin_client_, admin, kind):
    reason = MODELS[kind].objects.get(name=_reason_names(kind)[0])
    (_win if kind == "win" else _lose)(admin, reason)
    admin_client_.post(reverse(f"settings-{kind}-reason-delete", args=[reason.pk]))
    before = _snapshot()
    for action, data in (("edit", {"name": "X"}), ("move", {"direction": "up"}), ("delete", {})):
        url = reverse(f"settings-{kind}-reason-{action}", args=[reason.pk])
        assert admin_client_.post(url, data).status_code == 404
    assert _snapshot() == before


def test_a_win_reason_id_is_not_a_loss_reason(admin_client_):
    win = WinReason.objects.get(name="Price")
    unused = LossReason.objects.order_by("-pk").first().pk + 1000
    assert win.pk != unused
    response = admin_client_.post(
        reverse("settings-loss-reason-edit", args=[unused]), {"name": "X"}
    )
    assert response.status_code == 404


@pytest.mark.parametrize(
    "name",
    [
        "settings-stage-edit",
        "settings-stage-delete",
        "settings-stage-move",
        "settings-win-reason-edit",
        "settings-loss-reason-delete",
        "settings-loss-reason-move",
    ],
)
@pytest.mark.parametrize("pk", [0, 987654, 2**63, 10**30])
def test_unknown_ids_are_404(admin_client_, name, pk):
    before = _snapshot()
    response = admin_client_.post(
        reverse(name, args=[pk]), {"name": "x", "probability": "1", "direction": "up"}
    )
    assert response.status_code == 404
    assert _snapshot() == before


@pytest.mark.parametrize(
    "body",
    ["name=%00bad", "name=a&name=b", "name=%ED%A0%80", "probability=1e9", "&&&=", "a" * 5000],
)
def test_garbage_input_never_breaks_the_pages(admin_client_, body):
    form = "application/x-www-form-urlencoded"
    stage = _stage("Proposal").pk
    win = WinReason.objects.get(name="Price").pk
    for url in (
        reverse("settings-stage-create"),
        reverse("settings-stage-edit", args=[stage]),
        reverse("settings-stage-move", args=[stage]),
        reverse("settings-win-reason-create"),
        reverse("settings-win-reason-edit", args=[win]),
        reverse("settings-win-reason-move", args=[win]),
    ):
        response = admin_client_.post(url, body, content_type=form)
        assert response.status_code in (200, 302), url


# --- query counts --------------------------------------------------------------------------------


def _count(client, url) -> int:
    with CaptureQueriesContext(connection) as ctx:
        assert client.get(url).status_code == 200
    return len(ctx.captured_queries)


def test_pipeline_runs_a_fixed_number_of_queries(admin_client_, admin):
    few = _count(admin_client_, PIPELINE)
    assert few <= 8  # session, user, settings, active stages, stages, the header's counts
    for i in range(8):
        stage = services.stage_create(actor=admin, name=f"Extra {i}", probability=i * 10)
        OpportunityFactory.create_batch(2, stage=stage)
        if i % 2:
            services.stage_delete(actor=admin, stage=stage)
    assert Stage.objects.count() == 14
    assert _count(admin_client_, PIPELINE) == few


def test_defaults_page_runs_a_fixed_number_of_queries(admin_client_, admin):
    few = _count(admin_client_, DEFAULTS)
    assert few <= 10  # ... settings, stages, active stages, win reasons, loss reasons
    for i in range(8):
        StageFactory(name=f"Extra {i}")
        win = services.win_reason_create(actor=admin, name=f"Win {i}")
        loss = services.loss_reason_create(actor=admin, name=f"Loss {i}")
        _win(admin, win)
        _lose(admin, loss)
        if i % 2:
            services.win_reason_delete(actor=admin, reason=win)
            services.loss_reason_delete(actor=admin, reason=loss)
    assert _count(admin_client_, DEFAULTS) == few


@pytest.mark.parametrize("url", [PIPELINE, DEFAULTS])
def test_pages_render_in_spanish(admin_client_, url):
    response = admin_client_.get(url, HTTP_ACCEPT_LANGUAGE="es")
    assert response.status_code == 200
    assert '<html lang="es"' in response.content.decode()
