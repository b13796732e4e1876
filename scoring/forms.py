"""HTML forms of lead scoring: the qualification panel of the lead page (the BANT questions of the
discovery call and the fit fields), Settings > Scoring (criteria, threshold, auto-qualify), and the
sentence that describes a criterion.

They only parse and present input: the rules (which operator suits which field, which values a
field accepts, who may write) live in ``scoring.services``; their ``ValidationError`` lands on these
forms through ``crm.web.run_service``.
"""

from __future__ import annotations

from django import forms
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from crm.forms import ServiceForm
from crm.models import CompanySize
from leads.models import Answer, Lead, Timeline
from scoring.engine import OPERATORS_BY_FIELD, RANKS, split_values
from scoring.models import Criterion, Operator, ScoredField

YES, NO = "yes", "no"

# --- the discovery-call questions (also on the lead create/edit form) ---------------------------

_BANT = {
    "budget": (gettext_lazy("Budget"), gettext_lazy("Can they buy?"), Answer),
    "authority": (gettext_lazy("Authority"), gettext_lazy("Can this contact sign?"), Answer),
    "need": (gettext_lazy("Need"), gettext_lazy("Do they have a pain we solve?"), Answer),
    "timeline": (gettext_lazy("Timeline"), gettext_lazy("When do they plan to buy?"), Timeline),
}
BANT_FIELDS = tuple(_BANT)
FIT_FIELDS = ("country", "industry", "company_size", "title")


def bant_field(name: str) -> forms.TypedChoiceField:
    """A select for one BANT answer; a missing answer is "unknown" (the model's default)."""
    label, question, choices = _BANT[name]
    return forms.TypedChoiceField(
        label=label,
        help_text=question,
        choices=choices.choices,
        required=False,
        empty_value=choices.UNKNOWN,
        initial=choices.UNKNOWN,
    )


class QualifyForm(ServiceForm):
    """The qualification panel of the lead page: answers and fit fields, saved by lead_update."""

    budget = bant_field("budget")
    authority = bant_field("authority")
    need = bant_field("need")
    timeline = bant_field("timeline")
    country = forms.CharField(label=gettext_lazy("Country"), max_length=100, required=False)
    industry = forms.CharField(label=gettext_lazy("Industry"), max_length=100, required=False)
    company_size = forms.ChoiceField(
        label=gettext_lazy("Company size"),
        choices=[("", gettext_lazy("Unknown")), *CompanySize.choices],
        required=False,
    )
    title = forms.CharField(label=gettext_lazy("Job title"), max_length=100, required=False)

    def __init__(self, *args, lead: Lead, **kwargs):
        kwargs.setdefault("initial", {f: getattr(lead, f) for f in BANT_FIELDS + FIT_FIELDS})
        kwargs.setdefault("auto_id", "qualify-%s")
        super().__init__(*args, **kwargs)

    def bant(self):
        return [self[f] for f in BANT_FIELDS]

    def fit(self):
        return [self[f] for f in FIT_FIELDS]


# --- criteria ------------------------------------------------------------------------------------

#: The values of the fields that take a fixed set of them, with their labels, in order.
VALUE_CHOICES: dict[str, list[tuple[str, str]]] = {
    "budget": Answer.choices,
    "authority": Answer.choices,
    "need": Answer.choices,
    "timeline": Timeline.choices,
    "company_size": CompanySize.choices,
}
DEFAULT_FIELD = ScoredField.BUDGET


def operator_choices(field: str) -> list[tuple[str, str]]:
    """The operators that make sense for ``field``, in the usual order."""
    allowed = OPERATORS_BY_FIELD.get(field, set())
    return [(value, label) for value, label in Operator.choices if value in allowed]


def _value_label(field: str, value: str) -> str:
    labels = dict(VALUE_CHOICES.get(field, []))
    return str(labels[value]) if value in labels else f"“{value}”"


def describe_rule(criterion: Criterion) -> str:
    """ "Timeline is one of Within 3 months, In 3 to 6 months": a criterion as a sentence."""
    values = (
        split_values(criterion.value) if criterion.operator == Operator.IN else [criterion.value]
    )
    return _("%(field)s %(operator)s %(value)s") % {
        "field": ScoredField(criterion.field).label,
        "operator": Operator(criterion.operator).label,
        "value": ", ".join(_value_label(criterion.field, v) for v in values),
    }


def _order_help(field: str) -> str:
    labels = dict(VALUE_CHOICES[field])
    ordered = ", ".join(str(labels[v]) for v in sorted(RANKS[field], key=RANKS[field].get))
    if field == "timeline":
        return _("“Is at least” and “is at most” follow this order, sooner first: %(order)s.") % {
            "order": ordered
        }
    return _("“Is at least” and “is at most” follow this order, smaller first: %(order)s.") % {
        "order": ordered
    }


class RuleValueField(forms.Field):
    """The value of a rule: typed text, one choice, or several (joined with commas).

    Any text is accepted here: which values a field takes is the service's rule, and its message
    (listing them) is the one users see.
    """

    def to_python(self, value):
        if isinstance(value, list | tuple):
            return ",".join(v.strip() for v in value if v and v.strip())
        return (value or "").strip()

    def validate(self, value):
        super().validate(value)
        if len(value) > 200:
            raise forms.ValidationError(_("Enter at most 200 characters."))


class CriterionForm(ServiceForm):
    """Add or edit a criterion: name, the rule (field, operator, value) and its points.

    The operators offered and the way the value is asked (a select, checkboxes, or text) follow
    the chosen field and operator. They are redrawn when those change: by htmx, or without
    JavaScript with the "Update the choices" button. The page also posts the field its value
    widget was drawn for (``value_for``), so a value chosen for another field is never saved.
    """

    nonfield_errors_to = "name"

    name = forms.CharField(
        label=gettext_lazy("Name"),
        max_length=100,
        help_text=gettext_lazy("Shown on the lead page, for example “Budget confirmed”."),
    )
    field = forms.ChoiceField(label=gettext_lazy("Lead field"), choices=ScoredField.choices)
    operator = forms.ChoiceField(label=gettext_lazy("Condition"), choices=Operator.choices)
    value = RuleValueField(label=gettext_lazy("Value"))
    points = forms.IntegerField(
        label=gettext_lazy("Points"),
        min_value=-1000,
        max_value=1000,
        help_text=gettext_lazy("From −1000 to 1000. Negative points lower the score."),
    )

    def __init__(self, data=None, *, instance: Criterion | None = None, **kwargs):
        if instance is not None and "initial" not in kwargs:
            kwargs["initial"] = {
                "name": instance.name,
                "field": instance.field,
                "operator": instance.operator,
                "value": instance.value,
                "points": instance.points,
            }
        kwargs.setdefault("auto_id", "criterion-%s")
        super().__init__(data, **kwargs)
        source = data if data is not None else self.initial
        field = source.get("field") or DEFAULT_FIELD
        if field not in ScoredField.values:
            field = DEFAULT_FIELD
        operators = operator_choices(field)
        operator = source.get("operator")
        if operator not in dict(operators):
            operator = operators[0][0]
        self.rule_field, self.rule_operator = field, operator
        # Offer the operators that suit the field; any operator still parses, so that the
        # service's own message explains a combination that does not work.
        self.fields["operator"].widget.choices = operators
        self._value_widget(field, operator)
        if data is None and field in VALUE_CHOICES and operator == Operator.IN:
            value = self.initial.get("value")
            if isinstance(value, str):
                self.initial["value"] = split_values(value)

    def _value_widget(self, field: str, operator: str) -> None:
        value = self.fields["value"]
        if field in VALUE_CHOICES:
            choices = VALUE_CHOICES[field]
            if operator == Operator.IN:
                value.widget = forms.CheckboxSelectMultiple(choices=choices)
                value.label = _("Values")
                value.help_text = _("Tick one or more.")
            else:
                value.widget = forms.Select(choices=[("", _("Choose a value…")), *choices])
                value.help_text = _order_help(field) if field in RANKS else ""
        else:
            value.widget = forms.TextInput(attrs={"maxlength": 200})
            if operator == Operator.IN:
                value.help_text = _(
                    "Separate the values with commas, for example: Spain, Portugal. "
                    "Capital letters do not matter."
                )
            elif operator == Operator.CONTAINS:
                value.help_text = _(
                    "Matches when the lead's value contains this text. "
                    "Capital letters do not matter."
                )
            else:
                value.help_text = _("Capital letters do not matter.")

    @classmethod
    def refreshed(cls, data, *, instance: Criterion | None = None) -> CriterionForm:
        """An unbound form showing what was typed, redrawn for the chosen field and operator."""
        initial = {k: data.get(k, "") for k in ("name", "field", "operator", "points")}
        if data.get("value_for") == initial["field"]:
            values = data.getlist("value") if hasattr(data, "getlist") else [data.get("value")]
            initial["value"] = values if len(values) > 1 else (values[0] if values else "")
        form = cls(initial=initial, instance=instance)
        multiple = form.rule_field in VALUE_CHOICES and form.rule_operator == Operator.IN
        if not multiple and isinstance(form.initial.get("value"), list):
            form.initial["value"] = ",".join(form.initial["value"])
        return form

    def clean(self):
        data = super().clean()
        drawn_for = self.data.get("value_for")
        if drawn_for is not None and drawn_for != data.get("field") and "value" in data:
            self.add_error("value", _("The field changed: choose the value for it again."))
        return data

    def service_values(self) -> dict:
        return {k: self.cleaned_data[k] for k in ("name", "field", "operator", "value", "points")}


class ThresholdForm(ServiceForm):
    """The threshold and the "auto-qualify at the threshold" setting (Yes/No)."""

    threshold = forms.IntegerField(
        label=gettext_lazy("Threshold"),
        min_value=-100000,
        max_value=100000,
        help_text=gettext_lazy("A lead whose score reaches this number is sales-ready."),
    )
    auto_qualify = forms.ChoiceField(
        label=gettext_lazy("Auto-qualify at the threshold"),
        choices=[(YES, gettext_lazy("Yes")), (NO, gettext_lazy("No"))],
        widget=forms.RadioSelect,
        help_text=gettext_lazy(
            "With “Yes”, a new or working lead that reaches the threshold becomes qualified. "
            "Scoring never disqualifies anyone."
        ),
    )

    def __init__(self, *args, threshold: int, auto_qualify: bool, **kwargs):
        kwargs.setdefault(
            "initial", {"threshold": threshold, "auto_qualify": YES if auto_qualify else NO}
        )
        kwargs.setdefault("auto_id", "threshold-%s")
        super().__init__(*args, **kwargs)

    def service_values(self) -> dict:
        return {
            "threshold": self.cleaned_data["threshold"],
            "auto_qualify": self.cleaned_data["auto_qualify"] == YES,
        }
