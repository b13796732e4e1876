"""The contact list's account filter: part of the account's name typed (accents and case aside),
over the accounts the user sees; ``?account=<id>`` kept, shown as a removable chip. The page no
longer lists every account (a <select> of tens of thousands weighed a megabyte)."""

import pytest
from django.urls import reverse

from opportunities.models import ContactAccess
from tests.factories import AccountFactory, ContactFactory, OpportunityFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def world(rep, other_rep):
    nunez = AccountFactory(owner=rep, name="Núñez Logística SL")
    acme = AccountFactory(owner=rep, name="Acme")
    hidden = AccountFactory(owner=other_rep, name="Nuñez Hidden Corp")
    in_nunez = ContactFactory(owner=rep, account=nunez, last_name="Ruiz")
    ContactFactory(owner=rep, account=acme, last_name="Serrano")
    # a contact the rep sees (a deal of theirs) in an account they do not
    theirs = ContactFactory(owner=other_rep, account=hidden, last_name="Ortega")
    deal = OpportunityFactory(owner=rep, contact=theirs)
    ContactAccess.objects.create(contact=theirs, user=rep, reason="assigned", opportunity=deal)
    return {"nunez": nunez, "acme": acme, "in_nunez": in_nunez, "theirs": theirs}


def _names(response) -> set[str]:
    assert response.status_code == 200
    html = response.content.decode()
    return {name for name in ("Ruiz", "Serrano", "Ortega") if name in html}


def test_the_page_filters_by_part_of_the_account_name(rep_client, world):
    url = reverse("contact-list")
    assert _names(rep_client.get(url)) == {"Ruiz", "Serrano", "Ortega"}
    assert _names(rep_client.get(url, {"account_name": "  NUNEZ "})) == {"Ruiz"}
    assert _names(rep_client.get(url, {"account_name": "acm"})) == {"Serrano"}
    # the account the rep may not see is not found by its name
    assert _names(rep_client.get(url, {"account_name": "hidden"})) == set()


def test_the_page_offers_a_text_field_not_every_account(rep_client, world):
    html = rep_client.get(reverse("contact-list")).content.decode()
    assert 'name="account"' in html and 'type="hidden" name="account"' in html
    assert '<select name="account"' not in html
    assert '<label for="id_account_name">' in html
    assert 'name="account_name"' in html
    # no account is listed for choosing: the names appear only in the contacts' rows
    assert html.count("Acme") == 1


def test_an_account_id_shows_a_chip_that_removes_it(rep_client, world):
    url = reverse("contact-list")
    response = rep_client.get(url, {"account": world["acme"].pk, "q": "serr", "page": "1"})
    assert _names(response) == {"Serrano"}
    html = response.content.decode()
    assert "Account: Acme" in html
    assert f'type="hidden" name="account" value="{world["acme"].pk}"' in html
    assert f'href="{url}?q=serr"' in html  # the chip's ✕: the same list, account dropped


def test_an_account_the_user_cannot_see_shows_its_number_only(rep_client, world):
    theirs = world["theirs"]
    response = rep_client.get(reverse("contact-list"), {"account": theirs.account_id})
    assert _names(response) == {"Ortega"}  # the contact is theirs to see
    assert f"Account: #{theirs.account_id}" in response.content.decode()


def test_a_bad_account_id_is_a_form_error_not_a_500(rep_client, world):
    response = rep_client.get(reverse("contact-list"), {"account": "abc"})
    assert response.status_code == 200
    html = response.content.decode()
    assert "Account: Enter a whole number." in html  # shown, though the field is hidden


def test_the_api_filters_by_account_name(rep_api, world):
    response = rep_api.get("/api/v1/contacts/", {"account_name": "núñez"})
    assert response.status_code == 200
    assert [row["id"] for row in response.json()["results"]] == [world["in_nunez"].pk]
    response = rep_api.get("/api/v1/contacts/", {"account_name": "hidden"})
    assert response.json()["results"] == []
