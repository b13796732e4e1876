"""Marks the default criterion names for translation (the data migration stores them)."""

from django.utils.translation import gettext_noop

DEFAULT_CRITERION_NAMES = [
    gettext_noop("Budget confirmed"),
    gettext_noop("Talking to the decision maker"),
    gettext_noop("Has a need we solve"),
    gettext_noop("Buying within 6 months"),
]
