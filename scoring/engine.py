"""The scoring rules, evaluated two ways that must always agree.

* ``score_lead`` computes one lead's score in Python (the lead page's breakdown, every lead save).
* ``score_expression`` compiles the same criteria into one SQL expression
  (``CASE WHEN … THEN points ELSE 0 END + …``) for set-based rescoring.

Text comparisons ignore case for the letters A–Z only. Databases fold other letters differently
from Python (``ß``, ``İ``...), and exact agreement between the two paths matters more here.
Ordered fields (timeline, company size) support "at least" / "at most" by rank; "unknown" and
empty values never satisfy a comparison.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from django.db.models import Case, F, Func, IntegerField, Value, When
from django.db.models.expressions import Combinable
from django.db.models.lookups import Contains, Exact, GreaterThanOrEqual, In

from crm.models import CompanySize
from leads.models import Answer, Timeline

_UPPER = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
_LOWER = "abcdefghijklmnopqrstuvwxyz"
_FOLD = str.maketrans(_UPPER, _LOWER)

#: The rank of each value of the ordered fields (sooner / smaller first).
RANKS: dict[str, dict[str, int]] = {
    "timeline": {
        v: i for i, v in enumerate([Timeline.LT_3M, Timeline.M3_6, Timeline.M6_12, Timeline.GT_12M])
    },
    "company_size": {v: i for i, (v, _label) in enumerate(CompanySize.choices)},
}
CHOICES: dict[str, set[str]] = {
    "budget": {a.value for a in Answer},
    "authority": {a.value for a in Answer},
    "need": {a.value for a in Answer},
    "timeline": {t.value for t in Timeline},
    "company_size": {c.value for c in CompanySize},
}
TEXT_FIELDS = {"country", "industry", "title", "source"}
OPERATORS_BY_FIELD: dict[str, set[str]] = {
    **{f: {"eq", "in"} for f in ("budget", "authority", "need")},
    "timeline": {"eq", "in", "gte", "lte"},
    "company_size": {"eq", "in", "gte", "lte"},
    **{f: {"eq", "in", "contains"} for f in TEXT_FIELDS},
}


def fold(text: str | None) -> str:
    return (text or "").translate(_FOLD)


def split_values(value: str) -> list[str]:
    return [v.strip() for v in value.split(",") if v.strip()]


@dataclass(frozen=True)
class Rule:
    """What the engine needs of a criterion (works for model rows and plain test data)."""

    id: int | None
    name: str
    field: str
    operator: str
    value: str
    points: int

    @classmethod
    def of(cls, criterion) -> Rule:
        return cls(
            criterion.id,
            criterion.name,
            criterion.field,
            criterion.operator,
            criterion.value,
            criterion.points,
        )


def _ranked(field: str, operator: str, value: str) -> set[str]:
    """The field values that satisfy ``>= value`` / ``<= value`` by rank."""
    ranks = RANKS[field]
    pivot = ranks.get(value)
    if pivot is None:
        return set()
    if operator == "gte":
        return {v for v, r in ranks.items() if r >= pivot}
    return {v for v, r in ranks.items() if r <= pivot}


def matches(rule: Rule, lead) -> bool:
    actual = fold(getattr(lead, rule.field))
    if rule.operator == "eq":
        return actual == fold(rule.value.strip())
    if rule.operator == "in":
        return actual in {fold(v) for v in split_values(rule.value)}
    if rule.operator == "contains":
        return fold(rule.value.strip()) in actual
    if rule.operator in ("gte", "lte"):
        return getattr(lead, rule.field) in _ranked(rule.field, rule.operator, rule.value.strip())
    raise ValueError(rule.operator)


def score_lead(lead, rules: Iterable[Rule]) -> tuple[int, list[dict]]:
    """The lead's score and the matching criteria with their points (the "why")."""
    breakdown = [
        {"criterion": r.id, "name": r.name, "points": r.points} for r in rules if matches(r, lead)
    ]
    return sum(b["points"] for b in breakdown), breakdown


# --- SQL ---------------------------------------------------------------------------------------


class _FoldAZ(Func):
    """Lower-case the letters A–Z only, exactly like ``fold``.

    Postgres: ``lower()`` under the "C" collation folds ASCII only, and costs a tenth of
    ``translate()``. SQLite's ``lower()`` is ASCII-only already. Elsewhere: ``translate()``.
    """

    function = "TRANSLATE"

    def __init__(self, expression):
        super().__init__(expression, Value(_UPPER), Value(_LOWER))

    def as_postgresql(self, compiler, connection, **extra):
        sql, params = compiler.compile(self.source_expressions[0])
        return f'LOWER(({sql}) COLLATE "C")', params

    def as_sqlite(self, compiler, connection, **extra):
        sql, params = compiler.compile(self.source_expressions[0])
        return f"LOWER({sql})", params


def _fold_sql(field: str) -> Combinable:
    return _FoldAZ(F(field))


def condition(rule: Rule):
    """The SQL condition equivalent to ``matches(rule, lead)``."""
    if rule.operator == "eq":
        return Exact(_fold_sql(rule.field), fold(rule.value.strip()))
    if rule.operator == "in":
        values = sorted({fold(v) for v in split_values(rule.value)}) or [""]
        if not split_values(rule.value):
            return Exact(Value(1), 0)  # "one of nothing" never matches
        return In(_fold_sql(rule.field), values)
    if rule.operator == "contains":
        return Contains(_fold_sql(rule.field), fold(rule.value.strip()))
    if rule.operator in ("gte", "lte"):
        allowed = sorted(_ranked(rule.field, rule.operator, rule.value.strip()))
        if not allowed:
            return Exact(Value(1), 0)
        return In(F(rule.field), allowed)
    raise ValueError(rule.operator)


def score_expression(rules: Iterable[Rule]):
    """``SUM(CASE WHEN condition THEN points ELSE 0 END)`` over the rules, as one expression."""
    expr = Value(0, output_field=IntegerField())
    for rule in rules:
        expr = expr + Case(
            When(condition(rule), then=Value(rule.points)),
            default=Value(0),
            output_field=IntegerField(),
        )
    return expr


def sales_ready_expression(score_expr, threshold: int):
    return GreaterThanOrEqual(score_expr, threshold)
