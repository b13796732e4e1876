"""Issue #9.7: undo an archive, and Settings > Archive where admins restore archived records."""

from __future__ import annotations

import datetime as dt

import pytest
from django.core.exceptions import PermissionDenied
from django.urls import reverse
from django.utils import timezone

from crm import services as crm_services
from crm.models import Account, Contact, Event, Task
from crm.services_archive import RESTORED, opportunity_restore
from leads import services as lead_services
from leads.models import Lead
from opportunities import services as opp_services
from opportunities.models import AccessReason, ContactAccess, Opportunity, OpportunitySettings
from tests.factories import (
    AccountFactory,
    ContactFactory,
    LeadFactory,
    OpportunityFactory,
    TaskFactory,
)

pytestmark = pytest.mark.django_db


def _archive_url(obj):
    return reverse(f"{obj._meta.model_name}-archive", args=[obj.pk])


@pytest.mark.parametrize("kind", ["lead", "contact", "account", "opportunity", "task"])
def test_archive_shows_undo_and_undo_restores_with_an_event(rep_client, rep, kind):
    contact = ContactFactory(owner=rep)
    obj = {
        "lead": lambda: LeadFactory(owner=rep),
        "contact": lambda: contact,
        "account": lambda: AccountFactory(owner=rep),
        "opportunity": lambda: OpportunityFactory(contact=contact, owner=rep),
        "task": lambda: TaskFactory(owner=rep),
    }[kind]()
    response = rep_client.post(_archive_url(obj), follow=True)
    html = response.content.decode()
    restore_url = reverse("record-restore", args=[kind, obj.pk])
    assert f'action="{restore_url}"' in html and "Undo" in html
    assert 'aria-live="polite"' in html
    obj.refresh_from_db()
    assert obj.archived_at is not None
    list_url = response.request["PATH_INFO"]
    response = rep_client.post(restore_url, {"next": list_url})
    assert response.status_code == 302 and response["Location"] == list_url
    obj.refresh_from_db()
    assert obj.archived_at is None
    event = Event.objects.filter(kind=RESTORED, **{kind: obj}).get()
    assert event.actor == rep and event.data["archived_at"]
    # The timeline says it in words.
    detail = rep_client.get(reverse(f"{kind}-detail", args=[obj.pk])).content.decode()
    assert "restored the" in detail


def test_restore_is_for_whoever_could_archive(rep, other_rep, rep_client, client):
    lead = LeadFactory(owner=rep)
    lead_services.lead_archive(actor=rep, lead=lead)
    client.force_login(other_rep)
    url = reverse("record-restore", args=["lead", lead.pk])
    assert client.post(url).status_code == 404
    assert client.get(url).status_code == 405
    assert rep_client.post(reverse("record-restore", args=["nothing", lead.pk])).status_code == 404
    assert Lead.objects.get(pk=lead.pk).archived_at is not None
    # An opportunity: a rep it is shared with sees it, yet only its owner or an admin restores it.
    opp = OpportunityFactory(contact=ContactFactory(owner=rep), owner=rep)
    opp_services.opportunity_share(actor=rep, opportunity=opp, user=other_rep)
    opp_services.opportunity_archive(actor=rep, opportunity=opp)
    with pytest.raises(PermissionDenied):
        opportunity_restore(actor=other_rep, opportunity=opp)
    assert client.post(reverse("record-restore", args=["opportunity", opp.pk])).status_code == 403


def test_restoring_an_opportunity_grants_its_contact_again(rep, other_rep, admin):
    OpportunitySettings.objects.filter(pk=1).update(
        share_contact_when_shared=True,
        unshare_contact_when_unshared=True,
        share_contact_when_assigned=True,
        unshare_contact_when_unassigned=True,
    )
    opp = OpportunityFactory(contact=ContactFactory(owner=admin), owner=rep)
    ContactAccess.objects.create(
        contact=opp.contact, user=rep, reason=AccessReason.ASSIGNED, opportunity=opp
    )
    opp_services.opportunity_share(actor=rep, opportunity=opp, user=other_rep)
    before = set(ContactAccess.objects.values_list("user_id", "reason"))
    opp_services.opportunity_archive(actor=rep, opportunity=opp)
    assert not ContactAccess.objects.exists()
    opportunity_restore(actor=rep, opportunity=opp)
    assert set(ContactAccess.objects.values_list("user_id", "reason")) == before
    assert Opportunity.objects.get(pk=opp.pk).archived_at is None
    # Restoring twice changes nothing and writes nothing.
    opportunity_restore(actor=rep, opportunity=opp)
    assert Event.objects.filter(kind=RESTORED, opportunity=opp).count() == 1


def _archive_all(actor, owner):
    contact = ContactFactory(owner=owner, first_name="Cora", last_name="Contact")
    records = [
        lead_services.lead_archive(actor=actor, lead=LeadFactory(owner=owner)),
        crm_services.contact_archive(actor=actor, contact=contact),
        crm_services.account_archive(actor=actor, account=AccountFactory(owner=owner)),
        opp_services.opportunity_archive(
            actor=actor, opportunity=OpportunityFactory(contact=contact, owner=owner)
        ),
        crm_services.task_archive(actor=actor, task=TaskFactory(owner=owner, title="Call back")),
    ]
    return records


def test_settings_archive_lists_every_kind_with_who_and_when(admin_client_, admin, rep):
    records = _archive_all(admin, rep)
    old = LeadFactory(owner=rep, last_name="Ancient")
    Lead.objects.filter(pk=old.pk).update(archived_at=timezone.now() - dt.timedelta(days=200))
    html = admin_client_.get(reverse("settings-archive")).content.decode()
    for obj in records:
        url = reverse("record-restore", args=[obj._meta.model_name, obj.pk])
        assert f'action="{url}"' in html
    assert "Cora Contact" in html and "Call back" in html and "Ancient" in html
    assert html.count(str(admin)) >= len(records)  # archived by
    recent = admin_client_.get(reverse("settings-archive") + "?period=recent").content.decode()
    assert "Ancient" not in recent and "Call back" in recent
    older = admin_client_.get(reverse("settings-archive") + "?period=older").content.decode()
    assert "Ancient" in older and "Call back" not in older
    tasks = admin_client_.get(reverse("settings-archive") + "?kind=task").content.decode()
    assert "Call back" in tasks and "Cora Contact" not in tasks
    # Restore from the page, back to it.
    task = records[-1]
    page = reverse("settings-archive") + "?kind=task"
    response = admin_client_.post(reverse("record-restore", args=["task", task.pk]), {"next": page})
    assert response["Location"] == page
    assert Task.objects.get(pk=task.pk).archived_at is None


def test_settings_archive_is_for_admins(rep_client):
    assert rep_client.get(reverse("settings-archive")).status_code == 403


def test_settings_archive_has_no_n_plus_one(admin_client_, admin, rep):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    def count():
        with CaptureQueriesContext(connection) as ctx:
            assert admin_client_.get(reverse("settings-archive")).status_code == 200
        return len(ctx.captured_queries)

    _archive_all(admin, rep)
    few = count()
    for _ in range(4):
        _archive_all(admin, rep)
    assert count() == few
    assert Account.objects.filter(archived_at__isnull=False).count() == 5
    assert Contact.objects.filter(archived_at__isnull=False).count() == 5
