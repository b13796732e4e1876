"""HTML forms of the leads app. They parse and present; the rules live in ``leads.services``."""

from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

from crm.forms import DateInput, ServiceForm, _owner_field
from crm.models import CompanySize, User
from leads import selectors
from leads.csv_io import MAX_IMPORT_BYTES
from leads.services import LEAD_FIELDS
from scoring.forms import bant_field

LEAD_FORM_FIELDS = tuple(f for f in LEAD_FIELDS if f != "owner")


class LeadForm(ServiceForm):
    first_name = forms.CharField(label=_("First name"), max_length=100, required=False)
    last_name = forms.CharField(label=_("Last name"), max_length=100)
    company = forms.CharField(label=_("Company"), max_length=200, required=False)
    title = forms.CharField(label=_("Job title"), max_length=100, required=False)
    email = forms.EmailField(label=_("Email"), required=False)
    phone = forms.CharField(label=_("Phone"), max_length=40, required=False)
    source = forms.CharField(
        label=_("Source"),
        max_length=100,
        required=False,
        help_text=_("Where the lead came from, for example: Web, Referral, Trade fair."),
    )
    industry = forms.CharField(label=_("Industry"), max_length=100, required=False)
    country = forms.CharField(label=_("Country"), max_length=100, required=False)
    company_size = forms.ChoiceField(
        label=_("Company size"),
        choices=[("", _("Unknown")), *CompanySize.choices],
        required=False,
    )
    budget = bant_field("budget")
    authority = bant_field("authority")
    need = bant_field("need")
    timeline = bant_field("timeline")

    def __init__(self, *args, user: User, instance=None, **kwargs):
        if instance is not None:
            initial = {f: getattr(instance, f) for f in LEAD_FORM_FIELDS}
            initial["owner"] = instance.owner_id
            kwargs.setdefault("initial", initial)
        else:
            kwargs.setdefault("initial", {"owner": user.pk})
        super().__init__(*args, **kwargs)
        self.fields["owner"] = _owner_field(instance.owner if instance else None)


class LeadCreateForm(LeadForm):
    save_anyway = forms.BooleanField(
        label=_("I have checked the possible duplicates; save this lead anyway."),
        required=False,
    )

    def service_values(self) -> dict:
        return {k: v for k, v in self.cleaned_data.items() if k != "save_anyway"}


class DisqualifyForm(ServiceForm):
    """The reason picker exists only while "ask users for a reason" is on."""

    reason = forms.ModelChoiceField(
        label=_("Reason"),
        queryset=selectors.disqualification_reason_choices(),
        empty_label=_("Choose a reason…"),
    )
    note = forms.CharField(
        label=_("Note"),
        required=False,
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 3}),
    )
    revisit_on = forms.DateField(
        label=_("Revisit on"),
        required=False,
        widget=DateInput,
        help_text=_("Optional. The lead is frozen and comes back to you on this date."),
    )

    def __init__(self, *args, ask_reason: bool, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["reason"].queryset = selectors.disqualification_reason_choices()
        if not ask_reason:
            del self.fields["reason"]


class ConvertForm(ServiceForm):
    kind = forms.ChoiceField(
        label=_("Convert into"),
        choices=[
            ("b2b", _("A company account and a contact (B2B)")),
            ("b2c", _("Only a contact (B2C)")),
        ],
        widget=forms.RadioSelect,
        initial="b2b",
    )
    account_name = forms.CharField(
        label=_("Account name"),
        max_length=200,
        required=False,
        help_text=_("An existing account with this name is reused."),
    )
    create_opportunity = forms.BooleanField(
        label=_("Create an opportunity"),
        required=False,
        help_text=_(
            "In the default stage. If the contact already has an opportunity in an active "
            "stage, that one is kept and no second one is created."
        ),
    )
    opportunity_name = forms.CharField(
        label=_("Opportunity name"),
        max_length=200,
        required=False,
        help_text=_("Empty: the account or contact name."),
    )
    amount = forms.DecimalField(
        label=_("Amount"), max_digits=14, decimal_places=2, min_value=0, required=False
    )

    nonfield_errors_to = None

    def clean(self):
        data = super().clean()
        if data.get("kind") == "b2b" and not (data.get("account_name") or "").strip():
            self.add_error("account_name", _("Enter the account name, or convert as B2C."))
        return data

    def account_name_value(self) -> str:
        return self.cleaned_data["account_name"] if self.cleaned_data["kind"] == "b2b" else ""


class BulkAssignForm(forms.Form):
    """The ticked rows (``ids``) and their new owner; ids out of reach simply match nothing."""

    MAX_IDS = 1000

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["owner"] = _owner_field()
        self.fields["owner"].label = _("New owner")
        self.fields["owner"].empty_label = _("Choose a user…")

    def clean(self):
        data = super().clean()
        raw = self.data.getlist("ids") if hasattr(self.data, "getlist") else []
        ids = [int(x) for x in raw if str(x).isdigit()][: self.MAX_IDS]
        if not ids:
            raise forms.ValidationError(_("Tick at least one lead."))
        data["ids"] = ids
        return data


class ImportUploadForm(forms.Form):
    file = forms.FileField(
        label=_("CSV file"),
        help_text=_(
            "A header row with the columns first_name, last_name, company, title, email, phone, "
            "source, industry, country, company_size and owner (a username). Only last_name is "
            "required. At most 5 MB."
        ),
    )

    def clean_file(self):
        f = self.cleaned_data["file"]
        if f.size > MAX_IMPORT_BYTES:
            raise forms.ValidationError(_("The file is larger than 5 MB."))
        return f
