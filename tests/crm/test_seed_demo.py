from io import StringIO

import pytest
from django.contrib.auth import authenticate
from django.core.management import call_command
from django.utils import timezone

from crm import access
from crm.management.commands.seed_demo import DEMO_USERS
from crm.models import Account, Contact, Event, EventKind, Role, Task, Team, User
from leads.models import Lead
from opportunities.models import Opportunity, StageChange

pytestmark = pytest.mark.django_db


def seed(*args: str) -> str:
    out = StringIO()
    call_command("seed_demo", *args, stdout=out)
    return out.getvalue()


def counts() -> dict[str, int]:
    return {
        m.__name__: m.objects.count() for m in (User, Team, Account, Contact, Task, Lead, Event)
    }


def test_seeds_users_that_can_sign_in_with_the_printed_credentials():
    out = seed()
    for username, password, role, *_ in DEMO_USERS:
        assert f"{username}" in out and password in out
        user = authenticate(username=username, password=password)
        assert user is not None and user.role == role
    admin = User.objects.get(username="admin")
    assert admin.is_superuser and admin.is_admin and access.is_admin(admin)
    reps = User.objects.filter(role=Role.REP)
    assert reps.count() == 2
    team = Team.objects.get(name="Sales")
    assert set(team.members.all()) == set(reps)


def test_running_twice_creates_nothing_more():
    seed()
    before = counts()
    out = seed()
    assert "already has users" in out
    assert counts() == before
    # --force seeds alongside existing users but never duplicates the demo records.
    seed("--force")
    seed("--force")
    assert counts() == before


def test_skips_a_database_that_already_has_users(admin):
    out = seed()
    assert "not seeded" in out
    assert not Account.objects.exists()
    seed("--force")
    assert Account.objects.exists()
    assert User.objects.filter(username="marta").exists()


def test_is_deterministic():
    seed()
    first = sorted(Contact.objects.values_list("email", "phone"))
    tags = sorted(Contact.objects.values_list("email", "tags__name"))
    Event.objects.all()._raw_delete(Event.objects.db)  # append-only in the app, not in a test
    StageChange.objects.all().delete()
    from opportunities import models as deals

    for model in (
        deals.StepRun,
        deals.Enrollment,
        deals.TriggerRun,
        deals.TriggerAction,
        deals.SequenceStep,
        deals.Sequence,
        deals.Order,
        deals.BuyNowLink,
        Task,
        Opportunity,
        Lead,
        Contact,
        Account,
        Team,
    ):
        model.objects.all().delete()
    User.objects.all().delete()
    seed()
    assert sorted(Contact.objects.values_list("email", "phone")) == first
    assert sorted(Contact.objects.values_list("email", "tags__name")) == tags


def test_each_rep_sees_only_their_own_records():
    seed()
    admin = User.objects.get(username="admin")
    reps = list(User.objects.filter(role=Role.REP))
    for rep in reps:
        other = next(r for r in reps if r != rep)
        for visible, model in (
            (access.visible_accounts, Account),
            (access.visible_contacts, Contact),
            (access.visible_tasks, Task),
            (access.visible_leads, Lead),
            (access.visible_opportunities, Opportunity),
        ):
            mine = visible(rep)
            assert mine.exists(), model
            assert set(mine) == set(model.objects.filter(owner=rep)), model
            assert not visible(rep).filter(owner=other).exists(), model
            assert visible(admin).count() == model.objects.count(), model


def test_every_rep_has_overdue_today_and_upcoming_tasks():
    seed()
    today = timezone.localdate()
    for rep in User.objects.filter(role=Role.REP):
        due = list(Task.objects.filter(owner=rep, done=False).values_list("due_on", flat=True))
        assert any(d < today for d in due)
        assert any(d == today for d in due)
        assert any(d > today for d in due)
        assert all(abs((d - today).days) < 30 for d in due)
        assert Lead.objects.filter(owner=rep).count() >= 2


def test_records_are_written_with_their_audit_events():
    seed()
    assert Event.objects.filter(kind=EventKind.USER_CREATED).count() == 3
    assert Event.objects.filter(kind=EventKind.TEAM_CHANGED).count() == 1
    for model, field in ((Account, "account"), (Contact, "contact"), (Task, "task")):
        for obj in model.objects.all():
            assert Event.objects.filter(kind=EventKind.CREATED, **{field: obj}).exists()
    for lead in Lead.objects.all():
        assert Event.objects.filter(kind=EventKind.CREATED, lead=lead).exists()
    # Contacts carry tags; accounts are in Spanish and European markets.
    assert Contact.objects.filter(tags__isnull=False).distinct().count() == Contact.objects.count()
    assert {"Spain", "Portugal", "Germany", "France", "Italy"} <= set(
        Account.objects.values_list("country", flat=True)
    )
