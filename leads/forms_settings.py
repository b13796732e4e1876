"""Forms of Settings > Leads and of the disqualification insights report.

They only parse input: the rules (unique names, who may write, the reason rule) live in
``leads.services``; their ``ValidationError`` lands on these forms through ``run_service``.
"""

from __future__ import annotations

import datetime as dt

from django import forms
from django.utils.translation import gettext_lazy as _

from crm.forms import DateInput, ServiceForm

YES, NO = "yes", "no"


class ReasonForm(ServiceForm):
    """Add or rename a disqualification reason."""

    # The case-insensitive unique-name constraint is a non-field error: show it on the name.
    nonfield_errors_to = "name"

    name = forms.CharField(label=_("Name"), max_length=100)


class AskReasonForm(ServiceForm):
    """The "ask users for a disqualification reason" setting, as a Yes/No choice."""

    ask = forms.ChoiceField(
        label=_("Ask users for a disqualification reason"),
        choices=[(YES, _("Yes")), (NO, _("No"))],
        widget=forms.RadioSelect,
        help_text=_(
            "With “Yes”, a lead can only be disqualified with a reason. "
            "With “No”, the reason is optional."
        ),
    )

    def __init__(self, *args, current: bool, **kwargs):
        kwargs.setdefault("initial", {"ask": YES if current else NO})
        super().__init__(*args, **kwargs)

    @property
    def value(self) -> bool:
        return self.cleaned_data["ask"] == YES


class MoveForm(forms.Form):
    direction = forms.ChoiceField(choices=[("up", _("Move up")), ("down", _("Move down"))])


# Far enough for any real report; keeps ``until + 1 day`` and time zone shifts in range.
REPORT_MIN_DATE = dt.date(1900, 1, 1)
REPORT_MAX_DATE = dt.date(2999, 12, 31)
REPORT_DEFAULT_DAYS = 90


class ReportRangeForm(forms.Form):
    """``since`` / ``until`` from the URL; missing ones default to the last 90 days."""

    since = forms.DateField(label=_("From"), required=False, widget=DateInput)
    until = forms.DateField(label=_("To"), required=False, widget=DateInput)

    def __init__(self, data, *, today: dt.date):
        self.today = today
        data = {k: data.get(k, "").strip() for k in ("since", "until")}
        super().__init__(data)
        self.fields["since"].widget.attrs.update(
            min=REPORT_MIN_DATE.isoformat(), max=REPORT_MAX_DATE.isoformat()
        )
        self.fields["until"].widget.attrs.update(
            min=REPORT_MIN_DATE.isoformat(), max=REPORT_MAX_DATE.isoformat()
        )

    def _in_range(self, name: str) -> dt.date | None:
        value = self.cleaned_data.get(name)
        if value is not None and not (REPORT_MIN_DATE <= value <= REPORT_MAX_DATE):
            raise forms.ValidationError(
                _("Enter a date between %(min)s and %(max)s."),
                params={"min": REPORT_MIN_DATE.year, "max": REPORT_MAX_DATE.year},
            )
        return value

    def clean_since(self):
        return self._in_range("since")

    def clean_until(self):
        return self._in_range("until")

    def clean(self):
        data = super().clean()
        if self.errors:
            return data
        until = data.get("until") or self.today
        since = data.get("since") or until - dt.timedelta(days=REPORT_DEFAULT_DAYS - 1)
        if since > until:
            self.add_error("until", _("The end date is before the start."))
        data["since"], data["until"] = since, until
        # The inputs show the range in effect, defaults included.
        self.data = {"since": since.isoformat(), "until": until.isoformat()}
        return data
