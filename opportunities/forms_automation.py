"""Forms of Settings > Automation and Settings > Sequences. They only parse input: the rules live
in ``opportunities.services_automation`` and its errors land here through
``crm.web.run_service``."""

from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

from crm.forms import ServiceForm
from leads.models import DisqualificationReason
from opportunities.models import (
    Sequence,
    StepKind,
    TriggerAction,
    TriggerActionKind,
    TriggerEvent,
)
from opportunities.selectors_automation import sequence_choices
from opportunities.services_automation import MAX_DAY_OFFSET


class ReasonChoiceField(forms.ModelMultipleChoiceField):
    def label_from_instance(self, obj):
        return obj.display_name


class TriggerActionForm(ServiceForm):
    event = forms.ChoiceField(label=_("When"), choices=TriggerEvent.choices)
    action = forms.ChoiceField(label=_("Do"), choices=TriggerActionKind.choices)
    tag = forms.CharField(
        label=_("Tag"),
        max_length=50,
        required=False,
        help_text=_("For “Apply a tag”: a new tag is created."),
    )
    sequence = forms.ModelChoiceField(
        label=_("Sequence"),
        queryset=Sequence.objects.none(),
        required=False,
        empty_label=_("(none)"),
        help_text=_("For “Start a sequence”."),
    )
    reasons = ReasonChoiceField(
        label=_("Only for these disqualification reasons"),
        queryset=DisqualificationReason.objects.none(),
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text=_("For “Lead disqualified”. None checked: any reason."),
    )

    def __init__(self, *args, instance: TriggerAction | None = None, **kwargs):
        reasons = DisqualificationReason.objects.filter(archived_at__isnull=True)
        sequences = sequence_choices()
        if instance is not None:
            current = list(instance.reasons.all())
            kwargs.setdefault(
                "initial",
                {
                    "event": instance.event,
                    "action": instance.action,
                    "tag": instance.tag.name if instance.tag_id else "",
                    "sequence": instance.sequence_id,
                    "reasons": [r.pk for r in current],
                },
            )
            reasons = reasons | DisqualificationReason.objects.filter(
                pk__in=[r.pk for r in current]
            )
            if instance.sequence_id:
                sequences = sequences | Sequence.objects.filter(pk=instance.sequence_id)
        super().__init__(*args, **kwargs)
        self.fields["reasons"].queryset = reasons.order_by("order", "id")
        self.fields["sequence"].queryset = sequences.order_by("name", "id")

    def service_kwargs(self) -> dict:
        data = self.cleaned_data
        return {
            "event": data["event"],
            "action": data["action"],
            "tag": data["tag"],
            "sequence": data["sequence"],
            "reasons": list(data["reasons"]),
        }


class SequenceForm(ServiceForm):
    nonfield_errors_to = "name"

    name = forms.CharField(label=_("Name"), max_length=100)
    stop_when_closed = forms.BooleanField(
        label=_("Stop when the opportunity is won or lost"),
        required=False,
        initial=True,
        help_text=_("Enrollments started for an opportunity stop when it is won or lost."),
    )

    def __init__(self, *args, instance: Sequence | None = None, **kwargs):
        if instance is not None:
            kwargs.setdefault(
                "initial", {"name": instance.name, "stop_when_closed": instance.stop_when_closed}
            )
        super().__init__(*args, **kwargs)


class StepForm(forms.Form):
    """One row of the steps table. An empty row is ignored; the rules are the service's."""

    day_offset = forms.IntegerField(
        label=_("Day"),
        required=False,
        widget=forms.NumberInput(attrs={"min": 0, "max": MAX_DAY_OFFSET, "inputmode": "numeric"}),
        help_text=_("Days after enrollment."),
    )
    kind = forms.ChoiceField(label=_("Kind"), choices=StepKind.choices, initial=StepKind.TASK)
    title = forms.CharField(label=_("Title or subject"), max_length=200, required=False)
    body = forms.CharField(
        label=_("Body"), required=False, widget=forms.Textarea(attrs={"rows": 2})
    )

    def is_blank(self) -> bool:
        data = self.cleaned_data
        return data.get("day_offset") is None and not data.get("title") and not data.get("body")


StepFormSet = forms.formset_factory(StepForm, extra=3, can_delete=True, max_num=60)


def steps_formset(*args, sequence: Sequence | None = None, **kwargs):
    initial = []
    if sequence is not None:
        initial = [
            {"day_offset": s.day_offset, "kind": s.kind, "title": s.title, "body": s.body}
            for s in sequence.steps.filter(archived_at__isnull=True).order_by("position")
        ]
    return StepFormSet(*args, initial=initial, prefix="steps", **kwargs)


def steps_from(formset) -> list[dict]:
    """The rows to save, in order: deleted and empty rows left out."""
    steps = []
    for form in formset.forms:
        if not form.is_valid() or form.cleaned_data.get("DELETE") or form.is_blank():
            continue
        data = form.cleaned_data
        steps.append(
            {
                "day_offset": data["day_offset"],
                "kind": data["kind"],
                "title": data["title"],
                "body": data["body"],
            }
        )
    return steps


class StopForm(forms.Form):
    reason = forms.CharField(label=_("Why (optional)"), max_length=200, required=False)
