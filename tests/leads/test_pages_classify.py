"""Classifying a lead or a contact from its page, the rating tag in lists and pages, the rating
filter, and the timeline sentences of classifications and superseded follow-ups."""

import datetime as dt

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone
from django.utils.formats import date_format

from crm.models import Contact, Event, Task
from leads import services
from leads.models import Lead, LeadEvent, LeadStatus, Rating
from tests.factories import ContactFactory, LeadFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def ratings(db):
    """The six default ratings of the data migration, by English name."""
    return {r.name: r for r in Rating.objects.all()}


def _snapshot():
    return (
        list(Lead.objects.values("pk", "rating_id").order_by("pk")),
        list(Contact.objects.values("pk", "rating_id").order_by("pk")),
        Task.objects.count(),
        Event.objects.count(),
    )


def _subject(kind, owner):
    if kind == "lead":
        obj = LeadFactory(owner=owner, first_name="Ana", last_name="Gil")
    else:
        obj = ContactFactory(owner=owner, first_name="Ana", last_name="Gil")
    return obj, reverse(f"{kind}-classify", args=[obj.pk]), reverse(f"{kind}-detail", args=[obj.pk])


def _in_days(days):
    return date_format(timezone.localdate() + dt.timedelta(days=days), "SHORT_DATE_FORMAT")


# --- the picker ----------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["lead", "contact"])
def test_page_offers_the_classifications_and_no_rating(rep_client, rep, ratings, kind):
    _obj, classify_url, detail_url = _subject(kind, rep)
    html = rep_client.get(detail_url).content.decode()
    assert f'action="{classify_url}"' in html
    select = html.split('name="rating"')[1].split("</select>")[0]
    assert '<option value="" selected>No rating</option>' in select
    assert "Promising prospect (follow-up in 14 days)" in select
    assert "Potential consultant (follow-up in 7 days)" in select
    # Outcomes are offered when completing a task, not here.
    assert "Not sure yet" not in select and "Not interested" not in select


@pytest.mark.parametrize("kind", ["lead", "contact"])
def test_classify_tags_and_schedules_the_follow_up(
    rep_client, rep, ratings, kind, django_capture_on_commit_callbacks
):
    obj, classify_url, detail_url = _subject(kind, rep)
    promising = ratings["Promising prospect"]
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        response = rep_client.post(classify_url, {"rating": promising.pk})
    assert response.status_code == 302 and response["Location"] == detail_url
    assert len(callbacks) == 1
    obj.refresh_from_db()
    assert obj.rating == promising
    task = Task.objects.get(**{kind: obj})
    assert task.is_follow_up and not task.done and task.owner == rep
    assert task.due_on == timezone.localdate() + dt.timedelta(days=14)
    assert task.priority == promising.order

    html = rep_client.get(detail_url).content.decode()
    saved = "Ana Gil classified as Promising prospect. Follow-up scheduled in 14 days"
    assert f"{saved}, on {_in_days(14)}." in html
    assert f'<option value="{promising.pk}" selected>' in html
    assert 'class="rating-tag"' in html and "Promising prospect</span>" in html
    assert f"Rita Rep classified the {kind} as Promising prospect (follow-up in 14 days)." in html
    assert task.title in html  # the follow-up is listed with the record's tasks


@pytest.mark.parametrize("kind", ["lead", "contact"])
def test_blank_clears_the_rating_and_schedules_nothing(
    rep_client, rep, ratings, kind, django_capture_on_commit_callbacks
):
    obj, classify_url, _detail_url = _subject(kind, rep)
    type(obj).objects.filter(pk=obj.pk).update(rating=ratings["Likely"])
    with django_capture_on_commit_callbacks(execute=True):
        response = rep_client.post(classify_url, {"rating": ""}, follow=True)
    obj.refresh_from_db()
    assert obj.rating is None
    assert not Task.objects.exists()
    html = response.content.decode()
    assert "Rating of Ana Gil cleared. No follow-up scheduled." in html
    assert f"Rita Rep cleared the rating of the {kind}." in html


def test_a_classification_without_delay_schedules_nothing(
    rep_client, rep, admin, django_capture_on_commit_callbacks
):
    cold = services.rating_create(actor=admin, name="Cold", applies_tag=True, follow_up_days=None)
    lead, classify_url, _ = _subject("lead", rep)
    with django_capture_on_commit_callbacks(execute=True):
        response = rep_client.post(classify_url, {"rating": cold.pk}, follow=True)
    lead.refresh_from_db()
    assert lead.rating == cold and not Task.objects.exists()
    html = response.content.decode()
    assert "Ana Gil classified as Cold. No follow-up scheduled." in html
    assert "Rita Rep classified the lead as Cold (no follow-up)." in html


@pytest.mark.parametrize("kind", ["lead", "contact"])
def test_reclassifying_replaces_the_open_follow_up(
    rep_client, rep, ratings, kind, django_capture_on_commit_callbacks
):
    obj, classify_url, detail_url = _subject(kind, rep)
    with django_capture_on_commit_callbacks(execute=True):
        rep_client.post(classify_url, {"rating": ratings["Undecided"].pk})
        rep_client.post(classify_url, {"rating": ratings["Potential consultant"].pk})
    old, new = Task.objects.filter(**{kind: obj}).order_by("pk")
    assert old.done and old.superseded_at and not new.done
    assert new.due_on == timezone.localdate() + dt.timedelta(days=7)
    html = rep_client.get(detail_url).content.decode()
    assert f"The follow-up “{old.title}” was replaced by a newer one." in html


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("999999", "Select a valid choice."),
        ("abc", "Select a valid choice."),
        ("outcome", "Select a valid choice."),  # an outcome is not a classification
        ("archived", "That rating has been archived; choose another."),
    ],
)
@pytest.mark.parametrize("kind", ["lead", "contact"])
def test_bad_input_shows_the_error_and_changes_nothing(
    rep_client, rep, admin, ratings, kind, value, message, django_capture_on_commit_callbacks
):
    obj, classify_url, _ = _subject(kind, rep)
    if value == "outcome":
        value = str(ratings["Not sure yet"].pk)
    if value == "archived":  # the prospect has it, so the picker still shows it
        likely = ratings["Likely"]
        type(obj).objects.filter(pk=obj.pk).update(rating=likely)
        services.rating_archive(actor=admin, rating=likely)
        value = str(likely.pk)
    before = _snapshot()
    with django_capture_on_commit_callbacks(execute=True):
        response = rep_client.post(classify_url, {"rating": value})
    assert response.status_code == 400
    assert message in response.content.decode()
    assert 'id="classify-rating_error"' in response.content.decode()
    assert _snapshot() == before


@pytest.mark.parametrize("kind", ["lead", "contact"])
def test_another_reps_record_is_404(rep_client, other_rep, ratings, kind):
    _obj, classify_url, _ = _subject(kind, other_rep)
    before = _snapshot()
    response = rep_client.post(classify_url, {"rating": ratings["Likely"].pk})
    assert response.status_code == 404
    assert _snapshot() == before


@pytest.mark.parametrize("kind", ["lead", "contact"])
def test_classify_is_post_only_and_needs_a_login(client, rep, ratings, kind):
    _obj, classify_url, _ = _subject(kind, rep)
    response = client.post(classify_url, {"rating": ratings["Likely"].pk})
    assert response.status_code == 302 and response["Location"].startswith(reverse("login"))
    client.force_login(rep)
    assert client.get(classify_url).status_code == 405


def test_a_converted_lead_has_no_picker_and_is_refused(rep_client, rep, ratings):
    lead, classify_url, detail_url = _subject("lead", rep)
    Lead.objects.filter(pk=lead.pk).update(status=LeadStatus.CONVERTED, rating=ratings["Likely"])
    html = rep_client.get(detail_url).content.decode()
    assert f'action="{classify_url}"' not in html
    assert "Likely</span>" in html  # the tag still shows
    before = _snapshot()
    response = rep_client.post(classify_url, {"rating": ratings["Undecided"].pk}, follow=True)
    assert "A converted lead is read-only." in response.content.decode()
    assert _snapshot() == before


# --- tags in the lists, the rating filter --------------------------------------------------------


def test_lead_list_shows_the_tag_and_filters_by_rating(rep_client, rep, ratings):
    a = LeadFactory(owner=rep, last_name="Tagged")
    LeadFactory(owner=rep, last_name="Plain")
    Lead.objects.filter(pk=a.pk).update(rating=ratings["Likely"])
    html = rep_client.get(reverse("lead-list")).content.decode()
    assert '<th scope="col">Rating</th>' in html or ">Rating<" in html
    assert "Likely</span>" in html
    html = rep_client.get(reverse("lead-list"), {"rating": ratings["Likely"].pk}).content.decode()
    assert "Tagged" in html and "Plain" not in html
    assert f'<option value="{ratings["Likely"].pk}" selected>Likely</option>' in html


def test_contact_list_shows_the_tag_and_filters_by_rating(rep_client, rep, ratings):
    a = ContactFactory(owner=rep, last_name="Tagged")
    ContactFactory(owner=rep, last_name="Plain")
    Contact.objects.filter(pk=a.pk).update(rating=ratings["Undecided"])
    html = rep_client.get(reverse("contact-list")).content.decode()
    assert "Undecided</span>" in html
    params = {"rating": ratings["Undecided"].pk}
    html = rep_client.get(reverse("contact-list"), params).content.decode()
    assert "Tagged" in html and "Plain" not in html


def test_api_filters_leads_and_contacts_by_rating(rep_api, rep, ratings):
    a = LeadFactory(owner=rep)
    LeadFactory(owner=rep)
    Lead.objects.filter(pk=a.pk).update(rating=ratings["Likely"])
    c = ContactFactory(owner=rep)
    ContactFactory(owner=rep)
    Contact.objects.filter(pk=c.pk).update(rating=ratings["Likely"])
    rows = rep_api.get("/api/v1/leads/", {"rating": ratings["Likely"].pk}).json()["results"]
    assert [r["id"] for r in rows] == [a.pk]
    rows = rep_api.get("/api/v1/contacts/", {"rating": ratings["Likely"].pk}).json()["results"]
    assert [r["id"] for r in rows] == [c.pk]


@pytest.mark.parametrize(
    ("url_name", "factory"), [("lead-list", LeadFactory), ("contact-list", ContactFactory)]
)
def test_list_query_count_does_not_grow_with_rated_rows(
    rep_client, rep, ratings, url_name, factory
):
    names = list(ratings)

    def make(n):
        for i in range(n):
            obj = factory(owner=rep)
            type(obj).objects.filter(pk=obj.pk).update(rating=ratings[names[i % 4]])

    def count():
        with CaptureQueriesContext(connection) as ctx:
            assert rep_client.get(reverse(url_name)).status_code == 200
        return len(ctx.captured_queries)

    make(3)
    few = count()
    make(22)
    assert count() == few


# --- timeline ------------------------------------------------------------------------------------


def test_timeline_names_an_outcome(rep_client, rep, ratings):
    lead = LeadFactory(owner=rep)
    services.prospect_classify(actor=rep, rating=ratings["Not sure yet"], lead=lead)
    services.prospect_classify(actor=rep, rating=ratings["Not interested"], lead=lead)
    html = rep_client.get(reverse("lead-detail", args=[lead.pk])).content.decode()
    assert "Rita Rep rated the lead: Not sure yet (follow-up in 14 days)." in html
    assert "Rita Rep rated the lead: Not interested (no follow-up)." in html
    assert Event.objects.filter(kind=LeadEvent.CLASSIFIED).count() == 2
