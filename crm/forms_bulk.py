"""The bulk-action toolbar of the lead, contact and opportunity lists, and the save-view form."""

from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

from crm import selectors
from crm.forms import ServiceForm
from crm.services_bulk import ACTION_FIELDS, ACTIONS, LIST_ACTIONS, MAX_IDS


class BulkActionForm(ServiceForm):
    """The ticked rows (``ids``), the action and what it needs (owner, tag, reason, stage)."""

    action = forms.ChoiceField(label=_("Action"))
    owner = forms.ModelChoiceField(
        queryset=None, required=False, label=_("New owner"), empty_label=_("Choose a user…")
    )
    tag = forms.CharField(label=_("Tag"), required=False, max_length=50)
    reason = forms.ModelChoiceField(
        queryset=None,
        required=False,
        label=_("Disqualification reason"),
        empty_label=_("No reason"),
    )
    note = forms.CharField(label=_("Note"), required=False, max_length=2000)
    stage = forms.ModelChoiceField(
        queryset=None, required=False, label=_("Stage"), empty_label=_("Choose a stage…")
    )
    win_reason = forms.ModelChoiceField(
        queryset=None, required=False, label=_("Win reason"), empty_label=_("No reason")
    )
    loss_reason = forms.ModelChoiceField(
        queryset=None, required=False, label=_("Loss reason"), empty_label=_("No reason")
    )

    FIELDS = {
        "leads": ("owner", "reason", "note"),
        "contacts": ("owner", "tag"),
        "opportunities": ("owner", "stage", "win_reason", "loss_reason"),
    }

    def __init__(self, *args, list_key: str, user, **kwargs):
        kwargs.setdefault("auto_id", "bulk_%s")
        super().__init__(*args, **kwargs)
        self.list_key = list_key
        self.fields["action"].choices = [("", _("Choose an action…"))] + [
            (a, ACTIONS[a]) for a in LIST_ACTIONS[list_key]
        ]
        for name in list(self.fields):
            if name != "action" and name not in self.FIELDS[list_key]:
                del self.fields[name]
        self.fields["owner"].queryset = selectors.owner_choices()
        self.fields["owner"].label_from_instance = str
        if list_key == "leads":
            from leads.models import DisqualificationReason

            self.fields["reason"].queryset = DisqualificationReason.objects.filter(
                archived_at__isnull=True
            ).order_by("order", "id")
        if list_key == "opportunities":
            from opportunities.models import LossReason, Stage, WinReason

            self.fields["stage"].queryset = Stage.objects.filter(archived_at__isnull=True).order_by(
                "order", "id"
            )
            for name, model in (("win_reason", WinReason), ("loss_reason", LossReason)):
                self.fields[name].queryset = model.objects.filter(
                    archived_at__isnull=True
                ).order_by("order", "id")

    def clean(self):
        data = super().clean()
        raw = self.data.getlist("ids") if hasattr(self.data, "getlist") else []
        ids = sorted({int(x) for x in raw if str(x).isdigit() and len(str(x)) < 12})
        if not ids:
            raise forms.ValidationError(_("Tick at least one row."))
        if len(ids) > MAX_IDS:
            raise forms.ValidationError(
                _("Choose at most %(max)s rows at a time.") % {"max": MAX_IDS}
            )
        data["ids"] = ids
        required = {
            "assign": ("owner", _("Choose the new owner.")),
            "tag": ("tag", _("Write the tag.")),
            "untag": ("tag", _("Write the tag.")),
            "move": ("stage", _("Choose a stage.")),
        }.get(data.get("action"))
        if required and not data.get(required[0]) and required[0] in self.fields:
            self.add_error(required[0], required[1])
        return data

    ACTION_FIELDS = ACTION_FIELDS

    def toolbar_fields(self):
        """(bound field, the actions that use it) for the toolbar; app.js-free pages show all."""
        uses: dict[str, list[str]] = {}
        for action, names in self.ACTION_FIELDS.items():
            for name in names:
                uses.setdefault(name, []).append(action)
        names = [name for name in self.fields if name != "action"]
        return [(self[name], " ".join(uses.get(name, []))) for name in names]

    def action_fields(self):
        """The bound fields the chosen action uses (shown again on the confirmation page)."""
        action = (self.cleaned_data or {}).get("action") or self.data.get("action")
        return [self[name] for name in self.ACTION_FIELDS.get(action, ()) if name in self.fields]

    def service_values(self) -> dict:
        data = self.cleaned_data
        values = {"action": data["action"]}
        for name in self.ACTION_FIELDS[data["action"]]:
            if data.get(name) not in (None, ""):
                values[name] = data[name]
        return values
