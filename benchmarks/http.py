"""A real HTTP server and a load generator for the API scenarios.

:class:`Server` runs the venv's gunicorn (sync workers, a free 127.0.0.1 port, its own process
group, a log in a temp file that a failure shows) serving ``benchmarks.wsgi``: our Django app
with a query count per response, and the bare reference functions under ``/bare/``.
:func:`load` runs Debian's ``wrk --latency`` against one URL and returns its p50 and p99; any
socket error or non-2xx/3xx answer raises :class:`BenchmarkError` (the row fails).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from benchmarks.framework import BenchmarkError, Timing

WRK = "/usr/bin/wrk"
#: the response header in which benchmarks.wsgi reports how many SQL queries a request ran
QUERIES_HEADER = "X-Bench-Queries"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Response:
    status: int
    headers: dict[str, str]
    body: bytes

    def json(self):
        return json.loads(self.body)

    @property
    def queries(self) -> int | None:
        value = self.headers.get(QUERIES_HEADER.lower())
        return None if value is None else int(value)


class Server:
    """``with Server(bare_sql={...}) as server: server.url("/api/v1/leads/")``.

    ``bare_sql`` maps a reference name to its SQL statements (served at ``/bare/<name>``).
    """

    def __init__(self, bare_sql: dict[str, list[str]] | None = None, workers: int = 2):
        self.bare_sql = bare_sql or {}
        self.workers = workers
        self.port = 0
        self.process: subprocess.Popen | None = None
        self._dir = None

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def log_text(self) -> str:
        if self._dir is None:
            return ""
        path = Path(self._dir.name) / "gunicorn.log"
        return path.read_text(errors="replace")[-4000:] if path.exists() else ""

    def _fail(self, message: str):
        raise BenchmarkError(f"{message}; gunicorn log:\n{self.log_text()}")

    def start(self) -> Server:
        self._dir = tempfile.TemporaryDirectory(prefix="bench-http-")
        sql_path = Path(self._dir.name) / "bare.json"
        sql_path.write_text(json.dumps(self.bare_sql))
        gunicorn = Path(sys.executable).with_name("gunicorn")
        if not gunicorn.exists():
            raise BenchmarkError(f"{gunicorn} not found (make install-dev installs gunicorn)")
        self.port = free_port()
        env = {
            **os.environ,
            "BENCH_BARE_SQL": str(sql_path),
            "DJANGO_HTTPS": "0",  # plain HTTP on localhost: no redirect to https
        }
        log = Path(self._dir.name) / "gunicorn.log"
        self.process = subprocess.Popen(  # noqa: S603 (our venv's gunicorn, fixed arguments)
            [
                str(gunicorn),
                "benchmarks.wsgi:application",
                "--bind",
                f"127.0.0.1:{self.port}",
                "--workers",
                str(self.workers),
                "--worker-class",
                "sync",
                "--log-file",
                str(log),
                "--access-logfile",
                "/dev/null",
            ],
            env=env,
            cwd=str(Path(__file__).resolve().parent.parent),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,  # its own process group: stop() ends it and its workers
        )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                self._fail(f"gunicorn exited with {self.process.returncode}")
            try:
                if self.get("/bare/ping").status == 200:
                    # each worker imports Django lazily on its first request: warm them all
                    for _ in range(self.workers * 2):
                        self.get("/bare/ping")
                    return self
            except OSError:
                pass
            time.sleep(0.2)
        self.stop()
        self._fail("gunicorn did not answer within 60 s")
        return self

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            try:
                os.killpg(self.process.pid, signal.SIGTERM)
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=5)
            except ProcessLookupError:
                pass
        self.process = None

    def close(self) -> None:
        self.stop()
        if self._dir is not None:
            self._dir.cleanup()
            self._dir = None

    def __enter__(self) -> Server:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.close()

    def get(self, path: str, headers: dict[str, str] | None = None) -> Response:
        request = urllib.request.Request(self.url(path), headers=headers or {})  # noqa: S310
        try:
            with urllib.request.urlopen(request, timeout=60) as r:  # noqa: S310 (http://127.0.0.1)
                return Response(r.status, {k.lower(): v for k, v in r.headers.items()}, r.read())
        except urllib.error.HTTPError as e:
            return Response(e.code, {k.lower(): v for k, v in e.headers.items()}, e.read())

    def get_ok(self, path: str, headers: dict[str, str] | None = None) -> Response:
        """One request that must answer 200 (before a load run: wrk counts 3xx as success)."""
        response = self.get(path, headers)
        if response.status != 200:
            self._fail(f"GET {path} answered {response.status}: {response.body[:300]!r}")
        return response

    def load(self, path: str, headers: dict[str, str] | None = None, **options) -> Timing:
        return load(self.url(path), headers, **options)


# --- wrk -----------------------------------------------------------------------------------------

_UNITS = {"us": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0}
_PERCENTILE = re.compile(r"^\s*(50|99)(?:\.0+)?%\s+([\d.]+)(us|ms|s|m|h)\s*$", re.MULTILINE)
_REQUESTS = re.compile(r"^\s*(\d+) requests in ([\d.]+)(us|ms|s|m|h)", re.MULTILINE)
_SOCKET_ERRORS = re.compile(
    r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", re.MULTILINE
)
_NON_2XX = re.compile(r"Non-2xx or 3xx responses: (\d+)")


@dataclass
class WrkResult:
    p50: float
    p99: float
    requests: int
    duration: float

    @property
    def timing(self) -> Timing:
        return Timing(self.p50, f"p50 of {self.requests:,} requests", p99=self.p99)


def parse_wrk(output: str) -> WrkResult:
    """p50, p99 (seconds) and the request count of ``wrk --latency`` output; raises
    :class:`BenchmarkError` on socket errors, non-2xx/3xx answers or no requests at all."""
    errors = _SOCKET_ERRORS.search(output)
    if errors and any(int(n) for n in errors.groups()):
        raise BenchmarkError(f"wrk: {errors.group(0)}")
    bad = _NON_2XX.search(output)
    if bad and int(bad.group(1)):
        raise BenchmarkError(f"wrk: {bad.group(0)}")
    percentiles = {p: float(v) * _UNITS[u] for p, v, u in _PERCENTILE.findall(output)}
    requests = _REQUESTS.search(output)
    if "50" not in percentiles or "99" not in percentiles or not requests:
        raise BenchmarkError(f"wrk: no latency distribution in its output:\n{output[-1500:]}")
    count = int(requests.group(1))
    if count == 0:
        raise BenchmarkError("wrk: no request completed")
    duration = float(requests.group(2)) * _UNITS[requests.group(3)]
    return WrkResult(percentiles["50"], percentiles["99"], count, duration)


def load(
    url: str,
    headers: dict[str, str] | None = None,
    *,
    threads: int = 1,
    connections: int = 4,
    duration: int = 5,
) -> Timing:
    """Run ``wrk --latency`` with fixed threads/connections/duration; p50 and p99 in a Timing."""
    wrk = WRK if os.path.exists(WRK) else shutil.which("wrk")
    if not wrk:
        raise BenchmarkError("wrk not found (make wrk installs Debian's)")
    command = [
        wrk,
        "--latency",
        f"-t{threads}",
        f"-c{connections}",
        f"-d{duration}s",
        "--timeout",
        "30s",
    ]
    for name, value in (headers or {}).items():
        command += ["-H", f"{name}: {value}"]
    done = subprocess.run(  # noqa: S603 (wrk, our arguments)
        [*command, url], capture_output=True, text=True, timeout=duration + 60, check=False
    )
    if done.returncode != 0:
        raise BenchmarkError(f"wrk exited with {done.returncode}: {done.stderr[-1000:]}")
    return parse_wrk(done.stdout).timing
