"""E-mail sent by the app's background work, with a Message-ID that says what it is for.

Sending a message and committing that it was sent cannot be one atomic step: a worker killed
between the two sends it again when the work is retried (the one window left in the delivery
guarantees; see the README's Operations). Each such message gets the same Message-ID on every
attempt, made from what it is for (a trigger run, a sequence step run, a user's digest of a
day), so a second copy is the same message to the receiving servers and mail programs, which
drop or merge messages whose Message-ID they have already seen. Django would make a new one per
attempt, with the host's name in it (another worker, another name).
"""

from __future__ import annotations

from email.utils import parseaddr

from django.conf import settings
from django.utils.crypto import salted_hmac


def message_id(purpose: str) -> str:
    """``<purpose.install-tag@domain>``: the same for the same ``purpose`` on every attempt and
    every worker; the tag (keyed by ``SECRET_KEY``, which it does not reveal) keeps two
    installations sending from one domain apart; the domain is the sender's."""
    tag = salted_hmac("crm.mail.message_id", "install").hexdigest()[:16]
    domain = parseaddr(settings.DEFAULT_FROM_EMAIL)[1].rpartition("@")[2] or "localhost"
    return f"<{purpose}.{tag}@{domain}>"


def headers(purpose: str) -> dict[str, str]:
    """The headers of a message sent for ``purpose`` (see ``message_id``)."""
    return {"Message-ID": message_id(purpose)}
