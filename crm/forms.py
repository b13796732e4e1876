"""HTML forms of the shared core.

Forms only parse and present input: every write goes through ``crm.services`` (which validates and
raises field-keyed ``ValidationError``) and every choice list comes from ``crm.selectors`` /
``crm.access``. Plain ``Form`` classes, not ``ModelForm``: a ModelForm would copy the input onto the
instance before the service sees it, so the service could no longer tell what changed.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib.auth.forms import AuthenticationForm
from django.core.exceptions import NON_FIELD_ERRORS, ValidationError
from django.utils.translation import gettext_lazy as _

from crm import access, ratelimit, selectors
from crm.models import CompanySize, Role, TaskKind, User


class ServiceForm(forms.Form):
    """A form whose data is handed to a service; shows the service's errors next to the fields."""

    #: field that receives the service's non-field errors (e.g. a unique-name constraint)
    nonfield_errors_to: str | None = None

    def add_service_errors(self, exc: ValidationError) -> None:
        if not hasattr(exc, "error_dict"):
            self.add_error(self.nonfield_errors_to, exc.messages)
            return
        for field, errors in exc.message_dict.items():
            if field in self.fields:
                self.add_error(field, errors)
            elif field == NON_FIELD_ERRORS:
                self.add_error(self.nonfield_errors_to, errors)
            else:
                self.add_error(None, errors)

    def changed_values(self) -> dict[str, Any]:
        """The cleaned values of the fields the user changed (what an update service needs)."""
        return {name: self.cleaned_data[name] for name in self.changed_data}


class OwnerChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj):
        if not obj.is_active:
            return _("%(name)s (inactive)") % {"name": obj}
        return str(obj)


def _with_current(queryset, current):
    """``queryset`` plus the record currently chosen, so an edit never drops it silently."""
    if current is None:
        return queryset
    return queryset | type(current)._default_manager.filter(pk=current.pk)


def _owner_field(current: User | None = None) -> OwnerChoiceField:
    return OwnerChoiceField(
        queryset=_with_current(selectors.owner_choices(), current),
        label=_("Owner"),
        empty_label=None,
    )


class AccountForm(ServiceForm):
    name = forms.CharField(label=_("Name"), max_length=200)
    industry = forms.CharField(label=_("Industry"), max_length=100, required=False)
    country = forms.CharField(label=_("Country"), max_length=100, required=False)
    company_size = forms.ChoiceField(
        label=_("Company size"),
        choices=[("", _("Unknown")), *CompanySize.choices],
        required=False,
    )

    def __init__(self, *args, user: User, instance=None, **kwargs):
        if instance is not None:
            kwargs.setdefault(
                "initial",
                {
                    "name": instance.name,
                    "industry": instance.industry,
                    "country": instance.country,
                    "company_size": instance.company_size,
                    "owner": instance.owner_id,
                },
            )
        else:
            kwargs.setdefault("initial", {"owner": user.pk})
        super().__init__(*args, **kwargs)
        self.fields["owner"] = _owner_field(instance.owner if instance else None)


def parse_tags(value: str) -> list[str]:
    """``"vip, madrid ,, b2b"`` → ``["vip", "madrid", "b2b"]``."""
    return [t.strip() for t in (value or "").split(",") if t.strip()]


class ContactForm(ServiceForm):
    first_name = forms.CharField(label=_("First name"), max_length=100, required=False)
    last_name = forms.CharField(label=_("Last name"), max_length=100)
    email = forms.EmailField(label=_("Email"), required=False)
    phone = forms.CharField(label=_("Phone"), max_length=40, required=False)
    tags = forms.CharField(
        label=_("Tags"),
        required=False,
        help_text=_("Separate tags with commas, for example: vip, madrid."),
    )

    def __init__(self, *args, user: User, instance=None, **kwargs):
        if instance is not None:
            kwargs.setdefault(
                "initial",
                {
                    "first_name": instance.first_name,
                    "last_name": instance.last_name,
                    "email": instance.email,
                    "phone": instance.phone,
                    "account": instance.account_id,
                    "owner": instance.owner_id,
                    "tags": ", ".join(t.name for t in instance.tags.all()),
                },
            )
        else:
            kwargs.setdefault("initial", {"owner": user.pk})
        super().__init__(*args, **kwargs)
        self.fields["account"] = forms.ModelChoiceField(
            queryset=_with_current(
                access.visible_accounts(user).order_by("name", "id"),
                instance.account if instance else None,
            ),
            label=_("Account"),
            required=False,
            empty_label=_("No account"),
        )
        self.fields["owner"] = _owner_field(instance.owner if instance else None)
        self.order_fields(["first_name", "last_name", "email", "phone", "account", "owner"])

    def clean_tags(self) -> list[str]:
        return parse_tags(self.cleaned_data["tags"])


class DateInput(forms.DateInput):
    input_type = "date"

    def __init__(self, attrs=None):
        super().__init__(attrs, format="%Y-%m-%d")


class TaskForm(ServiceForm):
    title = forms.CharField(label=_("Title"), max_length=200)
    kind = forms.ChoiceField(label=_("Kind"), choices=TaskKind.choices, initial=TaskKind.TODO)
    due_on = forms.DateField(label=_("Due on"), widget=DateInput)
    note = forms.CharField(
        label=_("Note"), required=False, widget=forms.Textarea(attrs={"rows": 3})
    )

    def __init__(self, *args, user: User, instance=None, **kwargs):
        if instance is not None:
            kwargs.setdefault(
                "initial",
                {
                    "title": instance.title,
                    "kind": instance.kind,
                    "due_on": instance.due_on,
                    "owner": instance.owner_id,
                    "lead": instance.lead_id,
                    "contact": instance.contact_id,
                    "opportunity": instance.opportunity_id,
                    "note": instance.note,
                },
            )
        else:
            kwargs.setdefault("initial", {})
            kwargs["initial"].setdefault("owner", user.pk)
        super().__init__(*args, **kwargs)
        self.fields["owner"] = _owner_field(instance.owner if instance else None)
        links = (
            ("contact", _("Contact"), _("No contact"), access.visible_contacts),
            ("lead", _("Lead"), _("No lead"), access.visible_leads),
            ("opportunity", _("Opportunity"), _("No opportunity"), access.visible_opportunities),
        )
        for name, label, empty, visible in links:
            self.fields[name] = forms.ModelChoiceField(
                queryset=_with_current(visible(user), getattr(instance, name, None)),
                label=label,
                required=False,
                empty_label=empty,
            )
        self.order_fields(["title", "kind", "due_on", "owner", "contact", "lead", "opportunity"])


class UserCreateForm(ServiceForm):
    username = forms.CharField(label=_("Username"), max_length=150)
    first_name = forms.CharField(label=_("First name"), max_length=150, required=False)
    last_name = forms.CharField(label=_("Last name"), max_length=150, required=False)
    email = forms.EmailField(label=_("Email"), required=False)
    role = forms.ChoiceField(label=_("Role"), choices=Role.choices, initial=Role.REP)
    password = forms.CharField(
        label=_("Password"),
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
    )
    password_confirm = forms.CharField(
        label=_("Password again"),
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
    )

    def clean(self):
        data = super().clean()
        if (
            data.get("password")
            and data.get("password_confirm")
            and data["password"] != data["password_confirm"]
        ):
            self.add_error("password_confirm", _("The two passwords do not match."))
        return data

    def service_values(self) -> dict[str, Any]:
        return {k: v for k, v in self.cleaned_data.items() if k != "password_confirm"}


class UserEditForm(ServiceForm):
    first_name = forms.CharField(label=_("First name"), max_length=150, required=False)
    last_name = forms.CharField(label=_("Last name"), max_length=150, required=False)
    email = forms.EmailField(label=_("Email"), required=False)
    role = forms.ChoiceField(label=_("Role"), choices=Role.choices)
    is_active = forms.BooleanField(
        label=_("Active"),
        required=False,
        help_text=_("Inactive users cannot sign in; their records and history stay."),
    )

    def __init__(self, *args, instance: User, **kwargs):
        kwargs.setdefault(
            "initial",
            {
                "first_name": instance.first_name,
                "last_name": instance.last_name,
                "email": instance.email,
                "role": instance.role,
                "is_active": instance.is_active,
            },
        )
        super().__init__(*args, **kwargs)


class OwnerChoiceMultipleField(forms.ModelMultipleChoiceField):
    def label_from_instance(self, obj):
        return OwnerChoiceField.label_from_instance(self, obj)


class TeamForm(ServiceForm):
    nonfield_errors_to = "name"

    name = forms.CharField(label=_("Name"), max_length=100)

    def __init__(self, *args, user: User, instance=None, **kwargs):
        current = list(instance.members.all()) if instance is not None else []
        if instance is not None:
            kwargs.setdefault("initial", {"name": instance.name, "members": current})
        super().__init__(*args, **kwargs)
        members = selectors.owner_choices()
        if current:
            members = members | selectors.user_list(user=user).filter(
                pk__in=[u.pk for u in current]
            )
        self.fields["members"] = OwnerChoiceMultipleField(
            queryset=members,
            label=_("Members"),
            required=False,
            widget=forms.CheckboxSelectMultiple,
        )


class RateLimitedAuthenticationForm(AuthenticationForm):
    """The sign-in form, refusing attempts over ``LOGIN_RATE_LIMITS`` (crm/ratelimit.py) before
    checking the password."""

    def clean(self):
        if ratelimit.login_refused(self.request, self.data.get("username", "")) is not None:
            raise ValidationError(
                _("Too many sign-in attempts. Please wait a minute and try again."),
                code="rate_limited",
            )
        return super().clean()
