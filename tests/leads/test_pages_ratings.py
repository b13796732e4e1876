"""Settings > Ratings: list, add, edit, archive or delete, move up/down (admins only)."""

import json

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from crm.models import Event
from leads import services
from leads.forms_ratings import classification_choices, rating_choices
from leads.models import Lead, LeadEvent, Rating
from tests.factories import ContactFactory, LeadFactory

pytestmark = pytest.mark.django_db

TAB = reverse("settings-ratings")


@pytest.fixture
def ratings(db):
    """The six default ratings of the data migration, by English name."""
    return {r.name: r for r in Rating.objects.all()}


def _snapshot():
    return (
        list(Rating.objects.values().order_by("pk")),
        Event.objects.count(),
    )


def _active_names():
    return [r.name for r in rating_choices()]


# --- access --------------------------------------------------------------------------------------

URLS = [
    ("settings-ratings", False, {}),
    ("settings-rating-create", False, {"name": "Hot", "colour": "#aa0000"}),
    ("settings-rating-edit", True, {"name": "Renamed", "colour": "#aa0000"}),
    ("settings-rating-archive", True, {}),
    ("settings-rating-move", True, {"direction": "down"}),
]


@pytest.mark.parametrize(("name", "with_pk", "data"), URLS)
def test_rep_gets_403_everywhere_and_nothing_changes(rep_client, ratings, name, with_pk, data):
    url = reverse(name, args=[ratings["Likely"].pk] if with_pk else [])
    before = _snapshot()
    assert rep_client.get(url).status_code == 403
    assert rep_client.post(url, data).status_code == 403
    assert rep_client.post(url, data, HTTP_HX_REQUEST="true").status_code == 403
    assert _snapshot() == before


@pytest.mark.parametrize(("name", "with_pk", "data"), URLS)
def test_anonymous_is_sent_to_login(client, ratings, name, with_pk, data):
    url = reverse(name, args=[ratings["Likely"].pk] if with_pk else [])
    before = _snapshot()
    response = client.post(url, data)
    assert response.status_code == 302 and response["Location"].startswith(reverse("login"))
    assert _snapshot() == before


@pytest.mark.parametrize(("name", "with_pk", "data"), URLS[1:])
def test_writes_need_the_csrf_token(admin, ratings, name, with_pk, data):
    browser = Client(enforce_csrf_checks=True)
    browser.force_login(admin)
    url = reverse(name, args=[ratings["Likely"].pk] if with_pk else [])
    before = _snapshot()
    assert browser.post(url, data).status_code == 403
    assert _snapshot() == before


def test_move_is_post_only(admin_client_, ratings):
    url = reverse("settings-rating-move", args=[ratings["Likely"].pk])
    assert admin_client_.get(url).status_code == 405


def test_settings_nav_has_a_ratings_tab(admin_client_):
    html = admin_client_.get(reverse("settings-users")).content.decode()
    assert f'href="{TAB}"' in html
    html = admin_client_.get(TAB).content.decode()
    assert f'href="{TAB}" aria-current="page"' in html


# --- the tab -------------------------------------------------------------------------------------


def test_tab_lists_ratings_in_order_with_tag_icon_and_delay(admin_client_, ratings):
    response = admin_client_.get(TAB)
    assert response.status_code == 200
    assert [r.name for r in response.context["active_ratings"]] == list(ratings)
    html = response.content.decode()
    row = html.split('id="rating-{}"'.format(ratings["Promising prospect"].pk))[1].split("</tr>")[0]
    assert "Promising prospect" in row and ratings["Promising prospect"].colour in row
    assert 'class="rating-icon" aria-hidden="true"' in row  # the colour never comes alone
    assert "Yes" in row and "14 days" in row
    row = html.split('id="rating-{}"'.format(ratings["Not interested"].pk))[1].split("</tr>")[0]
    assert "No" in row and "None" in row
    assert "Archived ratings" not in html


def test_tab_runs_a_fixed_number_of_queries(admin_client_, admin, ratings, rep):
    def count():
        with CaptureQueriesContext(connection) as ctx:
            assert admin_client_.get(TAB).status_code == 200
        return len(ctx.captured_queries)

    few = count()
    for i in range(8):
        rating = services.rating_create(actor=admin, name=f"Extra {i}", follow_up_days=i)
        services.prospect_classify(actor=rep, rating=rating, lead=LeadFactory(owner=rep))
        if i % 2:
            services.rating_archive(actor=admin, rating=rating)
    assert count() == few


# --- add -----------------------------------------------------------------------------------------


def test_new_rating_page_and_create(admin_client_, ratings):
    page = admin_client_.get(reverse("settings-rating-create"))
    assert page.status_code == 200
    html = page.content.decode()
    assert 'type="color"' in html and "Follow-up in days" in html
    response = admin_client_.post(
        reverse("settings-rating-create"),
        {
            "name": "  Hot lead ",
            "icon": "🔥",
            "colour": "#c0392b",
            "applies_tag": "on",
            "follow_up_days": "3",
        },
    )
    rating = Rating.objects.get(name="Hot lead")
    assert response.status_code == 302
    assert response["Location"] == f"{TAB}#rating-{rating.pk}"
    assert (rating.icon, rating.colour, rating.applies_tag, rating.follow_up_days) == (
        "🔥",
        "#c0392b",
        True,
        3,
    )
    assert _active_names()[-1] == "Hot lead"
    assert Event.objects.filter(kind=LeadEvent.RATING_CHANGED, data__action="created").exists()
    html = admin_client_.get(response["Location"]).content.decode()
    assert "Rating “Hot lead” added." in html


def test_create_an_outcome_without_follow_up(admin_client_):
    admin_client_.post(
        reverse("settings-rating-create"),
        {"name": "Wrong number", "colour": "#555555", "follow_up_days": ""},
    )
    rating = Rating.objects.get(name="Wrong number")
    assert rating.applies_tag is False and rating.follow_up_days is None
    assert rating in rating_choices() and rating not in classification_choices()


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"name": "", "colour": "#123456"}, "name"),
        ({"name": "   ", "colour": "#123456"}, "name"),
        ({"name": "x" * 61, "colour": "#123456"}, "name"),
        ({"name": "promising PROSPECT", "colour": "#123456"}, "name"),  # case-insensitive
        ({"name": "Red", "colour": "red"}, "colour"),
        ({"name": "Red", "colour": "#12345g"}, "colour"),
        ({"name": "Red", "colour": ""}, "colour"),
        ({"name": "Red", "colour": "#123456", "follow_up_days": "-1"}, "follow_up_days"),
        ({"name": "Red", "colour": "#123456", "follow_up_days": "soon"}, "follow_up_days"),
        ({"name": "Red", "colour": "#123456", "follow_up_days": "3651"}, "follow_up_days"),
        ({"name": "Red", "colour": "#123456", "follow_up_days": "2.5"}, "follow_up_days"),
        ({"name": "Red", "colour": "#123456", "icon": "123456789"}, "icon"),
    ],
)
def test_create_bad_input_shows_field_errors_and_changes_nothing(
    admin_client_, ratings, data, field
):
    before = _snapshot()
    response = admin_client_.post(reverse("settings-rating-create"), data)
    assert response.status_code == 400
    form = response.context["form"]
    assert field in form.errors, form.errors
    html = response.content.decode()
    assert f'id="rating-{field}_error"' in html
    assert "Please correct the errors below." in html
    assert _snapshot() == before


# --- edit ----------------------------------------------------------------------------------------


def test_edit_changes_what_was_changed(admin_client_, ratings):
    likely = ratings["Likely"]
    url = reverse("settings-rating-edit", args=[likely.pk])
    html = admin_client_.get(url).content.decode()
    assert 'value="Likely"' in html
    response = admin_client_.post(
        url,
        {
            "name": "Likely",
            "icon": likely.icon,
            "colour": "#00aa00",
            "applies_tag": "on",
            "follow_up_days": "",
        },
    )
    assert response["Location"] == f"{TAB}#rating-{likely.pk}"
    likely.refresh_from_db()
    assert likely.colour == "#00aa00" and likely.follow_up_days is None
    event = Event.objects.filter(kind=LeadEvent.RATING_CHANGED).latest("pk")
    assert set(event.data["changes"]) == {"colour", "follow_up_days"}


def test_edit_without_changes_says_so(admin_client_, ratings):
    likely = ratings["Likely"]
    before = _snapshot()
    response = admin_client_.post(
        reverse("settings-rating-edit", args=[likely.pk]),
        {
            "name": likely.name,
            "icon": likely.icon,
            "colour": likely.colour,
            "applies_tag": "on",
            "follow_up_days": str(likely.follow_up_days),
        },
        follow=True,
    )
    assert "Nothing changed." in response.content.decode()
    assert _snapshot() == before


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"name": "Undecided", "colour": "#123456"}, "name"),  # another rating's name
        ({"name": "Likely", "colour": "blue"}, "colour"),
        ({"name": "Likely", "colour": "#123456", "follow_up_days": "-5"}, "follow_up_days"),
    ],
)
def test_edit_bad_input_changes_nothing(admin_client_, ratings, data, field):
    before = _snapshot()
    response = admin_client_.post(
        reverse("settings-rating-edit", args=[ratings["Likely"].pk]), data
    )
    assert response.status_code == 400
    assert field in response.context["form"].errors
    assert "Edit rating “Likely”" in response.content.decode()
    assert _snapshot() == before


def test_archived_ratings_cannot_be_edited_or_moved(admin_client_, admin, rep, ratings):
    likely = ratings["Likely"]
    services.prospect_classify(actor=rep, rating=likely, lead=LeadFactory(owner=rep))
    services.rating_archive(actor=admin, rating=likely)
    assert admin_client_.get(reverse("settings-rating-edit", args=[likely.pk])).status_code == 404
    before = _snapshot()
    response = admin_client_.post(
        reverse("settings-rating-move", args=[likely.pk]), {"direction": "up"}, follow=True
    )
    assert "An archived rating has no place in the order." in response.content.decode()
    assert _snapshot() == before


# --- archive or delete ---------------------------------------------------------------------------


def test_unused_rating_is_deleted(admin_client_, ratings):
    likely = ratings["Likely"]
    html = admin_client_.get(TAB).content.decode()
    assert f'data-dialog="archive-rating-{likely.pk}">Delete' in html
    confirm = admin_client_.get(reverse("settings-rating-archive", args=[likely.pk]))
    assert "so it will be deleted" in confirm.content.decode()
    response = admin_client_.post(reverse("settings-rating-archive", args=[likely.pk]), follow=True)
    assert not Rating.objects.filter(pk=likely.pk).exists()
    assert "Rating “Likely” deleted." in response.content.decode()


@pytest.mark.parametrize("usage", ["lead", "contact", "history"])
def test_rating_in_use_is_archived_and_listed_apart(admin_client_, rep, ratings, usage):
    likely = ratings["Likely"]
    if usage == "lead":
        lead = LeadFactory(owner=rep)
        Lead.objects.filter(pk=lead.pk).update(rating=likely)
    elif usage == "contact":
        services.prospect_classify(actor=rep, rating=likely, contact=ContactFactory(owner=rep))
    else:  # classified once, then cleared: the history still names it
        lead = LeadFactory(owner=rep)
        services.prospect_classify(actor=rep, rating=likely, lead=lead)
        services.prospect_classify(actor=rep, rating=None, lead=lead)
    html = admin_client_.get(TAB).content.decode()
    assert f'data-dialog="archive-rating-{likely.pk}">Archive' in html
    confirm = admin_client_.get(reverse("settings-rating-archive", args=[likely.pk]))
    assert "so it will be archived" in confirm.content.decode()
    response = admin_client_.post(reverse("settings-rating-archive", args=[likely.pk]), follow=True)
    likely.refresh_from_db()
    assert likely.archived
    html = response.content.decode()
    assert "Rating “Likely” archived" in html
    assert [r.name for r in response.context["archived_ratings"]] == ["Likely"]
    assert "Likely" not in [r.name for r in response.context["active_ratings"]]
    assert "Archived ratings" in html
    assert likely not in rating_choices()


# --- move ----------------------------------------------------------------------------------------


def test_move_without_js(admin_client_, ratings):
    likely = ratings["Likely"]
    response = admin_client_.post(
        reverse("settings-rating-move", args=[likely.pk]), {"direction": "up"}
    )
    assert response["Location"] == f"{TAB}#rating-{likely.pk}"
    names = _active_names()
    assert names.index("Likely") == names.index("Promising prospect") - 1


def test_move_with_htmx_returns_the_table_and_announces(admin_client_, ratings):
    likely = ratings["Likely"]
    response = admin_client_.post(
        reverse("settings-rating-move", args=[likely.pk]),
        {"direction": "down"},
        HTTP_HX_REQUEST="true",
    )
    assert response.status_code == 200
    assert json.loads(response["HX-Trigger"]) == {"crm:announce": "“Likely” moved down."}
    assert 'id="rating-table"' in response.content.decode()
    names = _active_names()
    assert names.index("Likely") == names.index("Undecided") + 1


def test_move_past_the_ends_changes_nothing(admin_client_, ratings):
    first, last = ratings["Potential consultant"], ratings["Not interested"]
    before = _snapshot()
    response = admin_client_.post(
        reverse("settings-rating-move", args=[first.pk]),
        {"direction": "up"},
        HTTP_HX_REQUEST="true",
    )
    assert "already first" in response["HX-Trigger"]
    response = admin_client_.post(
        reverse("settings-rating-move", args=[last.pk]), {"direction": "down"}, follow=True
    )
    assert "already last" in response.content.decode()
    response = admin_client_.post(
        reverse("settings-rating-move", args=[last.pk]), {"direction": "sideways"}, follow=True
    )
    assert "Choose whether to move the rating up or down." in response.content.decode()
    assert _snapshot() == before
