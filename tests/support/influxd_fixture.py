"""A real InfluxDB 1.x server for tests: loopback only, temporary directory, stopped at teardown.

Use it with ``from tests.support.influxd_fixture import influxd`` in a test module; the fixture is
module-scoped, so each module gets its own server (start-up takes about 0.1 s). Tests that
stop and restart the server (outage tests) must leave it running when they finish.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import socket
import subprocess
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from adaptive_agent.core.time_rules import BAR_MS

_INSTALL_HINT = (
    "influxd (InfluxDB 1.x server) is not installed; the InfluxDB sink tests need a real "
    "server. Install it with: apt-get install -y influxdb  (the project's test script does this)"
)


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _config(base: Path, http_port: int, rpc_port: int) -> str:
    return f"""\
reporting-enabled = false
reporting-disabled = true
bind-address = "127.0.0.1:{rpc_port}"

[meta]
  dir = "{base / "meta"}"
  logging-enabled = false

[data]
  dir = "{base / "data"}"
  wal-dir = "{base / "wal"}"
  wal-fsync-delay = "0s"
  query-log-enabled = false
  trace-logging-enabled = false

[coordinator]

[retention]
  enabled = false

[shard-precreation]
  enabled = false

[monitor]
  store-enabled = false

[http]
  enabled = true
  bind-address = "127.0.0.1:{http_port}"
  auth-enabled = false
  log-enabled = false
  write-tracing = false
  pprof-enabled = false

[ifql]
  enabled = false

[logging]
  level = "warn"
  suppress-logo = true

[subscriber]
  enabled = false

[continuous_queries]
  enabled = false
"""


class InfluxdServer:
    """One ``influxd`` process bound to 127.0.0.1; restartable on the same port and data."""

    def __init__(self, base: Path, binary: str) -> None:
        self.base = base
        self.binary = binary
        self.port = free_port()
        self.rpc_port = free_port()
        while self.rpc_port == self.port:
            self.rpc_port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.config_path = base / "influxd.conf"
        self.config_path.write_text(_config(base, self.port, self.rpc_port))
        self.log_path = base / "influxd.log"
        self._proc: subprocess.Popen[bytes] | None = None

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    def _log_tail(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-2000:]
        except OSError:
            return ""

    def start(self, timeout_s: float = 15.0) -> None:
        if self.running:
            return
        with self.log_path.open("ab") as log:
            self._proc = subprocess.Popen(
                [self.binary, "-config", str(self.config_path)],
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                cwd=self.base,
            )
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self._proc.poll() is not None:
                rc = self._proc.returncode
                self._proc = None
                raise RuntimeError(f"influxd exited with {rc} at start-up:\n{self._log_tail()}")
            if self.ping():
                return
            time.sleep(0.02)
        self.stop()
        raise RuntimeError(f"influxd did not answer /ping in {timeout_s} s:\n{self._log_tail()}")

    def stop(self, timeout_s: float = 10.0) -> None:
        proc, self._proc = self._proc, None
        if proc is None:
            return
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout_s)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout_s)
        # the port must be free again before a restart or an outage test goes on
        deadline = time.monotonic() + timeout_s
        while self.ping() and time.monotonic() < deadline:
            time.sleep(0.02)

    def ping(self) -> bool:
        try:
            with urllib.request.urlopen(f"{self.url}/ping", timeout=1.0) as resp:
                return resp.status == 204
        except (OSError, urllib.error.URLError):
            return False

    def raw_query(self, q: str, db: str | None = None, *, method: str = "GET") -> dict[str, Any]:
        """The decoded JSON answer of ``/query`` (epoch=ms)."""
        params = {"q": q, "epoch": "ms"}
        if db is not None:
            params["db"] = db
        data = urllib.parse.urlencode(params)
        if method == "POST":
            req = urllib.request.Request(f"{self.url}/query", data=data.encode(), method="POST")
        else:
            req = urllib.request.Request(f"{self.url}/query?{data}", method="GET")
        try:
            with urllib.request.urlopen(req, timeout=10.0) as resp:
                body = resp.read()
        except urllib.error.HTTPError as exc:
            with contextlib.closing(exc):
                detail = exc.read().decode(errors="replace")
            raise AssertionError(f"InfluxQL {q!r} failed: HTTP {exc.code} {detail}") from None
        return json.loads(body)

    def query(self, q: str, db: str | None = None) -> list[dict[str, Any]]:
        """Rows of every series of every statement, each a dict of column -> value plus tags
        (the measurement name is not included).

        Raises AssertionError when InfluxDB reports an error for a statement.
        """
        answer = self.raw_query(q, db)
        rows: list[dict[str, Any]] = []
        for result in answer.get("results", []):
            if "error" in result:
                raise AssertionError(f"InfluxQL {q!r} failed: {result['error']}")
            for series in result.get("series", []):
                tags = series.get("tags") or {}
                for values in series.get("values", []):
                    row = dict(zip(series["columns"], values, strict=True))
                    row.update(tags)
                    rows.append(row)
        return rows

    def write_lines(self, db: str, body: str, precision: str = "ms") -> None:
        """Write raw line protocol (for tests that must plant data the sink would not write)."""
        url = f"{self.url}/write?" + urllib.parse.urlencode({"db": db, "precision": precision})
        req = urllib.request.Request(url, data=body.encode(), method="POST")
        with urllib.request.urlopen(req, timeout=10.0) as resp:
            assert resp.status == 204, resp.status


def influxd_binary(search_path: str | None = None) -> str:
    """The influxd executable; fails the test (never skips) when it is not installed."""
    if search_path is None:
        search_path = os.pathsep.join([os.environ.get("PATH", ""), "/usr/bin", "/usr/sbin"])
    found = shutil.which("influxd", path=search_path)
    if found is None:
        pytest.fail(_INSTALL_HINT, pytrace=False)
    return found


@pytest.fixture(scope="module")
def influxd(tmp_path_factory: pytest.TempPathFactory) -> Iterator[InfluxdServer]:
    """A running influxd on 127.0.0.1 (free ports); killed at the end of the module."""
    server = InfluxdServer(tmp_path_factory.mktemp("influxd"), influxd_binary())
    try:
        server.start()
        yield server
    finally:
        server.stop()


# ----------------------------------------------------------------------------- record factories
# Deterministic records for the InfluxSink tests (bars every 5 minutes from T0).

T0_MS = 1_700_006_400_000  # 2023-11-15 00:00:00 UTC


def make_bar(i: int, **override: Any) -> Any:
    from adaptive_agent.records import BarSnapshot

    values: dict[str, Any] = {
        "time_ms": T0_MS + i * BAR_MS,
        "nav": 10_000.0 + 0.123456789 * i,
        "price_ref": 36_000.0 + 1.0625 * i,
        "basis": 0.000123456789 * ((i % 7) - 3),
        "w_spot": 0.5 + 0.001 * (i % 10),
        "w_long": 0.1,
        "w_short": -(0.6 + 0.001 * (i % 10)),
        "delta_usdt": 12.5 - 0.25 * (i % 50),
        "delta_frac": (12.5 - 0.25 * (i % 50)) / 10_000.0,
        "margin_frac": 0.3 + 0.0001 * i,
        "safe_mode": 40 <= (i % 100) < 45,
        "safe_mode_reasons": ("stale_ws",) if 40 <= (i % 100) < 45 else (),
        "signal": "NONE" if i % 12 else "LONG",
        "funding_rate": 0.0001 if i % 96 else None,
        "sharpe_30d": 1.25 + 0.001 * i if i >= 3 else None,
    }
    values.update(override)
    return BarSnapshot(**values)


def make_rebalance(i: int, **override: Any) -> Any:
    from adaptive_agent.records import RebalanceRecord

    values: dict[str, Any] = {
        "time_ms": T0_MS + i * BAR_MS,
        "rebalance_id": f"rb-{i:06d}",
        "orders": 3,
        "blocked": i % 2,
        "skipped": 1 if i % 3 == 0 else 0,
        "fees_usdt": 0.75 + 0.01 * i,
        "slippage_usdt": -0.125 + 0.001 * i,
        "notional_usdt": 1_500.0 + i,
        "signal_to_first_ack_ms": 180.5 + i if i % 5 else None,
        "complete_ms": 950.25 + 2 * i if i % 5 else None,
    }
    values.update(override)
    return RebalanceRecord(**values)
