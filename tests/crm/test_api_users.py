"""API.md "Users and roles": /users/, /users/me/, /teams/."""

import pytest
from rest_framework.authtoken.models import Token

from crm.models import Event, EventKind, Role, Team, User
from tests.conftest import PASSWORD
from tests.factories import AccountFactory, ContactFactory, TaskFactory, TeamFactory

pytestmark = pytest.mark.django_db

USERS = "/api/v1/users/"
TEAMS = "/api/v1/teams/"
TOKEN_URL = "/api/v1/auth/token/"
NEW_USER = {
    "username": "newbie",
    "password": "Correct-Horse-Battery-9",
    "first_name": "Nora",
    "last_name": "Newbie",
    "email": "nora@example.com",
    "role": "rep",
}


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


def ids(response):
    assert response.status_code == 200, response.content
    return [row["id"] for row in response.json()["results"]]


# --- me and list ---------------------------------------------------------------------------------


def test_me_returns_the_caller(rep_api, rep):
    body = rep_api.get(f"{USERS}me/").json()
    assert body == {
        "id": rep.pk,
        "username": "rep",
        "first_name": "Rita",
        "last_name": "Rep",
        "email": "rep@example.com",
        "role": "rep",
        "is_active": True,
        "time_zone": "",
    }


def test_me_is_read_only(rep_api, rep):
    assert rep_api.patch(f"{USERS}me/", {"role": "admin"}, format="json").status_code == 405
    rep.refresh_from_db()
    assert rep.role == Role.REP


def test_everyone_may_list_users(rep_api, admin, rep, other_rep):
    assert set(ids(rep_api.get(USERS))) == {admin.pk, rep.pk, other_rep.pk}


def test_user_detail(rep_api, other_rep):
    response = rep_api.get(f"{USERS}{other_rep.pk}/")
    assert response.status_code == 200
    assert response.json()["username"] == "other"


def test_user_list_filters(admin_api, admin, rep, other_rep):
    other_rep.is_active = False
    other_rep.save()

    assert ids(admin_api.get(f"{USERS}?role=admin")) == [admin.pk]
    assert set(ids(admin_api.get(f"{USERS}?role=rep"))) == {rep.pk, other_rep.pk}
    assert ids(admin_api.get(f"{USERS}?is_active=false")) == [other_rep.pk]
    assert set(ids(admin_api.get(f"{USERS}?is_active=true"))) == {admin.pk, rep.pk}
    assert ids(admin_api.get(f"{USERS}?q=rita")) == [rep.pk]
    assert ids(admin_api.get(f"{USERS}?q=other@example")) == [other_rep.pk]
    assert ids(admin_api.get(f"{USERS}?q=rep&role=rep&is_active=true")) == [rep.pk]
    assert admin_api.get(f"{USERS}?role=boss").status_code == 400


def test_password_is_never_returned(admin_api, rep):
    rows = admin_api.get(USERS).json()["results"]
    detail = admin_api.get(f"{USERS}{rep.pk}/").json()
    me = admin_api.get(f"{USERS}me/").json()
    for body in [*rows, detail, me]:
        assert "password" not in body


# --- create --------------------------------------------------------------------------------------


def test_admin_creates_a_user(admin_api, admin):
    response = admin_api.post(USERS, NEW_USER, format="json")

    assert response.status_code == 201, response.content
    body = response.json()
    assert "password" not in body
    assert {k: body[k] for k in ("username", "first_name", "last_name", "email", "role")} == {
        k: v for k, v in NEW_USER.items() if k != "password"
    }
    assert body["is_active"] is True
    user = User.objects.get(pk=body["id"])
    assert user.check_password(NEW_USER["password"])
    event = Event.objects.get(subject_user=user)
    assert event.kind == EventKind.USER_CREATED
    assert event.actor == admin
    assert event.data == {"username": "newbie", "role": "rep"}

    token = admin_api.post(
        TOKEN_URL, {"username": "newbie", "password": NEW_USER["password"]}, format="json"
    )
    assert token.status_code == 200


def test_admin_creates_an_admin(admin_api):
    response = admin_api.post(USERS, {**NEW_USER, "role": "admin"}, format="json")
    assert response.status_code == 201
    assert User.objects.get(username="newbie").is_admin


def test_role_defaults_to_rep(admin_api):
    payload = {k: v for k, v in NEW_USER.items() if k != "role"}
    assert admin_api.post(USERS, payload, format="json").json()["role"] == "rep"


def test_password_whitespace_is_kept(admin_api):
    password = "  Spaced-Out-Pass-42  "
    assert admin_api.post(USERS, {**NEW_USER, "password": password}, format="json").status_code
    user = User.objects.get(username="newbie")
    assert user.check_password(password)


@pytest.mark.parametrize("password", ["short", "password123", "12345678901", "newbie12"])
def test_weak_password_is_400_on_password(admin_api, password):
    response = admin_api.post(USERS, {**NEW_USER, "password": password}, format="json")
    assert response.status_code == 400
    assert list(response.json()) == ["password"]
    assert response.json()["password"]
    assert not User.objects.filter(username="newbie").exists()
    assert not Event.objects.exists()


def test_duplicate_username_is_400_on_username(admin_api, rep):
    response = admin_api.post(USERS, {**NEW_USER, "username": "rep"}, format="json")
    assert response.status_code == 400
    assert list(response.json()) == ["username"]
    assert User.objects.filter(username="rep").count() == 1


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"username": ""}, "username"),
        ({"username": "no spaces allowed"}, "username"),
        ({"username": "x" * 151}, "username"),
        ({"password": ""}, "password"),
        ({"email": "not-an-email"}, "email"),
        ({"role": "boss"}, "role"),
        ({"first_name": "x" * 151}, "first_name"),
        ({"first_name": {"a": 1}}, "first_name"),
    ],
)
def test_invalid_user_is_400_on_the_field(admin_api, change, field):
    before = User.objects.count()
    response = admin_api.post(USERS, {**NEW_USER, **change}, format="json")
    assert response.status_code == 400
    assert field in response.json()
    assert User.objects.count() == before


def test_rep_cannot_create_users(rep_api):
    response = rep_api.post(USERS, NEW_USER, format="json")
    assert response.status_code == 403
    assert response.json()["detail"]
    assert not User.objects.filter(username="newbie").exists()


def test_rep_gets_403_even_for_an_invalid_payload(rep_api):
    assert rep_api.post(USERS, {}, format="json").status_code == 403


# --- update --------------------------------------------------------------------------------------


def test_admin_changes_role_and_active_flag(admin_api, admin, rep):
    response = admin_api.patch(f"{USERS}{rep.pk}/", {"role": "admin"}, format="json")
    assert response.status_code == 200
    assert response.json()["role"] == "admin"
    rep.refresh_from_db()
    assert rep.is_admin
    event = Event.objects.get(subject_user=rep)
    assert event.kind == EventKind.USER_UPDATED
    assert event.data == {"changes": {"role": ["rep", "admin"]}}

    response = admin_api.patch(f"{USERS}{rep.pk}/", {"is_active": False}, format="json")
    assert response.status_code == 200
    assert response.json()["is_active"] is False
    assert Event.objects.filter(subject_user=rep, kind=EventKind.USER_DEACTIVATED).count() == 1


def test_admin_updates_profile_with_put(admin_api, rep):
    payload = {
        "first_name": "Rosa",
        "last_name": "Rep",
        "email": "rosa@example.com",
        "role": "rep",
        "is_active": True,
        "time_zone": "America/Bogota",
    }
    response = admin_api.put(f"{USERS}{rep.pk}/", payload, format="json")
    assert response.status_code == 200, response.content
    assert {k: response.json()[k] for k in payload} == payload


def test_username_is_read_only(admin_api, rep):
    admin_api.patch(f"{USERS}{rep.pk}/", {"username": "renamed"}, format="json")
    rep.refresh_from_db()
    assert rep.username == "rep"


def test_unknown_time_zone_is_400(admin_api, rep):
    response = admin_api.patch(f"{USERS}{rep.pk}/", {"time_zone": "Mars/Olympus"}, format="json")
    assert response.status_code == 400
    assert list(response.json()) == ["time_zone"]
    rep.refresh_from_db()
    assert rep.time_zone == ""


@pytest.mark.parametrize("payload", [{"role": "admin"}, {"is_active": False}, {"first_name": "X"}])
def test_rep_cannot_update_users(rep_api, rep, other_rep, payload):
    for target in (rep, other_rep):
        response = rep_api.patch(f"{USERS}{target.pk}/", payload, format="json")
        assert response.status_code == 403
        target.refresh_from_db()
        assert target.role == Role.REP
        assert target.is_active
        assert target.first_name != "X"
    assert not Event.objects.exists()


def test_admin_cannot_demote_themselves(admin_api, admin):
    response = admin_api.patch(f"{USERS}{admin.pk}/", {"role": "rep"}, format="json")
    assert response.status_code == 400
    assert response.json()["detail"]
    admin.refresh_from_db()
    assert admin.is_admin


# --- deactivation --------------------------------------------------------------------------------


def test_delete_deactivates_and_keeps_records(admin_api, admin, rep, api_anon):
    account = AccountFactory(owner=rep)
    contact = ContactFactory(owner=rep, account=account)
    task = TaskFactory(owner=rep, contact=contact)
    Token.objects.get_or_create(user=rep)

    response = admin_api.delete(f"{USERS}{rep.pk}/")

    assert response.status_code == 204
    rep.refresh_from_db()
    assert rep.is_active is False
    for record in (account, contact, task):
        record.refresh_from_db()
        assert record.owner == rep
        assert record.archived_at is None
    event = Event.objects.get(subject_user=rep)
    assert event.kind == EventKind.USER_DEACTIVATED
    assert event.actor == admin

    # Still listed (history shows them), now inactive.
    assert admin_api.get(f"{USERS}{rep.pk}/").json()["is_active"] is False
    # Can no longer sign in through the API, and the old token is dead.
    token = api_anon.post(TOKEN_URL, {"username": "rep", "password": PASSWORD}, format="json")
    assert token.status_code == 400
    api_anon.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.get(user=rep).key}")
    assert api_anon.get(f"{USERS}me/").status_code == 401


def test_deactivated_user_cannot_own_new_records(admin_api, rep):
    admin_api.delete(f"{USERS}{rep.pk}/")
    response = admin_api.post("/api/v1/accounts/", {"name": "X", "owner": rep.pk}, format="json")
    assert response.status_code == 400
    assert list(response.json()) == ["owner"]


def test_admin_cannot_deactivate_themselves(admin_api, admin):
    for response in (
        admin_api.delete(f"{USERS}{admin.pk}/"),
        admin_api.patch(f"{USERS}{admin.pk}/", {"is_active": False}, format="json"),
    ):
        assert response.status_code == 400
        assert response.json()["detail"]
    admin.refresh_from_db()
    assert admin.is_active
    assert not Event.objects.exists()


def test_rep_cannot_deactivate(rep_api, rep, other_rep):
    assert rep_api.delete(f"{USERS}{other_rep.pk}/").status_code == 403
    assert rep_api.delete(f"{USERS}{rep.pk}/").status_code == 403
    other_rep.refresh_from_db()
    assert other_rep.is_active


def test_deactivating_twice_is_harmless(admin_api, rep):
    assert admin_api.delete(f"{USERS}{rep.pk}/").status_code == 204
    assert admin_api.delete(f"{USERS}{rep.pk}/").status_code == 204
    assert Event.objects.filter(subject_user=rep).count() == 1


def test_unknown_user_is_404(admin_api):
    assert admin_api.get(f"{USERS}999999/").status_code == 404
    assert admin_api.patch(f"{USERS}999999/", {"role": "rep"}, format="json").status_code == 404


# --- teams ---------------------------------------------------------------------------------------


def test_reps_read_teams(rep_api, rep, other_rep):
    team = TeamFactory(name="North")
    team.members.set([rep, other_rep])

    rows = rep_api.get(TEAMS).json()["results"]
    assert rows == [{"id": team.pk, "name": "North", "members": sorted([rep.pk, other_rep.pk])}]
    assert rep_api.get(f"{TEAMS}{team.pk}/").json() == rows[0]


def test_admin_creates_a_team(admin_api, admin, rep, other_rep):
    response = admin_api.post(
        TEAMS, {"name": "  North  ", "members": [rep.pk, other_rep.pk]}, format="json"
    )
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["name"] == "North"
    assert sorted(body["members"]) == sorted([rep.pk, other_rep.pk])
    team = Team.objects.get(pk=body["id"])
    event = Event.objects.get(team=team)
    assert event.kind == EventKind.TEAM_CHANGED
    assert event.actor == admin
    assert event.data == {"name": "North", "members": sorted([rep.pk, other_rep.pk])}


def test_admin_updates_a_team(admin_api, rep, other_rep):
    team = TeamFactory(name="North")
    team.members.set([rep])

    response = admin_api.patch(f"{TEAMS}{team.pk}/", {"members": [other_rep.pk]}, format="json")
    assert response.status_code == 200
    assert response.json()["members"] == [other_rep.pk]
    assert list(team.members.all()) == [other_rep]
    assert Event.objects.get(team=team).data == {"members": [[rep.pk], [other_rep.pk]]}

    response = admin_api.put(f"{TEAMS}{team.pk}/", {"name": "South", "members": []}, format="json")
    assert response.status_code == 200
    assert response.json() == {"id": team.pk, "name": "South", "members": []}


def test_renaming_a_team_to_its_own_name_in_other_case_is_fine(admin_api):
    team = TeamFactory(name="North")
    response = admin_api.patch(f"{TEAMS}{team.pk}/", {"name": "NORTH"}, format="json")
    assert response.status_code == 200
    assert response.json()["name"] == "NORTH"


@pytest.mark.parametrize("name", ["north", "NORTH", " North "])
def test_duplicate_team_name_is_400_on_name(admin_api, name):
    TeamFactory(name="North")
    response = admin_api.post(TEAMS, {"name": name}, format="json")
    assert response.status_code == 400
    assert list(response.json()) == ["name"]
    assert Team.objects.count() == 1


def test_renaming_onto_another_team_is_400(admin_api):
    TeamFactory(name="North")
    south = TeamFactory(name="South")
    response = admin_api.patch(f"{TEAMS}{south.pk}/", {"name": "north"}, format="json")
    assert response.status_code == 400
    assert list(response.json()) == ["name"]
    south.refresh_from_db()
    assert south.name == "South"


@pytest.mark.parametrize(
    "members", [[999999], ["abc"], "1", [None], [{"id": 1}], [1.5], [True]], ids=repr
)
def test_bad_member_ids_are_400_on_members(admin_api, rep, members):
    team = TeamFactory(name="North")
    team.members.set([rep])

    created = admin_api.post(TEAMS, {"name": "South", "members": members}, format="json")
    updated = admin_api.patch(f"{TEAMS}{team.pk}/", {"members": members}, format="json")

    for response in (created, updated):
        assert response.status_code == 400
        assert list(response.json()) == ["members"]
    assert Team.objects.count() == 1
    assert list(team.members.all()) == [rep]
    assert not Event.objects.exists()


@pytest.mark.parametrize("payload", [{"name": ""}, {"name": "x" * 101}, {}, {"name": None}])
def test_bad_team_name_is_400_on_name(admin_api, payload):
    response = admin_api.post(TEAMS, payload, format="json")
    assert response.status_code == 400
    assert list(response.json()) == ["name"]
    assert not Team.objects.exists()


def test_reps_cannot_write_teams(rep_api, rep):
    team = TeamFactory(name="North")
    assert rep_api.post(TEAMS, {"name": "South"}, format="json").status_code == 403
    patched = rep_api.patch(f"{TEAMS}{team.pk}/", {"members": [rep.pk]}, format="json")
    assert patched.status_code == 403
    assert rep_api.put(f"{TEAMS}{team.pk}/", {"name": "X"}, format="json").status_code == 403
    team.refresh_from_db()
    assert team.name == "North"
    assert not team.members.exists()
    assert Team.objects.count() == 1


def test_teams_cannot_be_deleted(admin_api):
    team = TeamFactory(name="North")
    assert admin_api.delete(f"{TEAMS}{team.pk}/").status_code == 405
    assert Team.objects.filter(pk=team.pk).exists()
