"""The API benchmarks' plumbing: wrk's output parsed into p50/p99 (errors fail the row), the
query count header of benchmarks.wsgi, and the table's API columns and "+ N ms" allowance."""

import pytest

from benchmarks.framework import BenchmarkError, Check, Timing, render_table
from benchmarks.http import parse_wrk

WRK_OUTPUT = """Running 5s test @ http://127.0.0.1:8000/api/v1/leads/
  1 threads and 4 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency    12.31ms    3.02ms  40.10ms   80.00%
    Req/Sec   325.01     20.11   360.00     70.00%
  Latency Distribution
     50%   11.52ms
     75%   13.20ms
     90%   15.80ms
     99%    1.20s
  1623 requests in 5.01s, 9.81MB read
{extra}Requests/sec:    323.95
Transfer/sec:      1.96MB
"""


def test_wrk_output_gives_p50_p99_and_the_request_count():
    result = parse_wrk(WRK_OUTPUT.format(extra=""))
    assert result.p50 == pytest.approx(0.01152)
    assert result.p99 == pytest.approx(1.2)
    assert result.requests == 1623
    assert result.timing.p99 == pytest.approx(1.2)
    assert "1,623 requests" in result.timing.how


def test_wrk_microseconds():
    out = WRK_OUTPUT.format(extra="").replace("11.52ms", "850.00us")
    assert parse_wrk(out).p50 == pytest.approx(0.00085)


@pytest.mark.parametrize(
    "extra",
    [
        "  Non-2xx or 3xx responses: 3\n",
        "  Socket errors: connect 0, read 2, write 0, timeout 0\n",
        "  Socket errors: connect 0, read 0, write 0, timeout 1\n",
    ],
)
def test_wrk_errors_fail_the_row(extra):
    with pytest.raises(BenchmarkError):
        parse_wrk(WRK_OUTPUT.format(extra=extra))


def test_wrk_zero_socket_errors_are_fine():
    extra = "  Socket errors: connect 0, read 0, write 0, timeout 0\n"
    assert parse_wrk(WRK_OUTPUT.format(extra=extra)).requests == 1623


def test_wrk_output_without_latencies_fails():
    with pytest.raises(BenchmarkError):
        parse_wrk("unable to connect to 127.0.0.1:1 Connection refused\n")


def test_query_counter_counts_each_statement():
    from benchmarks.wsgi import QueryCounter

    counter = QueryCounter()
    for _ in range(3):
        assert counter(lambda *a: "ran", "select 1", None, False, {}) == "ran"
    assert counter.count == 3


def api_row(ours, ref, allowance=0.005):
    return Check(
        "report API",
        Timing(ours, "p50", p99=ours * 2),
        Timing(ref, "p50", p99=ref * 3),
        "at_most",
        1.3,
        allowance=allowance,
        queries=4,
    )


def test_allowance_adds_absolute_slack_to_the_ratio_target():
    assert api_row(0.0180, 0.010).passed  # 1.3 × 10 ms + 5 ms = 18 ms
    assert not api_row(0.0181, 0.010).passed
    assert not api_row(0.0180, 0.010, allowance=0).passed


def test_api_columns_render_p99_and_queries_and_dashes_elsewhere():
    table = render_table([api_row(0.012, 0.010), Check("r", Timing(2), Timing(1), "at_most", 3)])
    assert "ours ≤ 1.3× ref + 5.0 ms" in table
    assert "| 24 ms " in table and "| 30 ms " in table  # p99s
    assert "| 4 " in table  # queries per request
    header, _, _api, plain = table.splitlines()
    assert "ours p99" in header and "queries/req" in header
    assert plain.count("| - ") == 3  # no p99s, no queries
