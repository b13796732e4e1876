"""A rep enrolls a contact or a lead in a sequence from its page, and stops it there."""

import threading

import pytest
from django.db import connection
from django.urls import reverse

from crm.models import Task
from opportunities.models import Enrollment, EnrollmentStatus
from opportunities.services_automation import enrollment_start, sequence_create
from tests.factories import ContactFactory, LeadFactory, UserFactory


@pytest.fixture
def welcome(admin):
    return sequence_create(
        actor=admin,
        name="Welcome",
        steps=[
            {"day_offset": 0, "kind": "task", "title": "Say hello", "body": ""},
            {"day_offset": 5, "kind": "task", "title": "Follow up", "body": ""},
        ],
    )


def _enroll(client, field, record, sequence):
    return client.post(
        reverse("enrollment-create"),
        {"subject_field": field, "subject": record.pk, "sequence": sequence.pk},
    )


def test_enroll_and_stop_a_contact_from_its_page(
    rep_client, rep, welcome, django_capture_on_commit_callbacks
):
    contact = ContactFactory(owner=rep)
    page = rep_client.get(reverse("contact-detail", args=[contact.pk])).content.decode()
    assert "Enroll in a sequence" in page
    with django_capture_on_commit_callbacks(execute=True):
        response = _enroll(rep_client, "contact", contact, welcome)
    assert response.status_code == 302
    enrollment = Enrollment.objects.get(contact=contact)
    assert Task.objects.filter(contact=contact, title="Say hello").exists()
    page = rep_client.get(reverse("contact-detail", args=[contact.pk])).content.decode()
    assert "1 / 2" in page
    assert reverse("enrollment-stop", args=[enrollment.pk]) in page
    # Enrolling again while active changes nothing.
    _enroll(rep_client, "contact", contact, welcome)
    assert Enrollment.objects.filter(contact=contact).count() == 1
    assert rep_client.post(reverse("enrollment-stop", args=[enrollment.pk])).status_code == 302
    enrollment.refresh_from_db()
    assert enrollment.status == EnrollmentStatus.STOPPED


def test_enroll_a_lead_from_its_page(rep_client, rep, welcome):
    lead = LeadFactory(owner=rep)
    assert (
        "Enroll in a sequence"
        in rep_client.get(reverse("lead-detail", args=[lead.pk])).content.decode()
    )
    assert _enroll(rep_client, "lead", lead, welcome).status_code == 302
    assert Enrollment.objects.get(lead=lead).owner == rep


def test_records_of_others_cannot_be_enrolled_or_stopped(rep_client, other_rep, welcome):
    contact = ContactFactory(owner=other_rep)
    assert _enroll(rep_client, "contact", contact, welcome).status_code == 404
    lead = LeadFactory(owner=other_rep)
    assert _enroll(rep_client, "lead", lead, welcome).status_code == 404
    enrollment, _ = enrollment_start(actor=other_rep, sequence=welcome, contact=contact)
    assert rep_client.post(reverse("enrollment-stop", args=[enrollment.pk])).status_code == 404
    enrollment.refresh_from_db()
    assert enrollment.status == EnrollmentStatus.ACTIVE
    assert Enrollment.objects.count() == 1


def test_bad_enroll_input_is_refused(rep_client, rep, welcome):
    contact = ContactFactory(owner=rep)
    bad = [
        {"subject_field": "account", "subject": contact.pk, "sequence": welcome.pk},
        {"subject_field": "contact", "subject": "x", "sequence": welcome.pk},
    ]
    for data in bad:
        assert rep_client.post(reverse("enrollment-create"), data).status_code == 404
    response = rep_client.post(
        reverse("enrollment-create"),
        {"subject_field": "contact", "subject": contact.pk, "sequence": "nope"},
    )
    assert response.status_code == 302
    assert not Enrollment.objects.exists()


@pytest.mark.concurrency
@pytest.mark.django_db(transaction=True)
def test_concurrent_starts_make_one_enrollment():
    from tests.factories import AdminFactory

    admin = AdminFactory()
    sequence = sequence_create(
        actor=admin,
        name="Race",
        steps=[{"day_offset": 3, "kind": "task", "title": "Later", "body": ""}],
    )
    rep = UserFactory()
    contact = ContactFactory(owner=rep)
    n = 8
    barrier = threading.Barrier(n)
    results, errors = [], []

    def start():
        try:
            barrier.wait()
            results.append(enrollment_start(actor=rep, sequence=sequence, contact=contact))
        except Exception as exc:  # reported below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=start) for _ in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert Enrollment.objects.count() == 1
    assert sum(created for _e, created in results) == 1
    assert {e.pk for e, _c in results} == {Enrollment.objects.get().pk}
