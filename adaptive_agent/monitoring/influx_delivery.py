"""Getting lines into InfluxDB 1.x: the client, the POST, CREATE DATABASE, rejected points.

* Lines go to ``/write?db=...&precision=ms`` through the ``influxdb`` v1 client, one attempt
  per call (retrying is the caller's: it spools and comes back after ``retry_at``).
* "Down" (keep the points, try again later after a back-off from ``retry_initial_s`` doubling up
  to ``retry_max_s``): connection refused/reset, timeout, HTTP 5xx, and also 401/403/404/407/
  408/429, which are about the server, not the data, and any failure of CREATE DATABASE other
  than a missing privilege.
* A batch InfluxDB rejects as malformed (HTTP 400 and other 4xx) is split in halves until the
  offending lines are isolated; those lines go to ``rejected_dir/rejected-YYYYMMDD.lp`` with
  the server's reason as a comment, are logged (at most 20 a minute) and counted, and the rest
  is delivered.
* The password (in the URL or given apart) never reaches a log line.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal
from urllib.parse import unquote, urlsplit

from influxdb import InfluxDBClient
from influxdb.exceptions import InfluxDBClientError, InfluxDBServerError

from ..policy.redaction import redact, register_secret

__all__ = ["InfluxDelivery"]

log = logging.getLogger("adaptive_agent.monitoring.influx")

# 4xx answers that say nothing about the data: keep the points and try again later.
_RETRYABLE_4XX = frozenset({401, 403, 404, 407, 408, 429})

Outcome = Literal["ok", "bad", "down"]


class _Unavailable(Exception):
    """InfluxDB cannot take points now, for a reason other than the points themselves."""


class InfluxDelivery:
    """Sends line-protocol batches to one database; used by a single writer thread.

    Args:
        url: ``http(s)://host:port[/path]``; ``user:password@`` in it is accepted, never logged.
        database: created on first successful contact (failure to create is tolerated when the
            user lacks the privilege: the database then has to exist already).
        username, password: HTTP basic credentials (override those in ``url``).
        rejected_dir: where refused lines are kept.
        pending: how many points wait elsewhere (only for the "reachable again" log line).
        log_error: how repeated errors are reported (the caller rate-limits them).
    """

    def __init__(
        self,
        url: str,
        database: str,
        *,
        username: str | None,
        password: str | None,
        rejected_dir: Path,
        retention_policy: str | None,
        timeout_s: float,
        retry_initial_s: float,
        retry_max_s: float,
        verify_ssl: bool,
        clock: Callable[[], float],
        pending: Callable[[], int],
        log_error: Callable[..., None],
    ) -> None:
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
        if self._password:
            register_secret(self._password)
        # what may appear in logs: no credentials
        self.where = f"{parts.scheme}://{self._host}:{self._port}{self._path}"
        self.database = database
        self._rp = retention_policy
        self._verify_ssl = verify_ssl
        self._timeout_s = float(timeout_s)
        self._retry_initial_s = float(retry_initial_s)
        self._retry_max_s = max(float(retry_max_s), self._retry_initial_s)
        self._rejected_dir = rejected_dir
        self._clock = clock
        self._pending = pending
        self._log_error = log_error

        self._client: InfluxDBClient | None = None
        self._db_ready = False
        self.down = False  # the last attempt failed for a reason other than the data
        self._backoff_s = 0.0
        self.retry_at = 0.0  # clock() time of the next attempt while down
        self._reject_window = -float("inf")
        self._reject_logged = 0

        self.points_written = 0  # points InfluxDB acknowledged (a re-sent point counts again)
        self.points_rejected = 0  # points InfluxDB refused as malformed (moved to rejected/)
        self.write_failures = 0  # failed delivery attempts (server unreachable or unhappy)
        self.connected = False  # the last delivery attempt succeeded

    def deliver(self, lines: list[str]) -> int:
        """Send ``lines`` in order; returns how many leading lines are done (sent or rejected).

        Fewer than ``len(lines)`` means InfluxDB is unreachable: the rest must be kept.
        """
        outcome, reason = self._post(lines)
        if outcome == "ok":
            self.points_written += len(lines)
            return len(lines)
        if outcome == "down":
            return 0
        if len(lines) == 1:
            self._reject(lines[0], reason)
            return 1
        mid = len(lines) // 2
        first = self.deliver(lines[:mid])
        if first < mid:
            return first
        return mid + self.deliver(lines[mid:])

    def close(self) -> None:
        if self._client is not None:
            try:
                self._client.close()
            finally:
                self._client = None

    def _post(self, lines: list[str]) -> tuple[Outcome, str]:
        try:
            client = self._ensure_client()
            if not self._db_ready:
                self._create_database(client)
            params = {"db": self.database, "precision": "ms"}
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
        if self.down:
            log.warning(
                "InfluxSink: %s reachable again; %d spooled points to send",
                self.where,
                self._pending(),
            )
        self.down = False
        self.connected = True
        self._backoff_s = 0.0
        return "ok", ""

    def _mark_down(self, reason: str) -> tuple[Outcome, str]:
        self.write_failures += 1
        self.connected = False
        if not self.down:
            log.warning("InfluxSink: %s unreachable (%s); spooling", self.where, reason)
        else:
            self._log_error("InfluxSink: %s still unreachable (%s)", self.where, reason)
        self.down = True
        self._backoff_s = min(self._retry_max_s, max(self._retry_initial_s, 2 * self._backoff_s))
        self.retry_at = self._clock() + self._backoff_s
        return "down", reason

    def _ensure_client(self) -> InfluxDBClient:
        if self._client is None:
            self._client = InfluxDBClient(
                host=self._host,
                port=self._port,
                username=self._username,
                password=self._password,
                database=self.database,
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
            client.create_database(self.database)
        except InfluxDBClientError as exc:
            if exc.code not in (401, 403):
                # not the data's fault: keep the points and try again later
                raise _Unavailable(f"CREATE DATABASE: {_error_text(exc)}") from exc
            # no admin right: the database has to exist already; the write will tell
            log.warning(
                "InfluxSink: cannot create database %r (HTTP %d); assuming it exists",
                self.database,
                exc.code,
            )
        self._db_ready = True
        log.info("InfluxSink: writing to %s database %r", self.where, self.database)

    def _reject(self, line: str, reason: str) -> None:
        self.points_rejected += 1
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

    @staticmethod
    def _redact(text: str) -> str:
        return redact(text)  # the one redactor (the password is registered at start)


def _unq(value: str | None) -> str | None:
    return unquote(value) if value is not None else None


def _error_text(exc: Exception) -> str:
    content = getattr(exc, "content", None)
    if isinstance(content, bytes):
        content = content.decode("utf-8", errors="replace")
    return " ".join(str(content if content is not None else exc).split())[:500]
