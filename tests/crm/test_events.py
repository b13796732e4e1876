"""The audit trail is append-only: events are created, never changed or removed."""

import pytest

from crm import services
from crm.models import AppendOnlyError, Event
from tests.factories import AccountFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def event(rep):
    return services.event_record(
        actor=rep, kind="created", account=AccountFactory(owner=rep), data={"name": "Acme"}
    )


def _unchanged(event):
    stored = Event.objects.get(pk=event.pk)
    assert (stored.kind, stored.data) == ("created", {"name": "Acme"})


def test_saving_an_existing_event_raises(event):
    event.kind = "hacked"
    with pytest.raises(AppendOnlyError):
        event.save()
    _unchanged(event)


def test_deleting_an_event_raises(event):
    with pytest.raises(AppendOnlyError):
        event.delete()
    _unchanged(event)


def test_bulk_update_and_delete_raise(event):
    with pytest.raises(AppendOnlyError):
        Event.objects.filter(pk=event.pk).update(kind="hacked")
    with pytest.raises(AppendOnlyError):
        Event.objects.all().delete()
    event.kind = "hacked"
    with pytest.raises(AppendOnlyError):
        Event.objects.bulk_update([event], ["kind"])
    _unchanged(event)


def test_events_are_created_and_read_normally(rep, event):
    second = Event.objects.create(actor=rep, kind="updated", account=event.account)
    assert list(Event.objects.all()) == [second, event]  # newest first
    assert Event.objects.filter(account=event.account).count() == 2
    assert event.at is not None
    assert str(event).startswith("created @ ")


def test_records_with_events_cannot_be_deleted(event):
    from django.db.models import ProtectedError

    with pytest.raises(ProtectedError):
        event.account.delete()
    assert Event.objects.filter(pk=event.pk).exists()
