"""Structured logging for the agent (docs/rules.md, Policy).

``setup_logging`` installs ONE handler on the root logger (calling it again replaces it, so
handlers never pile up). Each record becomes one line: ``key=value`` text, or one JSON object
per line with ``json_logs=True`` (``--log-json``).

Repeated identical INFO records (same logger, same rendered message) are collapsed: the first
is written, the rest are counted, and a single ``... repeated N times`` line follows when a
different record arrives, when the handler closes (end of run, ``logging.shutdown``), or at
the latest ``flush_after_s`` seconds after the first suppressed copy, so a message that repeats
for hours (or a burst followed by silence) still shows up with its count. WARNING and above are
never collapsed. Per-bar chatter belongs at DEBUG.

Third-party loggers that would print request URLs (``httpx`` logs every request at INFO, and a
Telegram bot URL contains the bot token; ``telegram.Bot`` logs it at DEBUG) are raised to
WARNING by default. ``RedactingFilter`` masks given secret strings anywhere in a record; pass
it in ``filters``.
"""

from __future__ import annotations

import json
import logging
import math
import sys
import threading
import time
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import IO, Any

from .policy.redaction import SecretFilter, register_secret

__all__ = [
    "DEFAULT_LIBRARY_LEVELS",
    "CollapsingHandler",
    "JsonFormatter",
    "KeyValueFormatter",
    "RedactingFilter",
    "setup_logging",
]

# Loggers that are noisy or can leak credentials in URLs at INFO/DEBUG.
DEFAULT_LIBRARY_LEVELS: Mapping[str, int] = {
    "httpx": logging.WARNING,
    "httpcore": logging.WARNING,
    "telegram": logging.WARNING,
    "hpack": logging.WARNING,
    "urllib3": logging.WARNING,
    "aiohttp.access": logging.WARNING,
    "ccxt": logging.WARNING,
    "asyncio": logging.WARNING,
}

_MARK = "_adaptive_agent_handler"

# Attributes every LogRecord has; anything else was passed through ``extra=``.
_STANDARD_ATTRS = frozenset(
    logging.LogRecord("x", logging.INFO, "x", 0, "x", None, None).__dict__
) | {"message", "asctime", "taskName"}


def _iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, tz=UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def _extras(record: logging.LogRecord) -> dict[str, Any]:
    items = record.__dict__.items()
    return {k: v for k, v in items if k not in _STANDARD_ATTRS and not k.startswith("_")}


def _exc_text(formatter: logging.Formatter, record: logging.LogRecord) -> str | None:
    if record.exc_info and not record.exc_text:
        record.exc_text = formatter.formatException(record.exc_info)
    text = record.exc_text or None
    if record.stack_info:
        text = (text + "\n" if text else "") + formatter.formatStack(record.stack_info)
    return text


def _kv_value(v: Any) -> str:
    if isinstance(v, float):
        return repr(v)
    s = str(v)
    if s and not any(c in s for c in ' "=\n\r\t\\'):
        return s
    return json.dumps(s, ensure_ascii=False)


class KeyValueFormatter(logging.Formatter):
    """``ts=... level=INFO logger=... msg="..." key=value ...`` on one line."""

    def format(self, record: logging.LogRecord) -> str:
        parts = [
            f"ts={_iso(record.created)}",
            f"level={record.levelname}",
            f"logger={_kv_value(record.name)}",
            f"msg={_kv_value(record.getMessage())}",
        ]
        parts += [f"{k}={_kv_value(v)}" for k, v in _extras(record).items()]
        exc = _exc_text(self, record)
        if exc:
            parts.append(f"exc={_kv_value(exc)}")
        return " ".join(parts)


def _json_safe(v: Any) -> Any:
    if isinstance(v, float) and not math.isfinite(v):
        return str(v)  # NaN/inf are not JSON
    if isinstance(v, str | int | float | bool) or v is None:
        return v
    if isinstance(v, list | tuple):
        return [_json_safe(x) for x in v]
    if isinstance(v, dict):
        return {str(k): _json_safe(x) for k, x in v.items()}
    return str(v)


class JsonFormatter(logging.Formatter):
    """One JSON object per line: ts, level, logger, msg, any ``extra=`` fields, exc."""

    def format(self, record: logging.LogRecord) -> str:
        obj: dict[str, Any] = {
            "ts": _iso(record.created),
            "level": record.levelname,
            "logger": record.name,
            "msg": record.getMessage(),
        }
        for k, v in _extras(record).items():
            obj.setdefault(k, _json_safe(v))
        exc = _exc_text(self, record)
        if exc:
            obj["exc"] = exc
        return json.dumps(obj, ensure_ascii=False, allow_nan=False)


class RedactingFilter(logging.Filter):
    """Masks the given secrets (str or an object with ``reveal()``) in every record.

    The values join the one redactor's registry (``policy/redaction.py``), so the same mask and
    rules apply here as everywhere else.
    """

    def __init__(self, secrets: Iterable[Any]) -> None:
        super().__init__()
        for s in secrets:
            register_secret(s.reveal() if hasattr(s, "reveal") else str(s))

    def filter(self, record: logging.LogRecord) -> bool:
        return SecretFilter().filter(record)


class CollapsingHandler(logging.StreamHandler):
    """A stream handler that collapses runs of identical INFO records (see module doc)."""

    def __init__(
        self,
        stream: IO[str] | None = None,
        *,
        flush_after_s: float = 60.0,
        clock=time.monotonic,
        check_interval_s: float | None = None,
    ) -> None:
        super().__init__(stream if stream is not None else sys.stderr)
        self.flush_after_s = flush_after_s
        self._clock = clock
        self._last_key: tuple[str, int, str] | None = None
        self._last_record: logging.LogRecord | None = None
        self._repeats = 0
        self._first_repeat_at = 0.0
        self._check_interval_s = (
            check_interval_s if check_interval_s is not None else min(flush_after_s / 4, 5.0)
        )
        self._stop = threading.Event()
        self._timer: threading.Thread | None = None
        if flush_after_s > 0:
            self._timer = threading.Thread(
                target=self._timer_loop, name="log-collapse-flush", daemon=True
            )
            self._timer.start()

    # -- collapsing ----------------------------------------------------------------------------

    def emit(self, record: logging.LogRecord) -> None:
        try:
            key = (record.name, record.levelno, record.getMessage())
        except Exception:
            self.handleError(record)
            return
        if record.levelno == logging.INFO and key == self._last_key:
            if self._repeats == 0:
                self._first_repeat_at = self._clock()
            self._repeats += 1
            if self._clock() - self._first_repeat_at >= self.flush_after_s:
                self._emit_summary()
            return
        self._emit_summary()
        super().emit(record)
        if record.levelno == logging.INFO:
            self._last_key, self._last_record = key, record
        else:
            self._last_key, self._last_record = None, None

    def _emit_summary(self) -> None:
        """Write the pending ``... repeated N times`` line (caller holds the lock)."""
        if self._repeats == 0 or self._last_record is None:
            self._repeats = 0
            return
        src = self._last_record
        n, self._repeats = self._repeats, 0
        rec = logging.LogRecord(
            src.name, src.levelno, src.pathname, src.lineno, "... repeated %d times", (n,), None
        )
        rec.repeated = n
        rec.repeat_of = src.getMessage()
        super().emit(rec)

    def flush_repeats(self) -> None:
        """Write the pending repeat count now (e.g. at the end of a run)."""
        self.acquire()
        try:
            self._emit_summary()
        finally:
            self.release()

    def _timer_loop(self) -> None:
        interval = max(0.01, self._check_interval_s)
        while not self._stop.wait(interval):
            self.acquire()
            try:
                due = self._repeats and self._clock() - self._first_repeat_at >= self.flush_after_s
                if due:
                    self._emit_summary()
            except Exception:  # never let the flusher die on a closed stream
                pass
            finally:
                self.release()

    def close(self) -> None:
        self._stop.set()
        self.acquire()
        try:
            self._emit_summary()
        except Exception:
            pass
        finally:
            self.release()
        if self._timer is not None and self._timer is not threading.current_thread():
            self._timer.join(timeout=1.0)
        super().close()


def _level(level: int | str) -> int:
    if isinstance(level, int):
        return level
    value = logging.getLevelName(level.upper())
    if not isinstance(value, int):
        raise ValueError(f"unknown log level {level!r}")
    return value


def setup_logging(
    level: int | str = "INFO",
    json_logs: bool = False,
    stream: IO[str] | None = None,
    filters: Iterable[logging.Filter] = (),
    *,
    flush_after_s: float = 60.0,
    library_levels: Mapping[str, int | str] | None = None,
) -> CollapsingHandler:
    """Install the agent's root handler (replacing one installed earlier) and return it."""
    root_level = _level(level)
    levels = DEFAULT_LIBRARY_LEVELS if library_levels is None else library_levels
    library = {name: _level(lvl) for name, lvl in levels.items()}
    root = logging.getLogger()
    for h in list(root.handlers):
        if getattr(h, _MARK, False):
            root.removeHandler(h)
            h.close()
    handler = CollapsingHandler(stream, flush_after_s=flush_after_s)
    setattr(handler, _MARK, True)
    handler.setFormatter(JsonFormatter() if json_logs else KeyValueFormatter())
    for f in filters:
        handler.addFilter(f)
    root.addHandler(handler)
    root.setLevel(root_level)
    for name, lvl in library.items():
        logging.getLogger(name).setLevel(lvl)
    return handler
