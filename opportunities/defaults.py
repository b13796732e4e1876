"""Marks the default pipeline and reason names for translation (the data migration stores them)."""

from django.utils.translation import gettext_noop

DEFAULT_STAGE_NAMES = [
    gettext_noop("Prospecting"),
    gettext_noop("Qualification"),
    gettext_noop("Proposal"),
    gettext_noop("Negotiation"),
    gettext_noop("Won"),
    gettext_noop("Lost"),
]

DEFAULT_WIN_REASON_NAMES = [
    gettext_noop("Best fit for their need"),
    gettext_noop("Price"),
    gettext_noop("Relationship"),
    gettext_noop("Support and service"),
]

DEFAULT_LOSS_REASON_NAMES = [
    gettext_noop("Price too high"),
    gettext_noop("Chose a competitor"),
    gettext_noop("No budget"),
    gettext_noop("No decision"),
    gettext_noop("Missing feature"),
]

#: Given to an opportunity when its prospect buys through a buy-now link (migration 0009).
BUY_NOW_WIN_REASON_NAME = gettext_noop("Bought online")
