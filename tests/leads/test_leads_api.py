import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from crm.models import Event
from leads import services
from leads.models import Lead
from tests.factories import ContactFactory, LeadFactory, UserFactory

pytestmark = pytest.mark.django_db
URL = "/api/v1/leads/"

CONTRACT_FIELDS = {
    "id",
    "first_name",
    "last_name",
    "company",
    "title",
    "email",
    "phone",
    "source",
    "industry",
    "country",
    "company_size",
    "status",
    "owner",
    "disqualification_reason",
    "disqualification_note",
    "revisit_on",
    "created_at",
    "updated_at",
}


def test_create_returns_201_with_full_object_and_event(rep, rep_api):
    r = rep_api.post(
        URL, {"last_name": "Gil", "company": "Acme", "email": "g@acme.es"}, format="json"
    )
    assert r.status_code == 201, r.json()
    assert set(r.json()) >= CONTRACT_FIELDS
    assert r.json()["owner"] == rep.pk and r.json()["status"] == "new"
    assert Event.objects.filter(lead_id=r.json()["id"], kind="created").exists()


@pytest.mark.parametrize(
    "payload, field",
    [
        ({}, "last_name"),
        ({"last_name": "x", "email": "nope"}, "email"),
        ({"last_name": "x", "company_size": "huge"}, "company_size"),
        ({"last_name": "x", "owner": 999999}, "owner"),
        ({"last_name": ["x"]}, "last_name"),
        ({"last_name": "x" * 300}, "last_name"),
    ],
)
def test_bad_input_is_400_and_creates_nothing(rep_api, payload, field):
    r = rep_api.post(URL, payload, format="json")
    assert r.status_code == 400
    assert field in r.json()
    assert not Lead.objects.exists()


def test_filters(rep, rep_api, reasons):
    a = LeadFactory(owner=rep, source="Web", company="Acme", last_name="Alba")
    b = LeadFactory(owner=rep, source="Fair", company="Beta", last_name="Bravo")
    services.lead_disqualify(actor=rep, lead=b, reason=reasons["No need"])

    def ids(**params):
        return [x["id"] for x in rep_api.get(URL, params).json()["results"]]

    assert ids(source="web") == [a.pk]
    assert ids(status="unqualified") == [b.pk]
    assert ids(disqualification_reason=reasons["No need"].pk) == [b.pk]
    assert ids(q="acme") == [a.pk]
    assert ids(q="bravo") == [b.pk]
    assert ids(owner=rep.pk) == [b.pk, a.pk]
    assert ids(created_after="2000-01-01", created_before="2999-01-01") == [b.pk, a.pk]
    assert rep_api.get(URL, {"status": "sleepy"}).status_code == 400


def test_rep_sees_only_own_leads_everywhere(rep, other_rep, rep_api):
    mine = LeadFactory(owner=rep, last_name="Mine")
    theirs = LeadFactory(owner=other_rep, last_name="Theirs", email="t@x.es")
    assert [x["id"] for x in rep_api.get(URL).json()["results"]] == [mine.pk]
    assert rep_api.get(URL, {"q": "Theirs"}).json()["results"] == []
    for method, path in [
        ("get", f"{URL}{theirs.pk}/"),
        ("patch", f"{URL}{theirs.pk}/"),
        ("put", f"{URL}{theirs.pk}/"),
        ("delete", f"{URL}{theirs.pk}/"),
        ("post", f"{URL}{theirs.pk}/disqualify/"),
        ("post", f"{URL}{theirs.pk}/requalify/"),
        ("post", f"{URL}{theirs.pk}/convert/"),
    ]:
        r = getattr(rep_api, method)(path, {"last_name": "Hacked"}, format="json")
        assert r.status_code == 404, (method, path, r.status_code)
    theirs.refresh_from_db()
    assert theirs.last_name == "Theirs" and theirs.archived_at is None
    dup = rep_api.get(URL + "duplicates/", {"email": "t@x.es"}).json()
    assert dup == {"leads": [], "contacts": []}


def test_delete_archives(rep, rep_api):
    lead = LeadFactory(owner=rep)
    assert rep_api.delete(f"{URL}{lead.pk}/").status_code == 204
    lead.refresh_from_db()
    assert lead.archived_at is not None
    assert rep_api.get(f"{URL}{lead.pk}/").status_code == 404


def test_duplicates_by_email_or_name_and_company(rep, rep_api):
    lead = LeadFactory(
        owner=rep, first_name="Ana", last_name="Gil", company="Acme", email="ana@acme.es"
    )
    contact = ContactFactory(owner=rep, email="ANA@acme.es")
    r = rep_api.get(URL + "duplicates/", {"email": "ana@ACME.es"})
    assert [x["id"] for x in r.json()["leads"]] == [lead.pk]
    assert [x["id"] for x in r.json()["contacts"]] == [contact.pk]
    r = rep_api.get(
        URL + "duplicates/", {"first_name": "ana", "last_name": "GIL", "company": "acme"}
    )
    assert [x["id"] for x in r.json()["leads"]] == [lead.pk]
    assert rep_api.get(URL + "duplicates/", {"email": "x@y.es"}).json()["leads"] == []
    # the user may still save a duplicate
    r = rep_api.post(
        URL,
        {"first_name": "Ana", "last_name": "Gil", "company": "Acme", "email": "ana@acme.es"},
        format="json",
    )
    assert r.status_code == 201


def test_bulk_assign_writes_one_event_per_lead_in_constant_queries(rep, admin_api):
    target = UserFactory()

    def run(n):
        leads = [LeadFactory(owner=rep) for _ in range(n)]
        with CaptureQueriesContext(connection) as ctx:
            r = admin_api.post(
                URL + "bulk-assign/",
                {"ids": [x.pk for x in leads], "owner": target.pk},
                format="json",
            )
        assert r.status_code == 200 and r.json() == {"updated": n}
        return len(ctx.captured_queries)

    assert run(5) == run(50)
    assert Event.objects.filter(kind="owner_changed").count() == 55
    assert Lead.objects.filter(owner=target).count() == 55


def test_bulk_assign_ignores_leads_out_of_reach(rep, other_rep, rep_api):
    theirs = LeadFactory(owner=other_rep)
    mine = LeadFactory(owner=rep)
    r = rep_api.post(
        URL + "bulk-assign/", {"ids": [theirs.pk, mine.pk], "owner": other_rep.pk}, format="json"
    )
    assert r.json() == {"updated": 1}
    theirs.refresh_from_db()
    assert Event.objects.filter(lead=theirs).count() == 0


@pytest.mark.parametrize("who", ["admin_api", "rep_api"])
def test_list_query_count_is_constant(request, rep, who, reasons):
    api = request.getfixturevalue(who)
    for i in range(120):
        lead = LeadFactory(owner=rep)
        if i % 3 == 0:
            services.lead_disqualify(actor=rep, lead=lead, reason=reasons["No need"])
    counts = []
    for size in (10, 100):
        with CaptureQueriesContext(connection) as ctx:
            r = api.get(URL, {"page_size": size})
        assert len(r.json()["results"]) == size
        counts.append(len(ctx.captured_queries))
    assert counts[0] == counts[1]
