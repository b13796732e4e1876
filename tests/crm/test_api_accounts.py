"""/api/v1/accounts/: CRUD, filters and the events each write records."""

import pytest

from crm.models import Account, Event, EventKind
from tests.factories import AccountFactory

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


URL = "/api/v1/accounts/"


def ids(response):
    assert response.status_code == 200, response.content
    return [row["id"] for row in response.json()["results"]]


def events(account):
    return [(e.kind, e.data) for e in Event.objects.filter(account=account).order_by("id")]


def test_create(rep_api, rep):
    response = rep_api.post(
        URL,
        {"name": "  Acme  ", "industry": "Retail", "country": "Spain", "company_size": "1000+"},
        format="json",
    )

    assert response.status_code == 201, response.content
    body = response.json()
    account = Account.objects.get(pk=body["id"])
    assert body == {
        "id": account.pk,
        "name": "Acme",
        "industry": "Retail",
        "country": "Spain",
        "company_size": "1000+",
        "owner": rep.pk,
        "created_at": body["created_at"],
        "updated_at": body["updated_at"],
    }
    assert events(account) == [(EventKind.CREATED, {"name": "Acme"})]
    assert Event.objects.get(account=account).actor == rep


def test_only_name_is_required(rep_api):
    response = rep_api.post(URL, {"name": "Acme"}, format="json")
    assert response.status_code == 201
    assert response.json()["company_size"] == ""


def test_admin_creates_for_someone_else(admin_api, admin, rep):
    response = admin_api.post(URL, {"name": "Acme", "owner": rep.pk}, format="json")
    assert response.status_code == 201
    account = Account.objects.get(pk=response.json()["id"])
    assert account.owner == rep
    assert Event.objects.get(account=account).actor == admin


def test_update_writes_one_updated_event_with_the_changes(rep_api, rep):
    account = AccountFactory(owner=rep, name="Acme", country="Spain", industry="Retail")

    response = rep_api.patch(
        f"{URL}{account.pk}/", {"name": "Acme Corp", "country": "France"}, format="json"
    )

    assert response.status_code == 200
    assert events(account) == [
        (
            EventKind.UPDATED,
            {"changes": {"name": ["Acme", "Acme Corp"], "country": ["Spain", "France"]}},
        )
    ]


def test_update_without_changes_writes_nothing(rep_api, rep):
    account = AccountFactory(owner=rep, name="Acme", country="Spain")
    response = rep_api.patch(f"{URL}{account.pk}/", {"name": "Acme", "country": "Spain"})
    assert response.status_code == 200
    assert events(account) == []


def test_owner_change_writes_owner_changed(admin_api, rep, other_rep):
    account = AccountFactory(owner=rep, name="Acme")

    response = admin_api.patch(f"{URL}{account.pk}/", {"owner": other_rep.pk}, format="json")

    assert response.status_code == 200
    assert response.json()["owner"] == other_rep.pk
    assert events(account) == [
        (EventKind.OWNER_CHANGED, {"from": rep.pk, "to": other_rep.pk}),
    ]


def test_owner_and_field_change_write_both_events(admin_api, rep, other_rep):
    account = AccountFactory(owner=rep, name="Acme")
    admin_api.patch(f"{URL}{account.pk}/", {"owner": other_rep.pk, "name": "B"}, format="json")
    assert events(account) == [
        (EventKind.UPDATED, {"changes": {"name": ["Acme", "B"]}}),
        (EventKind.OWNER_CHANGED, {"from": rep.pk, "to": other_rep.pk}),
    ]


def test_rep_hands_an_account_over(rep_api, rep, other_rep):
    account = AccountFactory(owner=rep)
    response = rep_api.patch(f"{URL}{account.pk}/", {"owner": other_rep.pk}, format="json")
    assert response.status_code == 200
    account.refresh_from_db()
    assert account.owner == other_rep
    assert rep_api.get(f"{URL}{account.pk}/").status_code == 404  # no longer theirs


def test_rep_lists_only_their_accounts_admin_all(rep_api, admin_api, rep, other_rep):
    mine = AccountFactory(owner=rep)
    theirs = AccountFactory(owner=other_rep)
    AccountFactory(owner=rep, archived_at="2026-01-01T00:00:00Z")

    assert ids(rep_api.get(URL)) == [mine.pk]
    assert ids(admin_api.get(URL)) == [theirs.pk, mine.pk]


def test_filters(admin_api, rep, other_rep):
    acme = AccountFactory(
        owner=rep, name="Acme Tools", industry="Retail", country="Spain", company_size="11-50"
    )
    globex = AccountFactory(
        owner=other_rep,
        name="Globex",
        industry="Energy",
        country="France",
        company_size="1000+",
    )

    assert ids(admin_api.get(f"{URL}?owner={rep.pk}")) == [acme.pk]
    assert ids(admin_api.get(f"{URL}?industry=energy")) == [globex.pk]
    assert ids(admin_api.get(f"{URL}?country=SPAIN")) == [acme.pk]
    assert ids(admin_api.get(f"{URL}?company_size=1000%2B")) == [globex.pk]
    assert ids(admin_api.get(f"{URL}?q=acme")) == [acme.pk]
    assert ids(admin_api.get(f"{URL}?q=tools acme")) == [acme.pk]
    assert ids(admin_api.get(f"{URL}?q=france")) == [globex.pk]
    assert ids(admin_api.get(f"{URL}?q=nothing-like-this")) == []
    assert ids(admin_api.get(f"{URL}?owner={rep.pk}&country=France")) == []


@pytest.mark.parametrize(
    "query", ["owner=abc", "owner=2.5", "owner=1e400", "company_size=huge", "owner="]
)
def test_bad_filter_values_are_400_or_ignored_never_500(admin_api, query):
    response = admin_api.get(f"{URL}?{query}")
    assert response.status_code in (200, 400)
    if query != "owner=":
        assert response.status_code == 400
        assert list(response.json()) == [query.split("=")[0]]


def test_put_round_trip_keeps_a_deactivated_owner(admin_api, rep):
    account = AccountFactory(owner=rep, name="Acme")
    rep.is_active = False
    rep.save()

    body = admin_api.get(f"{URL}{account.pk}/").json()
    response = admin_api.put(f"{URL}{account.pk}/", {**body, "name": "Acme 2"}, format="json")

    assert response.status_code == 200, response.content
    assert response.json()["owner"] == rep.pk
    assert events(account) == [(EventKind.UPDATED, {"changes": {"name": ["Acme", "Acme 2"]}})]


def test_reassigning_to_a_deactivated_user_is_400(admin_api, rep, other_rep):
    account = AccountFactory(owner=rep)
    other_rep.is_active = False
    other_rep.save()
    response = admin_api.patch(f"{URL}{account.pk}/", {"owner": other_rep.pk}, format="json")
    assert response.status_code == 400
    assert response.json() == {"owner": ["Choose an active user as the owner."]}
    account.refresh_from_db()
    assert account.owner == rep
