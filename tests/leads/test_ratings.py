import datetime as dt

import pytest
import time_machine

from crm.models import Event, Task
from leads import services
from leads.models import Lead, Rating
from leads.tasks import create_follow_up_task
from tests.factories import ContactFactory, LeadFactory, TaskFactory

pytestmark = pytest.mark.django_db

# name: (becomes the prospect's rating, follow-up in days)
DEFAULTS = {
    "Potential consultant": (True, 7),
    "Promising prospect": (True, 14),
    "Likely": (True, 30),
    "Undecided": (True, 60),
    "Not sure yet": (False, 14),
    "Not interested": (False, None),
}


@pytest.fixture
def ratings(db):
    return {r.name: r for r in Rating.objects.all()}


def test_fresh_install_has_the_six_ratings(ratings):
    assert {n: (r.applies_tag, r.follow_up_days) for n, r in ratings.items()} == DEFAULTS
    assert list(Rating.objects.values_list("name", flat=True)) == list(DEFAULTS)


@pytest.mark.parametrize("name", list(DEFAULTS))
@pytest.mark.parametrize(
    "time_zone, moment, local_day",
    [
        # 23:30 UTC on 31 January is already 1 February in Madrid: the rep's calendar counts.
        ("Europe/Madrid", dt.datetime(2027, 1, 31, 23, 30, tzinfo=dt.UTC), dt.date(2027, 2, 1)),
        # 03:00 UTC on 1 March is still 28 February in Mexico City.
        ("America/Mexico_City", dt.datetime(2027, 3, 1, 3, 0, tzinfo=dt.UTC), dt.date(2027, 2, 28)),
    ],
)
def test_each_default_rating_tags_and_schedules(
    name, time_zone, moment, local_day, rep, ratings, django_capture_on_commit_callbacks
):
    rep.time_zone = time_zone
    rep.save()
    lead = LeadFactory(owner=rep, first_name="Ana", last_name="Gil")
    previous = ratings["Undecided"] if name != "Undecided" else ratings["Likely"]
    Lead.objects.filter(pk=lead.pk).update(rating=previous)
    applies_tag, days = DEFAULTS[name]
    with time_machine.travel(moment, tick=False), django_capture_on_commit_callbacks(execute=True):
        services.prospect_classify(actor=rep, rating=ratings[name], lead=lead)
    lead.refresh_from_db()
    assert lead.rating == (ratings[name] if applies_tag else previous)
    tasks = list(Task.objects.filter(lead=lead))
    if days is None:
        assert tasks == []
    else:
        (task,) = tasks
        assert task.due_on == local_day + dt.timedelta(days=days)
        assert task.owner == rep and task.is_follow_up and not task.done
        assert "Ana Gil" in task.title and name in task.title
        assert task.priority == ratings[name].order


def test_follow_up_task_run_twice_creates_one(rep, ratings):
    lead = LeadFactory(owner=rep)
    event = services.prospect_classify(actor=rep, rating=ratings["Likely"], lead=lead)
    first = create_follow_up_task.run(event.pk)
    second = create_follow_up_task.run(event.pk)
    assert first == second
    assert Task.objects.filter(lead=lead).count() == 1


def test_new_classification_supersedes_the_open_follow_up(rep, ratings):
    lead = LeadFactory(owner=rep)
    e1 = services.prospect_classify(actor=rep, rating=ratings["Likely"], lead=lead)
    create_follow_up_task.run(e1.pk)
    e2 = services.prospect_classify(actor=rep, rating=ratings["Potential consultant"], lead=lead)
    create_follow_up_task.run(e2.pk)
    old = Task.objects.get(source_event=e1)
    new = Task.objects.get(source_event=e2)
    assert old.done and old.superseded_at is not None
    assert not new.done
    assert Event.objects.filter(task=old, kind="superseded").count() == 1
    # a late redelivery of the first event changes nothing
    assert create_follow_up_task.run(e1.pk) == old.pk
    assert Task.objects.filter(lead=lead, is_follow_up=True, done=False).get() == new


def test_stale_event_never_replaces_a_newer_follow_up(rep, ratings):
    lead = LeadFactory(owner=rep)
    e1 = services.prospect_classify(actor=rep, rating=ratings["Likely"], lead=lead)
    e2 = services.prospect_classify(actor=rep, rating=ratings["Undecided"], lead=lead)
    create_follow_up_task.run(e2.pk)
    assert create_follow_up_task.run(e1.pk) is None
    assert Task.objects.filter(lead=lead).count() == 1


def test_blank_rating_clears_and_schedules_nothing(
    rep, ratings, django_capture_on_commit_callbacks
):
    lead = LeadFactory(owner=rep)
    Lead.objects.filter(pk=lead.pk).update(rating=ratings["Likely"])
    with django_capture_on_commit_callbacks(execute=True):
        services.prospect_classify(actor=rep, rating=None, lead=lead)
    lead.refresh_from_db()
    assert lead.rating is None
    assert not Task.objects.exists()


def test_completing_with_blank_rating_creates_no_task(
    rep, rep_api, ratings, django_capture_on_commit_callbacks
):
    lead = LeadFactory(owner=rep)
    task = TaskFactory(owner=rep, lead=lead)
    with django_capture_on_commit_callbacks(execute=True):
        r = rep_api.post(f"/api/v1/tasks/{task.pk}/complete/", {"rating": None}, format="json")
    assert r.status_code == 200 and r.json()["done"] is True
    assert Task.objects.filter(lead=lead).count() == 1


def test_completing_with_not_sure_yet_schedules_14_days_keeps_classification(
    rep, rep_api, ratings, django_capture_on_commit_callbacks
):
    contact = ContactFactory(owner=rep)
    contact.rating = ratings["Promising prospect"]
    contact.save()
    task = TaskFactory(owner=rep, contact=contact)
    with (
        time_machine.travel(dt.datetime(2027, 5, 10, 9, tzinfo=dt.UTC), tick=False),
        django_capture_on_commit_callbacks(execute=True),
    ):
        r = rep_api.post(
            f"/api/v1/tasks/{task.pk}/complete/",
            {"rating": ratings["Not sure yet"].pk, "note": "Call later"},
            format="json",
        )
    assert r.status_code == 200, r.json()
    follow_up = Task.objects.get(contact=contact, is_follow_up=True)
    assert follow_up.due_on == dt.date(2027, 5, 24)
    contact.refresh_from_db()
    assert contact.rating == ratings["Promising prospect"]


def test_rating_a_task_without_prospect_is_400(rep, rep_api, ratings):
    task = TaskFactory(owner=rep)
    r = rep_api.post(
        f"/api/v1/tasks/{task.pk}/complete/", {"rating": ratings["Likely"].pk}, format="json"
    )
    assert r.status_code == 400 and "rating" in r.json()
    task.refresh_from_db()
    assert not task.done


def test_classify_api_for_lead_and_contact(
    rep, rep_api, ratings, django_capture_on_commit_callbacks
):
    lead = LeadFactory(owner=rep)
    with django_capture_on_commit_callbacks(execute=True):
        r = rep_api.post(
            f"/api/v1/leads/{lead.pk}/classify/", {"rating": ratings["Likely"].pk}, format="json"
        )
    assert r.status_code == 200 and r.json()["rating"] == ratings["Likely"].pk
    assert Task.objects.filter(lead=lead, is_follow_up=True).count() == 1
    contact = ContactFactory(owner=rep)
    r = rep_api.post(
        f"/api/v1/contacts/{contact.pk}/classify/",
        {"rating": ratings["Undecided"].pk},
        format="json",
    )
    assert r.status_code == 200 and r.json()["rating"] == ratings["Undecided"].pk
    r = rep_api.post(f"/api/v1/contacts/{contact.pk}/classify/", {"rating": None}, format="json")
    assert r.json()["rating"] is None


def test_classify_bad_input(rep, other_rep, rep_api, admin, ratings):
    mine = LeadFactory(owner=rep)
    theirs = LeadFactory(owner=other_rep)
    url = f"/api/v1/leads/{theirs.pk}/classify/"
    assert rep_api.post(url, {"rating": ratings["Likely"].pk}, format="json").status_code == 404
    url = f"/api/v1/leads/{mine.pk}/classify/"
    assert rep_api.post(url, {}, format="json").status_code == 400
    assert rep_api.post(url, {"rating": 99999}, format="json").status_code == 400
    assert rep_api.post(url, {"rating": "x"}, format="json").status_code == 400
    services.prospect_classify(actor=rep, rating=ratings["Likely"], lead=LeadFactory(owner=rep))
    services.rating_archive(actor=admin, rating=ratings["Likely"])
    r = rep_api.post(url, {"rating": ratings["Likely"].pk}, format="json")
    assert r.status_code == 400 and "rating" in r.json()
    assert Lead.objects.get(pk=mine.pk).rating is None


def test_ratings_api_admin_writes(rep_api, admin_api, ratings):
    url = "/api/v1/ratings/"
    body = rep_api.get(url).json()
    assert [r["name"] for r in body["results"]] == list(DEFAULTS)
    assert {"id", "name", "applies_tag", "follow_up_days", "order"} <= set(body["results"][0])
    assert rep_api.post(url, {"name": "Hot"}, format="json").status_code == 403
    r = admin_api.post(
        url,
        {"name": "Hot", "applies_tag": True, "follow_up_days": 3, "colour": "#ff0000"},
        format="json",
    )
    assert r.status_code == 201, r.json()
    pk = r.json()["id"]
    r = admin_api.patch(f"{url}{pk}/", {"follow_up_days": None}, format="json")
    assert r.status_code == 200 and r.json()["follow_up_days"] is None
    assert admin_api.post(url, {"name": "hot"}, format="json").status_code == 400
    assert admin_api.post(url, {"name": "X", "colour": "red"}, format="json").status_code == 400
    assert (
        admin_api.post(url, {"name": "Y", "follow_up_days": -1}, format="json").status_code == 400
    )
    assert admin_api.delete(f"{url}{pk}/").status_code == 204
    assert not Rating.objects.filter(pk=pk).exists()


def test_deleting_a_used_rating_archives_it(rep, admin_api, ratings):
    lead = LeadFactory(owner=rep)
    services.prospect_classify(actor=rep, rating=ratings["Likely"], lead=lead)
    assert admin_api.delete(f"/api/v1/ratings/{ratings['Likely'].pk}/").status_code == 204
    ratings["Likely"].refresh_from_db()
    assert ratings["Likely"].archived
    assert Lead.objects.get(pk=lead.pk).rating == ratings["Likely"]
    names = [r["name"] for r in admin_api.get("/api/v1/ratings/?archived=false").json()["results"]]
    assert "Likely" not in names


def test_completing_a_task_cannot_classify_a_lead_out_of_reach(rep, other_rep, rep_api, ratings):
    lead = LeadFactory(owner=other_rep)
    task = TaskFactory(owner=rep, lead=lead)  # the lead was handed to someone else since
    r = rep_api.post(
        f"/api/v1/tasks/{task.pk}/complete/", {"rating": ratings["Likely"].pk}, format="json"
    )
    assert r.status_code == 400 and "rating" in r.json()
    lead.refresh_from_db()
    task.refresh_from_db()
    assert lead.rating is None and not task.done
