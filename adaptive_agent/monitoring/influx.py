"""InfluxDB 1.x sink: the agent's bars, rebalances and alerts as time series, never in the way.

How it works
------------
* The ``Monitor`` methods only append the record to a bounded in-memory deque (O(1), no I/O,
  no lock shared with the network code). When the deque is full the record is dropped and
  counted; trading is never slowed down by monitoring.
* One background thread turns records into line protocol (``influx_lines``: which series and
  fields each record becomes) and POSTs batches through ``influx_delivery`` (client, database
  creation, back-off, rejected points).
* Every point carries the record's own time in milliseconds, and its series key (measurement +
  tags) is fixed by the record. Writing the same line twice therefore *overwrites* the point in
  InfluxDB instead of duplicating it. Delivery is at-least-once (a batch that timed out may
  already have been stored and is sent again), and at-least-once plus idempotent points gives
  exactly one copy of every point in the database.
* While InfluxDB is unreachable, batches are appended to the on-disk ``outbox`` in
  ``spool_dir`` (``seg-<n>.lp``, append-only, fsync'd). As long as the spool holds anything,
  newer batches are appended behind it rather than sent, and the spool is sent from its oldest
  line onwards: InfluxDB receives points in the order they were recorded. A segment is deleted
  only after every line of it was accepted (or rejected); a crash before that re-sends it, which
  is harmless (see above). Spooled points survive a restart: a new sink on the same
  ``spool_dir`` sends them before anything new. The directory is locked (``flock``) while a
  sink uses it. Points InfluxDB rejects as malformed go to ``spool_dir/rejected/``.
* ``close()`` tries once more to deliver within a time limit, spools whatever is left and stops
  the thread. Records still in memory when the *process* dies (at most ``flush_interval_s`` of
  data) are lost; everything that reached the spool is not.
"""

from __future__ import annotations

import contextlib
import logging
import math
import os
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

from adaptive_agent.monitoring.influx_delivery import InfluxDelivery
from adaptive_agent.monitoring.influx_lines import LineEncoder
from adaptive_agent.monitoring.outbox import Outbox
from adaptive_agent.monitoring.outbox import iter_lines as iter_spooled_lines
from adaptive_agent.records import BarSnapshot, RebalanceRecord, TradeRecord

__all__ = ["InfluxSink", "InfluxSinkStats", "influx_sink_from_config", "iter_spooled_lines"]

log = logging.getLogger(__name__)


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
        self._batch_size = int(batch_size)
        self._flush_interval_s = float(flush_interval_s)
        self._retry_initial_s = float(retry_initial_s)
        self._timeout_s = float(timeout_s)
        self._max_queue = int(max_queue)
        self._close_timeout_s = float(close_timeout_s)
        self._clock = clock
        self._last_error_log = -math.inf
        self._delivery = self._make_delivery(
            url,
            database,
            username=username,
            password=password,
            rejected_dir=Path(spool_dir) / "rejected",
            retention_policy=retention_policy,
            timeout_s=timeout_s,
            retry_initial_s=retry_initial_s,
            retry_max_s=retry_max_s,
            verify_ssl=verify_ssl,
            clock=clock,
            pending=self._spool_pending,
            log_error=self._log_error,
        )
        self._encoder = LineEncoder(measurement_prefix, tags)
        # one sink per spool: two writers would delete each other's segments
        self._outbox = Outbox(
            spool_dir,
            max_bytes=spool_max_bytes,
            segment_max_bytes=segment_max_bytes,
            owner="InfluxSink",
            log_error=self._log_error,
        )

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
        self._logged_dropped = 0
        self._invalid_records = 0  # records that could not be converted

        self._thread = threading.Thread(target=self._run, name="influx-sink", daemon=True)
        self._thread.start()

    def __repr__(self) -> str:
        d = self._delivery
        return f"InfluxSink({d.where!r}, database={d.database!r})"

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

    def on_fill(self, fill: Any) -> None:  # a FillRecord: a venue fill, as charged (ledger)
        self._put(("fill", fill))

    def on_funding(self, payment: Any) -> None:  # a FundingRecord, as the venue booked it
        self._put(("funding", payment))

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
                failed = done and self._delivery.down
            remaining = deadline - time.monotonic()
            if remaining <= 0 or (failed and not retry):
                return False
            if failed:
                time.sleep(min(remaining, self._retry_initial_s, 0.05))

    def _forced_since(self, start: int) -> bool:
        return self._forced_cycles > start or not self._thread.is_alive()

    def _drained(self) -> bool:
        return not self._queue and self._outbox.pending == 0 and self._outbox.empty

    def stats(self) -> InfluxSinkStats:
        d, o = self._delivery, self._outbox
        return InfluxSinkStats(
            enqueued=self._enqueued,
            dropped=self._dropped,
            queued=len(self._queue),
            points_written=d.points_written,
            points_spooled=o.appended,
            spool_pending=o.pending,
            points_rejected=d.points_rejected,
            spool_dropped=o.dropped,
            invalid_values=self._encoder.invalid_values + self._invalid_records,
            write_failures=d.write_failures,
            connected=d.connected,
        )

    @property
    def points_written(self) -> int:
        return self._delivery.points_written

    @property
    def points_spooled(self) -> int:
        return self._outbox.appended

    @property
    def points_rejected(self) -> int:
        return self._delivery.points_rejected

    # ------------------------------------------------------------------ writer thread

    def _make_delivery(self, url: str, database: str, **kwargs: Any) -> InfluxDelivery:
        return InfluxDelivery(url, database, **kwargs)

    def _spool_pending(self) -> int:
        return self._outbox.pending

    def _run(self) -> None:
        try:
            self._outbox.open()
            if not self._outbox.empty:
                log.warning(
                    "InfluxSink: %d points from an earlier run are spooled in %s;"
                    " sending them first",
                    self._outbox.pending,
                    self._outbox.directory,
                )
        except Exception:
            log.exception("InfluxSink: cannot read the spool in %s", self._outbox.directory)
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
            self._delivery.close()
        self._outbox.close()  # releases the spool for the next sink
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
        outbox, delivery = self._outbox, self._delivery
        if stopping:
            # last cycle: nothing more is sent, whatever is in memory goes to disk
            outbox.append(lines)
            return
        attempt = force or not delivery.down or self._clock() >= delivery.retry_at
        if not outbox.empty:
            # older points are waiting on disk: newer ones queue up behind them
            outbox.append(lines)
            if attempt:
                outbox.drain(delivery.deliver, self._batch_size, self._stopping)
            return
        if not lines:
            return
        if not attempt:
            outbox.append(lines)
            return
        for start in range(0, len(lines), self._batch_size):
            chunk = lines[start : start + self._batch_size]
            sent = 0 if self._stop else delivery.deliver(chunk)
            if sent < len(chunk):  # InfluxDB went away, or close() wants the writer to stop
                outbox.append(lines[start + sent :])
                return

    def _stopping(self) -> bool:
        return self._stop  # close() is waiting: the rest stays spooled

    def _take_lines(self) -> list[str]:
        lines: list[str] = []
        q = self._queue
        while True:
            try:
                item = q.popleft()
            except IndexError:
                return lines
            try:
                lines.append(self._encoder.to_line(item))
            except Exception as exc:
                self._invalid_records += 1
                self._log_error("InfluxSink: record left out (%s: %s)", type(exc).__name__, exc)

    # ------------------------------------------------------------------ logging helpers

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
