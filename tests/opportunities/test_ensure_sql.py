"""``opportunity_ensure``'s one-statement creation path (``opportunities.ensure_sql``) against the
ORM path it shortcuts: the same rows in every table, the same errors, the lock and re-check
under concurrency, and its query count."""

from __future__ import annotations

import datetime as dt
import threading
from decimal import Decimal

import pytest
from django.apps import apps
from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from crm.models import Contact
from opportunities import ensure_sql, services
from opportunities.models import Opportunity, OpportunitySettings, OpportunityStatus
from tests.factories import (
    ContactFactory,
    LeadFactory,
    OpportunityFactory,
    StageFactory,
    TeamFactory,
    UserFactory,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def fast_calls(monkeypatch):
    """What each call of the one-statement path returned (``None``: it handed over)."""
    calls = []
    real = ensure_sql.ensure_create

    def spy(**kwargs):
        calls.append(real(**kwargs))
        return calls[-1]

    monkeypatch.setattr(ensure_sql, "ensure_create", spy)
    return calls


def _rules(**values) -> None:
    OpportunitySettings.objects.filter(pk=OpportunitySettings.SINGLETON_PK).update(**values)


def _snapshot() -> dict[str, set]:
    return {m._meta.label: set(m._base_manager.values_list("pk", flat=True)) for m in _models()}


def _models():
    return [m for m in apps.get_models() if not m._meta.proxy and m._meta.managed]


def _written(before: dict[str, set], opp_id: int, contact_id: int) -> dict[str, list]:
    """Every row added since ``before``, per table, comparable across two calls: links to the
    contact and its opportunities (also in event data) become markers, timestamps "<time>"."""
    markers = {
        Contact: {contact_id: "<contact>"},
        Opportunity: {
            pk: "<opportunity>" if pk == opp_id else "<older deal>"
            for pk in Opportunity.objects.filter(contact_id=contact_id).values_list("pk", flat=True)
        },
    }

    def norm(field, value):
        if isinstance(value, dt.datetime):
            return "<time>"
        if isinstance(value, dict):  # event data
            return {
                k: markers[Opportunity].get(v, v) if k == "opportunity" else v
                for k, v in value.items()
            }
        return markers.get(field.related_model, {}).get(value, value)

    out = {}
    for model in _models():
        label = model._meta.label
        fields = {f.attname: f for f in model._meta.concrete_fields if not f.primary_key}
        rows = [
            {name: norm(field, row[name]) for name, field in fields.items()}
            for row in model._base_manager.exclude(pk__in=before[label]).order_by("pk").values()
        ]
        if rows:
            out[label] = rows
    return out


def _both_paths(make_contact, monkeypatch, fast_calls, **kwargs):
    """Ensure on a fresh contact through the default path, then on a twin contact through the ORM
    path; returns what each wrote and whether the one-statement path did the first."""
    results = []
    for orm in (False, True):
        contact = make_contact()
        if orm:
            monkeypatch.setattr(ensure_sql, "ensure_create", lambda **kw: None)
        before = _snapshot()
        opp, created = services.opportunity_ensure(
            contact=Contact.objects.get(pk=contact.pk), **kwargs
        )
        assert created
        # The instance returned holds what the database holds.
        assert Opportunity.objects.filter(
            **{f.attname: getattr(opp, f.attname) for f in Opportunity._meta.concrete_fields}
        ).exists()
        results.append(_written(before, opp.pk, contact.pk))
    fast_used = bool(fast_calls) and fast_calls[0] is not None
    return results[0], results[1], fast_used


CASES = {
    # name: (settings, ensure arguments built from the fixtures, one-statement path expected)
    "plain": ({}, lambda f: {}, True),
    "given owner, the contact's": ({}, lambda f: {"owner": f["rep"]}, True),
    "amount, padded name": ({}, lambda f: {"amount": Decimal("1234.5"), "name": "  Big  "}, True),
    "lead conversion": ({}, lambda f: {"lead": LeadFactory(owner=f["rep"])}, True),
    "no grant": ({"share_contact_when_assigned": False}, lambda f: {}, True),
    "sync off, another owner": (
        {"sync_opportunity_and_contact_owners": False},
        lambda f: {"owner": f["other"]},
        True,
    ),
    "group member": ("group", lambda f: {"owner": f["rep"]}, True),
    # Handed to the ORM path: the contact changes owner.
    "sync on, another owner": ({}, lambda f: {"owner": f["other"]}, False),
    # Handed to the ORM path: a closed deal of another rep follows the contact's owner.
    "closed deal of another rep": ({}, lambda f: {"closed": True}, False),
}


@pytest.mark.parametrize("case", list(CASES))
def test_the_one_statement_path_writes_what_the_orm_path_writes(
    case, admin, rep, other_rep, pipeline, monkeypatch, fast_calls
):
    rules, make_kwargs, expect_fast = CASES[case]
    if rules == "group":
        team = TeamFactory()
        team.members.add(rep)
        rules = {"assign_to_group": team}
    _rules(**rules)
    kwargs = {"actor": admin, "name": "Deal", **make_kwargs({"rep": rep, "other": other_rep})}
    closed = kwargs.pop("closed", False)

    def make_contact():
        contact = ContactFactory(owner=rep)
        if closed:
            OpportunityFactory(
                contact=contact,
                owner=other_rep,
                stage=pipeline["Lost"],
                status=OpportunityStatus.LOST,
                closed_at=timezone.now(),
            )
        return contact

    fast, orm, fast_used = _both_paths(make_contact, monkeypatch, fast_calls, **kwargs)
    assert fast_used is expect_fast
    assert fast == orm
    assert {"opportunities.Opportunity", "opportunities.StageChange", "crm.Event"} <= set(fast)


ERRORS = {
    "archived contact": lambda f: (
        f["contact"].__class__.objects.filter(pk=f["contact"].pk).update(archived_at=timezone.now())
    ),
    "inactive contact owner": lambda f: (
        f["rep"].__class__.objects.filter(pk=f["rep"].pk).update(is_active=False)
    ),
    "inactive given owner": lambda f: f["kwargs"].update(owner=UserFactory(is_active=False)),
    "owner outside the group": lambda f: (
        _rules(assign_to_group=TeamFactory()) or f["kwargs"].update(owner=f["other"])
    ),
    "archived default stage": lambda f: _rules(
        default_stage=StageFactory(archived_at=timezone.now())
    ),
    "no default stage": lambda f: _rules(default_stage=None),
    "blank name": lambda f: f["kwargs"].update(name="   "),
    "amount too large": lambda f: f["kwargs"].update(amount=Decimal(10) ** 13),
    "missing contact": lambda f: f["contact"].__class__.objects.filter(pk=f["contact"].pk).delete(),
}


@pytest.mark.parametrize("case", list(ERRORS))
def test_errors_are_the_orm_paths(case, admin, rep, other_rep, pipeline, fast_calls):
    contact = ContactFactory(owner=rep)
    kwargs = {"actor": admin, "contact": Contact(pk=contact.pk), "name": "Deal"}
    ERRORS[case]({"contact": contact, "rep": rep, "other": other_rep, "kwargs": kwargs})
    with pytest.raises(ValidationError) as got:
        services.opportunity_ensure(**kwargs)
    assert fast_calls in ([], [None])  # handed over (or never tried: an inactive given owner)
    assert not Opportunity.objects.exists()
    with pytest.raises(ValidationError) as orm:
        _orm_ensure(**kwargs)
    assert got.value.message_dict == orm.value.message_dict


def _orm_ensure(**kwargs):
    real, ensure_sql.ensure_create = ensure_sql.ensure_create, lambda **kw: None
    try:
        return services.opportunity_ensure(**kwargs)
    finally:
        ensure_sql.ensure_create = real


@pytest.mark.django_db(transaction=True)
def test_the_creation_path_is_two_queries():
    """Outside a transaction (automation's case): no BEGIN, no COMMIT, no savepoint."""
    rep = UserFactory()
    services.opportunity_ensure(actor=rep, contact=ContactFactory(owner=rep), name="Warm-up")
    contact = Contact(pk=ContactFactory(owner=rep).pk)
    with CaptureQueriesContext(connection) as queries:
        opp, created = services.opportunity_ensure(actor=rep, contact=contact, name="New")
    assert created
    # The lookup, then the lock and the insert sent together (the ORM path takes ten: the
    # settings, BEGIN, the lock, the re-check, four INSERTs, COMMIT).
    assert len(queries) == 2, [q["sql"][:80] for q in queries]
    with CaptureQueriesContext(connection) as queries:
        again, created = services.opportunity_ensure(actor=rep, contact=contact, name="Again")
    assert (again, created) == (opp, False) and len(queries) == 1


def test_inside_a_transaction_an_error_keeps_the_callers_transaction(rep, pipeline):
    contact = ContactFactory(owner=rep)
    with transaction.atomic():
        opp, created = services.opportunity_ensure(actor=rep, contact=contact, name="In")
        assert created
        with pytest.raises(ValidationError):
            services.opportunity_ensure(
                actor=rep, contact=ContactFactory(owner=rep, archived_at=timezone.now()), name="X"
            )
        assert Opportunity.objects.filter(pk=opp.pk).exists()  # the transaction still works


@pytest.mark.concurrency
@pytest.mark.django_db(transaction=True)
def test_a_call_waiting_on_the_lock_sees_the_deal_committed_meanwhile():
    """The holder of the contact's lock creates a deal and commits while our call waits: our
    statement after the lock must see it (a fresh snapshot), not create a second one."""
    owner = UserFactory()
    contact = ContactFactory(owner=owner)
    locked, release, errors = threading.Event(), threading.Event(), []

    def holder():
        from django.db import connection as conn

        try:
            with transaction.atomic():
                Contact.objects.select_for_update().get(pk=contact.pk)
                OpportunityFactory(contact=contact, owner=owner, in_active_stage=True)
                locked.set()
                release.wait(10)
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(repr(exc))
            locked.set()
        finally:
            conn.close()

    thread = threading.Thread(target=holder)
    thread.start()
    assert locked.wait(10)
    timer = threading.Timer(0.5, release.set)  # commit while our call waits for the lock
    timer.start()
    opp, created = services.opportunity_ensure(actor=owner, contact=contact, name="Mine")
    thread.join(10)
    assert not errors, errors
    assert not created
    assert Opportunity.objects.filter(contact=contact).count() == 1
    assert opp == Opportunity.objects.get(contact=contact)
