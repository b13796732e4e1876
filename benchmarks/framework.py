"""The harness: a registry of scenarios, timing helpers, and the one results table.

A scenario is a function registered with ``@scenario("name")``. It receives a :class:`Context`
(size, options, the database) and returns one or more :class:`Check` rows: our time, the
reference time measured in the same run, and the target their ratio must meet. A scenario that
raises (a correctness mismatch, say) becomes a FAIL row with the error; the run goes on with the
next scenario and ``make bench`` exits non-zero.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

#: name -> scenario function, in registration order (the order of the table).
REGISTRY: dict[str, Callable[[Context], Iterable[Check]]] = {}


class BenchmarkError(Exception):
    """A scenario found something wrong (wrong results, a broken dataset): it fails loudly."""


@dataclass
class Context:
    small: bool
    rebuild: bool
    database: str
    repeat: int = 3
    log: Callable[[str], None] = print
    #: free-form notes that scenarios leave for the footer of the table
    notes: list[str] = field(default_factory=list)


@dataclass
class Timing:
    """Seconds, and how they were obtained ("median of 3", "10,000 sample ×100")."""

    seconds: float
    how: str = ""
    #: the 99th percentile in seconds, for rows measured under load (wrk); None elsewhere.
    p99: float | None = None

    @classmethod
    def median(cls, samples: list[float]) -> Timing:
        if len(samples) == 1:
            return cls(samples[0], "1 run")
        return cls(statistics.median(samples), f"median of {len(samples)}")


@dataclass
class Check:
    """One row of the table.

    ``at_most``: ratio = ours / reference, PASS when ratio <= target (we are at most N× slower).
    ``at_least``: ratio = reference / ours, PASS when ratio >= target (we are at least N× faster).
    ``within``: an absolute limit, no reference: PASS when ours <= target seconds (a p95 page
    time, say).

    ``allowance`` (seconds, ``at_most`` only) adds an absolute slack to the ratio target: PASS
    when ours <= target × reference + allowance ("≤ 1.3× + 5 ms"), for rows whose reference is so
    fast that a fixed per-request cost would dominate the ratio. ``queries`` is the number of SQL
    queries one of our requests ran (the API rows), shown as "-" when None.
    """

    scenario: str
    ours: Timing | None
    reference: Timing | None
    kind: str  # "at_most" | "at_least" | "within"
    target: float
    error: str = ""
    #: False in --small runs: the targets are set for the full size, where fixed costs do not
    #: blur the ratios. A small run still fails on an error (a crash, a wrong score).
    enforced: bool = True
    allowance: float = 0.0
    queries: float | None = None

    @property
    def ratio(self) -> float | None:
        if self.kind == "within":
            return None
        if self.error or self.ours is None or self.reference is None:
            return None
        if self.kind == "at_most":
            return self.ours.seconds / self.reference.seconds
        return self.reference.seconds / max(self.ours.seconds, 1e-9)

    @property
    def passed(self) -> bool:
        if self.kind == "within":
            return not self.error and self.ours is not None and self.ours.seconds <= self.target
        r = self.ratio
        if r is None:
            return False
        if self.kind == "at_most":
            return self.ours.seconds <= self.target * self.reference.seconds + self.allowance
        return r >= self.target

    @property
    def target_text(self) -> str:
        if self.error and self.ours is None:
            return "-"
        if self.kind == "within":
            return f"ours ≤ {fmt_seconds(self.target)}"
        if self.kind == "at_most":
            if self.allowance:
                return f"ours ≤ {self.target:g}× ref + {fmt_seconds(self.allowance)}"
            return f"ours ≤ {self.target:g}× ref"
        return f"ref ≥ {self.target:g}× ours"


def failed(checks: list[Check]) -> list[Check]:
    return [c for c in checks if not c.passed and (c.enforced or c.error)]


def scenario(name: str):
    """Register a scenario under ``name`` (``--only name`` runs just that one)."""

    def register(fn):
        if name in REGISTRY:
            raise ValueError(f"scenario {name!r} registered twice")
        REGISTRY[name] = fn
        return fn

    return register


def timed(fn: Callable[[], object]) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def fmt_seconds(seconds: float) -> str:
    if seconds >= 100:
        return f"{seconds:,.0f} s"
    if seconds >= 1:
        return f"{seconds:.2f} s"
    if seconds < 0.01:  # request latencies: a decimal matters
        return f"{seconds * 1000:.1f} ms"
    return f"{seconds * 1000:.0f} ms"


def _cell(t: Timing | None) -> str:
    if t is None:
        return "-"
    return f"{fmt_seconds(t.seconds)} ({t.how})" if t.how else fmt_seconds(t.seconds)


def _p99(t: Timing | None) -> str:
    return "-" if t is None or t.p99 is None else fmt_seconds(t.p99)


def render_table(checks: list[Check]) -> str:
    header = (
        "scenario",
        "ours (median)",
        "ours p99",
        "reference (same run)",
        "ref p99",
        "ratio",
        "queries/req",
        "target",
        "result",
    )
    rows = []
    for c in checks:
        ratio = "-" if c.ratio is None else f"{c.ratio:.2f}×"
        error = " ".join(c.error.split())
        if c.passed:
            result = "PASS"
        elif error:
            result = f"FAIL: {error}"
        else:
            result = "FAIL" if c.enforced else "miss (not enforced)"
        queries = "-" if c.queries is None else f"{c.queries:g}"
        rows.append(
            (
                c.scenario,
                _cell(c.ours),
                _p99(c.ours),
                _cell(c.reference),
                _p99(c.reference),
                ratio,
                queries,
                c.target_text,
                result,
            )
        )
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]

    def line(cells):
        return "| " + " | ".join(c.ljust(w) for c, w in zip(cells, widths, strict=True)) + " |"

    sep = "|" + "|".join("-" * (w + 2) for w in widths) + "|"
    return "\n".join([line(header), sep, *(line(r) for r in rows)])
