"""Marks the default reason names for translation (the data migration stores them)."""

from django.utils.translation import gettext_noop

DEFAULT_REASON_NAMES = [
    gettext_noop("No budget"),
    gettext_noop("Not the decision maker"),
    gettext_noop("No need"),
    gettext_noop("Bad timing"),
    gettext_noop("Outside our territory"),
    gettext_noop("Chose a competitor"),
    gettext_noop("Unresponsive"),
    gettext_noop("Duplicate"),
]

DEFAULT_RATING_NAMES = [
    gettext_noop("Potential consultant"),
    gettext_noop("Promising prospect"),
    gettext_noop("Likely"),
    gettext_noop("Undecided"),
    gettext_noop("Not sure yet"),
    gettext_noop("Not interested"),
]
