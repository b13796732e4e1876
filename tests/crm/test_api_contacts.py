"""/api/v1/contacts/: CRUD with tags and account links, filters, events."""

import pytest

from crm.models import Contact, Event, EventKind, Tag
from tests.factories import AccountFactory, ContactFactory, TagFactory

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


URL = "/api/v1/contacts/"


def ids(response):
    assert response.status_code == 200, response.content
    return [row["id"] for row in response.json()["results"]]


def events(contact):
    return [(e.kind, e.data) for e in Event.objects.filter(contact=contact).order_by("id")]


def test_create(rep_api, rep):
    account = AccountFactory(owner=rep)
    payload = {
        "first_name": " Ana ",
        "last_name": "García",
        "email": "ana@example.com",
        "phone": "+34 600 000 000",
        "account": account.pk,
        "tags": ["VIP", " vip ", "Newsletter", "vip"],
    }

    response = rep_api.post(URL, payload, format="json")

    assert response.status_code == 201, response.content
    body = response.json()
    contact = Contact.objects.get(pk=body["id"])
    assert body == {
        "id": contact.pk,
        "first_name": "Ana",
        "last_name": "García",
        "email": "ana@example.com",
        "phone": "+34 600 000 000",
        "account": account.pk,
        "owner": rep.pk,
        "tags": ["Newsletter", "VIP"],
        "rating": None,
        "created_at": body["created_at"],
        "updated_at": body["updated_at"],
    }
    assert Tag.objects.count() == 2
    assert events(contact) == [
        (EventKind.CREATED, {"name": "Ana García", "tags": ["VIP", "Newsletter"]})
    ]


def test_only_last_name_is_required(rep_api):
    response = rep_api.post(URL, {"last_name": "García"}, format="json")
    assert response.status_code == 201
    assert response.json()["account"] is None
    assert response.json()["tags"] == []


def test_existing_tags_are_reused_case_insensitively(rep_api):
    vip = TagFactory(name="vip")
    response = rep_api.post(URL, {"last_name": "X", "tags": ["VIP"]}, format="json")
    assert response.json()["tags"] == ["vip"]
    assert list(Tag.objects.all()) == [vip]


def test_tag_changes_are_recorded(rep_api, rep):
    contact = ContactFactory(owner=rep, tags=[TagFactory(name="vip")])

    response = rep_api.patch(f"{URL}{contact.pk}/", {"tags": ["VIP", "b2b"]}, format="json")
    assert response.status_code == 200
    assert response.json()["tags"] == ["b2b", "vip"]
    assert events(contact) == [
        (EventKind.UPDATED, {"changes": {"tags": [["vip"], ["b2b", "vip"]]}})
    ]

    response = rep_api.patch(f"{URL}{contact.pk}/", {"tags": []}, format="json")
    assert response.json()["tags"] == []
    assert events(contact)[-1] == (
        EventKind.UPDATED,
        {"changes": {"tags": [["b2b", "vip"], []]}},
    )
    # Same tags again: nothing to record.
    rep_api.patch(f"{URL}{contact.pk}/", {"tags": []}, format="json")
    assert len(events(contact)) == 2


def test_patch_without_tags_keeps_them(rep_api, rep):
    contact = ContactFactory(owner=rep, tags=[TagFactory(name="vip")])
    response = rep_api.patch(f"{URL}{contact.pk}/", {"phone": "123"}, format="json")
    assert response.json()["tags"] == ["vip"]


def test_update_and_owner_change_events(admin_api, rep, other_rep):
    contact = ContactFactory(owner=rep, first_name="Ana", last_name="García", email="a@x.com")

    admin_api.patch(
        f"{URL}{contact.pk}/", {"email": "ana@x.com", "owner": other_rep.pk}, format="json"
    )

    assert events(contact) == [
        (EventKind.UPDATED, {"changes": {"email": ["a@x.com", "ana@x.com"]}}),
        (EventKind.OWNER_CHANGED, {"from": rep.pk, "to": other_rep.pk}),
    ]


def test_account_change_is_recorded(rep_api, rep):
    old, new = AccountFactory(owner=rep), AccountFactory(owner=rep)
    contact = ContactFactory(owner=rep, account=old)
    response = rep_api.patch(f"{URL}{contact.pk}/", {"account": new.pk}, format="json")
    assert response.json()["account"] == new.pk
    assert events(contact) == [(EventKind.UPDATED, {"changes": {"account": [old.pk, new.pk]}})]


def test_unlinking_the_account(rep_api, rep):
    contact = ContactFactory(owner=rep, account=AccountFactory(owner=rep))
    response = rep_api.patch(f"{URL}{contact.pk}/", {"account": None}, format="json")
    assert response.status_code == 200
    assert response.json()["account"] is None


def test_rep_cannot_link_someone_elses_account(rep_api, rep, other_rep):
    theirs = AccountFactory(owner=other_rep)
    contact = ContactFactory(owner=rep)

    created = rep_api.post(URL, {"last_name": "X", "account": theirs.pk}, format="json")
    updated = rep_api.patch(f"{URL}{contact.pk}/", {"account": theirs.pk}, format="json")

    for response in (created, updated):
        assert response.status_code == 400
        assert list(response.json()) == ["account"]
    contact.refresh_from_db()
    assert contact.account is None
    assert Contact.objects.count() == 1
    assert not Event.objects.exists()


def test_admin_may_link_any_account(admin_api, rep, other_rep):
    theirs = AccountFactory(owner=other_rep)
    response = admin_api.post(
        URL, {"last_name": "X", "account": theirs.pk, "owner": rep.pk}, format="json"
    )
    assert response.status_code == 201


def test_contact_keeps_an_account_handed_to_someone_else(rep_api, rep, other_rep):
    account = AccountFactory(owner=rep)
    contact = ContactFactory(owner=rep, account=account)
    account.owner = other_rep
    account.save()
    # Untouched link: other fields can still be edited.
    response = rep_api.put(
        f"{URL}{contact.pk}/",
        {"last_name": "New", "account": account.pk},
        format="json",
    )
    assert response.status_code == 200, response.content
    assert response.json()["account"] == account.pk


def test_filters(admin_api, rep, other_rep):
    acme = AccountFactory(owner=rep, name="Acme")
    ana = ContactFactory(
        owner=rep,
        first_name="Ana",
        last_name="García",
        email="ana@acme.test",
        phone="+34 600 111 222",
        account=acme,
        tags=[TagFactory(name="VIP")],
    )
    bob = ContactFactory(owner=other_rep, first_name="Bob", last_name="Stone", email="b@x.test")

    assert ids(admin_api.get(f"{URL}?owner={rep.pk}")) == [ana.pk]
    assert ids(admin_api.get(f"{URL}?account={acme.pk}")) == [ana.pk]
    assert ids(admin_api.get(f"{URL}?tag=vip")) == [ana.pk]
    assert ids(admin_api.get(f"{URL}?q=garcía")) == [ana.pk]
    assert ids(admin_api.get(f"{URL}?q=ana garc")) == [ana.pk]
    assert ids(admin_api.get(f"{URL}?q=acme")) == [ana.pk]  # account name
    assert ids(admin_api.get(f"{URL}?q=111")) == [ana.pk]  # phone
    assert ids(admin_api.get(f"{URL}?q=b@x.test")) == [bob.pk]
    assert ids(admin_api.get(f"{URL}?owner={other_rep.pk}&tag=vip")) == []


def test_tag_filter_does_not_duplicate_rows(admin_api, rep):
    contact = ContactFactory(owner=rep, tags=[TagFactory(name="a"), TagFactory(name="A b")])
    assert ids(admin_api.get(f"{URL}?tag=a")) == [contact.pk]


def test_list_shows_each_contacts_tag_names_by_name_as_the_detail_does(rep_api, rep, other_rep):
    zeta, alpha, mid = TagFactory(name="zeta"), TagFactory(name="Alpha"), TagFactory(name="mid")
    tagged = ContactFactory(owner=rep, tags=[zeta, alpha, mid])
    one = ContactFactory(owner=rep, tags=[mid])
    bare = ContactFactory(owner=rep)
    ContactFactory(owner=other_rep, tags=[alpha])  # not visible: not listed
    rows = {row["id"]: row for row in rep_api.get(URL).json()["results"]}
    assert set(rows) == {tagged.pk, one.pk, bare.pk}
    assert rows[tagged.pk]["tags"] == ["Alpha", "mid", "zeta"]
    assert rows[one.pk]["tags"] == ["mid"]
    assert rows[bare.pk]["tags"] == []
    for contact in (tagged, one, bare):
        detail = rep_api.get(f"{URL}{contact.pk}/").json()
        assert detail == rows[contact.pk]
