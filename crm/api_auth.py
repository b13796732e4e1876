"""``Authorization: Token <key>`` in one statement built once per process.

DRF's ``TokenAuthentication`` looks the key up with ``Token.objects.select_related("user")
.get(key=key)``: building and compiling that query costs about three times running it (0.4 ms
against 0.1 ms on the API benchmark's machine), on every API request. This subclass runs the same
join (the token's creation time and every column of its user) as SQL written once from the
models' metadata, and builds the same two instances with ``from_db``. What it answers is DRF's:
the user and the token, or 401 "Invalid token." / "User inactive or deleted."

A process remembers the row it read for a key for ``API_TOKEN_CACHE_SECONDS`` (default 5; 0
turns it off): an integration's next requests skip the database round trip, a third of what
remains of the lead list's overhead. Each request still gets its own user instance, built from
the remembered row. Saving a user or saving or deleting a token forgets that user's rows in the
process that did it at once; other processes (the other gunicorn workers) notice a deactivated
user, a changed role or a deleted token within those seconds. Unknown keys are never
remembered, so guessing keys cannot fill the memory; at most ``MAX_REMEMBERED`` keys are.
"""

from __future__ import annotations

import functools
import time

from django.conf import settings
from django.db import connections, router
from django.utils.translation import gettext_lazy as _
from rest_framework import authentication, exceptions

from crm.middleware import activate_time_zone


class TokenAuthentication(authentication.TokenAuthentication):
    def authenticate_credentials(self, key):
        token = token_with_user(self.get_model(), key)
        if token is None:
            raise exceptions.AuthenticationFailed(_("Invalid token."))
        if not token.user.is_active:
            raise exceptions.AuthenticationFailed(_("User inactive or deleted."))
        # The middleware saw no user (the token is read here, by DRF): "today", due states and
        # the datetimes' offsets follow the token user's own time zone, as in their browser.
        activate_time_zone(token.user)
        return (token.user, token)


MAX_REMEMBERED = 10_000

#: key → (monotonic expiry, database alias, the statement's row, the user's id) of this
#: process's recent reads
_remembered: dict[str, tuple[float, str, tuple, object]] = {}


def forget(user_id=None) -> None:
    """Forget the remembered rows of ``user_id`` (every row when None)."""
    if user_id is None:
        _remembered.clear()
        return
    for key, seen in list(_remembered.items()):
        if seen[3] == user_id:
            _remembered.pop(key, None)


def token_with_user(model, key: str):
    """The token ``key`` with its ``user`` loaded (one statement, or none while remembered),
    or None."""
    if not isinstance(key, str):
        return None
    now = time.monotonic()
    seen = _remembered.get(key)
    if seen is not None and seen[0] > now:
        _, using, row, _ = seen
        user_names = _statement(model, connections[using].vendor)[1]
    else:
        using = router.db_for_read(model)
        sql, user_names = _statement(model, connections[using].vendor)
        with connections[using].cursor() as cursor:
            cursor.execute(sql, [key])
            row = cursor.fetchone()
        if row is None:
            _remembered.pop(key, None)
            return None
        ttl = settings.API_TOKEN_CACHE_SECONDS
        if ttl > 0:
            if len(_remembered) >= MAX_REMEMBERED:
                _remembered.clear()
            user_id = row[1 + user_names.index(user_model_pk(model).attname)]
            _remembered[key] = (now + ttl, using, tuple(row), user_id)
    user_model = model._meta.get_field("user").related_model
    user = user_model.from_db(using, user_names, row[1:])
    token = model.from_db(using, ["key", "user_id", "created"], (key, user.pk, row[0]))
    token.user = user
    return token


def user_model_pk(model):
    return model._meta.get_field("user").related_model._meta.pk


@functools.cache
def _statement(model, vendor: str) -> tuple[str, list[str]]:
    """``SELECT token.created, user.<every column> FROM token JOIN user … WHERE key = %s``."""
    connection = connections[router.db_for_read(model)]
    q = connection.ops.quote_name
    user_field = model._meta.get_field("user")
    user_model = user_field.related_model
    user_fields = user_model._meta.concrete_fields
    columns = ", ".join(f"u.{q(f.column)}" for f in user_fields)
    # identifiers from the models' metadata, quoted; the key is the one parameter
    sql = (
        f"SELECT t.{q(model._meta.get_field('created').column)}, {columns} "  # noqa: S608
        f"FROM {q(model._meta.db_table)} t "
        f"INNER JOIN {q(user_model._meta.db_table)} u "
        f"ON u.{q(user_model._meta.pk.column)} = t.{q(user_field.column)} "
        f"WHERE t.{q(model._meta.pk.column)} = %s"
    )
    return sql, [f.attname for f in user_fields]
