"""The benchmark harness's absolute-limit rows (``Check`` kind ``within``: issue #9's p95 page
times), next to the ratio rows they share the table with."""

from benchmarks.framework import Check, Timing, failed, render_table


def within(seconds, limit=0.2, error=""):
    ours = None if seconds is None else Timing(seconds, "p50 90 ms, 30 requests")
    return Check("daily: a page (rep, p95)", ours, None, "within", limit, error=error)


def test_within_passes_at_or_under_the_limit_and_fails_over_it():
    assert within(0.150).passed
    assert within(0.200).passed
    assert not within(0.201).passed
    assert within(0.150).ratio is None  # no reference: no ratio


def test_within_without_a_time_or_with_an_error_fails():
    assert not within(None).passed
    assert not within(0.1, error="500 on GET /leads/").passed


def test_within_misses_are_failures_only_when_enforced():
    slow = within(0.5)
    assert failed([slow]) == [slow]
    slow.enforced = False  # a --small run
    assert failed([slow]) == []


def test_within_rows_render_their_limit():
    table = render_table(
        [within(0.150), within(0.250), Check("r", Timing(2), Timing(1), "at_most", 3)]
    )
    assert "ours ≤ 200 ms" in table
    assert "150 ms (p50 90 ms, 30 requests)" in table
    assert "| FAIL " in table
    assert "2.00×" in table and "ours ≤ 3× ref" in table
