"""InfluxDB 1.x sink: the agent's bars, rebalances and alerts as time series, never in the way.

How it works
------------
* The ``Monitor`` methods only append the record to a bounded in-memory deque (O(1), no I/O,
  no lock shared with the network code). When the deque is full the record is dropped and
  counted; trading is never slowed down by monitoring.
* One background thread turns records into line protocol (``influxdb.line_protocol.make_lines``)
  and POSTs batches to ``/write?db=...&precision=ms`` through the ``influxdb`` v1 client.
* Every point carries the record's own time in milliseconds, and its series key (measurement +
  tags) is fixed by the record. Writing the same line twice therefore *overwrites* the point in
  InfluxDB instead of duplicating it. Delivery is at-least-once (a batch that timed out may
  already have been stored and is sent again), and at-least-once plus idempotent points gives
  exactly one copy of every point in the database.
* While InfluxDB is unreachable (connection refused/reset, timeout, HTTP 5xx, and also 401/403/
  404/408/429, which are about the server, not the data, and any failure of CREATE DATABASE
  other than a missing privilege), batches are appended to segment files
  in ``spool_dir`` (``seg-<n>.lp``, append-only, fsync'd). As long as the spool holds anything,
  newer batches are appended behind it rather than sent, and the spool is sent from its oldest
  line onwards: InfluxDB receives points in the order they were recorded. A segment is deleted
  only after every line of it was accepted (or rejected); a crash before that re-sends it, which
  is harmless (see above). Spooled points survive a restart: a new sink on the same
  ``spool_dir`` sends them before anything new. The directory is locked (``flock``) while a
  sink uses it.
* A batch InfluxDB rejects as malformed (HTTP 400 and other 4xx) is split in halves until the
  offending lines are isolated; those lines go to ``spool_dir/rejected/rejected-YYYYMMDD.lp``
  with the server's reason as a comment, are logged and counted, and the rest is delivered.
  Non-finite numbers (NaN, +-inf) never reach the wire: such fields are left out of the point.
* ``close()`` tries once more to deliver within a time limit, spools whatever is left and stops
  the thread. Records still in memory when the *process* dies (at most ``flush_interval_s`` of
  data) are lost; everything that reached the spool is not.

Series (``measurement_prefix`` is prepended to each measurement name)
--------------------------------------------------------------------
``bar`` (one point per BarSnapshot): floats ``nav``, ``price_ref``, ``basis`` (Basis_Gate),
``w_spot``, ``w_long``, ``w_short``, ``delta_usdt``, ``delta_frac``, ``margin_frac``,
``funding_rate`` and ``sharpe_30d`` (absent while unknown); integer ``safe_mode`` (0/1); strings
``signal`` and ``safe_mode_reasons`` (comma separated, absent when empty).

``rebalance`` (one point per RebalanceRecord, at its decision time): floats ``fees_usdt``,
``slippage_usdt``, ``cost_usdt`` (fees + slippage), ``notional_usdt``, ``signal_to_first_ack_ms``
and ``complete_ms`` (absent while unknown); integers ``orders``, ``blocked``, ``skipped``,
``trades``; string ``rebalance_id``. The id is a *field*, not a tag: a tag would create one
series per rebalance, an unbounded series cardinality.

``alert`` (one point per alert): tag ``kind`` (a small fixed set; characters other than
letters, digits and ``_.:-`` become ``_``, blank becomes ``unknown``), string field ``text``
(a newline in it is stored as the two characters ``\\n``, the library's escaping).

Every point also carries the constant ``tags`` given to the constructor (e.g. ``{"agent":
"live"}``). Two different records that would land on the same series and millisecond (two alerts
of one kind in the same ms, two rebalance ids at one decision time) are kept apart by moving the
later one forward by 1 ms; the same record sent twice still overwrites itself.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import math
import os
import re
import threading
import time
from collections import OrderedDict, deque
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import Any, Literal
from urllib.parse import unquote, urlsplit

from influxdb import InfluxDBClient
from influxdb.exceptions import InfluxDBClientError, InfluxDBServerError
from influxdb.line_protocol import make_lines

from adaptive_agent.monitoring.events import BarSnapshot, RebalanceRecord, TradeRecord

__all__ = ["InfluxSink", "InfluxSinkStats", "influx_sink_from_config", "iter_spooled_lines"]

log = logging.getLogger(__name__)

MEASUREMENT_BAR = "bar"
MEASUREMENT_REBALANCE = "rebalance"
MEASUREMENT_ALERT = "alert"

# 4xx answers that say nothing about the data: keep the points and try again later.
_RETRYABLE_4XX = frozenset({401, 403, 404, 407, 408, 429})
_KIND_UNSAFE = re.compile(r"[^0-9A-Za-z_.:-]+")  # alert kinds are a small set of plain words
_SEGMENT_PREFIX = "seg-"
_SEGMENT_SUFFIX = ".lp"

_Outcome = Literal["ok", "bad", "down"]


class _Unavailable(Exception):
    """InfluxDB cannot take points now, for a reason other than the points themselves."""


@dataclass(frozen=True, slots=True)
class InfluxSinkStats:
    """Counters of one sink (since it was created)."""

    enqueued: int  # records accepted by on_bar/on_rebalance/on_alert
    dropped: int  # records dropped because the in-memory queue was full
    queued: int  # records waiting in memory right now
    points_written: int  # points InfluxDB acknowledged (a re-sent point counts again)
    points_spooled: int  # points appended to the on-disk spool
    spool_pending: int  # points in the spool not yet delivered
    points_rejected: int  # points InfluxDB refused as malformed (moved to rejected/)
    spool_dropped: int  # points not spooled because the spool was full or the disk failed
    invalid_values: int  # non-finite fields left out, plus records that could not be converted
    write_failures: int  # failed delivery attempts (server unreachable or unhappy)
    connected: bool  # the last delivery attempt succeeded


class InfluxSink:
    """A ``Monitor`` that writes to InfluxDB 1.x, batched, asynchronous and spooled on disk.

    Args:
        url: ``http(s)://host:port[/path]``; ``user:password@`` in it is accepted and never logged.
        database: created on first successful contact (failure to create is tolerated when the
            user lacks the privilege and the database already exists).
        username, password: HTTP basic credentials (override those in ``url``).
        spool_dir: directory for the on-disk spool (created if missing). It is locked while the
            sink runs: a second sink on the same directory raises ValueError.
        batch_size: most lines per HTTP request; reaching it in the queue wakes the writer.
        flush_interval_s: the writer sends what is queued at least this often.
        measurement_prefix: prepended to ``bar``, ``rebalance`` and ``alert``.
        clock: monotonic seconds, used for retry scheduling.
        tags: constant tags put on every point (keep them few and fixed).
        retention_policy: ``rp`` for writes (None: the database default).
        timeout_s: HTTP connect/read timeout of one request.
        retry_initial_s, retry_max_s: back-off between attempts while InfluxDB is down.
        max_queue: records kept in memory; more are dropped (and counted).
        spool_max_bytes: the spool stops growing at this size (newer points are dropped).
        segment_max_bytes: a spool segment is closed and a new one started past this size.
        close_timeout_s: default time ``close()`` spends trying to deliver.
        verify_ssl: check the server certificate for https.
    """

    def __init__(
        self,
        url: str,
        database: str,
        *,
        username: str | None = None,
        password: str | None = None,
        spool_dir: str | os.PathLike[str],
        batch_size: int = 500,
        flush_interval_s: float = 2.0,
        measurement_prefix: str = "",
        clock: Callable[[], float] = time.monotonic,
        tags: Mapping[str, str] | None = None,
        retention_policy: str | None = None,
        timeout_s: float = 5.0,
        retry_initial_s: float = 1.0,
        retry_max_s: float = 60.0,
        max_queue: int = 100_000,
        spool_max_bytes: int = 512 * 1024 * 1024,
        segment_max_bytes: int = 4 * 1024 * 1024,
        close_timeout_s: float = 5.0,
        verify_ssl: bool = True,
    ) -> None:
        if batch_size < 1:
            raise ValueError("batch_size must be >= 1")
        if flush_interval_s <= 0 or timeout_s <= 0 or retry_initial_s <= 0:
            raise ValueError("flush_interval_s, timeout_s and retry_initial_s must be > 0")
        if max_queue < 1:
            raise ValueError("max_queue must be >= 1")
        if not database:
            raise ValueError("database must be named")
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError("url must look like http://host:8086")
        self._host = parts.hostname
        self._port = parts.port or 8086
        self._ssl = parts.scheme == "https"
        self._path = parts.path.rstrip("/")
        self._username = username if username is not None else _unq(parts.username)
        self._password = password if password is not None else _unq(parts.password)
        # what may appear in logs: no credentials
        self._where = f"{parts.scheme}://{self._host}:{self._port}{self._path}"
        self._database = database
        self._rp = retention_policy
        self._verify_ssl = verify_ssl
        self._timeout_s = float(timeout_s)
        self._batch_size = int(batch_size)
        self._flush_interval_s = float(flush_interval_s)
        self._retry_initial_s = float(retry_initial_s)
        self._retry_max_s = max(float(retry_max_s), self._retry_initial_s)
        self._max_queue = int(max_queue)
        self._spool_max_bytes = int(spool_max_bytes)
        self._segment_max_bytes = int(segment_max_bytes)
        self._close_timeout_s = float(close_timeout_s)
        self._clock = clock
        self._m_bar = f"{measurement_prefix}{MEASUREMENT_BAR}"
        self._m_rebalance = f"{measurement_prefix}{MEASUREMENT_REBALANCE}"
        self._m_alert = f"{measurement_prefix}{MEASUREMENT_ALERT}"
        self._tags = {str(k): str(v) for k, v in (tags or {}).items()}

        self._spool_dir = Path(spool_dir)
        self._spool_dir.mkdir(parents=True, exist_ok=True)
        self._rejected_dir = self._spool_dir / "rejected"
        # one sink per spool: two writers would delete each other's segments
        self._lock_file: Any = (self._spool_dir / ".lock").open("ab")
        try:
            fcntl.flock(self._lock_file.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            self._lock_file.close()
            raise ValueError(f"spool_dir {self._spool_dir} is used by another InfluxSink") from None

        # --- shared with callers: only the deque, a wake-up event and caller-owned counters ---
        self._queue: deque[tuple[Any, ...]] = deque()
        self._wake = threading.Event()
        self._closed = False
        self._enqueued = 0
        self._dropped = 0

        # --- shared between the writer and flush()/close() ---
        self._cond = threading.Condition()
        self._forced_cycles = 0  # cycles that attempted delivery because flush() asked
        self._force = False
        self._stop = False

        # --- writer thread only ---
        self._client: InfluxDBClient | None = None
        self._db_ready = False
        self._down = False
        self._backoff_s = 0.0
        self._retry_at = 0.0
        self._segments: deque[Path] = deque()
        self._next_segment = 0
        self._tail: Any = None  # open file object of the segment being appended to
        self._tail_path: Path | None = None
        self._head_lines: list[str] | None = None
        self._head_index = 0
        self._spool_bytes = 0
        self._unique: OrderedDict[tuple[str, str, int], str] = OrderedDict()
        self._logged_dropped = 0
        self._last_error_log = -math.inf
        self._reject_window = -math.inf
        self._reject_logged = 0

        # --- counters written by the writer thread ---
        self._points_written = 0
        self._points_spooled = 0
        self._spool_pending = 0
        self._points_rejected = 0
        self._spool_dropped = 0
        self._invalid_values = 0
        self._write_failures = 0
        self._connected = False

        self._thread = threading.Thread(target=self._run, name="influx-sink", daemon=True)
        self._thread.start()

    def __repr__(self) -> str:
        return f"InfluxSink({self._where!r}, database={self._database!r})"

    # ------------------------------------------------------------------ Monitor (any thread)

    def on_bar(self, bar: BarSnapshot) -> None:
        self._put(("bar", bar))

    def on_rebalance(self, rebalance: RebalanceRecord, trades: list[TradeRecord]) -> None:
        try:
            n_trades = len(trades)
        except Exception:
            n_trades = 0
        self._put(("rebalance", rebalance, n_trades))

    def on_alert(self, kind: str, text: str, time_ms: int) -> None:
        self._put(("alert", kind, text, time_ms))

    def _put(self, item: tuple[Any, ...]) -> None:
        try:
            if self._closed:
                return
            q = self._queue
            if len(q) >= self._max_queue:
                self._dropped += 1
                return
            q.append(item)
            self._enqueued += 1
            if len(q) >= self._batch_size and not self._wake.is_set():
                self._wake.set()
        except Exception:  # a monitor never raises into the trading loop
            pass

    def close(self, timeout_s: float | None = None) -> None:
        """Deliver what can be delivered within ``timeout_s``, spool the rest, stop the writer.

        Blocks the caller for up to ``timeout_s`` plus one HTTP timeout; call it at shutdown,
        not from the trading loop's hot path. Never raises.
        """
        if self._closed:
            return
        self._closed = True
        timeout = self._close_timeout_s if timeout_s is None else float(timeout_s)
        try:
            self.flush(timeout, retry=False)
        except Exception:
            log.exception("InfluxSink: flush at close failed")
        with self._cond:
            self._stop = True
        self._wake.set()
        self._thread.join(self._timeout_s + 5.0)
        if self._thread.is_alive():
            log.error("InfluxSink: writer thread did not stop; unsent points may be lost")

    def __enter__(self) -> InfluxSink:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ------------------------------------------------------------------ control (not trading)

    def flush(self, timeout_s: float = 10.0, *, retry: bool = True) -> bool:
        """Block until everything enqueued so far and all of the spool reached InfluxDB.

        Returns True when the queue and the spool are empty, False on timeout. With
        ``retry=False`` it gives up after the first failed attempt (server down). For tests,
        scripts and shutdown; it blocks, so the trading loop must not call it.
        """
        deadline = time.monotonic() + max(0.0, timeout_s)
        while True:
            with self._cond:
                if not self._thread.is_alive():
                    return self._drained()
                start = self._forced_cycles
                self._force = True
            self._wake.set()
            with self._cond:
                self._cond.wait_for(
                    partial(self._forced_since, start),
                    timeout=max(0.0, deadline - time.monotonic()),
                )
                done = self._forced_cycles > start
                if done and self._drained():
                    return True
                failed = done and self._down
            remaining = deadline - time.monotonic()
            if remaining <= 0 or (failed and not retry):
                return False
            if failed:
                time.sleep(min(remaining, self._retry_initial_s, 0.05))

    def _forced_since(self, start: int) -> bool:
        return self._forced_cycles > start or not self._thread.is_alive()

    def _drained(self) -> bool:
        return not self._queue and self._spool_pending == 0 and not self._segments

    def stats(self) -> InfluxSinkStats:
        return InfluxSinkStats(
            enqueued=self._enqueued,
            dropped=self._dropped,
            queued=len(self._queue),
            points_written=self._points_written,
            points_spooled=self._points_spooled,
            spool_pending=self._spool_pending,
            points_rejected=self._points_rejected,
            spool_dropped=self._spool_dropped,
            invalid_values=self._invalid_values,
            write_failures=self._write_failures,
            connected=self._connected,
        )

    @property
    def points_written(self) -> int:
        return self._points_written

    @property
    def points_spooled(self) -> int:
        return self._points_spooled

    @property
    def points_rejected(self) -> int:
        return self._points_rejected

    # ------------------------------------------------------------------ writer thread

    def _run(self) -> None:
        try:
            self._open_spool()
        except Exception:
            log.exception("InfluxSink: cannot read the spool in %s", self._spool_dir)
        while True:
            self._wake.wait(self._flush_interval_s)
            self._wake.clear()
            with self._cond:
                force, stopping = self._force, self._stop
                self._force = False
            try:
                self._cycle(force=force, stopping=stopping)
            except Exception:
                log.exception("InfluxSink: writer cycle failed")
            if force:
                with self._cond:
                    self._forced_cycles += 1
                    self._cond.notify_all()
            if stopping:
                break
        self._shutdown()

    def _shutdown(self) -> None:
        with contextlib.suppress(Exception):
            self._seal_tail()
        if self._client is not None:
            with contextlib.suppress(Exception):
                self._client.close()
            self._client = None
        with contextlib.suppress(Exception):
            self._lock_file.close()  # releases the spool for the next sink
        s = self.stats()
        log.info(
            "InfluxSink closed: %d written, %d spooled (%d pending), %d rejected, %d dropped",
            s.points_written,
            s.points_spooled,
            s.spool_pending,
            s.points_rejected,
            s.dropped + s.spool_dropped,
        )

    def _cycle(self, *, force: bool, stopping: bool) -> None:
        self._report_drops()
        lines = self._take_lines()
        if stopping:
            # last cycle: nothing more is sent, whatever is in memory goes to disk
            if lines:
                self._spool_append(lines)
            return
        attempt = force or not self._down or self._clock() >= self._retry_at
        if self._segments:
            # older points are waiting on disk: newer ones queue up behind them
            if lines:
                self._spool_append(lines)
            if attempt:
                self._drain_spool()
            return
        if not lines:
            return
        if not attempt:
            self._spool_append(lines)
            return
        for start in range(0, len(lines), self._batch_size):
            chunk = lines[start : start + self._batch_size]
            sent = 0 if self._stop else self._deliver(chunk)
            if sent < len(chunk):  # InfluxDB went away, or close() wants the writer to stop
                self._spool_append(lines[start + sent :])
                return

    def _take_lines(self) -> list[str]:
        lines: list[str] = []
        q = self._queue
        while True:
            try:
                item = q.popleft()
            except IndexError:
                return lines
            try:
                line = self._to_line(item)
            except Exception as exc:
                self._invalid_values += 1
                self._log_error("InfluxSink: record left out (%s: %s)", type(exc).__name__, exc)
                continue
            if line is not None:
                lines.append(line)

    # --------------------------------------------------------------- records -> line protocol

    def _to_line(self, item: tuple[Any, ...]) -> str | None:
        kind = item[0]
        if kind == "bar":
            bar: BarSnapshot = item[1]
            fields: dict[str, Any] = {
                "nav": bar.nav,
                "price_ref": bar.price_ref,
                "basis": bar.basis,
                "w_spot": bar.w_spot,
                "w_long": bar.w_long,
                "w_short": bar.w_short,
                "delta_usdt": bar.delta_usdt,
                "delta_frac": bar.delta_frac,
                "margin_frac": bar.margin_frac,
                "funding_rate": bar.funding_rate,
                "sharpe_30d": bar.sharpe_30d,
            }
            fields = self._floats(fields)
            fields["safe_mode"] = 1 if bar.safe_mode else 0
            if bar.signal:
                fields["signal"] = str(bar.signal)
            if bar.safe_mode_reasons:
                fields["safe_mode_reasons"] = ",".join(str(r) for r in bar.safe_mode_reasons)
            return self._line(self._m_bar, {}, fields, _ms(bar.time_ms))
        if kind == "rebalance":
            rb: RebalanceRecord = item[1]
            fields = self._floats(
                {
                    "fees_usdt": rb.fees_usdt,
                    "slippage_usdt": rb.slippage_usdt,
                    "cost_usdt": float(rb.fees_usdt) + float(rb.slippage_usdt),
                    "notional_usdt": rb.notional_usdt,
                    "signal_to_first_ack_ms": rb.signal_to_first_ack_ms,
                    "complete_ms": rb.complete_ms,
                }
            )
            fields["orders"] = int(rb.orders)
            fields["blocked"] = int(rb.blocked)
            fields["skipped"] = int(rb.skipped)
            fields["trades"] = int(item[2])
            rid = str(rb.rebalance_id)
            fields["rebalance_id"] = rid
            t = self._unique_time(self._m_rebalance, "", _ms(rb.time_ms), rid)
            return self._line(self._m_rebalance, {}, fields, t)
        if kind == "alert":
            akind = _KIND_UNSAFE.sub("_", str(item[1]))[:64].strip("_") or "unknown"
            text = str(item[2])
            t = self._unique_time(self._m_alert, akind, _ms(item[3]), text)
            return self._line(self._m_alert, {"kind": akind}, {"text": text}, t)
        raise ValueError(f"unknown record {kind!r}")

    def _floats(self, values: Mapping[str, Any]) -> dict[str, float]:
        out: dict[str, float] = {}
        for key, value in values.items():
            if value is None:
                continue
            x = float(value)
            if math.isfinite(x):
                out[key] = x
            else:
                self._invalid_values += 1
        return out

    def _line(self, measurement: str, tags: dict[str, str], fields: dict[str, Any], t: int) -> str:
        if not fields:
            raise ValueError(f"{measurement} point at {t} has no valid field")
        all_tags = {**self._tags, **tags} if self._tags else tags
        point = {"measurement": measurement, "tags": all_tags, "fields": fields, "time": t}
        text = make_lines({"points": [point]}, precision="ms")
        line = text.rstrip("\n")
        if "\n" in line:  # the library escapes newlines; a raw one would split the point
            raise ValueError("line protocol with a raw newline")
        return line

    def _unique_time(self, measurement: str, series: str, t: int, identity: str) -> int:
        """``t``, moved forward past other records already on this series and millisecond."""
        memo = self._unique
        while True:
            key = (measurement, series, t)
            seen = memo.get(key)
            if seen is None or seen == identity:
                memo[key] = identity
                memo.move_to_end(key)
                while len(memo) > 4096:
                    memo.popitem(last=False)
                return t
            t += 1

    # ------------------------------------------------------------------ delivery

    def _deliver(self, lines: list[str]) -> int:
        """Send ``lines`` in order; returns how many leading lines are done (sent or rejected).

        Fewer than ``len(lines)`` means InfluxDB is unreachable: the rest must be kept.
        """
        outcome, reason = self._post(lines)
        if outcome == "ok":
            self._points_written += len(lines)
            return len(lines)
        if outcome == "down":
            return 0
        if len(lines) == 1:
            self._reject(lines[0], reason)
            return 1
        mid = len(lines) // 2
        first = self._deliver(lines[:mid])
        if first < mid:
            return first
        return mid + self._deliver(lines[mid:])

    def _post(self, lines: list[str]) -> tuple[_Outcome, str]:
        try:
            client = self._ensure_client()
            if not self._db_ready:
                self._create_database(client)
            params = {"db": self._database, "precision": "ms"}
            if self._rp:
                params["rp"] = self._rp
            client.write(lines, params=params, protocol="line")
        except InfluxDBClientError as exc:
            reason = self._redact(_error_text(exc))
            if exc.code in _RETRYABLE_4XX:
                if exc.code == 404 and "database not found" in reason:
                    self._db_ready = False
                return self._mark_down(f"HTTP {exc.code}: {reason}")
            return "bad", f"HTTP {exc.code}: {reason}"
        except InfluxDBServerError as exc:
            return self._mark_down(f"server error: {self._redact(_error_text(exc))}")
        except Exception as exc:  # connection refused/reset, timeout, DNS, TLS ...
            return self._mark_down(f"{type(exc).__name__}: {self._redact(str(exc))}")
        if self._down:
            log.warning(
                "InfluxSink: %s reachable again; %d spooled points to send",
                self._where,
                self._spool_pending,
            )
        self._down = False
        self._connected = True
        self._backoff_s = 0.0
        return "ok", ""

    def _mark_down(self, reason: str) -> tuple[_Outcome, str]:
        self._write_failures += 1
        self._connected = False
        if not self._down:
            log.warning("InfluxSink: %s unreachable (%s); spooling", self._where, reason)
        else:
            self._log_error("InfluxSink: %s still unreachable (%s)", self._where, reason)
        self._down = True
        self._backoff_s = min(self._retry_max_s, max(self._retry_initial_s, 2 * self._backoff_s))
        self._retry_at = self._clock() + self._backoff_s
        return "down", reason

    def _ensure_client(self) -> InfluxDBClient:
        if self._client is None:
            self._client = InfluxDBClient(
                host=self._host,
                port=self._port,
                username=self._username,
                password=self._password,
                database=self._database,
                ssl=self._ssl,
                verify_ssl=self._verify_ssl,
                timeout=self._timeout_s,
                retries=1,  # one attempt per call: back-off and spooling are ours
                path=self._path,
                pool_size=1,
            )
        return self._client

    def _create_database(self, client: InfluxDBClient) -> None:
        try:
            client.create_database(self._database)
        except InfluxDBClientError as exc:
            if exc.code not in (401, 403):
                # not the data's fault: keep the points and try again later
                raise _Unavailable(f"CREATE DATABASE: {_error_text(exc)}") from exc
            # no admin right: the database has to exist already; the write will tell
            log.warning(
                "InfluxSink: cannot create database %r (HTTP %d); assuming it exists",
                self._database,
                exc.code,
            )
        self._db_ready = True
        log.info("InfluxSink: writing to %s database %r", self._where, self._database)

    def _reject(self, line: str, reason: str) -> None:
        self._points_rejected += 1
        now = time.monotonic()
        if now - self._reject_window >= 60.0:
            self._reject_window, self._reject_logged = now, 0
        self._reject_logged += 1
        if self._reject_logged <= 20:  # at most 20 lines a minute; all of them are kept on disk
            log.error("InfluxSink: InfluxDB rejected a point (%s): %.300s", reason, line)
        try:
            self._rejected_dir.mkdir(parents=True, exist_ok=True)
            day = datetime.now(UTC).strftime("%Y%m%d")
            path = self._rejected_dir / f"rejected-{day}.lp"
            note = " ".join(reason.split())
            stamp = datetime.now(UTC).isoformat(timespec="seconds")
            with path.open("ab") as fh:
                fh.write(f"# {stamp} {note}\n{line}\n".encode())
                fh.flush()
                os.fsync(fh.fileno())
        except OSError as exc:
            log.error(
                "InfluxSink: cannot keep the rejected point in %s: %s", self._rejected_dir, exc
            )

    # ------------------------------------------------------------------ spool

    def _open_spool(self) -> None:
        found: list[tuple[int, Path]] = []
        for path in self._spool_dir.glob(f"{_SEGMENT_PREFIX}*{_SEGMENT_SUFFIX}"):
            number = path.name[len(_SEGMENT_PREFIX) : -len(_SEGMENT_SUFFIX)]
            if number.isdigit():
                found.append((int(number), path))
        found.sort()
        for number, path in found:
            self._segments.append(path)
            self._next_segment = number + 1
            try:
                data = path.read_bytes()
            except OSError:
                continue
            self._spool_bytes += len(data)
            self._spool_pending += len(_complete_lines(data))
        if found:
            log.warning(
                "InfluxSink: %d points from an earlier run are spooled in %s; sending them first",
                self._spool_pending,
                self._spool_dir,
            )

    def _spool_append(self, lines: list[str]) -> None:
        if not lines:
            return
        data = ("\n".join(lines) + "\n").encode()
        if self._spool_bytes + len(data) > self._spool_max_bytes:
            self._spool_dropped += len(lines)
            self._log_error(
                "InfluxSink: spool %s is full (%d bytes); %d points dropped",
                self._spool_dir,
                self._spool_bytes,
                len(lines),
            )
            return
        try:
            if self._tail is not None and self._tail.tell() >= self._segment_max_bytes:
                self._seal_tail()
            if self._tail is None:
                name = f"{_SEGMENT_PREFIX}{self._next_segment:012d}{_SEGMENT_SUFFIX}"
                path = self._spool_dir / name
                self._next_segment += 1
                self._tail = path.open("ab")
                self._tail_path = path
                self._segments.append(path)
                _fsync_dir(self._spool_dir)
            self._tail.write(data)
            self._tail.flush()
            os.fsync(self._tail.fileno())
        except OSError as exc:
            self._spool_dropped += len(lines)
            self._log_error("InfluxSink: cannot spool %d points: %s", len(lines), exc)
            with contextlib.suppress(Exception):
                self._seal_tail()
            return
        self._spool_bytes += len(data)
        self._spool_pending += len(lines)
        self._points_spooled += len(lines)

    def _seal_tail(self) -> None:
        tail, self._tail, self._tail_path = self._tail, None, None
        if tail is not None:
            tail.close()

    def _drain_spool(self) -> bool:
        """Send the spool oldest first; False when InfluxDB went away on the way."""
        while self._segments:
            head = self._segments[0]
            if self._tail_path == head:
                self._seal_tail()  # from now on newer points go to a newer segment
            if self._head_lines is None:
                try:
                    data = head.read_bytes()
                except FileNotFoundError:
                    data = b""
                self._head_lines = _complete_lines(data)
                self._head_index = 0
            lines = self._head_lines
            while self._head_index < len(lines):
                if self._stop:  # close() is waiting: the rest stays spooled
                    return False
                chunk = lines[self._head_index : self._head_index + self._batch_size]
                done = self._deliver(chunk)
                self._head_index += done
                self._spool_pending = max(0, self._spool_pending - done)
                if done < len(chunk):
                    return False
            try:
                size = head.stat().st_size
                head.unlink()
            except FileNotFoundError:
                size = 0
            self._spool_bytes = max(0, self._spool_bytes - size)
            self._segments.popleft()
            self._head_lines = None
            self._head_index = 0
        self._spool_pending = 0
        self._spool_bytes = 0
        return True

    # ------------------------------------------------------------------ logging helpers

    def _redact(self, text: str) -> str:
        for secret in (self._password,):
            if secret:
                text = text.replace(secret, "***")
        return text

    def _log_error(self, msg: str, *args: object) -> None:
        # repeated failures: at most one line every 60 s
        now = time.monotonic()
        if now - self._last_error_log >= 60.0:
            self._last_error_log = now
            log.error(msg, *args)

    def _report_drops(self) -> None:
        dropped = self._dropped
        if dropped > self._logged_dropped:
            log.warning(
                "InfluxSink: queue full (%d records); %d records dropped so far",
                self._max_queue,
                dropped,
            )
            self._logged_dropped = dropped


def influx_sink_from_config(
    monitoring: Any, spool_dir: str | os.PathLike[str], **kwargs: Any
) -> InfluxSink:
    """An ``InfluxSink`` from the ``[monitoring]`` settings (``AppConfig.monitoring``).

    Reads ``influx_url``, ``influx_db``, ``influx_user`` and ``influx_password`` (a pydantic
    ``SecretStr`` or a plain string); other ``InfluxSink`` options go in ``kwargs``.
    """
    password = getattr(monitoring, "influx_password", None)
    if password is not None and hasattr(password, "get_secret_value"):
        password = password.get_secret_value()
    return InfluxSink(
        monitoring.influx_url,
        monitoring.influx_db,
        username=getattr(monitoring, "influx_user", None),
        password=password,
        spool_dir=spool_dir,
        **kwargs,
    )


def _ms(value: Any) -> int:
    if isinstance(value, bool):
        raise TypeError("time_ms must be an integer")
    t = int(value)
    if t != value:
        raise ValueError(f"time_ms {value!r} is not a whole number of milliseconds")
    return t


def _unq(value: str | None) -> str | None:
    return unquote(value) if value is not None else None


def _error_text(exc: Exception) -> str:
    content = getattr(exc, "content", None)
    if isinstance(content, bytes):
        content = content.decode("utf-8", errors="replace")
    return " ".join(str(content if content is not None else exc).split())[:500]


def _complete_lines(data: bytes) -> list[str]:
    """Lines of a spool segment; a last line cut short by a crash (no newline) is dropped."""
    text = data.decode("utf-8", errors="replace")
    parts = text.split("\n")  # not splitlines(): \r and friends may sit inside string fields
    parts.pop()  # after the last newline: empty, or an incomplete line
    return [p for p in parts if p and not p.startswith("#")]


def _fsync_dir(path: Path) -> None:
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def iter_spooled_lines(spool_dir: str | os.PathLike[str]) -> Iterable[str]:
    """The lines waiting in a spool directory, oldest first (for inspection and tests)."""
    paths = sorted(Path(spool_dir).glob(f"{_SEGMENT_PREFIX}*{_SEGMENT_SUFFIX}"))
    for path in paths:
        yield from _complete_lines(path.read_bytes())
