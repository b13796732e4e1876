"""The follow-up sweep (beat, every 15 minutes): a classification whose Celery task was lost
(Redis lost its queue, a worker never got it) still gets its follow-up, once, unless a later
classification of the same prospect decides instead."""

import datetime as dt

import pytest
import time_machine
from django.conf import settings
from django.utils import timezone

from crm.models import Event, Task
from leads import services
from leads.models import Rating
from leads.tasks import create_follow_up_task, create_missing_follow_ups_task
from tests.factories import ContactFactory, LeadFactory

pytestmark = pytest.mark.django_db

LATER = dt.timedelta(minutes=11)  # past the grace the Celery task has


@pytest.fixture
def ratings(db):
    return {r.name: r for r in Rating.objects.all()}


def _lost(actor, rating, **subject) -> Event:
    """A classification whose follow-up task never ran (its on-commit enqueue is not run)."""
    return services.prospect_classify(actor=actor, rating=rating, **subject)


def test_a_lost_follow_up_is_made_once_after_the_grace(rep, ratings):
    lead = LeadFactory(owner=rep)
    contact = ContactFactory(owner=rep)
    e_lead = _lost(rep, ratings["Likely"], lead=lead)
    e_contact = _lost(rep, ratings["Potential consultant"], contact=contact)
    assert services.follow_ups_missing_create() == 0  # the Celery task still has time
    now = timezone.now() + LATER
    assert services.follow_ups_missing_create(now=now) == 2
    made = Task.objects.get(source_event=e_lead)
    assert made.lead == lead and made.is_follow_up and made.owner == rep
    assert made.due_on == timezone.localdate() + dt.timedelta(days=30)
    assert Task.objects.get(source_event=e_contact).contact == contact
    # a second sweep, and the lost task delivered late after all: nothing more
    assert services.follow_ups_missing_create(now=now) == 0
    assert create_follow_up_task.run(e_lead.pk) == made.pk
    assert Task.objects.filter(is_follow_up=True).count() == 2


def test_a_later_classification_decides(rep, ratings):
    cleared = LeadFactory(owner=rep)
    _lost(rep, ratings["Likely"], lead=cleared)
    _lost(rep, None, lead=cleared)  # blank: clears the rating, asks for nothing
    twice = LeadFactory(owner=rep)
    _lost(rep, ratings["Likely"], lead=twice)
    latest = _lost(rep, ratings["Undecided"], lead=twice)
    not_interested = LeadFactory(owner=rep)
    _lost(rep, ratings["Not interested"], lead=not_interested)  # no follow-up delay
    assert services.follow_ups_missing_create(now=timezone.now() + LATER) == 1
    assert list(Task.objects.values_list("source_event", "lead", "done")) == [
        (latest.pk, twice.pk, False)
    ]


def test_one_made_normally_is_left_alone_and_old_ones_are_out_of_reach(rep, ratings):
    lead = LeadFactory(owner=rep)
    event = _lost(rep, ratings["Likely"], lead=lead)
    create_follow_up_task.run(event.pk)
    assert services.follow_ups_missing_create(now=timezone.now() + LATER) == 0
    old = LeadFactory(owner=rep)
    _lost(rep, ratings["Likely"], lead=old)
    far = timezone.now() + services.FOLLOW_UP_SWEEP_WINDOW + dt.timedelta(hours=1)
    assert services.follow_ups_missing_create(now=far) == 0
    assert not Task.objects.filter(lead=old).exists()


def test_the_sweep_is_a_beat_task(rep, ratings):
    schedule = {entry["task"] for entry in settings.CELERY_BEAT_SCHEDULE.values()}
    assert "leads.tasks.create_missing_follow_ups_task" in schedule
    lead = LeadFactory(owner=rep)
    with time_machine.travel(timezone.now() - LATER):
        event = _lost(rep, ratings["Likely"], lead=lead)
    assert create_missing_follow_ups_task.run() == 1
    assert Task.objects.filter(source_event=event).exists()
