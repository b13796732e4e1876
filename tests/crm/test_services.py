"""Unit tests of crm.services: validation, tags, events, atomicity."""

import datetime as dt
from decimal import Decimal

import pytest
from django.core.exceptions import PermissionDenied, ValidationError

from crm import services
from crm.models import Account, Contact, Event, EventKind, Tag, Task, Team, User
from tests.factories import (
    AccountFactory,
    ContactFactory,
    LeadFactory,
    OpportunityFactory,
    TagFactory,
    TaskFactory,
    TeamFactory,
    UserFactory,
)

pytestmark = pytest.mark.django_db

DUE = dt.date(2026, 12, 1)


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


def events(**subject):
    return [(e.kind, e.data) for e in Event.objects.filter(**subject).order_by("id")]


def error_keys(excinfo) -> set[str]:
    return set(excinfo.value.message_dict)


# --- audit ---------------------------------------------------------------------------------------


def test_event_record_makes_data_json_safe(rep):
    account = AccountFactory(owner=rep)
    event = services.event_record(
        actor=rep,
        kind="updated",
        account=account,
        data={
            "owner": rep,
            "on": dt.date(2026, 1, 2),
            "at": dt.datetime(2026, 1, 2, 3, 4, tzinfo=dt.UTC),
            "amount": Decimal("12.50"),
            "ids": (rep, 3),
            "plain": "x",
        },
    )
    event.refresh_from_db()
    assert event.data == {
        "owner": rep.pk,
        "on": "2026-01-02",
        "at": "2026-01-02T03:04:00+00:00",
        "amount": "12.50",
        "ids": [rep.pk, 3],
        "plain": "x",
    }
    assert event.actor == rep
    assert event.account == account


# --- tags ----------------------------------------------------------------------------------------


def test_tag_names_are_normalised_and_reused_case_insensitively():
    vip = services.tag_get_or_create(name="  Very   Important ")
    assert vip.name == "Very Important"
    assert services.tag_get_or_create(name="very important") == vip
    assert services.tag_get_or_create(name="VERY IMPORTANT") == vip
    assert Tag.objects.count() == 1


@pytest.mark.parametrize("name", ["", "   ", "x" * 51])
def test_bad_tag_names(name):
    with pytest.raises(ValidationError) as excinfo:
        services.tag_get_or_create(name=name)
    assert error_keys(excinfo) == {"tags"}
    assert not Tag.objects.exists()


def test_contact_tags_are_deduplicated_case_insensitively(rep):
    existing = TagFactory(name="Vip")
    contact = services.contact_create(
        actor=rep, last_name="X", tags=["VIP", "vip", " Vip ", "b2b", "B2B"]
    )
    assert sorted(t.name for t in contact.tags.all()) == ["Vip", "b2b"]
    assert existing in contact.tags.all()
    assert Tag.objects.count() == 2
    assert events(contact=contact)[0][1]["tags"] == ["Vip", "b2b"]


def test_contact_tag_update_records_before_and_after(rep):
    contact = services.contact_create(actor=rep, last_name="X", tags=["a"])
    services.contact_update(actor=rep, contact=contact, tags=["A", "b"])
    assert events(contact=contact)[-1] == (
        EventKind.UPDATED,
        {"changes": {"tags": [["a"], ["a", "b"]]}},
    )
    services.contact_update(actor=rep, contact=contact, tags=["B", "a"])  # same set
    assert len(events(contact=contact)) == 2


def test_a_bad_tag_rolls_the_whole_contact_back(rep):
    with pytest.raises(ValidationError):
        services.contact_create(actor=rep, last_name="X", tags=["fine", ""])
    assert not Contact.objects.exists()
    assert not Tag.objects.exists()
    assert not Event.objects.exists()


# --- accounts ------------------------------------------------------------------------------------


def test_account_create_defaults_owner_to_actor_and_records_it(rep):
    account = services.account_create(actor=rep, name="  Acme ")
    assert account.name == "Acme"
    assert account.owner == rep
    assert events(account=account) == [(EventKind.CREATED, {"name": "Acme"})]


def test_account_create_validates(rep):
    with pytest.raises(ValidationError) as excinfo:
        services.account_create(actor=rep, name=" ", company_size="huge")
    assert error_keys(excinfo) == {"name", "company_size"}
    assert not Account.objects.exists()
    assert not Event.objects.exists()


def test_account_owner_change_event(admin, rep, other_rep):
    account = services.account_create(actor=rep, name="Acme")
    services.account_update(actor=admin, account=account, owner=other_rep, name="Acme")
    assert events(account=account)[1:] == [
        (EventKind.OWNER_CHANGED, {"from": rep.pk, "to": other_rep.pk}),
    ]
    assert Event.objects.filter(account=account).first().actor == admin  # newest first


def test_account_update_rejects_unknown_fields(rep):
    account = AccountFactory(owner=rep)
    with pytest.raises(TypeError):
        services.account_update(actor=rep, account=account, archived_at=None)


def test_account_archive_is_idempotent(rep):
    account = AccountFactory(owner=rep)
    services.account_archive(actor=rep, account=account)
    first = account.archived_at
    services.account_archive(actor=rep, account=account)
    account.refresh_from_db()
    assert account.archived_at == first
    assert events(account=account) == [(EventKind.ARCHIVED, {})]


@pytest.mark.parametrize("owner", ["inactive", None])
def test_owner_must_be_active(rep, owner):
    if owner == "inactive":
        owner = UserFactory(is_active=False)
    with pytest.raises(ValidationError) as excinfo:
        services.account_update(actor=rep, account=AccountFactory(owner=rep), owner=owner)
    assert error_keys(excinfo) == {"owner"}


def test_unchanged_inactive_owner_is_kept(admin, rep):
    account = AccountFactory(owner=rep, name="Acme")
    rep.is_active = False
    rep.save()
    services.account_update(actor=admin, account=account, owner=rep, name="Acme 2")
    account.refresh_from_db()
    assert (account.owner, account.name) == (rep, "Acme 2")


# --- contacts ------------------------------------------------------------------------------------


def test_contact_reuses_the_given_account(rep):
    account = AccountFactory(owner=rep)
    first = services.contact_create(actor=rep, last_name="A", account=account)
    second = services.contact_create(actor=rep, last_name="B", account=account)
    assert first.account == second.account == account
    assert Account.objects.count() == 1


def test_contact_cannot_link_an_invisible_account(rep, other_rep):
    theirs = AccountFactory(owner=other_rep)
    with pytest.raises(ValidationError) as excinfo:
        services.contact_create(actor=rep, last_name="X", account=theirs)
    assert error_keys(excinfo) == {"account"}
    contact = ContactFactory(owner=rep)
    with pytest.raises(ValidationError):
        services.contact_update(actor=rep, contact=contact, account=theirs)
    contact.refresh_from_db()
    assert contact.account is None


def test_contact_update_strips_and_records_only_changes(rep):
    contact = ContactFactory(owner=rep, first_name="Ana", last_name="García", email="a@x.com")
    services.contact_update(actor=rep, contact=contact, first_name=" Ana ", email=" b@x.com ")
    contact.refresh_from_db()
    assert contact.email == "b@x.com"
    assert events(contact=contact) == [
        (EventKind.UPDATED, {"changes": {"email": ["a@x.com", "b@x.com"]}})
    ]


def test_contact_update_with_no_changes_records_nothing(rep):
    contact = ContactFactory(owner=rep, last_name="García")
    services.contact_update(actor=rep, contact=contact, last_name="García")
    assert events(contact=contact) == []


# --- tasks ---------------------------------------------------------------------------------------


def test_task_links_must_be_visible(rep, other_rep):
    their_contact = ContactFactory(owner=other_rep)
    for link, obj in (
        ("contact", their_contact),
        ("lead", LeadFactory(owner=other_rep)),
        ("opportunity", OpportunityFactory(contact=their_contact)),
    ):
        with pytest.raises(ValidationError) as excinfo:
            services.task_create(actor=rep, title="T", due_on=DUE, **{link: obj})
        assert error_keys(excinfo) == {link}
    assert not Task.objects.exists()


def test_task_keeps_a_link_that_moved_away(rep, other_rep):
    contact = ContactFactory(owner=rep)
    task = services.task_create(actor=rep, title="T", due_on=DUE, contact=contact)
    contact.owner = other_rep
    contact.save()
    services.task_update(actor=rep, task=task, contact=contact, title="T2")
    task.refresh_from_db()
    assert (task.title, task.contact) == ("T2", contact)


def test_task_complete_reopen_cycle(rep):
    task = services.task_create(actor=rep, title="T", due_on=DUE)
    services.task_complete(actor=rep, task=task, note="done")
    services.task_complete(actor=rep, task=task, note="again")  # idempotent
    task.refresh_from_db()
    assert task.done
    assert task.completed_at is not None
    assert task.note == "done"
    services.task_reopen(actor=rep, task=task)
    services.task_reopen(actor=rep, task=task)  # idempotent
    task.refresh_from_db()
    assert not task.done
    assert task.completed_at is None
    assert [k for k, _d in events(task=task)] == [
        EventKind.CREATED,
        EventKind.COMPLETED,
        EventKind.REOPENED,
    ]


def test_task_complete_returns_fresh_state(rep):
    task = TaskFactory(owner=rep)
    done = services.task_complete(actor=rep, task=task)
    assert done.done
    assert done.pk == task.pk


def test_task_update_records_owner_change(admin, rep, other_rep):
    task = TaskFactory(owner=rep, title="T")
    services.task_update(actor=admin, task=task, owner=other_rep)
    assert events(task=task) == [(EventKind.OWNER_CHANGED, {"from": rep.pk, "to": other_rep.pk})]


def test_task_archive(rep):
    task = TaskFactory(owner=rep)
    services.task_archive(actor=rep, task=task)
    services.task_archive(actor=rep, task=task)
    assert events(task=task) == [(EventKind.ARCHIVED, {})]


# --- users and teams -----------------------------------------------------------------------------


def test_only_admins_manage_users_and_teams(rep, other_rep):
    with pytest.raises(PermissionDenied):
        services.user_create(actor=rep, username="x", password="Correct-Horse-9")
    with pytest.raises(PermissionDenied):
        services.user_update(actor=rep, user=other_rep, role="admin")
    with pytest.raises(PermissionDenied):
        services.user_deactivate(actor=rep, user=other_rep)
    with pytest.raises(PermissionDenied):
        services.team_create(actor=rep, name="North")
    with pytest.raises(PermissionDenied):
        services.team_update(actor=rep, team=TeamFactory(), name="South")
    other_rep.refresh_from_db()
    assert other_rep.is_active
    assert other_rep.role == "rep"


def test_deactivated_admin_is_no_admin(admin, other_rep):
    admin.is_active = False
    admin.save()
    with pytest.raises(PermissionDenied):
        services.user_update(actor=admin, user=other_rep, role="admin")


def test_user_create(admin):
    user = services.user_create(
        actor=admin, username=" nora ", password="Correct-Horse-9", email=" n@x.com "
    )
    assert (user.username, user.email, user.role) == ("nora", "n@x.com", "rep")
    assert user.check_password("Correct-Horse-9")
    assert events(subject_user=user) == [
        (EventKind.USER_CREATED, {"username": "nora", "role": "rep"})
    ]


@pytest.mark.parametrize(
    ("kwargs", "key"),
    [
        ({"password": "123"}, "password"),
        ({"username": "rep"}, "username"),
        ({"username": ""}, "username"),
        ({"role": "boss"}, "role"),
        ({"email": "nope"}, "email"),
    ],
)
def test_user_create_validates(admin, rep, kwargs, key):
    before = User.objects.count()
    with pytest.raises(ValidationError) as excinfo:
        services.user_create(
            actor=admin, **{"username": "nora", "password": "Correct-Horse-9", **kwargs}
        )
    assert key in error_keys(excinfo)
    assert User.objects.count() == before


def test_user_update_records_changes_and_deactivation(admin, rep):
    services.user_update(actor=admin, user=rep, role="admin", first_name="Rosa")
    services.user_deactivate(actor=admin, user=rep)
    services.user_deactivate(actor=admin, user=rep)  # nothing left to change
    assert events(subject_user=rep) == [
        (
            EventKind.USER_UPDATED,
            {"changes": {"role": ["rep", "admin"], "first_name": ["Rita", "Rosa"]}},
        ),
        (EventKind.USER_DEACTIVATED, {"changes": {"is_active": [True, False]}}),
    ]


@pytest.mark.parametrize("change", [{"is_active": False}, {"role": "rep"}])
def test_admin_cannot_lock_themselves_out(admin, change):
    with pytest.raises(ValidationError):
        services.user_update(actor=admin, user=admin, **change)
    admin.refresh_from_db()
    assert admin.is_admin


def test_user_time_zone(admin, rep):
    services.user_update(actor=admin, user=rep, time_zone="Europe/Madrid")
    with pytest.raises(ValidationError) as excinfo:
        services.user_update(actor=admin, user=rep, time_zone="Nowhere/Town")
    assert error_keys(excinfo) == {"time_zone"}
    rep.refresh_from_db()
    assert rep.time_zone == "Europe/Madrid"
    services.user_update(actor=admin, user=rep, time_zone="")  # back to the default
    rep.refresh_from_db()
    assert rep.time_zone == ""


def test_team_create_and_update(admin, rep, other_rep):
    team = services.team_create(actor=admin, name=" North ", members=[rep, rep])
    assert team.name == "North"
    assert list(team.members.all()) == [rep]
    services.team_update(actor=admin, team=team, name="North", members=[other_rep, rep])
    services.team_update(actor=admin, team=team, members=[rep, other_rep])  # same set
    assert events(team=team) == [
        (EventKind.TEAM_CHANGED, {"name": "North", "members": [rep.pk]}),
        (EventKind.TEAM_CHANGED, {"members": [[rep.pk], sorted([rep.pk, other_rep.pk])]}),
    ]


def test_team_names_are_unique_ignoring_case(admin):
    services.team_create(actor=admin, name="North")
    south = services.team_create(actor=admin, name="South")
    with pytest.raises(ValidationError) as excinfo:
        services.team_create(actor=admin, name="NORTH")
    assert error_keys(excinfo) == {"name"}
    with pytest.raises(ValidationError) as excinfo:
        services.team_update(actor=admin, team=south, name="north")
    assert error_keys(excinfo) == {"name"}
    services.team_update(actor=admin, team=south, name="SOUTH")  # its own name, other case
    assert sorted(Team.objects.values_list("name", flat=True)) == ["North", "SOUTH"]
