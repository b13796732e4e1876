"""Settings > Users and Settings > Teams (admins only; 403 for reps is in test_pages_access)."""

import pytest
from django.urls import reverse

from crm.models import Event, EventKind, Role, Team, User
from tests.factories import AccountFactory, TeamFactory, UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _fast_passwords(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


def _users():
    return list(User.objects.values().order_by("pk"))


def test_user_list(admin_client_, rep, other_rep):
    other_rep.is_active = False
    other_rep.save()
    response = admin_client_.get(reverse("settings-users"))
    html = response.content.decode()
    assert "Rita Rep" in html and "Otto Other" in html
    assert "Sales rep" in html and "Inactive" in html
    html = admin_client_.get(reverse("settings-users"), {"is_active": "false"}).content.decode()
    assert "Otto Other" in html and "Rita Rep" not in html


def test_user_create(admin_client_, admin):
    response = admin_client_.post(
        reverse("settings-user-create"),
        {
            "username": "newbie",
            "first_name": "Nora",
            "last_name": "New",
            "email": "nora@example.com",
            "role": "rep",
            "password": "a-long-enough-secret-77",
            "password_confirm": "a-long-enough-secret-77",
        },
    )
    assert response["Location"] == reverse("settings-users")
    user = User.objects.get(username="newbie")
    assert user.check_password("a-long-enough-secret-77")
    assert (user.role, user.first_name, user.is_active) == (Role.REP, "Nora", True)
    event = Event.objects.get(subject_user=user)
    assert (event.kind, event.actor) == (EventKind.USER_CREATED, admin)


def test_user_create_admin_role(admin_client_):
    admin_client_.post(
        reverse("settings-user-create"),
        {
            "username": "boss",
            "role": "admin",
            "password": "x-Very-long-pass-99",
            "password_confirm": "x-Very-long-pass-99",
        },
    )
    assert User.objects.get(username="boss").is_admin


@pytest.mark.parametrize(
    ("data", "fields"),
    [
        ({"username": "", "role": "rep", "password": "p", "password_confirm": "p"}, {"username"}),
        (
            {
                "username": "admin",
                "role": "rep",
                "password": "a-long-enough-secret-77",
                "password_confirm": "a-long-enough-secret-77",
            },
            {"username"},
        ),
        (
            {"username": "x", "role": "rep", "password": "short", "password_confirm": "short"},
            {"password"},
        ),
        (
            {
                "username": "x",
                "role": "rep",
                "password": "a-long-enough-secret-77",
                "password_confirm": "different-secret-88",
            },
            {"password_confirm"},
        ),
        (
            {
                "username": "x",
                "role": "king",
                "password": "a-long-enough-secret-77",
                "password_confirm": "a-long-enough-secret-77",
            },
            {"role"},
        ),
        (
            {
                "username": "x",
                "role": "rep",
                "email": "bad",
                "password": "a-long-enough-secret-77",
                "password_confirm": "a-long-enough-secret-77",
            },
            {"email"},
        ),
    ],
)
def test_user_create_bad_input_changes_nothing(admin_client_, data, fields):
    before = _users(), Event.objects.count()
    response = admin_client_.post(reverse("settings-user-create"), data)
    assert response.status_code == 200
    assert fields <= set(response.context["form"].errors)
    assert 'aria-invalid="true"' in response.content.decode()
    assert (_users(), Event.objects.count()) == before


def test_user_edit(admin_client_, rep):
    response = admin_client_.post(
        reverse("settings-user-edit", args=[rep.pk]),
        {
            "first_name": "Rita",
            "last_name": "Renamed",
            "email": rep.email,
            "role": "admin",
            "is_active": "on",
        },
    )
    assert response["Location"] == reverse("settings-users")
    rep.refresh_from_db()
    assert (rep.last_name, rep.role) == ("Renamed", Role.ADMIN)
    event = Event.objects.get(subject_user=rep)
    assert event.kind == EventKind.USER_UPDATED
    assert set(event.data["changes"]) == {"last_name", "role"}


def test_user_edit_bad_input_changes_nothing(admin_client_, rep):
    before = _users(), Event.objects.count()
    response = admin_client_.post(
        reverse("settings-user-edit", args=[rep.pk]),
        {"first_name": "R", "last_name": "R", "email": "nope", "role": "boss", "is_active": "on"},
    )
    assert {"email", "role"} <= set(response.context["form"].errors)
    assert (_users(), Event.objects.count()) == before


def test_admin_cannot_demote_themselves(admin_client_, admin):
    before = _users(), Event.objects.count()
    response = admin_client_.post(
        reverse("settings-user-edit", args=[admin.pk]),
        {
            "first_name": admin.first_name,
            "last_name": admin.last_name,
            "email": admin.email,
            "role": "rep",
            "is_active": "on",
        },
    )
    assert response.status_code == 200
    assert "You cannot deactivate yourself" in response.content.decode()
    assert (_users(), Event.objects.count()) == before


def test_user_deactivate_keeps_records(admin_client_, rep):
    account = AccountFactory(owner=rep)
    url = reverse("settings-user-deactivate", args=[rep.pk])
    assert admin_client_.get(url).status_code == 200
    rep.refresh_from_db()
    assert rep.is_active  # GET only asks
    response = admin_client_.post(url)
    assert response["Location"] == reverse("settings-users")
    rep.refresh_from_db()
    assert not rep.is_active
    assert User.objects.filter(pk=rep.pk).exists()
    account.refresh_from_db()
    assert account.owner == rep and account.archived_at is None
    assert Event.objects.get(subject_user=rep).kind == EventKind.USER_DEACTIVATED


def test_admin_cannot_deactivate_themselves(admin_client_, admin):
    response = admin_client_.post(reverse("settings-user-deactivate", args=[admin.pk]), follow=True)
    admin.refresh_from_db()
    assert admin.is_active
    assert "You cannot deactivate yourself" in response.content.decode()
    assert not Event.objects.exists()


def test_team_list_shows_members(admin_client_, rep, other_rep):
    TeamFactory(name="Madrid").members.set([rep, other_rep])
    html = admin_client_.get(reverse("settings-teams")).content.decode()
    assert "Madrid" in html and "Rita Rep" in html and "Otto Other" in html


def test_team_create(admin_client_, admin, rep):
    response = admin_client_.post(
        reverse("settings-team-create"), {"name": "Norte", "members": [rep.pk, admin.pk]}
    )
    assert response["Location"] == reverse("settings-teams")
    team = Team.objects.get()
    assert set(team.members.all()) == {rep, admin}
    event = Event.objects.get(team=team)
    assert (event.kind, event.actor) == (EventKind.TEAM_CHANGED, admin)


def test_team_create_duplicate_name_shows_on_name_field(admin_client_):
    TeamFactory(name="Norte")
    before = Team.objects.count(), Event.objects.count()
    response = admin_client_.post(reverse("settings-team-create"), {"name": "norte"})
    assert response.status_code == 200
    assert response.context["form"].errors["name"] == ["A team with this name already exists."]
    assert (Team.objects.count(), Event.objects.count()) == before


def test_team_create_bad_input_changes_nothing(admin_client_):
    response = admin_client_.post(
        reverse("settings-team-create"), {"name": "", "members": [999999]}
    )
    assert {"name", "members"} <= set(response.context["form"].errors)
    assert not Team.objects.exists() and not Event.objects.exists()


def test_team_edit(admin_client_, rep, other_rep):
    team = TeamFactory(name="Sur")
    team.members.set([rep])
    inactive = UserFactory(is_active=False)
    team.members.add(inactive)
    response = admin_client_.get(reverse("settings-team-edit", args=[team.pk]))
    assert "(inactive)" in response.content.decode()
    response = admin_client_.post(
        reverse("settings-team-edit", args=[team.pk]),
        {"name": "Sur y Centro", "members": [other_rep.pk, inactive.pk]},
    )
    assert response["Location"] == reverse("settings-teams")
    team.refresh_from_db()
    assert team.name == "Sur y Centro"
    assert set(team.members.all()) == {other_rep, inactive}
    assert Event.objects.get(team=team).data["name"] == ["Sur", "Sur y Centro"]


def test_team_edit_bad_input_changes_nothing(admin_client_, rep):
    team = TeamFactory(name="Este")
    team.members.set([rep])
    response = admin_client_.post(reverse("settings-team-edit", args=[team.pk]), {"name": ""})
    assert "name" in response.context["form"].errors
    team.refresh_from_db()
    assert team.name == "Este" and list(team.members.all()) == [rep]
    assert not Event.objects.exists()
