"""Forms of Settings > Ratings and of classifying a prospect (from its page or when completing a
task on the agenda), and the sentences that say what a rating schedules.

They only parse input: the rules (unique names, archived ratings refused, who may write, what a
rating schedules) live in ``leads.services``; their ``ValidationError`` lands on these forms
through ``crm.web.run_service``.
"""

from __future__ import annotations

import datetime as dt

from django import forms
from django.utils.formats import date_format
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext

from crm.forms import ServiceForm
from crm.models import User
from crm.services import user_today
from leads.models import Rating

# --- what pickers offer (one query each; the forms below take the evaluated lists) --------------


def rating_choices() -> list[Rating]:
    """Every active rating, classifications and outcomes, in the admins' order (the agenda)."""
    return list(Rating.objects.filter(archived_at__isnull=True).order_by("order", "id"))


def classification_choices() -> list[Rating]:
    """Active ratings that become the prospect's rating (the profile picker)."""
    return [r for r in rating_choices() if r.applies_tag]


def rating_filter_choices() -> list[tuple[str, str]]:
    """The "Rating" filter of the lead and contact lists: every rating, archived ones labelled."""
    ratings = Rating.objects.order_by("archived_at", "order", "id")
    return [("", _("Any"))] + [
        (
            str(r.pk),
            _("%(name)s (archived)") % {"name": r.display_name} if r.archived else r.display_name,
        )
        for r in ratings
    ]


# --- sentences -----------------------------------------------------------------------------------


def follow_up_delay(rating: Rating) -> str:
    """ "in 14 days", "no follow-up": what a rating schedules, for pickers."""
    days = rating.follow_up_days
    if days is None:
        return _("no follow-up")
    if days == 0:
        return _("follow-up today")
    return ngettext("follow-up in %(days)s day", "follow-up in %(days)s days", days) % {
        "days": days
    }


def follow_up_message(rating: Rating | None, *, owner: User) -> str:
    """Whether and when the follow-up of a classification will be created.

    The due date is computed as the Celery task computes it: N days after today in the time zone
    of the prospect's owner (who gets the task).
    """
    if rating is None or rating.follow_up_days is None:
        return _("No follow-up scheduled.")
    days = rating.follow_up_days
    if days == 0:
        return _("Follow-up scheduled for today.")
    due = user_today(owner) + dt.timedelta(days=days)
    return ngettext(
        "Follow-up scheduled in %(days)s day, on %(date)s.",
        "Follow-up scheduled in %(days)s days, on %(date)s.",
        days,
    ) % {"days": days, "date": date_format(due, "SHORT_DATE_FORMAT")}


def classified_message(rating: Rating | None, *, name: str) -> str:
    """What the classification did to the prospect's tag."""
    if rating is None:
        return _("Rating of %(name)s cleared.") % {"name": name}
    if rating.applies_tag:
        return _("%(name)s classified as %(rating)s.") % {
            "name": name,
            "rating": rating.display_name,
        }
    return _("Outcome for %(name)s: %(rating)s.") % {"name": name, "rating": rating.display_name}


def classify_result_message(rating: Rating | None, *, subject) -> str:
    """After classifying a lead or contact: what happened to its tag, and the follow-up."""
    return f"{classified_message(rating, name=subject.name)} " + follow_up_message(
        rating, owner=subject.owner
    )


# --- Settings > Ratings --------------------------------------------------------------------------


class RatingForm(ServiceForm):
    """Add or edit a rating."""

    # The case-insensitive unique-name constraint is a non-field error: show it on the name.
    nonfield_errors_to = "name"

    name = forms.CharField(label=gettext_lazy("Name"), max_length=60)
    icon = forms.CharField(
        label=gettext_lazy("Icon"),
        max_length=8,
        required=False,
        help_text=gettext_lazy("A symbol shown before the name, for example ★ or ◆."),
    )
    colour = forms.CharField(
        label=gettext_lazy("Colour"),
        max_length=7,
        initial="#1d5fa8",
        widget=forms.TextInput(attrs={"type": "color"}),
        help_text=gettext_lazy("An accent only: the icon and the name always show with it."),
    )
    applies_tag = forms.BooleanField(
        label=gettext_lazy("Applies a tag"),
        required=False,
        initial=True,
        help_text=gettext_lazy(
            "Ticked: it becomes the prospect's rating, shown as a tag, and users can choose it on "
            "the prospect's page. Not ticked: it is only an outcome offered when completing a "
            "task, and decides the next follow-up without changing the rating."
        ),
    )
    follow_up_days = forms.IntegerField(
        label=gettext_lazy("Follow-up in days"),
        required=False,
        min_value=0,
        max_value=3650,
        help_text=gettext_lazy("Leave it empty for no follow-up task."),
    )

    def __init__(self, *args, instance: Rating | None = None, **kwargs):
        if instance is not None:
            kwargs.setdefault(
                "initial",
                {
                    "name": instance.name,
                    "icon": instance.icon,
                    "colour": instance.colour,
                    "applies_tag": instance.applies_tag,
                    "follow_up_days": instance.follow_up_days,
                },
            )
        super().__init__(*args, **kwargs)


class MoveForm(forms.Form):
    direction = forms.ChoiceField(
        choices=[("up", gettext_lazy("Move up")), ("down", gettext_lazy("Move down"))]
    )


# --- classifying ---------------------------------------------------------------------------------


class _RatingPickForm(ServiceForm):
    """``rating`` is an id among the ratings offered ("" = none); cleans to a ``Rating``."""

    def __init__(self, *args, ratings: list[Rating], **kwargs):
        super().__init__(*args, **kwargs)
        self.ratings = ratings
        self._by_id = {str(r.pk): r for r in ratings}

    def clean_rating(self) -> Rating | None:
        value = self.cleaned_data.get("rating")
        return self._by_id.get(value) if value else None


class ClassifyForm(_RatingPickForm):
    """The "Rating" picker of a lead's or contact's page: the classifications, or none."""

    rating = forms.ChoiceField(
        label=gettext_lazy("Rating"),
        required=False,
        help_text=gettext_lazy(
            "Saving schedules the rating's follow-up task, if it has one. "
            "“No rating” clears it and schedules nothing."
        ),
    )

    def __init__(self, *args, ratings: list[Rating], current: Rating | None = None, **kwargs):
        if current is not None and all(r.pk != current.pk for r in ratings):
            ratings = [*ratings, current]  # an archived one still shows what the prospect has
        kwargs.setdefault("initial", {"rating": str(current.pk) if current else ""})
        super().__init__(*args, ratings=ratings, **kwargs)
        self.fields["rating"].choices = [("", _("No rating"))] + [
            (
                str(r.pk),
                _("%(name)s (archived)") % {"name": r.display_name}
                if r.archived
                else _("%(name)s (%(delay)s)")
                % {"name": r.display_name, "delay": follow_up_delay(r)},
            )
            for r in ratings
        ]


class TaskCompleteForm(_RatingPickForm):
    """ "How did it go?": every active rating (classifications and outcomes) or blank, a note."""

    rating = forms.ChoiceField(label=gettext_lazy("How did it go?"), required=False)
    note = forms.CharField(
        label=gettext_lazy("Note"),
        required=False,
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 3}),
    )

    def __init__(self, *args, ratings: list[Rating], **kwargs):
        super().__init__(*args, ratings=ratings, **kwargs)
        self.fields["rating"].choices = [("", "")] + [(str(r.pk), r.display_name) for r in ratings]

    @property
    def selected(self) -> str:
        """The radio to check: the submitted one, else "Leave blank"."""
        if self.is_bound:
            value = self.data.get(self.add_prefix("rating"), "")
            return value if value in self._by_id else ""
        return ""
