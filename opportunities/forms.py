"""HTML forms of the opportunities app. They parse and present; the rules (status follows the
stage, the win/loss reason rule, who may be the owner) live in ``opportunities.services``."""

from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

from crm import access
from crm import selectors as crm_selectors
from crm.forms import OwnerChoiceField, ServiceForm, _owner_field, _with_current
from crm.models import User
from opportunities import selectors
from opportunities.models import Opportunity, OpportunitySettings


class ReasonChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj):
        if obj.archived:
            return _("%(name)s (archived)") % {"name": obj}
        return str(obj)


class ContactChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj):
        return obj.name


def _reason_help(required: bool, stage, won: bool) -> str:
    name = str(stage) if stage is not None else ""
    if won:
        if required:
            return _("Required when the deal moves to %(stage)s.") % {"stage": name}
        return _("Optional: why the deal was won, when it moves to %(stage)s.") % {"stage": name}
    if required:
        return _("Required when the deal moves to %(stage)s.") % {"stage": name}
    return _("Optional: why the deal was lost, when it moves to %(stage)s.") % {"stage": name}


class _StageAndReasons(ServiceForm):
    """Stage, win reason and loss reason: the reasons only count in the win / loss stage."""

    def _add_stage_fields(
        self, settings: OpportunitySettings, opportunity: Opportunity | None
    ) -> None:
        self.fields["stage"] = forms.ModelChoiceField(
            queryset=_with_current(
                selectors.stage_choices(), opportunity.stage if opportunity else None
            ).order_by("order", "id"),
            label=_("Stage"),
            empty_label=None,
        )
        self.fields["win_reason"] = ReasonChoiceField(
            queryset=_with_current(
                selectors.win_reason_choices(), opportunity.win_reason if opportunity else None
            ).order_by("order", "id"),
            label=_("Win reason"),
            required=False,
            empty_label=_("No reason"),
            help_text=_reason_help(settings.require_win_reason, settings.win_stage, won=True),
        )
        self.fields["loss_reason"] = ReasonChoiceField(
            queryset=_with_current(
                selectors.loss_reason_choices(), opportunity.loss_reason if opportunity else None
            ).order_by("order", "id"),
            label=_("Loss reason"),
            required=False,
            empty_label=_("No reason"),
            help_text=_reason_help(settings.require_loss_reason, settings.loss_stage, won=False),
        )


def _limit_owners_to_group(
    form: forms.Form, settings: OpportunitySettings, instance: Opportunity | None
) -> None:
    """With an assign-to group set, the owner picker offers its members only, plus the current
    owner (an edit never drops them silently) and the user just posted (a page loaded before the
    group changed shows its choice next to the error). Validation still accepts any active user:
    the service owns the rule, and its message ("Choose an owner from the team …") lands on the
    field."""
    if settings.assign_to_group_id is None:
        return
    field = form.fields["owner"]
    team = settings.assign_to_group
    keep = [instance.owner_id] if instance is not None else []
    posted = str(form.data.get("owner") or "") if form.is_bound else ""
    if posted.isdigit() and len(posted) < 12:
        keep.append(int(posted))
    members = crm_selectors.owner_choices().filter(pk__in=team.members.values("pk"))
    offered = members | User.objects.filter(pk__in=keep) if keep else members
    field.widget.choices = [(str(u.pk), field.label_from_instance(u)) for u in offered]
    field.help_text = _("Only members of the team “%(team)s” can own opportunities.") % {
        "team": team.name
    }


class OpportunityForm(_StageAndReasons):
    """Create and edit. The contact is one the user may see; ``?contact=`` preselects one."""

    name = forms.CharField(label=_("Name"), max_length=200)
    amount = forms.DecimalField(
        label=_("Amount"),
        min_value=0,
        max_digits=14,
        decimal_places=2,
        localize=True,
        initial=0,
        widget=forms.TextInput(attrs={"inputmode": "decimal"}),
    )

    def __init__(
        self,
        *args,
        user: User,
        settings: OpportunitySettings,
        instance: Opportunity | None = None,
        contact_id: int | None = None,
        **kwargs,
    ):
        if instance is not None:
            kwargs.setdefault(
                "initial",
                {
                    "name": instance.name,
                    "contact": instance.contact_id,
                    "owner": instance.owner_id,
                    "amount": instance.amount,
                    "stage": instance.stage_id,
                    "win_reason": instance.win_reason_id,
                    "loss_reason": instance.loss_reason_id,
                },
            )
        else:
            kwargs.setdefault(
                "initial",
                {
                    "owner": user.pk,
                    "contact": contact_id,
                    "stage": settings.default_stage_id,
                    "amount": 0,
                },
            )
        super().__init__(*args, **kwargs)
        self.fields["contact"] = ContactChoiceField(
            queryset=_with_current(
                access.visible_contacts(user), instance.contact if instance else None
            ).order_by("last_name", "first_name", "id"),
            label=_("Contact"),
            empty_label=_("Choose a contact…"),
        )
        self.fields["owner"] = _owner_field(instance.owner if instance else None)
        _limit_owners_to_group(self, settings, instance)
        self._add_stage_fields(settings, instance)
        self.order_fields(
            ["name", "contact", "owner", "amount", "stage", "win_reason", "loss_reason"]
        )


class MoveForm(_StageAndReasons):
    """Move a deal to a stage (or change why it was won or lost, in the same stage)."""

    def __init__(self, *args, opportunity: Opportunity, settings: OpportunitySettings, **kwargs):
        kwargs.setdefault(
            "initial",
            {
                "stage": opportunity.stage_id,
                "win_reason": opportunity.win_reason_id,
                "loss_reason": opportunity.loss_reason_id,
            },
        )
        super().__init__(*args, **kwargs)
        self._add_stage_fields(settings, opportunity)


class BoardFilterForm(forms.Form):
    owner = forms.ModelChoiceField(
        queryset=User.objects.none(),
        label=_("Owner"),
        required=False,
        empty_label=_("Anyone"),
    )

    def __init__(self, *args, **kwargs):
        from crm import selectors as crm_selectors

        super().__init__(*args, **kwargs)
        self.fields["owner"].queryset = crm_selectors.owner_choices()


class ShareForm(ServiceForm):
    """Share a deal with a user. Any user id is accepted here (a stale page may post someone who
    was since deactivated or made the owner): the service says why it refuses; the select offers
    the active users who are neither the owner nor already sharing it."""

    nonfield_errors_to = "user"

    user = OwnerChoiceField(
        queryset=User.objects.all(),
        label=_("Share with…"),
        empty_label=None,
        error_messages={"required": _("Choose the user to share it with.")},
    )

    def offer(self, candidates: list[User]) -> None:
        """The users the select offers (set by the page, which knows the deal's shares)."""
        field = self.fields["user"]
        field.widget.choices = [("", _("Choose a user…"))] + [
            (str(u.pk), field.label_from_instance(u)) for u in candidates
        ]


class UnshareForm(ServiceForm):
    """Stop sharing a deal with a user (a hidden field next to each "Unshare" button)."""

    nonfield_errors_to = "user"

    user = forms.ModelChoiceField(
        queryset=User.objects.all(),
        widget=forms.HiddenInput,
        error_messages={"required": _("Choose the user to stop sharing with.")},
    )
