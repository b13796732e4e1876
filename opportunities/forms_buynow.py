"""Forms of buy-now: the rep's link form and the buyer's checkout form."""

from __future__ import annotations

from decimal import Decimal

from django import forms
from django.utils.translation import gettext_lazy as _

from crm.forms import ServiceForm


class BuyNowLinkForm(ServiceForm):
    product = forms.CharField(label=_("Product"), max_length=200)
    amount = forms.DecimalField(
        label=_("Amount"), max_digits=14, decimal_places=2, min_value=Decimal("0.01"), localize=True
    )
    currency = forms.CharField(
        label=_("Currency"),
        min_length=3,
        max_length=3,
        help_text=_("Three letters, such as EUR or USD."),
    )
    expire_days = forms.IntegerField(label=_("Expires after (days)"), min_value=1, max_value=365)

    def clean_currency(self):
        return self.cleaned_data["currency"].strip().upper()


class BuyerForm(ServiceForm):
    name = forms.CharField(
        label=_("Your name"),
        max_length=200,
        widget=forms.TextInput(attrs={"autocomplete": "name"}),
    )
    email = forms.EmailField(
        label=_("Your email"), widget=forms.EmailInput(attrs={"autocomplete": "email"})
    )
