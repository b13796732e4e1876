"""Global search (Ctrl-K): leads, contacts, accounts and opportunities by partial name, company,
e-mail or phone, within what the user may see; plus the commands the search box offers.

One query per kind (and one for the matching contacts' ids, which the contacts' and the deals'
kinds share), each built on the visibility querysets of ``crm.access`` (the one place that
decides who sees what), so a record out of reach is never found.

Accents do not matter ("fernandez", "FERNÁNDEZ" and "Fernández" find each other): both the query
and the text searched are folded (``fold``: "á" → "a", "ñ" → "n"…), in SQL by ``TRANSLATE`` on
Postgres and by the same Python function registered on SQLite.

How it stays indexed on Postgres (``crm/migrations/0007_search_trigram.py`` and
``0009_search_accents.py``): every text match is ``UPPER(TRANSLATE(<haystack>, …)) LIKE
UPPER('%q%')`` and every phone match ``<digits of phone> LIKE '%123%'``,
and the expressions below compile to exactly the expressions of the trigram (``gin_trgm_ops``)
indexes of that migration: change one, change the other (``tests/crm/test_search.py`` checks the
plans use them). Those indexes are partial (``archived_at IS NULL``, and ``phone <> ''`` for
phones) like the searches, which only look at live records. On SQLite the same expressions run as
plain scans (``LIKE`` is case-insensitive there; phone digits drop the usual separators).

Two ways to find the matches, by who searches. An admin sees everything: the trigram indexes
find the matches, at most ``CANDIDATES`` of each kind (a common surname matches 100,000 contacts
of a million, and reading them all to rank them took seconds), and the best of those come first:
a query that matches more than that is narrowed by typing more. A rep's search is run on each
part of what they may see (``crm.access.visible_*_parts``: their own rows, what is shared with
them), so the owner index and the trigram index are combined (a ``BitmapAnd``) and only their own
matches are read, never every match of the whole table; the rows granted to them are read and
tested one by one. A rep gets every match they may see.

Phones: the digits of the query are looked for in the digits of the phones, so "600112233",
"600 11 22 33" and "+34-600-11" all find "+34 600 11 22 33". Only when that finds nothing at all,
a query typed in groups with ``MIN_GAPPED_DIGITS`` digits or more is tried once more with gaps
allowed between its digits ("611 22": a 6, then 1, 1, 2, 2, in that order; issue #9 asks for that
one), the way one half-remembers a number. That second pass has no trigram to use (it reads every
live phone of leads and contacts, with a plain regular expression), hence only a fallback.
"""

from __future__ import annotations

import re
from typing import TypedDict

from django.db import connection
from django.db.models import Case, Exists, F, Func, IntegerField, OuterRef, QuerySet, Value, When
from django.db.models.fields import CharField
from django.db.models.lookups import IStartsWith
from django.urls import reverse
from django.utils.translation import gettext, gettext_noop

from crm import access
from crm.models import Contact

#: Shorter queries find no records (commands only): a trigram index cannot serve fewer than three
#: characters, so two would read every row, and match too much to be useful anyway.
MIN_QUERY_LENGTH = 3
#: A phone search needs this many digits: fewer have no trigram and would scan every phone.
MIN_PHONE_DIGITS = 3
#: When nothing matches exactly, a phone query typed in groups ("611 22") with this many digits
#: also finds the phones that hold its digits in order with others between.
MIN_GAPPED_DIGITS = 5
#: An admin's search ranks at most this many text matches of each kind (see above).
CANDIDATES = 1000
#: The contacts a search finds are read once, as ids, when they are at most this many: the
#: contacts' kind and the deals' (a deal is found by its contact) then both use that list, where
#: each searched the contacts again (~80 ms of a rep's 200 ms surname search, issue #10). More
#: (a short query over a big book) stay a subquery of both, as before.
CONTACT_IDS_READ = 5000
#: Longer queries are refused by the API (400) and the page (an error message).
MAX_QUERY_LENGTH = 100
#: A query made of these characters only (and enough digits) is also looked up as a phone.
PHONE_LIKE = re.compile(r"^[\d\s+\-().,/]+$")
#: Characters removed from phones on SQLite, which has no ``regexp_replace``.
PHONE_SEPARATORS = (" ", "+", "-", "(", ")", ".", ",", "/", "\t")

KINDS = ("lead", "contact", "account", "opportunity")


class SearchResult(TypedDict):
    kind: str
    id: int | None
    title: str
    subtitle: str
    url: str


#: Accented letters and what they fold to (same length: one letter for one letter).
ACCENTED = "áàâäãåÁÀÂÄÃÅéèêëÉÈÊËíìîïÍÌÎÏóòôöõÓÒÔÖÕúùûüÚÙÛÜçÇñÑýÿÝ"
PLAIN = "aaaaaaAAAAAAeeeeEEEEiiiiIIIIoooooOOOOOuuuuUUUUcCnNyyY"
_FOLD = str.maketrans(ACCENTED, PLAIN)


def fold(text: str) -> str:
    """ "Lucía Núñez" → "Lucia Nunez": what the search compares."""
    return text.translate(_FOLD) if isinstance(text, str) else text


class Fold(Func):
    """``fold`` in SQL: ``TRANSLATE(x, 'á…', 'a…')`` on Postgres (immutable, so indexable); on
    SQLite a ``crm_fold`` function registered on the connection; elsewhere unchanged."""

    output_field = CharField()

    def as_postgresql(self, compiler, connection, **extra_context):
        template = f"TRANSLATE(%(expressions)s, '{ACCENTED}', '{PLAIN}')"
        return self.as_sql(compiler, connection, template=template, **extra_context)

    def as_sqlite(self, compiler, connection, **extra_context):
        connection.ensure_connection()
        connection.connection.create_function("crm_fold", 1, fold, deterministic=True)
        return self.as_sql(compiler, connection, template="crm_fold(%(expressions)s)")

    def as_sql(self, compiler, connection, template=None, **extra_context):
        return super().as_sql(
            compiler, connection, template=template or "%(expressions)s", **extra_context
        )


class Haystack(Func):
    """``(a || ' ' || b || …)``: the fields one trigram index covers, searched as one text.
    ``indexed=False`` adds ``|| ''``: the same text in an expression no index covers, for the
    rows granted to a rep (hundreds): the planner then reads those rows and tests them, where
    it would take the trigram index (whose estimates are poor) and read every match of the
    table."""

    template = "(%(expressions)s)"
    arg_joiner = " || ' ' || "
    output_field = CharField()

    def __init__(self, *expressions, indexed: bool = True, **extra):
        if not indexed:
            extra["template"] = "(%(expressions)s || '')"
        super().__init__(*expressions, **extra)


class PhoneDigits(Func):
    """The digits of a phone: "+34 600 11-22-33" → "34600112233"."""

    output_field = CharField()

    def as_postgresql(self, compiler, connection, **extra_context):
        return self.as_sql(
            compiler,
            connection,
            template="regexp_replace(%(expressions)s, '\\D', '', 'g')",
            **extra_context,
        )

    def as_sql(self, compiler, connection, template=None, **extra_context):
        if template is None:  # every other database: drop the usual separators
            template = "%(expressions)s"
            for char in PHONE_SEPARATORS:
                literal = char.replace("'", "''")
                template = f"REPLACE({template}, '{literal}', '')"
        return super().as_sql(compiler, connection, template=template, **extra_context)


def normalize_query(q: str) -> str:
    """The query as searched: surrounding spaces dropped, inner runs of spaces made one."""
    return " ".join((q or "").split())


def query_digits(q: str) -> str:
    """The digits to look for in phones, or "" when ``q`` does not look like a phone number."""
    if not PHONE_LIKE.match(q):
        return ""
    digits = re.sub(r"\D", "", q)
    return digits if len(digits) >= MIN_PHONE_DIGITS else ""


def _ids(qs: QuerySet) -> QuerySet:
    return qs.order_by().values("pk")


def _union(*parts: QuerySet) -> QuerySet:
    first, *rest = parts
    return first.union(*rest) if rest else first


def gapped_digits(q: str, digits: str) -> bool:
    """Whether ``q`` may get the gapped pass: typed in groups ("611 22"), enough digits."""
    return len(digits) >= MIN_GAPPED_DIGITS and len(re.findall(r"\d+", q)) >= 2


def _name_and_phone_ids(
    model, q: str, digits: str, fields: tuple[str, ...], gapped: bool, within: list | None
) -> list[QuerySet]:
    """Ids of live ``model`` rows whose ``fields`` contain ``q`` or whose phone has ``digits``:
    one index scan each (a UNION of the two, never an OR that could not use both indexes).
    The gapped pass looks at phones only. ``within`` (the parts of a rep's visible rows): the
    text is searched in each part; without it (an admin) the text matches are capped at
    ``CANDIDATES``."""
    live = model.objects.filter(archived_at__isnull=True)
    parts = []
    if not gapped:
        parts += _text_ids(live, q, fields, within)
    if digits and gapped:  # the digits in order, anything between: no need to strip the phone
        parts.append(_ids(live.exclude(phone="").filter(phone__regex=".*".join(digits))))
    elif digits:
        phones = live.exclude(phone="").annotate(_digits=PhoneDigits("phone"))
        parts.append(_ids(phones.filter(_digits__contains=digits)))
    return parts


def _within(user, parts: access.VisibleParts) -> access.VisibleParts | None:
    """The parts of a rep's visible rows, searched one by one; None for an admin."""
    return None if access.is_admin(user) else parts


def _text_ids(
    live: QuerySet, q: str, fields: tuple[str, ...], within: access.VisibleParts | None
) -> list[QuerySet]:
    """Ids of the rows whose ``fields`` contain ``q``: for an admin the first ``CANDIDATES``
    of the live rows (trigram index); for a rep, their own rows (owner and trigram indexes
    together) and the rows granted to them (read one by one)."""

    def matching(qs: QuerySet, indexed: bool = True) -> QuerySet:
        hay = Fold(Haystack(*fields, indexed=indexed))
        return _ids(qs.annotate(_hay=hay).filter(_hay__icontains=q))

    if within is None:
        if not connection.features.supports_slicing_ordering_in_compound:
            return [matching(live)]  # SQLite (embedded mode) refuses a LIMIT inside a UNION
        return [matching(live)[:CANDIDATES]]
    parts = [matching(within.owned)]
    if within.granted is not None:
        parts.append(matching(within.granted, indexed=False))
    return parts


def _accounts_matching(user, q: str) -> QuerySet:
    return access.visible_accounts(user).annotate(_name=Fold("name")).filter(_name__icontains=q)


def _contact_ids(user, q: str, digits: str, gapped: bool) -> QuerySet:
    """Contacts by name, e-mail, phone, or the name of their company (an account the user sees:
    a company name they may not see finds nothing)."""
    fields = ("first_name", "last_name", "email")
    within = _within(user, access.visible_contact_parts(user))
    parts = _name_and_phone_ids(Contact, q, digits, fields, gapped, within)
    if not gapped:
        by_company = Contact.objects.filter(
            archived_at__isnull=True, account_id__in=_ids(_accounts_matching(user, q))
        )
        parts.append(_ids(by_company))
    return _union(*parts)


def _found_contacts(user, q: str, digits: str, gapped: bool) -> list[int] | QuerySet:
    """The ids of the contacts ``user`` sees that match: a list (one query) when there are at
    most ``CONTACT_IDS_READ`` of them, else the query itself."""
    visible = access.visible_contacts(user).filter(pk__in=_contact_ids(user, q, digits, gapped))
    found = list(visible.order_by().values_list("pk", flat=True)[: CONTACT_IDS_READ + 1])
    return found if len(found) <= CONTACT_IDS_READ else _ids(visible)


def _prefix_first(q: str, *fields: str) -> Case:
    """0 when one of ``fields`` starts with the query, else 1: those come first."""
    return Case(
        *[When(IStartsWith(Fold(name), q), then=Value(0)) for name in fields],
        default=Value(1),
        output_field=IntegerField(),
    )


def _join(*parts: str) -> str:
    return " · ".join(p for p in parts if p)


def _person(first: str, last: str) -> str:
    return f"{first} {last}".strip()


def _leads(user, q: str, digits: str, limit: int, gapped: bool) -> list[SearchResult]:
    from leads.models import Lead

    fields = ("first_name", "last_name", "company", "email")
    within = _within(user, access.VisibleParts(access.visible_leads(user), None))
    ids = _union(*_name_and_phone_ids(Lead, q, digits, fields, gapped, within))
    rows = (
        access.visible_leads(user)
        .filter(pk__in=ids)
        .annotate(_rank=_prefix_first(q, "first_name", "last_name", "company"))
        .order_by("_rank", "last_name", "first_name", "pk")
        .values("pk", "first_name", "last_name", "company", "email", "phone")[:limit]
    )
    return [
        {
            "kind": "lead",
            "id": row["pk"],
            "title": _person(row["first_name"], row["last_name"]),
            "subtitle": _join(row["company"], row["email"], row["phone"]),
            "url": reverse("lead-detail", args=[row["pk"]]),
        }
        for row in rows
    ]


def _contacts(user, q: str, limit: int, found: list[int] | QuerySet) -> list[SearchResult]:
    """The first ``limit`` of the ``found`` contacts (``_found_contacts``: visible ones only)."""
    account_seen = Exists(access.visible_accounts(user).filter(pk=OuterRef("account_id")))
    rows = (
        Contact.objects.filter(pk__in=found)
        .annotate(
            _rank=_prefix_first(q, "first_name", "last_name"),
            _company=Case(When(account_seen, then=F("account__name")), default=Value("")),
        )
        .order_by("_rank", "last_name", "first_name", "pk")
        .values("pk", "first_name", "last_name", "email", "phone", "_company")[:limit]
    )
    return [
        {
            "kind": "contact",
            "id": row["pk"],
            "title": _person(row["first_name"], row["last_name"]),
            "subtitle": _join(row["_company"] or "", row["email"], row["phone"]),
            "url": reverse("contact-detail", args=[row["pk"]]),
        }
        for row in rows
    ]


def _accounts(user, q: str, limit: int) -> list[SearchResult]:
    rows = (
        _accounts_matching(user, q)
        .annotate(_rank=_prefix_first(q, "name"))
        .order_by("_rank", "name", "pk")
        .values("pk", "name", "industry", "country")[:limit]
    )
    return [
        {
            "kind": "account",
            "id": row["pk"],
            "title": row["name"],
            "subtitle": _join(row["industry"], row["country"]),
            "url": reverse("account-detail", args=[row["pk"]]),
        }
        for row in rows
    ]


def _opportunities(user, q: str, limit: int, contacts: list[int] | QuerySet) -> list[SearchResult]:
    """Deals by name, or by their contact (name, e-mail, phone, company) when the user sees it:
    ``contacts``, the ids ``_found_contacts`` gave."""
    from opportunities.models import Opportunity

    live = Opportunity.objects.filter(archived_at__isnull=True)
    by_contact = _ids(live.filter(contact_id__in=contacts))
    within = _within(user, access.visible_opportunity_parts(user))
    ids = _union(*_text_ids(live, q, ("name",), within), by_contact)
    rows = (
        access.visible_opportunities(user)
        .filter(pk__in=ids)
        .annotate(_rank=_prefix_first(q, "name"))
        .order_by("_rank", "name", "pk")
        .values("pk", "name", "stage__name", "status")[:limit]
    )
    return [
        {
            "kind": "opportunity",
            "id": row["pk"],
            "title": row["name"],
            "subtitle": row["stage__name"] or "",
            "url": reverse("opportunity-detail", args=[row["pk"]]),
        }
        for row in rows
    ]


def global_search(*, user, q: str, limit_per_kind: int = 5) -> list[SearchResult]:
    """The records ``user`` may see that match ``q``: leads, contacts, accounts, opportunities
    (in that order; in each kind, names starting with the query first).

    One query per kind and one for the matching contacts' ids (plus one for leads and two for
    contacts when a phone query falls back to its gapped pass, which leaves opportunities and
    accounts out). Nothing for
    a query shorter than ``MIN_QUERY_LENGTH`` or longer than ``MAX_QUERY_LENGTH``, or for a user
    who is not signed in.
    """
    q = normalize_query(q)
    if not (MIN_QUERY_LENGTH <= len(q) <= MAX_QUERY_LENGTH) or "\x00" in q:
        return []
    if not (user and user.is_authenticated and user.is_active):
        return []
    digits = query_digits(q)
    q = fold(q)
    limit = max(1, min(int(limit_per_kind), 50))
    contacts = _found_contacts(user, q, digits, False)
    found = [
        *_leads(user, q, digits, limit, False),
        *_contacts(user, q, limit, contacts),
        *_accounts(user, q, limit),
        *_opportunities(user, q, limit, contacts),
    ]
    if found or not gapped_digits(q, digits):
        return found
    gapped = _found_contacts(user, q, digits, True)
    return [*_leads(user, q, digits, limit, True), *_contacts(user, q, limit, gapped)]


# --- commands ------------------------------------------------------------------------------------

#: (label, URL name): what the search box offers besides records.
COMMANDS = (
    (gettext_noop("New lead"), "lead-create"),
    (gettext_noop("New contact"), "contact-create"),
    (gettext_noop("New account"), "account-create"),
    (gettext_noop("New opportunity"), "opportunity-create"),
    (gettext_noop("New task"), "task-create"),
    (gettext_noop("Go to agenda"), "home"),
    (gettext_noop("Go to the pipeline board"), "opportunity-board"),
)


def search_commands(*, q: str) -> list[SearchResult]:
    """The commands whose label (in the user's language or in English) contains every word of
    ``q``; all of them for an empty query."""
    words = normalize_query(q).casefold().split()
    found: list[SearchResult] = []
    for label, url_name in COMMANDS:
        shown = gettext(label)
        text = f"{shown} {label}".casefold()
        if all(word in text for word in words):
            found.append(
                {
                    "kind": "command",
                    "id": None,
                    "title": shown,
                    "subtitle": "",
                    "url": reverse(url_name),
                }
            )
    return found
