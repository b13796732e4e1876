"""``values()`` querysets whose SQL is compiled once per shape, not once per request.

The API's lead list asks the same question on every request with other numbers in it: the rep's
id and the cursor's position. Django compiles the ~30 columns, the join and the next-task
subquery again each time, and walks every row through its values iterator: together about a
fifth of the request. ``cached(queryset)`` marks a base queryset (built once per process);
querysets derived from it by ``filter()``, ``order_by()`` and slicing are then run from a
template:

* the **shape** of the query is its base, its joins, its ordering, its slice and its WHERE tree
  with every integer compared to a column taken out (a *slot*); any other value (text, dates,
  booleans, None) stays in the shape as it is;
* the first query of a shape is compiled twice, once as it is and once with a stand-in value in
  every slot; the template is kept only if each stand-in is one parameter of the SQL, passed
  through unchanged, and filling the slots with the real values gives exactly the SQL and the
  parameters Django compiled. Anything else (a lookup that rewrites its value, a subquery, a
  list, ``exclude`` over a join, a changed select list) keeps the shape off the template path
  and Django runs it as always;
* a later query of the same shape runs the template's SQL with its own slot values, through
  Django's cursor (query counting, logging and ``execute_wrapper`` see it), and its rows get the
  compiler's converters, as ``values()`` rows do.

Only bounded querysets (sliced: a page) take this path; templates are kept per database alias,
at most ``MAX_TEMPLATES`` of them (oldest dropped first). ``tests/crm/test_compiled_sql.py``
compares template rows with Django's for each shape the API produces.
"""

from __future__ import annotations

import itertools
from collections import OrderedDict
from threading import Lock

from django.db import connections
from django.db.models.expressions import Col
from django.db.models.lookups import Lookup
from django.db.models.query import ValuesIterable
from django.db.models.sql.datastructures import Join
from django.db.models.sql.where import WhereNode

MAX_TEMPLATES = 512

#: values compared to a column that stay in the shape (the SQL differs with them: IS NULL)
_LITERAL_TYPES = (str, bool, type(None))
_BIGINT = (-(2**63), 2**63 - 1)


class _Unusable(Exception):
    """This queryset is not one the template path handles: Django runs it."""


class _Base:
    """What a marked base queryset's query looks like apart from WHERE, order and slice."""

    def __init__(self, query):
        self.model = query.model
        self.values_select = query.values_select
        self.annotations = dict(query.annotations)
        self.annotation_select_mask = query.annotation_select_mask
        self.extra = dict(query.extra)
        self.selected = query.selected

    def matches(self, query) -> bool:
        return (
            query.model is self.model
            and query.values_select == self.values_select
            and query.annotation_select_mask == self.annotation_select_mask
            and query.selected == self.selected
            and query.extra == self.extra
            and len(query.annotations) == len(self.annotations)
            and all(self.annotations.get(k) is v for k, v in query.annotations.items())
            and not query.distinct
            and not query.group_by
            and query.combinator is None
            and not query.select_for_update
            and not query.extra_order_by
        )


class _Template:
    __slots__ = ("converters", "names", "params", "slots", "sql")

    def __init__(self, sql, params, slots, names, converters):
        self.sql = sql
        self.params = params
        self.slots = slots  # positions in params of the slot values, in the WHERE tree's order
        self.names = names
        self.converters = converters

    def fill(self, values: list[int]) -> list:
        params = list(self.params)
        for position, value in zip(self.slots, values, strict=True):
            params[position] = value
        return params


#: shape → its template, or None for a shape Django runs; at most MAX_TEMPLATES, oldest dropped
_templates: OrderedDict = OrderedDict()
_lock = Lock()
_MISSING = object()


def cached(queryset):
    """Mark a ``values()`` queryset as a base whose derived pages run from templates."""
    queryset.query.compiled_sql_base = _Base(queryset.query)
    queryset._iterable_class = TemplateValuesIterable
    return queryset


def clear() -> None:
    """Forget every template (tests)."""
    with _lock:
        _templates.clear()


class TemplateValuesIterable(ValuesIterable):
    """``ValuesIterable`` that runs a marked queryset's page from its shape's template."""

    def __iter__(self):
        queryset = self.queryset
        try:
            rows = _rows(queryset)
        except _Unusable:
            rows = None
        if rows is None:
            yield from ValuesIterable(queryset, self.chunked_fetch, self.chunk_size)
        else:
            yield from rows


# --- the shape --------------------------------------------------------------------------------


def _shape(query) -> tuple[tuple, list[int]]:
    """``(shape, slot values)`` of ``query``; raises ``_Unusable``."""
    base = getattr(query, "compiled_sql_base", None)
    if base is None or not base.matches(query) or query.high_mark is None:
        raise _Unusable
    values: list[int] = []
    where = _where_shape(query.where, values)
    joins = tuple(
        (alias, j.identity, j.join_type, j.nullable) if isinstance(j, Join) else (alias, j.identity)
        for alias, j in query.alias_map.items()
    )
    shape = (
        base,  # the object itself, not its id: the key keeps it alive, so no other base reuses it
        where,
        joins,
        tuple(query.order_by),
        query.default_ordering,
        query.standard_ordering,
        query.low_mark,
        query.high_mark,
    )
    return shape, values


def _where_shape(node, values: list[int]) -> tuple:
    if isinstance(node, WhereNode):
        return (
            node.connector,
            node.negated,
            tuple(_where_shape(child, values) for child in node.children),
        )
    if not isinstance(node, Lookup) or not isinstance(node.lhs, Col):
        raise _Unusable
    if node.bilateral_transforms or not node.rhs_is_direct_value():
        raise _Unusable
    column = (type(node), node.lhs.alias, node.lhs.target)
    rhs = node.rhs
    if type(rhs) is int:
        if not _BIGINT[0] <= rhs <= _BIGINT[1]:
            raise _Unusable  # Django's overflow handling decides what such a comparison means
        values.append(rhs)
        return (*column, int)
    if isinstance(rhs, _LITERAL_TYPES):
        return (*column, type(rhs), rhs)
    raise _Unusable


# --- templates --------------------------------------------------------------------------------


def _rows(queryset) -> list[dict] | None:
    query = queryset.query
    using = queryset.db
    shape, values = _shape(query)
    key = (using, shape)
    template = _templates.get(key, _MISSING)
    if template is _MISSING:
        template = _make_template(query, using, values)
        with _lock:
            _templates[key] = template
            while len(_templates) > MAX_TEMPLATES:
                _templates.popitem(last=False)
    if template is None:
        return None
    connection = connections[using]
    with connection.cursor() as cursor:
        cursor.execute(template.sql, template.fill(values))
        rows = cursor.fetchall()
    if template.converters:
        rows = query.get_compiler(using).apply_converters(rows, template.converters)
    names = template.names
    indexes = range(len(names))
    return [{names[i]: row[i] for i in indexes} for row in rows]


def _make_template(query, using: str, values: list[int]) -> _Template | None:
    """The template of ``query``'s shape, or None when the shape cannot have one."""
    from django.core.exceptions import EmptyResultSet, FullResultSet

    stand_ins = _stand_ins(values)
    try:
        compiler = query.get_compiler(using)
        sql, params = compiler.as_sql()
        stand_in_query = query.clone()
        counter = itertools.count()
        stand_in_query.where = _replaced(query.where, stand_ins, counter)
        template_sql, template_params = stand_in_query.get_compiler(using).as_sql()
    except (EmptyResultSet, FullResultSet, _Unusable, TypeError, ValueError):
        return None
    params, template_params = list(params), list(template_params)
    slots = []
    for stand_in in stand_ins:
        found = [i for i, p in enumerate(template_params) if type(p) is int and p == stand_in]
        if len(found) != 1:
            return None
        slots.append(found[0])
    if sorted(slots) != slots:  # the WHERE tree's order is the parameters' order
        return None
    template = _Template(template_sql, template_params, slots, _names(query), None)
    if template_sql != sql or template.fill(values) != params:
        return None
    fields = [s[0] for s in compiler.select[0 : compiler.col_count]]
    template.converters = compiler.get_converters(fields)
    return template


def _stand_ins(values: list[int]) -> list[int]:
    """Distinct integers, one per slot, none of them a slot's own value, in the range of every
    integer column (Django compiles an out-of-range comparison to no comparison at all). A
    stand-in that some other parameter happens to hold is caught when the template is made."""
    taken = set(values)
    stand_ins, candidate = [], 2_147_483_000
    while len(stand_ins) < len(values):
        if candidate not in taken:
            stand_ins.append(candidate)
        candidate -= 7
    return stand_ins


def _replaced(node, stand_ins: list[int], counter) -> WhereNode:
    """A copy of the WHERE tree with the stand-ins in the slots, in the tree's order."""
    if isinstance(node, WhereNode):
        return WhereNode(
            [_replaced(child, stand_ins, counter) for child in node.children],
            node.connector,
            node.negated,
        )
    if type(node.rhs) is int:
        return type(node)(node.lhs, stand_ins[next(counter)])
    return node


def _names(query) -> list[str]:
    if query.selected:
        return list(query.selected)
    return [*query.extra_select, *query.values_select, *query.annotation_select]
