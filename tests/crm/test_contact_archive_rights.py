"""Archiving and restoring a contact is for its owner and admins (``access.can_archive_contact``):
a rep who sees it through a deal shared with them works it, but cannot archive it, on any path
(page, API, bulk, restore), and is not offered the button. The same as for opportunities."""

import pytest
from django.urls import reverse

from crm.models import Contact, Event, EventKind
from opportunities.models import ContactAccess
from opportunities.services import opportunity_share
from tests.factories import ContactFactory, OpportunityFactory
from tests.opportunities.test_sharing_rules import api_for

pytestmark = pytest.mark.django_db


@pytest.fixture
def shared(rep, other_rep):
    """A contact of ``rep`` that ``other_rep`` sees through a deal shared with them."""
    contact = ContactFactory(owner=rep, last_name="Quintana")
    deal = OpportunityFactory(contact=contact, owner=rep, name="Quintana deal")
    opportunity_share(actor=rep, opportunity=deal, user=other_rep)
    assert ContactAccess.objects.filter(contact=contact, user=other_rep).exists()
    return contact, deal


def _archived(contact) -> bool:
    return Contact.objects.get(pk=contact.pk).archived_at is not None


def _archive_events(contact) -> int:
    return Event.objects.filter(contact=contact, kind=EventKind.ARCHIVED).count()


def test_a_rep_it_is_shared_with_cannot_archive_it_by_any_path(client, other_rep, shared):
    contact, _deal = shared
    client.force_login(other_rep)
    page = client.get(reverse("contact-detail", args=[contact.pk]))
    assert page.status_code == 200  # they see it and work it
    assert reverse("contact-archive", args=[contact.pk]) not in page.content.decode()
    assert client.post(reverse("contact-archive", args=[contact.pk])).status_code == 403
    api = api_for(other_rep)
    assert api.delete(f"/api/v1/contacts/{contact.pk}/").status_code == 403
    bulk = api.post("/api/v1/contacts/bulk/", {"ids": [contact.pk], "action": "archive"})
    assert bulk.status_code == 403
    assert not _archived(contact) and _archive_events(contact) == 0


def test_the_owner_and_an_admin_archive_and_restore_it(client, rep, admin, other_rep, shared):
    contact, _deal = shared
    for who in (rep, admin):
        client.force_login(who)
        page = client.get(reverse("contact-detail", args=[contact.pk]))
        assert reverse("contact-archive", args=[contact.pk]) in page.content.decode()
        client.post(reverse("contact-archive", args=[contact.pk]))
        assert _archived(contact)
        # the one it is shared with may not undo it either
        client.force_login(other_rep)
        restore = reverse("record-restore", args=["contact", contact.pk])
        assert client.post(restore).status_code in (403, 404)
        assert _archived(contact)
        client.force_login(who)
        client.post(restore)
        assert not _archived(contact)


def test_the_deal_page_offers_archiving_to_its_owner_only(client, rep, other_rep, shared):
    _contact, deal = shared
    archive_url = reverse("opportunity-archive", args=[deal.pk])
    client.force_login(other_rep)
    assert (
        archive_url
        not in client.get(reverse("opportunity-detail", args=[deal.pk])).content.decode()
    )
    client.force_login(rep)
    assert archive_url in client.get(reverse("opportunity-detail", args=[deal.pk])).content.decode()
