"""Forms of Settings > Pipeline and Settings > Opportunity defaults.

They only parse input: the rules (unique names, who may write, which stage may be the default,
win or loss stage, archive-or-delete) live in ``opportunities.services``; their
``ValidationError`` lands on these forms through ``crm.web.run_service``.
"""

from __future__ import annotations

from django import forms
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from crm.forms import ServiceForm, _with_current
from crm.models import Team
from opportunities.forms import ReasonChoiceField
from opportunities.models import BuyNowSkin, OpportunitySettings, Stage, WinReason

YES, NO = "yes", "no"


class StageForm(ServiceForm):
    """Add a stage, or rename it and change its probability in place."""

    # The case-insensitive unique-name constraint is a non-field error: show it on the name.
    nonfield_errors_to = "name"

    name = forms.CharField(label=_("Name"), max_length=60)
    probability = forms.IntegerField(
        label=_("Probability (%)"),
        min_value=0,
        max_value=100,
        initial=0,
    )
    rot_days = forms.IntegerField(
        label=_("Rots after (days)"),
        min_value=1,
        max_value=3650,
        required=False,
        help_text=_("Empty: deals in this stage never rot."),
    )

    def __init__(self, *args, instance: Stage | None = None, **kwargs):
        if instance is not None:
            kwargs.setdefault(
                "initial",
                {
                    "name": instance.name,
                    "probability": instance.probability,
                    "rot_days": instance.rot_days,
                },
            )
        super().__init__(*args, **kwargs)


class ReasonForm(ServiceForm):
    """Add or rename a win or loss reason."""

    nonfield_errors_to = "name"

    name = forms.CharField(label=_("Name"), max_length=100)


class MoveForm(forms.Form):
    direction = forms.ChoiceField(choices=[("up", _("Move up")), ("down", _("Move down"))])


def _stage_label(stage: Stage) -> str:
    if stage.archived:
        return gettext("%(name)s (archived)") % {"name": stage.display_name}
    return stage.display_name


class OpportunitySettingsForm(ServiceForm):
    """The opportunity defaults: which stages are active, where deals start, win and close.

    Built from one evaluated list of stages (archived ones included, so that an archived id gets
    the service's clear message rather than "not a valid choice"); the pickers only offer the
    stages that are not archived, plus the one currently chosen.
    """

    active_stages = forms.MultipleChoiceField(
        label=_("Active stages"),
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text=_(
            "While a contact has an opportunity in an active stage, automation does not create "
            "another one for them. The win and loss stages cannot be active."
        ),
    )
    default_stage = forms.ChoiceField(
        label=_("Default stage"),
        help_text=_("New opportunities start in this stage."),
    )
    win_stage = forms.ChoiceField(
        label=_("Win stage"),
        help_text=_("A deal moved to this stage is won."),
    )
    require_win_reason = forms.ChoiceField(
        label=_("Require a win reason"),
        choices=[(YES, _("Yes")), (NO, _("No"))],
        widget=forms.RadioSelect,
        help_text=_("With “Yes”, a deal can only be won with a win reason."),
    )
    loss_stage = forms.ChoiceField(
        label=_("Loss stage"),
        help_text=_("A deal moved to this stage is lost."),
    )
    require_loss_reason = forms.ChoiceField(
        label=_("Require a loss reason"),
        choices=[(YES, _("Yes")), (NO, _("No"))],
        widget=forms.RadioSelect,
        help_text=_("With “Yes”, a deal can only be lost with a loss reason."),
    )

    STAGE_FIELDS = ("default_stage", "win_stage", "loss_stage")

    def __init__(
        self,
        *args,
        stages: list[Stage],
        current: OpportunitySettings,
        active_ids: list[int],
        **kwargs,
    ):
        kwargs.setdefault(
            "initial",
            {
                "active_stages": [str(pk) for pk in active_ids],
                "default_stage": str(current.default_stage_id or ""),
                "win_stage": str(current.win_stage_id or ""),
                "require_win_reason": YES if current.require_win_reason else NO,
                "loss_stage": str(current.loss_stage_id or ""),
                "require_loss_reason": YES if current.require_loss_reason else NO,
            },
        )
        super().__init__(*args, **kwargs)
        self._by_id = {str(s.pk): s for s in stages}
        every = [(str(s.pk), _stage_label(s)) for s in stages]

        def offered(keep: set[str]) -> list[tuple[str, str]]:
            return [(pk, text) for pk, text in every if pk in keep or not self._by_id[pk].archived]

        # Validation accepts any stage (the service explains why an archived one cannot be
        # chosen); the widgets offer the stages in use plus the ones chosen now.
        field = self.fields["active_stages"]
        field.choices = every
        field.widget.choices = offered({str(pk) for pk in active_ids})
        empty = ("", gettext("Choose a stage"))
        for name in self.STAGE_FIELDS:
            field = self.fields[name]
            field.choices = [empty, *every]
            field.widget.choices = [empty, *offered({str(getattr(current, f"{name}_id"))})]

    def clean_active_stages(self) -> list[Stage]:
        return [self._by_id[pk] for pk in self.cleaned_data["active_stages"]]

    def _stage(self, name: str) -> Stage:
        return self._by_id[self.cleaned_data[name]]

    def clean_default_stage(self) -> Stage:
        return self._stage("default_stage")

    def clean_win_stage(self) -> Stage:
        return self._stage("win_stage")

    def clean_loss_stage(self) -> Stage:
        return self._stage("loss_stage")

    def clean_require_win_reason(self) -> bool:
        return self.cleaned_data["require_win_reason"] == YES

    def clean_require_loss_reason(self) -> bool:
        return self.cleaned_data["require_loss_reason"] == YES


def _yes_no(label, help_text) -> forms.ChoiceField:
    return forms.ChoiceField(
        label=label,
        choices=[(YES, _("Yes")), (NO, _("No"))],
        widget=forms.RadioSelect,
        help_text=help_text,
    )


class VisibilitySettingsForm(ServiceForm):
    """The sharing rules: who may own opportunities, who may see their contacts, and whether the
    contact (and its closed deals) follow the rep of a new opportunity."""

    assign_to_group = forms.ModelChoiceField(
        queryset=Team.objects.none(),
        label=_("Assign to group"),
        required=False,
        empty_label=_("Anyone (no group)"),
        help_text=_(
            "Only members of this team can own opportunities: the owner pickers offer only them. "
            "Empty: anyone can."
        ),
    )
    share_contact_when_shared = _yes_no(
        _("Share contact when shared"),
        _("With “Yes”, someone an opportunity is shared with can also see its contact."),
    )
    share_contact_when_assigned = _yes_no(
        _("Share contact when assigned"),
        _(
            "With “Yes”, the rep an opportunity is assigned to can also see its contact, even "
            "when someone else owns the contact."
        ),
    )
    unshare_contact_when_unshared = _yes_no(
        _("Unshare contact when unshared"),
        _(
            "With “Yes”, once an opportunity is no longer shared with someone, the access to its "
            "contact that this sharing gave them goes away. Access they have through another "
            "opportunity of the contact stays."
        ),
    )
    unshare_contact_when_unassigned = _yes_no(
        _("Unshare contact when unassigned"),
        _(
            "With “Yes”, once an opportunity is reassigned to another rep, the previous rep loses "
            "the access to its contact that this assignment gave them. Access through another "
            "opportunity of the contact stays."
        ),
    )
    sync_opportunity_and_contact_owners = _yes_no(
        _("Sync opportunity and contact owners"),
        _("With “Yes”, creating an opportunity makes its rep the owner of the contact too."),
    )
    sync_owner_of_closed_leads = _yes_no(
        _("Sync owner of closed leads"),
        _(
            "With “Yes” here and in the rule above, creating an opportunity also hands the "
            "contact’s earlier closed (won or lost) opportunities to its rep."
        ),
    )

    SWITCHES = (
        "share_contact_when_shared",
        "share_contact_when_assigned",
        "unshare_contact_when_unshared",
        "unshare_contact_when_unassigned",
        "sync_opportunity_and_contact_owners",
        "sync_owner_of_closed_leads",
    )
    #: The page shows the switches in two groups: who sees the contact (each "share" rule next to
    #: the "unshare" rule that undoes it), and who owns it.
    CONTACT_ACCESS = (
        "share_contact_when_shared",
        "unshare_contact_when_unshared",
        "share_contact_when_assigned",
        "unshare_contact_when_unassigned",
    )
    OWNERS = ("sync_opportunity_and_contact_owners", "sync_owner_of_closed_leads")

    def __init__(self, *args, current: OpportunitySettings, **kwargs):
        initial = {"assign_to_group": current.assign_to_group_id}
        initial.update({name: YES if getattr(current, name) else NO for name in self.SWITCHES})
        kwargs.setdefault("initial", initial)
        super().__init__(*args, **kwargs)
        self.fields["assign_to_group"].queryset = Team.objects.order_by("name", "id")

    def clean(self):
        cleaned = super().clean()
        for name in self.SWITCHES:
            if name in cleaned:
                cleaned[name] = cleaned[name] == YES
        return cleaned

    def contact_access_fields(self):
        return [self[name] for name in self.CONTACT_ACCESS]

    def owner_fields(self):
        return [self[name] for name in self.OWNERS]


class BuyNowSettingsForm(ServiceForm):
    """Settings > Opportunity defaults > Buy now."""

    buy_now_expire_days = forms.IntegerField(
        label=_("Buy-now links expire after (days)"),
        min_value=1,
        max_value=365,
        help_text=_("The default of every new link; the rep can change it on the link."),
    )
    buy_now_skin = forms.ChoiceField(
        label=_("Checkout skin"),
        choices=BuyNowSkin.choices,
        widget=forms.RadioSelect,
        help_text=_("The look of the page where prospects buy."),
    )
    buy_now_win_reason = ReasonChoiceField(
        queryset=WinReason.objects.none(),
        label=_("Buy-now win reason"),
        required=False,
        empty_label=_("No reason"),
        help_text=_("Given to the opportunity when the prospect buys through a buy-now link."),
    )

    def __init__(self, *args, current: OpportunitySettings, **kwargs):
        kwargs.setdefault(
            "initial",
            {
                "buy_now_expire_days": current.buy_now_expire_days,
                "buy_now_skin": current.buy_now_skin,
                "buy_now_win_reason": current.buy_now_win_reason_id,
            },
        )
        super().__init__(*args, **kwargs)
        self.fields["buy_now_win_reason"].queryset = _with_current(
            WinReason.objects.filter(archived_at__isnull=True), current.buy_now_win_reason
        ).order_by("order", "id")
