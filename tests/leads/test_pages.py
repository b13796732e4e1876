import datetime as dt

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from crm.models import Account, Contact, Event
from leads import services
from leads.models import Lead, LeadStatus
from tests.factories import ContactFactory, LeadFactory, UserFactory

pytestmark = pytest.mark.django_db


def _lead_snapshot():
    return list(Lead.objects.order_by("id").values())


def test_list_filters_and_shows_status_text(rep_client, rep, other_rep, reasons):
    frozen = LeadFactory(owner=rep, last_name="Frosty")
    services.lead_disqualify(
        actor=rep,
        lead=frozen,
        reason=reasons["No budget"],
        revisit_on=timezone.localdate() + dt.timedelta(days=9),
    )
    LeadFactory(owner=rep, last_name="Busybee")
    LeadFactory(owner=other_rep, last_name="Hidden")
    html = rep_client.get(reverse("lead-list")).content.decode()
    assert "Frosty" in html and "Busybee" in html and "Hidden" not in html
    assert "Frozen" in html and "No budget" in html
    html = rep_client.get(reverse("lead-list"), {"frozen": "true"}).content.decode()
    assert "Frosty" in html and "Busybee" not in html
    response = rep_client.get(reverse("lead-list"), {"q": "Hidden"})
    assert list(response.context["page_obj"]) == []


def test_other_reps_lead_is_404_on_every_page(rep_client, other_rep):
    lead = LeadFactory(owner=other_rep)
    before = _lead_snapshot()
    for name in ("lead-detail", "lead-edit", "lead-disqualify", "lead-convert", "lead-archive"):
        url = reverse(name, args=[lead.pk])
        assert rep_client.get(url).status_code == 404, name
        assert rep_client.post(url, {"last_name": "x"}).status_code == 404, name
    assert rep_client.post(reverse("lead-requalify", args=[lead.pk])).status_code == 404
    assert _lead_snapshot() == before
    assert not Contact.objects.exists()


def test_anonymous_is_sent_to_login(client):
    response = client.get(reverse("lead-list"))
    assert response.status_code == 302 and reverse("login") in response["Location"]


def test_create_shows_duplicates_then_saves_anyway(rep_client, rep):
    LeadFactory(owner=rep, first_name="Ana", last_name="Gil", company="Acme", email="ana@acme.es")
    ContactFactory(owner=rep, email="ana@acme.es", last_name="Gil")
    data = {
        "first_name": "Ana",
        "last_name": "Gil",
        "company": "Acme",
        "email": "ana@acme.es",
        "owner": rep.pk,
    }
    response = rep_client.post(reverse("lead-create"), data)
    assert response.status_code == 200
    assert "Possible duplicates" in response.content.decode()
    assert Lead.objects.count() == 1
    response = rep_client.post(reverse("lead-create"), {**data, "save_anyway": "on"})
    assert response.status_code == 302
    assert Lead.objects.count() == 2
    new = Lead.objects.latest("id")
    assert Event.objects.filter(lead=new, kind="created").exists()


def test_create_with_bad_input_shows_field_errors(rep_client, rep):
    response = rep_client.post(
        reverse("lead-create"),
        {"last_name": "", "email": "nope", "company_size": "huge", "owner": "abc"},
    )
    assert response.status_code == 200
    assert {"last_name", "email", "company_size", "owner"} <= set(response.context["form"].errors)
    assert not Lead.objects.exists()


def test_edit_writes_an_event_and_converted_lead_is_read_only(rep_client, rep):
    lead = LeadFactory(owner=rep, title="")
    response = rep_client.post(
        reverse("lead-edit", args=[lead.pk]),
        {
            "last_name": lead.last_name,
            "first_name": lead.first_name,
            "company": lead.company,
            "email": lead.email,
            "title": "CTO",
            "owner": rep.pk,
        },
    )
    assert response.status_code == 302
    lead.refresh_from_db()
    assert lead.title == "CTO"
    assert Event.objects.filter(lead=lead, kind="updated").count() == 1
    services.lead_convert(actor=rep, lead=lead)
    response = rep_client.post(reverse("lead-edit", args=[lead.pk]), {"last_name": "Changed"})
    assert response.status_code == 302
    assert Lead.objects.get(pk=lead.pk).last_name != "Changed"


def test_disqualify_dialog_requires_reason_when_asked(rep_client, rep, reasons, ask_reason):
    ask_reason(True)
    lead = LeadFactory(owner=rep)
    html = rep_client.get(reverse("lead-detail", args=[lead.pk])).content.decode()
    assert 'id="disqualify-dialog"' in html
    assert 'name="reason"' in html and "required" in html.split('name="reason"')[1][:200]
    response = rep_client.post(reverse("lead-disqualify", args=[lead.pk]), {"note": "x"})
    assert response.status_code == 400
    assert "reason" in response.context["form"].errors
    assert Lead.objects.get(pk=lead.pk).status == LeadStatus.NEW
    response = rep_client.post(
        reverse("lead-disqualify", args=[lead.pk]), {"reason": reasons["No need"].pk}
    )
    assert response.status_code == 302
    assert Lead.objects.get(pk=lead.pk).disqualification_reason == reasons["No need"]


def test_disqualify_dialog_does_not_ask_when_toggle_off(rep_client, rep, ask_reason, reasons):
    ask_reason(False)
    lead = LeadFactory(owner=rep)
    html = rep_client.get(reverse("lead-detail", args=[lead.pk])).content.decode()
    assert 'name="reason"' not in html
    response = rep_client.post(reverse("lead-disqualify", args=[lead.pk]), {"note": "later"})
    assert response.status_code == 302
    lead.refresh_from_db()
    assert lead.status == LeadStatus.UNQUALIFIED and lead.disqualification_reason is None


def test_archived_reasons_are_not_offered(rep_client, rep, admin, reasons):
    services.lead_disqualify(actor=rep, lead=LeadFactory(owner=rep), reason=reasons["Duplicate"])
    services.disqualification_reason_delete(actor=admin, reason=reasons["Duplicate"])
    lead = LeadFactory(owner=rep)
    html = rep_client.get(reverse("lead-detail", args=[lead.pk])).content.decode()
    dialog = html.split('id="disqualify-dialog"')[1]
    assert f'value="{reasons["Duplicate"].pk}"' not in dialog
    assert f'value="{reasons["No need"].pk}"' in dialog


def test_freeze_requalify_and_timeline(rep_client, rep, reasons):
    lead = LeadFactory(owner=rep)
    revisit = timezone.localdate() + dt.timedelta(days=20)
    rep_client.post(
        reverse("lead-disqualify", args=[lead.pk]),
        {"reason": reasons["Bad timing"].pk, "revisit_on": revisit.isoformat(), "note": "Q3"},
    )
    lead.refresh_from_db()
    assert lead.is_frozen and lead.revisit_on == revisit
    html = rep_client.get(reverse("lead-detail", args=[lead.pk])).content.decode()
    assert "Frozen until" in html and "disqualified the lead: Bad timing" in html
    assert rep_client.post(reverse("lead-requalify", args=[lead.pk])).status_code == 302
    lead.refresh_from_db()
    assert lead.status == LeadStatus.WORKING
    html = rep_client.get(reverse("lead-detail", args=[lead.pk])).content.decode()
    assert "requalified the lead" in html
    assert "Disqualification history" in html and "Bad timing" in html


def test_convert_page_b2b_and_b2c(rep_client, rep):
    lead = LeadFactory(owner=rep, company="Acme", email="a@acme.es")
    response = rep_client.post(
        reverse("lead-convert", args=[lead.pk]), {"kind": "b2b", "account_name": "Acme Group"}
    )
    assert response.status_code == 302
    contact = Contact.objects.get(email="a@acme.es")
    assert response["Location"] == reverse("contact-detail", args=[contact.pk])
    assert contact.account.name == "Acme Group"
    b2c = LeadFactory(owner=rep, company="Solo", email="s@solo.es")
    rep_client.post(reverse("lead-convert", args=[b2c.pk]), {"kind": "b2c", "account_name": "x"})
    assert Contact.objects.get(email="s@solo.es").account is None
    assert Account.objects.count() == 1
    # again: refused, nothing new
    response = rep_client.post(reverse("lead-convert", args=[lead.pk]), {"kind": "b2c"})
    assert response.status_code == 200
    assert response.context["form"].errors
    assert Contact.objects.count() == 2


def test_convert_page_can_create_an_opportunity_once(rep_client, rep):
    from opportunities.models import Opportunity

    lead = LeadFactory(owner=rep, company="Acme", email="a@acme.es")
    page = rep_client.get(reverse("lead-convert", args=[lead.pk])).content.decode()
    assert "Create an opportunity" in page
    response = rep_client.post(
        reverse("lead-convert", args=[lead.pk]),
        {
            "kind": "b2b",
            "account_name": "Acme",
            "create_opportunity": "on",
            "opportunity_name": "Acme rollout",
            "amount": "2500",
        },
    )
    assert response.status_code == 302
    opp = Opportunity.objects.get()
    assert (opp.name, opp.amount, opp.owner, opp.lead_id) == ("Acme rollout", 2500, rep, lead.pk)
    # A second lead for the same person: the engaged deal is kept, and the page says so.
    again = LeadFactory(owner=rep, company="Acme", email="a@acme.es")
    response = rep_client.post(
        reverse("lead-convert", args=[again.pk]),
        {"kind": "b2b", "account_name": "Acme", "create_opportunity": "on"},
        follow=True,
    )
    assert Opportunity.objects.count() == 1
    assert "no second one was created" in response.content.decode()
    # Bad input: a negative amount changes nothing.
    third = LeadFactory(owner=rep, email="t@acme.es")
    response = rep_client.post(
        reverse("lead-convert", args=[third.pk]),
        {"kind": "b2c", "create_opportunity": "on", "amount": "-1"},
    )
    assert "amount" in response.context["form"].errors
    assert Lead.objects.get(pk=third.pk).status == LeadStatus.NEW


def test_convert_b2b_needs_a_name(rep_client, rep):
    lead = LeadFactory(owner=rep, company="")
    response = rep_client.post(reverse("lead-convert", args=[lead.pk]), {"kind": "b2b"})
    assert "account_name" in response.context["form"].errors
    assert Lead.objects.get(pk=lead.pk).status == LeadStatus.NEW


def test_bulk_owner_change(rep_client, rep, other_rep):
    mine = [LeadFactory(owner=rep) for _ in range(3)]
    theirs = LeadFactory(owner=other_rep)
    target = UserFactory()
    response = rep_client.post(
        reverse("lead-bulk-assign"),
        {
            "ids": [x.pk for x in mine[:2]] + [theirs.pk],
            "owner": target.pk,
            "next": "/leads/?status=new",
        },
    )
    assert response.status_code == 302 and response["Location"] == "/leads/?status=new"
    assert Lead.objects.filter(owner=target).count() == 2
    assert Event.objects.filter(kind="owner_changed").count() == 2
    response = rep_client.post(reverse("lead-bulk-assign"), {"owner": target.pk})
    assert response.status_code == 302
    assert Lead.objects.filter(owner=target).count() == 2


def test_import_preview_then_confirm(rep_client, rep):
    csv_text = "last_name,email\nGood,g@x.es\n,missing@x.es\nBad,not-an-email\n"
    upload = SimpleUploadedFile("l.csv", csv_text.encode(), content_type="text/csv")
    response = rep_client.post(reverse("lead-import"), {"file": upload})
    assert response.status_code == 200
    html = response.content.decode()
    assert "1 row is ready to import." in html and "2 rows have errors" in html
    assert not Lead.objects.exists()
    response = rep_client.post(reverse("lead-import"), {"step": "confirm"})
    assert response.status_code == 302
    assert list(Lead.objects.values_list("last_name", flat=True)) == ["Good"]
    # a replayed confirm has nothing left to import
    rep_client.post(reverse("lead-import"), {"step": "confirm"})
    assert Lead.objects.count() == 1


def test_import_of_a_broken_file_is_a_field_error(rep_client):
    upload = SimpleUploadedFile("l.csv", b"nombre;apellido\n", content_type="text/csv")
    response = rep_client.post(reverse("lead-import"), {"file": upload})
    assert response.status_code == 200 and "file" in response.context["form"].errors


def test_list_query_count_does_not_grow(rep_client, rep, reasons):
    def count():
        with CaptureQueriesContext(connection) as ctx:
            assert rep_client.get(reverse("lead-list")).status_code == 200
        return len(ctx.captured_queries)

    for _ in range(3):
        services.lead_disqualify(actor=rep, lead=LeadFactory(owner=rep), reason=reasons["No need"])
    small = count()
    for _ in range(20):
        services.lead_disqualify(actor=rep, lead=LeadFactory(owner=rep), reason=reasons["No need"])
    assert count() == small


def test_garbage_in_the_url_never_breaks_the_list(rep_client):
    garbage = {
        "q": "a\x00b",
        "owner": "1e400",
        "status": "zzz",
        "frozen": "maybe",
        "created_after": "yesterday",
        "disqualification_reason": "x",
        "sort": "password",
        "page": "999999",
    }
    assert rep_client.get(reverse("lead-list"), garbage).status_code == 200
