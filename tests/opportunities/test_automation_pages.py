"""Settings > Automation and Settings > Sequences (admin pages, no JavaScript needed)."""

import pytest
from django.urls import reverse

from leads.models import DisqualificationReason
from opportunities import services_automation as svc
from opportunities.models import Enrollment, Sequence, SequenceStep, TriggerAction
from tests.factories import ContactFactory

pytestmark = pytest.mark.django_db

STEPS = [{"day_offset": 0, "kind": "task", "title": "Call", "body": "Hi"}]


def _formset(rows, total=None, initial=0):
    data = {
        "steps-TOTAL_FORMS": str(total or len(rows)),
        "steps-INITIAL_FORMS": str(initial),
        "steps-MIN_NUM_FORMS": "0",
        "steps-MAX_NUM_FORMS": "60",
    }
    for i, row in enumerate(rows):
        for key, value in row.items():
            data[f"steps-{i}-{key}"] = value
    return data


@pytest.mark.parametrize(
    "name",
    ["settings-automation", "settings-sequences", "settings-sequence-create"],
)
def test_reps_get_403(rep_client, name):
    assert rep_client.get(reverse(name)).status_code == 403


def test_automation_page_groups_by_event(admin_client_, admin):
    svc.trigger_action_create(actor=admin, event="buy_now_clicked", action="apply_tag", tag="hot")
    r = admin_client_.get(reverse("settings-automation"))
    assert r.status_code == 200
    html = r.content.decode()
    for label in ("Clicked buy now", "Purchased via buy now", "Lead disqualified"):
        assert label in html
    assert "Tag: hot" in html
    assert 'scope="col"' in html and 'aria-current="page"' in html
    assert '<label for="add-action-id_tag"' in html or 'for="add-action-tag"' in html


def test_add_edit_remove_an_action(admin_client_, admin):
    seq = svc.sequence_create(actor=admin, name="Nurture", steps=STEPS)
    reason = DisqualificationReason.objects.first()
    r = admin_client_.post(
        reverse("settings-automation-create"),
        {
            "event": "lead_disqualified",
            "action": "start_sequence",
            "sequence": seq.pk,
            "reasons": [reason.pk],
        },
    )
    assert r.status_code == 302, r.content.decode()[:2000]
    action = TriggerAction.objects.get()
    assert list(action.reasons.all()) == [reason]
    r = admin_client_.post(
        reverse("settings-automation-edit", args=[action.pk]),
        {"event": "lead_disqualified", "action": "email_owner"},
    )
    assert r.status_code == 302
    action.refresh_from_db()
    assert (action.action, action.sequence, list(action.reasons.all())) == ("email_owner", None, [])
    assert (
        admin_client_.get(reverse("settings-automation-remove", args=[action.pk])).status_code
        == 200
    )
    r = admin_client_.post(reverse("settings-automation-remove", args=[action.pk]))
    assert r.status_code == 302
    action.refresh_from_db()
    assert action.archived_at is not None


def test_add_action_error_shown_next_to_the_field(admin_client_):
    r = admin_client_.post(
        reverse("settings-automation-create"),
        {"event": "lead_disqualified", "action": "apply_tag", "tag": "x"},
    )
    assert r.status_code == 200
    assert "Leads have no tags" in r.content.decode()
    assert 'role="alert"' in r.content.decode()
    assert not TriggerAction.objects.exists()


def test_create_a_sequence_with_empty_rows_ignored(admin_client_):
    r = admin_client_.get(reverse("settings-sequence-create"))
    assert r.status_code == 200
    assert 'name="steps-2-title"' in r.content.decode()  # rows to fill without JavaScript
    data = {"name": "Onboarding", "stop_when_closed": "on"}
    data.update(
        _formset(
            [
                {"day_offset": "0", "kind": "task", "title": "Call", "body": "Hi"},
                {"day_offset": "", "kind": "task", "title": "", "body": ""},
                {"day_offset": "4", "kind": "email", "title": "Tips", "body": "Read"},
            ]
        )
    )
    r = admin_client_.post(reverse("settings-sequence-create"), data)
    assert r.status_code == 302, r.content.decode()[:3000]
    seq = Sequence.objects.get()
    assert list(seq.steps.values_list("position", "day_offset", "kind", "title")) == [
        (1, 0, "task", "Call"),
        (2, 4, "email", "Tips"),
    ]
    page = admin_client_.get(r["Location"]).content.decode()
    assert 'name="steps-4-title"' in page  # two steps plus three empty rows


def test_sequence_errors_are_shown(admin_client_):
    data = {"name": "Bad"}
    data.update(_formset([{"day_offset": "500", "kind": "task", "title": "", "body": ""}]))
    r = admin_client_.post(reverse("settings-sequence-create"), data)
    assert r.status_code == 200
    html = r.content.decode()
    assert "Step 1" in html and 'id="steps-errors"' in html
    data = {"name": "Empty"}
    data.update(_formset([{"day_offset": "", "kind": "task", "title": "", "body": ""}]))
    r = admin_client_.post(reverse("settings-sequence-create"), data)
    assert "Add at least one step." in r.content.decode()
    assert not Sequence.objects.exists()


def test_edit_removes_a_step_and_stop_an_enrollment(admin_client_, admin, rep):
    seq = svc.sequence_create(
        actor=admin,
        name="Two",
        steps=[*STEPS, {"day_offset": 2, "kind": "email", "title": "Mail", "body": ""}],
    )
    contact = ContactFactory(owner=rep)
    enrollment, _ = svc.enrollment_start(actor=None, sequence=seq, contact=contact)
    page = admin_client_.get(reverse("settings-sequence-edit", args=[seq.pk]))
    assert contact.name in page.content.decode()
    data = {"name": "Two", "stop_when_closed": "on"}
    data.update(
        _formset(
            [
                {"day_offset": "1", "kind": "task", "title": "Call", "body": "Hi"},
                {"day_offset": "2", "kind": "email", "title": "Mail", "body": "", "DELETE": "on"},
            ],
            initial=2,
        )
    )
    r = admin_client_.post(reverse("settings-sequence-edit", args=[seq.pk]), data)
    assert r.status_code == 302, r.content.decode()[:3000]
    assert SequenceStep.objects.filter(sequence=seq, archived_at__isnull=True).count() == 1
    r = admin_client_.post(reverse("settings-enrollment-stop", args=[enrollment.pk]))
    assert r.status_code == 302
    enrollment.refresh_from_db()
    assert enrollment.status == "stopped"


def test_archive_a_sequence(admin_client_, admin):
    seq = svc.sequence_create(actor=admin, name="Old", steps=STEPS)
    assert admin_client_.get(reverse("settings-sequence-archive", args=[seq.pk])).status_code == 200
    r = admin_client_.post(reverse("settings-sequence-archive", args=[seq.pk]))
    assert r.status_code == 302
    seq.refresh_from_db()
    assert seq.archived_at is not None
    html = admin_client_.get(reverse("settings-sequences")).content.decode()
    assert "Archived sequences" in html
    assert not Enrollment.objects.exists()
