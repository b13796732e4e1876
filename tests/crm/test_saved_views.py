"""Issue #9.5: saved views (tabs above each list, "Save this view", admin default views, API)."""

from __future__ import annotations

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.urls import reverse

from crm import services
from crm.models import Event, SavedView
from tests.factories import LeadFactory

pytestmark = pytest.mark.django_db


def test_query_keeps_only_known_parameters_re_encoded(rep):
    view = services.saved_view_create(
        actor=rep,
        list_key="leads",
        name="  Hot   leads ",
        query="?page=3&sort=-score&bogus=1&status=working&q=&owner=",
    )
    assert view.name == "Hot leads"
    # FilterSet order (q, status, …, sort); page, unknown and empty parameters dropped.
    assert view.query == "status=working&sort=-score"
    event = Event.objects.get(kind=services.SAVED_VIEW_EVENT)
    assert event.data["action"] == "created" and event.data["saved_view"] == view.pk


@pytest.mark.parametrize(
    "query", ["status=nonsense", "sort=password", "score_min=lots", "created_after=yesterday"]
)
def test_invalid_filter_values_are_refused(rep, query):
    with pytest.raises(ValidationError) as exc:
        services.saved_view_create(actor=rep, list_key="leads", name="Bad", query=query)
    assert "query" in exc.value.message_dict
    assert not SavedView.objects.exists()


def test_unknown_list_and_duplicate_names(rep):
    with pytest.raises(ValidationError) as exc:
        services.saved_view_create(actor=rep, list_key="users", name="X", query="")
    assert "list" in exc.value.message_dict
    services.saved_view_create(actor=rep, list_key="contacts", name="Mine", query="tag=vip")
    with pytest.raises(ValidationError) as exc:
        services.saved_view_create(actor=rep, list_key="contacts", name="MINE", query="")
    assert "name" in exc.value.message_dict
    # The same name on another list is fine.
    services.saved_view_create(actor=rep, list_key="leads", name="Mine", query="")


def test_only_admins_manage_default_views(rep, other_rep, admin):
    with pytest.raises(PermissionDenied):
        services.saved_view_create(
            actor=rep, list_key="leads", name="All", query="", for_everyone=True
        )
    default = services.saved_view_create(
        actor=admin, list_key="leads", name="Working", query="status=working", for_everyone=True
    )
    assert default.user is None
    mine = services.saved_view_create(actor=rep, list_key="leads", name="Mine", query="")
    with pytest.raises(PermissionDenied):
        services.saved_view_delete(actor=rep, view=default)
    with pytest.raises(PermissionDenied):
        services.saved_view_update(actor=other_rep, view=mine, name="Stolen")
    services.saved_view_update(actor=admin, view=default, name="In progress")
    services.saved_view_delete(actor=rep, view=mine)
    assert list(SavedView.objects.values_list("name", flat=True)) == ["In progress"]


def test_a_saved_view_reproduces_its_filters_after_reload(rep_client, rep, admin):
    LeadFactory(owner=rep, last_name="Workingham", status="working")
    LeadFactory(owner=rep, last_name="Newcombe", status="new")
    services.saved_view_create(
        actor=admin, list_key="leads", name="Everyone's", query="sort=name", for_everyone=True
    )
    url = reverse("lead-list")
    response = rep_client.post(
        reverse("saved-view-create"),
        {
            "list_key": "leads",
            "name": "Working ones",
            "query": "status=working&sort=-created&page=2",
            "next": f"{url}?status=working&sort=-created&page=2",
        },
    )
    assert response.status_code == 302
    assert response["Location"] == f"{url}?status=working&sort=-created"
    # Reload: the tab is there (marked current on its own URL) and reproduces the filters.
    page = rep_client.get(response["Location"])
    html = page.content.decode()
    assert 'href="?status=working&amp;sort=-created" aria-current="page">Working ones' in html
    assert "Everyone&#x27;s" in html and "for everyone" in html
    assert "Workingham" in html and "Newcombe" not in html
    # Elsewhere the tab is shown but not current.
    html = rep_client.get(url).content.decode()
    assert 'href="?status=working&amp;sort=-created">Working ones' in html


def test_save_view_errors_are_messages_not_500(rep_client):
    response = rep_client.post(
        reverse("saved-view-create"),
        {"list_key": "leads", "name": "", "query": ""},
        follow=True,
    )
    assert response.status_code == 200
    assert "Give the view a name." in response.content.decode()
    response = rep_client.post(
        reverse("saved-view-create"), {"list_key": "nope", "name": "X"}, follow=True
    )
    assert response.status_code == 200 and not SavedView.objects.exists()


def test_delete_from_the_page_and_others_views_are_404(rep_client, rep, other_rep):
    theirs = services.saved_view_create(actor=other_rep, list_key="tasks", name="T", query="")
    mine = services.saved_view_create(actor=rep, list_key="tasks", name="Mine", query="done=false")
    assert rep_client.post(reverse("saved-view-delete", args=[theirs.pk])).status_code == 404
    response = rep_client.post(reverse("saved-view-delete", args=[mine.pk]))
    assert response.status_code == 302
    assert list(SavedView.objects.all()) == [theirs]


@pytest.mark.parametrize(
    "name", ["lead-list", "contact-list", "opportunity-list", "account-list", "task-list"]
)
def test_every_list_shows_tabs_and_the_save_form(rep_client, rep, name):
    key = {"lead": "leads", "contact": "contacts", "opportunity": "opportunities"}.get(
        name.split("-")[0], name.split("-")[0] + "s"
    )
    services.saved_view_create(actor=rep, list_key=key, name="My tab", query="sort=created")
    html = rep_client.get(reverse(name)).content.decode()
    assert "My tab" in html and "Save this view" in html
    assert f'name="list_key" value="{key}"' in html


def test_api_lists_own_and_default_views_and_admins_write_defaults(
    rep_api, other_rep_api, admin_api
):
    url = "/api/v1/saved-views/"
    r = rep_api.post(
        url, {"list": "leads", "name": "Mine", "query": "status=new&page=2"}, format="json"
    )
    assert r.status_code == 201, r.content
    assert r.json()["query"] == "status=new" and r.json()["default"] is False
    mine = r.json()["id"]
    assert rep_api.post(url, {"list": "leads", "name": "D", "default": True}).status_code == 403
    r = admin_api.post(url, {"list": "leads", "name": "D", "default": True}, format="json")
    assert r.status_code == 201 and r.json()["default"] is True
    default = r.json()["id"]
    r = rep_api.post(url, {"list": "leads", "name": "Bad", "query": "status=zzz"}, format="json")
    assert r.status_code == 400 and "query" in r.json()
    assert sorted(v["id"] for v in rep_api.get(url).json()["results"]) == [mine, default]
    assert [v["id"] for v in other_rep_api.get(url).json()["results"]] == [default]
    assert other_rep_api.get(f"{url}{mine}/").status_code == 404
    assert other_rep_api.delete(f"{url}{mine}/").status_code == 404
    assert rep_api.patch(f"{url}{default}/", {"name": "X"}, format="json").status_code == 403
    r = rep_api.patch(f"{url}{mine}/", {"name": "Renamed", "query": "sort=-score"}, format="json")
    assert r.status_code == 200 and r.json()["query"] == "sort=-score"
    assert rep_api.get(url + "?list=contacts").json()["results"] == []
    assert rep_api.delete(f"{url}{mine}/").status_code == 204
    assert SavedView.objects.count() == 1


def test_tabs_cost_one_query_whatever_the_number_of_views(
    rep_client, rep, django_assert_max_num_queries
):
    def count(n):
        for i in range(n):
            services.saved_view_create(
                actor=rep, list_key="accounts", name=f"V{n}-{i}", query=f"country=C{i}"
            )
        from django.db import connection
        from django.test.utils import CaptureQueriesContext

        with CaptureQueriesContext(connection) as ctx:
            assert rep_client.get(reverse("account-list")).status_code == 200
        return len(ctx.captured_queries)

    assert count(2) == count(20)


def test_api_list_query_count_is_constant(rep, admin, rep_api):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    def count(n):
        for i in range(n):
            services.saved_view_create(actor=rep, list_key="tasks", name=f"R{n}-{i}", query="")
            services.saved_view_create(
                actor=admin, list_key="tasks", name=f"D{n}-{i}", query="", for_everyone=True
            )
        with CaptureQueriesContext(connection) as ctx:
            response = rep_api.get("/api/v1/saved-views/?list=tasks")
        assert response.status_code == 200
        return len(ctx.captured_queries), len(response.json()["results"])

    few, many = count(2), count(20)
    assert few[0] == many[0]
    assert (few[1], many[1]) == (4, 44)
