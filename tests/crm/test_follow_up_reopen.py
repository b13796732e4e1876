"""A lead or contact has at most one open follow-up: reopening a completed one (or moving an open
one to another prospect) while another is open is refused in words, never a database error."""

import pytest
from django.urls import reverse

from crm.models import Event, Task
from tests.factories import ContactFactory, LeadFactory, TaskFactory

pytestmark = pytest.mark.django_db

MESSAGE = "Another follow-up is open for this prospect: work on that one instead."
MESSAGE_ES = "Este cliente potencial ya tiene otro seguimiento abierto: trabaja en ese."


def _follow_up(owner, done, **link):
    return TaskFactory(owner=owner, kind="follow_up", is_follow_up=True, done=done, **link)


def _prospect(kind, owner):
    return {kind: LeadFactory(owner=owner) if kind == "lead" else ContactFactory(owner=owner)}


def _stored(task):
    """Every column as stored."""
    return Task.objects.filter(pk=task.pk).values().get()


@pytest.mark.parametrize("kind", ["lead", "contact"])
def test_api_reopening_a_follow_up_while_another_is_open_is_refused(rep, rep_api, kind):
    link = _prospect(kind, rep)
    closed = _follow_up(rep, True, **link)
    _follow_up(rep, False, **link)
    before, events = _stored(closed), Event.objects.count()
    response = rep_api.patch(f"/api/v1/tasks/{closed.pk}/", {"done": False}, format="json")
    assert response.status_code == 400
    assert response.json() == {"done": [MESSAGE]}
    assert _stored(closed) == before
    assert Event.objects.count() == events


def test_api_refusal_is_in_spanish(rep, rep_api):
    link = _prospect("lead", rep)
    closed = _follow_up(rep, True, **link)
    _follow_up(rep, False, **link)
    response = rep_api.patch(
        f"/api/v1/tasks/{closed.pk}/", {"done": False}, format="json", HTTP_ACCEPT_LANGUAGE="es"
    )
    assert response.status_code == 400
    assert response.json() == {"done": [MESSAGE_ES]}


def test_api_reopening_the_only_follow_up_works(rep, rep_api):
    link = _prospect("lead", rep)
    closed = _follow_up(rep, True, **link)
    _follow_up(rep, True, **link)  # another, also done
    response = rep_api.patch(f"/api/v1/tasks/{closed.pk}/", {"done": False}, format="json")
    assert response.status_code == 200, response.content
    closed.refresh_from_db()
    assert closed.done is False and closed.completed_at is None


def test_api_a_refused_reopen_rolls_back_the_other_fields(rep, rep_api):
    link = _prospect("contact", rep)
    closed = _follow_up(rep, True, **link)
    _follow_up(rep, False, **link)
    before, events = _stored(closed), Event.objects.count()
    response = rep_api.patch(
        f"/api/v1/tasks/{closed.pk}/", {"done": False, "title": "Renamed"}, format="json"
    )
    assert response.status_code == 400
    assert _stored(closed) == before
    assert Event.objects.count() == events


@pytest.mark.parametrize("kind", ["lead", "contact"])
def test_api_moving_an_open_follow_up_onto_a_prospect_with_one_is_refused(rep, rep_api, kind):
    mine = _follow_up(rep, False, **_prospect(kind, rep))
    target = _prospect(kind, rep)
    _follow_up(rep, False, **target)
    before, events = _stored(mine), Event.objects.count()
    response = rep_api.patch(f"/api/v1/tasks/{mine.pk}/", {kind: target[kind].pk}, format="json")
    assert response.status_code == 400
    assert response.json() == {kind: [MESSAGE]}
    assert _stored(mine) == before
    assert Event.objects.count() == events


def test_page_reopen_shows_the_error_htmx(rep, rep_client):
    link = _prospect("lead", rep)
    closed = _follow_up(rep, True, **link)
    _follow_up(rep, False, **link)
    before = _stored(closed)
    response = rep_client.post(reverse("task-reopen", args=[closed.pk]), HTTP_HX_REQUEST="true")
    assert response.status_code == 200
    html = response.content.decode()
    assert MESSAGE in html
    assert f'id="task-error-{closed.pk}"' in html
    assert "Reopen" in html  # still done: the button to reopen is still there
    assert MESSAGE in response["HX-Trigger"]
    assert _stored(closed) == before


def test_page_reopen_shows_the_error_without_js(rep, rep_client):
    link = _prospect("contact", rep)
    closed = _follow_up(rep, True, **link)
    _follow_up(rep, False, **link)
    before = _stored(closed)
    response = rep_client.post(reverse("task-reopen", args=[closed.pk]), follow=True)
    assert response.status_code == 200
    assert MESSAGE in response.content.decode()
    assert _stored(closed) == before
    assert Task.objects.filter(is_follow_up=True, done=False, **link).count() == 1


def test_page_reopen_error_in_spanish(rep, rep_client):
    link = _prospect("lead", rep)
    closed = _follow_up(rep, True, **link)
    _follow_up(rep, False, **link)
    response = rep_client.post(
        reverse("task-reopen", args=[closed.pk]),
        HTTP_HX_REQUEST="true",
        HTTP_ACCEPT_LANGUAGE="es",
    )
    assert response.status_code == 200
    assert MESSAGE_ES in response.content.decode()
