"""Live signal sources: a CSV file followed as it grows, and an authenticated HTTP webhook.

Both feed one ``SignalBook`` (the last signal at or before a time wins, as in the backtest).
A bad line or request never stops trading: it is logged with the file and line (or answered
with a 4xx) and changes nothing.
"""

from __future__ import annotations

import hmac
import json
import logging
import math
import time
from bisect import bisect_right
from collections.abc import Callable
from pathlib import Path

from aiohttp import web

from ..core.model import Signal
from ..core.signals import parse_signal
from ..core.time_rules import utc_text
from ..io.timestamps import parse_timestamp
from .agent import SignalSource

log = logging.getLogger("adaptive_agent.signals")


class SignalBook(SignalSource):
    """Signals by time; appending keeps order (an older timestamp than the last is refused)."""

    def __init__(
        self, ttl_ms: int | None = None, on_add: Callable[[int, Signal, str], None] | None = None
    ) -> None:
        self.ts: list[int] = []
        self.sig: list[Signal] = []
        self.ttl_ms = ttl_ms
        self.on_add = on_add

    def add(self, time_ms: int, signal: Signal, source: str) -> None:
        if self.ts and time_ms < self.ts[-1]:
            raise ValueError(
                f"signal at {utc_text(time_ms, seconds=True)} is older than the last one"
                f" ({utc_text(self.ts[-1], seconds=True)})"
            )
        self.ts.append(time_ms)
        self.sig.append(signal)
        if self.on_add is not None:
            self.on_add(time_ms, signal, source)

    def at(self, time_ms: int) -> Signal:
        i = bisect_right(self.ts, time_ms) - 1
        if i < 0:
            return Signal.NONE
        if self.ttl_ms is not None and time_ms - self.ts[i] > self.ttl_ms:
            return Signal.NONE
        return self.sig[i]


class FileFollower:
    """Reads rows appended to a ``timestamp,signal`` CSV since the last poll."""

    def __init__(self, path: str | Path, book: SignalBook) -> None:
        self.path, self.book = Path(path), book
        self.offset = 0
        self.lineno = 0
        self.header: list[str] | None = None

    def poll(self) -> int:
        """Ingest complete new lines; returns how many signals were added."""
        try:
            size = self.path.stat().st_size
        except FileNotFoundError:
            return 0
        if size < self.offset:  # truncated or replaced: start over
            log.warning("%s shrank; re-reading it from the start", self.path)
            self.offset, self.lineno, self.header = 0, 0, None
        if size == self.offset:
            return 0
        with self.path.open("rb") as fh:
            fh.seek(self.offset)
            chunk = fh.read(size - self.offset)
        end = chunk.rfind(b"\n")
        if end < 0:
            return 0  # a line still being written
        self.offset += end + 1
        added = 0
        for raw in chunk[: end + 1].decode("utf-8", errors="replace").splitlines():
            self.lineno += 1
            if not raw.strip():
                continue
            cells = [c.strip() for c in raw.split(",")]
            if self.header is None:
                self.header = [c.lower() for c in cells]
                if "timestamp" not in self.header or "signal" not in self.header:
                    log.error("%s:1: header must name timestamp and signal columns", self.path)
                continue
            try:
                t = parse_timestamp(cells[self.header.index("timestamp")])
                signal = parse_signal(cells[self.header.index("signal")])
                self.book.add(t, signal, f"file:{self.path.name}")
                added += 1
            except (ValueError, IndexError) as exc:
                log.error("%s:%d: ignored: %s", self.path, self.lineno, exc)
        return added


def webhook_app(
    book: SignalBook,
    token: str,
    now_ms: Callable[[], int] | None = None,
    *,
    max_future_ms: int = 60_000,
    max_per_minute: int = 60,
    on_reject: Callable[[str], None] | None = None,
) -> web.Application:
    """``POST /signal`` with ``Authorization: Bearer <token>`` and ``{"signal": "BUY"}``.

    An optional ``"timestamp"`` (epoch s/ms/µs or ISO-8601, the one parser) dates the signal;
    default: receipt, on ``now_ms`` (the feed's clock when rehearsing). Refused, with a 4xx and
    nothing changed: no or a wrong token (401), a body that is not a small flat JSON object,
    an unknown signal, a time more than ``max_future_ms`` ahead of ``now_ms`` (a dated signal
    would otherwise freeze every later one as "older"), a time already past the signal TTL,
    and more than ``max_per_minute`` requests a minute (429). ``on_reject`` hears of refusals,
    at most once a minute (the count of the others is in the next one).
    """
    clock = now_ms or (lambda: int(time.time() * 1000))
    expected = f"Bearer {token}".encode()
    recent: list[float] = []  # monotonic times of the requests of the last minute
    alerts = {"last": -math.inf, "suppressed": 0}

    def refuse(status: int, why: str) -> web.Response:
        if on_reject is not None:
            t = time.monotonic()
            if t - alerts["last"] >= 60.0:
                more = alerts["suppressed"]
                note = f" (+{more} more refused in the last minute)" if more else ""
                alerts["last"], alerts["suppressed"] = t, 0
                on_reject(f"webhook refused a request ({status}): {why}{note}")
            else:
                alerts["suppressed"] += 1
        return web.json_response({"error": why}, status=status)

    async def post_signal(request: web.Request) -> web.Response:
        t_mono = time.monotonic()
        while recent and t_mono - recent[0] > 60.0:
            recent.pop(0)
        if len(recent) >= max_per_minute:
            return refuse(429, f"more than {max_per_minute} requests a minute")
        recent.append(t_mono)
        given = request.headers.get("Authorization", "").encode()
        if not token or not hmac.compare_digest(given, expected):
            return refuse(401, "unauthorized")
        now = clock()
        try:
            body = json.loads(await request.text())
            if not isinstance(body, dict) or any(isinstance(v, dict | list) for v in body.values()):
                raise ValueError("expected a flat JSON object")
            signal = parse_signal(body["signal"])
            t = parse_timestamp(body["timestamp"]) if "timestamp" in body else now
            if t > now + max_future_ms:
                raise ValueError(f"timestamp {t} is in the future (now {now})")
            if book.ttl_ms is not None and t < now - book.ttl_ms:
                raise ValueError(f"timestamp {t} is older than the signal TTL")
            book.add(t, signal, "webhook")
        except (KeyError, TypeError, ValueError, RecursionError) as exc:  # JSONDecodeError too
            return refuse(400, f"bad request: {exc}")
        return web.json_response({"ok": True, "signal": str(signal), "timestamp": t})

    app = web.Application(client_max_size=4096)
    app.router.add_post("/signal", post_signal)
    return app
