"""``crm.forms.LongSelect``: the contact list's account filter (thousands of accounts) rendered in
one pass, the same HTML as Django's ``Select``."""

import pytest
from django import forms
from django.test.html import parse_html
from django.urls import reverse
from django.utils.safestring import mark_safe

from crm.forms import LongSelect
from tests.factories import AccountFactory, ContactFactory

CHOICES = [
    ("", "Any"),
    ("1", "Acme"),
    ("2", 'O\'Brien <Ltd> & "Co"'),
    ("3", mark_safe("<b>bold</b>")),
    ("3", "Duplicate value"),
]


@pytest.mark.parametrize("value", [None, "", "1", "2", "3", "999", 3])
def test_same_html_as_select(value):
    attrs = {"id": "id_account", "required": True, "disabled": False, "class": "x"}
    ours = LongSelect(choices=CHOICES).render("account", value, attrs=attrs)
    django = forms.Select(choices=CHOICES).render("account", value, attrs=attrs)
    assert parse_html(ours) == parse_html(django)


def test_escapes_values_and_labels():
    html = LongSelect(choices=[('"><script>', "<script>alert(1)</script>")]).render("a", None)
    assert "<script>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html


@pytest.mark.django_db
def test_contact_list_offers_and_keeps_the_chosen_account(admin_client_, admin):
    acme = AccountFactory(name="Acme & Sons", owner=admin)
    AccountFactory(name="Zeta", owner=admin)
    ContactFactory(account=acme, owner=admin, last_name="Ruiz")
    response = admin_client_.get(reverse("contact-list"), {"account": acme.pk})
    assert response.status_code == 200
    html = response.content.decode()
    assert f'<option value="{acme.pk}" selected>Acme &amp; Sons</option>' in html
    assert "Ruiz" in html
