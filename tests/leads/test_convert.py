import threading
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.db import connection

from crm.models import Account, Contact, Event
from leads import services
from leads.models import Lead, LeadStatus
from opportunities.models import Opportunity
from tests.factories import AccountFactory, ContactFactory, LeadFactory, UserFactory


def _convert(api, lead, **body):
    return api.post(f"/api/v1/leads/{lead.pk}/convert/", body, format="json")


@pytest.mark.django_db
def test_b2b_conversion_creates_account_and_contact(rep, rep_api):
    lead = LeadFactory(owner=rep, company="Acme Ibérica", email="ana@acme.es", industry="Retail")
    r = _convert(rep_api, lead)
    assert r.status_code == 200, r.json()
    body = r.json()
    assert set(body) == {"lead", "account", "contact", "opportunity", "opportunity_created"}
    assert body["opportunity"] is None and body["opportunity_created"] is False
    account = Account.objects.get(pk=body["account"])
    contact = Contact.objects.get(pk=body["contact"])
    assert (account.name, account.industry, account.owner) == ("Acme Ibérica", "Retail", rep)
    assert (contact.email, contact.account, contact.owner) == ("ana@acme.es", account, rep)
    assert body["lead"]["status"] == "converted"
    assert body["lead"]["converted_account"] == account.pk
    assert body["lead"]["converted_contact"] == contact.pk
    assert Event.objects.filter(lead=lead, kind="converted").count() == 1


@pytest.mark.django_db
def test_b2c_conversion_has_no_account(rep, rep_api):
    lead = LeadFactory(owner=rep, company="")
    body = _convert(rep_api, lead).json()
    assert body["account"] is None
    assert Contact.objects.get(pk=body["contact"]).account is None


@pytest.mark.django_db
def test_explicit_empty_account_name_means_b2c(rep, rep_api):
    lead = LeadFactory(owner=rep, company="Acme")
    assert _convert(rep_api, lead, account_name="").json()["account"] is None
    assert not Account.objects.exists()


@pytest.mark.django_db
def test_reuses_account_case_insensitively_and_contact_by_email(rep, rep_api):
    account = AccountFactory(name="ACME Corp", owner=rep)
    contact = ContactFactory(email="Ana@Acme.com", owner=rep)
    lead = LeadFactory(owner=rep, company="acme corp", email="ana@acme.com")
    body = _convert(rep_api, lead).json()
    assert body["account"] == account.pk
    assert body["contact"] == contact.pk
    assert Account.objects.count() == 1 and Contact.objects.count() == 1
    contact.refresh_from_db()
    assert contact.account == account  # a reused contact without account gets linked


@pytest.mark.django_db
def test_converted_lead_is_read_only_and_cannot_convert_twice(rep, rep_api):
    lead = LeadFactory(owner=rep, company="Acme")
    assert _convert(rep_api, lead).status_code == 200
    r = _convert(rep_api, lead)
    assert r.status_code == 400 and "detail" in r.json()
    r = rep_api.patch(f"/api/v1/leads/{lead.pk}/", {"title": "CEO"}, format="json")
    assert r.status_code == 400
    assert Lead.objects.get(pk=lead.pk).title == ""
    assert Account.objects.count() == 1 and Contact.objects.count() == 1


@pytest.mark.django_db
def test_unqualified_lead_must_be_requalified_first(rep, rep_api, ask_reason):
    ask_reason(False)
    lead = LeadFactory(owner=rep)
    services.lead_disqualify(actor=rep, lead=lead)
    assert _convert(rep_api, lead).status_code == 400
    assert not Contact.objects.exists()


@pytest.mark.django_db
def test_convert_with_an_opportunity_over_the_api(rep, rep_api):
    lead = LeadFactory(owner=rep, company="Acme", email="ana@acme.test")
    r = _convert(rep_api, lead, create_opportunity=True, opportunity_name="Deal", amount="1200.50")
    assert r.status_code == 200, r.json()
    body = r.json()
    assert body["opportunity_created"] is True
    opp = Opportunity.objects.get(pk=body["opportunity"])
    assert (opp.name, opp.amount, opp.owner, opp.contact_id, opp.lead_id) == (
        "Deal",
        Decimal("1200.50"),
        rep,
        body["contact"],
        lead.pk,
    )
    # Bad input changes nothing.
    other = LeadFactory(owner=rep)
    r = _convert(rep_api, other, create_opportunity=True, amount="-5")
    assert r.status_code == 400 and "amount" in r.json()
    assert Lead.objects.get(pk=other.pk).status == LeadStatus.NEW


@pytest.mark.django_db
def test_other_reps_lead_is_404(rep_api, other_rep):
    lead = LeadFactory(owner=other_rep)
    assert _convert(rep_api, lead).status_code == 404
    assert not Contact.objects.exists()


@pytest.mark.concurrency
@pytest.mark.django_db(transaction=True)
def test_two_concurrent_conversions_make_one_account_one_contact_one_success():
    owner = UserFactory()
    lead = LeadFactory(owner=owner, company="Concurrent SA", email="c@concurrent.es")
    barrier = threading.Barrier(2)
    outcomes = []

    def worker():
        try:
            barrier.wait(timeout=10)
            services.lead_convert(actor=owner, lead=Lead.objects.get(pk=lead.pk))
            outcomes.append("ok")
        except ValidationError:
            outcomes.append("refused")
        finally:
            connection.close()

    threads = [threading.Thread(target=worker) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    assert sorted(outcomes) == ["ok", "refused"]
    assert Account.objects.count() == 1
    assert Contact.objects.count() == 1
    assert Event.objects.filter(kind="converted").count() == 1


@pytest.mark.concurrency
@pytest.mark.django_db(transaction=True)
def test_concurrent_conversions_of_two_leads_share_one_account():
    owner = UserFactory()
    leads = [LeadFactory(owner=owner, company="Shared SL") for _ in range(2)]
    barrier = threading.Barrier(2)

    def worker(lead):
        try:
            barrier.wait(timeout=10)
            services.lead_convert(actor=owner, lead=lead)
        finally:
            connection.close()

    threads = [threading.Thread(target=worker, args=(x,)) for x in leads]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    assert Account.objects.filter(name="Shared SL").count() == 1
