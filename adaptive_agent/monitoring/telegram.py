"""Telegram alerts and operator commands (SPEC 10), over python-telegram-bot's ``Bot``.

Threading model. All network I/O runs on a private asyncio loop in one daemon worker thread
that owns the ``Bot``. The ``Monitor`` methods (``on_bar``, ``on_alert``, ...) are called from
the agent's trading loop; they only evaluate the alert rules (a few comparisons) and append to
a bounded in-memory queue, then wake the worker with ``call_soon_threadsafe``. They never wait
for the network and never raise: a Telegram outage costs the trading loop nothing. Messages
that cannot be delivered are retried a bounded number of times and then dropped (logged).

Alerts. Kinds: ``circuit_breaker`` and ``watchdog`` (from ``on_alert``), ``funding``
(``abs(funding_rate)`` above ``funding_bps_per_8h``), ``margin`` (``margin_frac`` above the
limit) and ``safe_mode`` (transitions of ``BarSnapshot.safe_mode``). Each fires at once when
its condition starts; while it persists, reminders go out at most once per
``repeat_interval_s`` per kind; when it clears a short "cleared" note is sent, and a condition
that comes back fires again at once. ``on_alert`` kinds are events: a kind counts as cleared
after ``event_clear_s`` without a new call for it, or when safe mode is left.

Commands (long-polled ``getUpdates``; the offset is advanced before a command runs and
confirmed to Telegram, so each update is handled once, also across restarts when
``offset_path`` is given). Only messages from the configured chat are obeyed: ``/status``,
``/balance``, ``/digest``, ``/safemode on|off``, ``/stop``, ``/help``. A message from any other
chat is refused, logged, and changes nothing. Commands older than ``max_command_age_s`` (e.g.
queued while the agent was down) are not executed. ``AgentControl`` methods run on the loop
that called ``start()`` (the agent's loop), so they may touch agent state freely.

The bot token is never logged: it is scrubbed from every error text, and a filter masks it in
the records of the ``telegram``/``httpx`` loggers (``telegram.Bot`` logs the URL at DEBUG).
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import functools
import json
import logging
import os
import tempfile
import threading
import time
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from telegram import Bot
from telegram.error import (
    BadRequest,
    ChatMigrated,
    Conflict,
    Forbidden,
    InvalidToken,
    RetryAfter,
)
from telegram.request import HTTPXRequest

from ..policy.policy_layer import Secret
from .events import BarSnapshot, RebalanceRecord, TradeRecord

if TYPE_CHECKING:
    from ..config import AppConfig

log = logging.getLogger("adaptive_agent.telegram")

CIRCUIT_BREAKER = "circuit_breaker"
WATCHDOG = "watchdog"
FUNDING = "funding"
MARGIN = "margin"
SAFE_MODE = "safe_mode"

MAX_TEXT = 4096  # Telegram's limit for one message
HELP_TEXT = (
    "Commands:\n"
    "/status - state of the agent\n"
    "/balance - balances and NAV\n"
    "/digest - today's digest so far\n"
    "/safemode on|off - manual kill switch (on blocks orders that raise exposure)\n"
    "/stop - stop the agent\n"
    "/help - this text"
)
REFUSAL_TEXT = "Refused: this bot only accepts commands from its configured chat."


@runtime_checkable
class AgentControl(Protocol):
    """What a Telegram command may ask of the agent. Each returns the reply text."""

    async def status(self) -> str: ...

    async def balance(self) -> str: ...

    async def digest(self) -> str: ...

    async def set_safe_mode(self, on: bool) -> str: ...

    async def stop(self) -> str: ...


# --- alert rate limiting (pure, synchronous) --------------------------------------------------


@dataclass
class _KindState:
    active: bool = False
    since_ms: int = 0
    last_sent_ms: int = 0
    last_seen_ms: int = 0
    suppressed: int = 0


@dataclass(frozen=True, slots=True)
class AlertDecision:
    """What to do about one observation: ``start``, ``repeat`` or ``clear`` (or nothing)."""

    action: str
    since_ms: int
    suppressed: int = 0


class AlertLimiter:
    """Fire on onset; remind at most once per interval while active; note the clearing."""

    def __init__(self, repeat_interval_ms: int, event_clear_ms: int) -> None:
        self.repeat_interval_ms = repeat_interval_ms
        self.event_clear_ms = event_clear_ms
        self._state: dict[str, _KindState] = {}

    def active(self, kind: str) -> bool:
        st = self._state.get(kind)
        return bool(st and st.active)

    def condition(self, kind: str, active: bool, now_ms: int) -> AlertDecision | None:
        st = self._state.setdefault(kind, _KindState())
        if active:
            st.last_seen_ms = now_ms
            if not st.active:
                st.active, st.since_ms, st.last_sent_ms, st.suppressed = True, now_ms, now_ms, 0
                return AlertDecision("start", now_ms)
            if now_ms - st.last_sent_ms >= self.repeat_interval_ms:
                n, st.suppressed, st.last_sent_ms = st.suppressed, 0, now_ms
                return AlertDecision("repeat", st.since_ms, n)
            st.suppressed += 1
            return None
        if st.active:
            st.active, st.suppressed = False, 0
            return AlertDecision("clear", st.since_ms)
        return None

    def event(self, kind: str, now_ms: int) -> AlertDecision | None:
        """An event-style alert (``on_alert``): active until quiet for ``event_clear_ms``."""
        st = self._state.setdefault(kind, _KindState())
        if st.active and now_ms - st.last_seen_ms > self.event_clear_ms:
            st.active = False
        return self.condition(kind, True, now_ms)

    def reset(self, kind: str) -> None:
        self._state.pop(kind, None)


# --- the monitor ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Outgoing:
    chat_id: int
    text: str
    kind: str
    created_ms: int


@dataclass
class TelegramStats:
    queued: int = 0
    sent: int = 0
    failed: int = 0  # given up after retries or refused by Telegram
    dropped: int = 0  # pushed out of a full queue, or queued after close
    commands: int = 0
    refused: int = 0
    errors: list[str] = field(default_factory=list)


class _TokenFilter(logging.Filter):
    def __init__(self, scrub: Callable[[str], str]) -> None:
        super().__init__()
        self._scrub = scrub

    def filter(self, record: logging.LogRecord) -> bool:
        with contextlib.suppress(Exception):
            record.msg, record.args = self._scrub(record.getMessage()), None
        return True


_TOKEN_LOGGERS = (
    "telegram",
    "telegram.Bot",
    "telegram.request",
    "telegram.request.BaseRequest",
    "telegram.request.HTTPXRequest",
    "httpx",
)


def _chunks(text: str, size: int = MAX_TEXT) -> list[str]:
    if len(text) <= size:
        return [text]
    out, rest = [], text
    while rest:
        if len(rest) <= size:
            out.append(rest)
            break
        cut = rest.rfind("\n", 0, size)
        cut = cut if cut > size // 2 else size
        out.append(rest[:cut])
        rest = rest[cut:].lstrip("\n")
    return out


def _hhmm(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, tz=UTC).strftime("%Y-%m-%d %H:%M UTC")


def _minutes(ms: int) -> str:
    m = max(0, ms) / 60_000
    return f"{m:.0f} min" if m < 120 else f"{m / 60:.1f} h"


class TelegramMonitor:
    """A ``Monitor`` that sends alerts to one chat and obeys commands from that chat only."""

    def __init__(
        self,
        token: Secret,
        chat_id: int | str,
        control: AgentControl | None = None,
        *,
        base_url: str = "https://api.telegram.org/bot",
        funding_bps_per_8h: float = 5.0,
        margin_frac: float = 0.70,
        repeat_interval_s: float = 1800.0,
        event_clear_s: float = 900.0,
        poll_commands: bool = True,
        poll_timeout_s: float = 25.0,
        send_timeout_s: float = 10.0,
        max_attempts: int = 3,
        retry_backoff_s: float = 2.0,
        max_queue: int = 200,
        max_command_age_s: float = 300.0,
        command_timeout_s: float = 30.0,
        close_timeout_s: float = 5.0,
        offset_path: str | Path | None = None,
        proxy: str | None = None,
        label: str = "adaptive_agent",
        clock_ms: Callable[[], int] | None = None,
    ) -> None:
        if isinstance(token, str):
            token = Secret("TELEGRAM_BOT_TOKEN", token)
        if not token.reveal().strip():
            raise ValueError("TelegramMonitor: empty bot token (TELEGRAM_BOT_TOKEN)")
        try:
            self._chat_id = int(chat_id)
        except (TypeError, ValueError):
            raise ValueError(
                f"TelegramMonitor: chat_id must be a numeric Telegram chat id, got {chat_id!r}"
            ) from None
        if max_attempts < 1:
            raise ValueError("TelegramMonitor: max_attempts must be >= 1")
        self._token = token
        self._control = control
        self._base_url = base_url
        self._funding_bps = float(funding_bps_per_8h)
        self._margin_frac = float(margin_frac)
        self._limiter = AlertLimiter(int(repeat_interval_s * 1000), int(event_clear_s * 1000))
        self._poll = poll_commands and control is not None
        self._poll_timeout_s = poll_timeout_s
        self._send_timeout_s = send_timeout_s
        self._max_attempts = max_attempts
        self._retry_backoff_s = retry_backoff_s
        self._max_command_age_s = max_command_age_s
        self._command_timeout_s = command_timeout_s
        self._close_timeout_s = close_timeout_s
        self._offset_path = Path(offset_path) if offset_path is not None else None
        self._proxy = proxy
        self._label = label
        self._clock = clock_ms or (lambda: int(time.time() * 1000))

        self.stats = TelegramStats()
        self._pending: collections.deque[_Outgoing] = collections.deque(maxlen=max(1, max_queue))
        self._lock = threading.Lock()  # guards the alert rules (on_* may come from threads)
        self._refusals: dict[int, int] = {}
        self._offset: int | None = self._load_offset()
        self._offset_dirty = False
        self._disabled = False  # token rejected: stop trying

        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._control_loop: asyncio.AbstractEventLoop | None = None
        self._wake: asyncio.Event | None = None
        self._stop: asyncio.Event | None = None
        self._ready = threading.Event()
        self._closed = False
        self._finished = False  # close() has returned: nothing is queued any more

        self._token_filter = _TokenFilter(self._scrub)
        for name in _TOKEN_LOGGERS:
            logging.getLogger(name).addFilter(self._token_filter)

    @classmethod
    def from_config(
        cls,
        cfg: AppConfig,
        token: Secret,
        chat_id: int | str,
        control: AgentControl | None = None,
        **kwargs: Any,
    ) -> TelegramMonitor:
        """Thresholds from ``cfg.alerts``; everything else from keyword arguments."""
        kwargs.setdefault("funding_bps_per_8h", cfg.alerts.funding_bps_per_8h)
        kwargs.setdefault("margin_frac", cfg.alerts.margin_frac)
        return cls(token, chat_id, control, **kwargs)

    def __repr__(self) -> str:
        return f"TelegramMonitor(chat_id={self._chat_id}, base_url={self._base_url!r})"

    # --- lifecycle ----------------------------------------------------------------------------

    def start(self, control_loop: asyncio.AbstractEventLoop | None = None) -> None:
        """Start the worker thread (idempotent). Call it from the agent's running loop, or pass
        that loop: ``AgentControl`` coroutines are run there."""
        if self._thread is not None or self._closed:
            return
        if control_loop is None:
            with contextlib.suppress(RuntimeError):
                control_loop = asyncio.get_running_loop()
        self._control_loop = control_loop
        self._thread = threading.Thread(target=self._thread_main, name="telegram", daemon=True)
        self._thread.start()
        self._ready.wait(timeout=5.0)

    def close(self) -> None:
        """Stop polling, try to deliver what is queued (bounded by ``close_timeout_s``), stop."""
        if self._closed:
            return
        self._closed = True
        try:
            loop, stop = self._loop, self._stop
            if loop is not None and stop is not None:
                with contextlib.suppress(RuntimeError):  # loop already gone
                    loop.call_soon_threadsafe(stop.set)
            if self._thread is not None and self._thread is not threading.current_thread():
                # the worker bounds its drain and its offset confirmation by close_timeout_s
                self._thread.join(timeout=2 * self._close_timeout_s + 2.0)
                if self._thread.is_alive():
                    log.warning("telegram: worker did not stop in time; abandoning it")
            if self._pending:
                self.stats.dropped += len(self._pending)
                log.warning("telegram: %d message(s) not delivered at close", len(self._pending))
                self._pending.clear()
        except Exception as exc:  # close must never raise
            log.error("telegram: close failed: %s", self._scrub(repr(exc)))
        finally:
            self._finished = True
            for name in _TOKEN_LOGGERS:
                logging.getLogger(name).removeFilter(self._token_filter)

    async def aclose(self) -> None:
        """``close()`` without blocking the calling loop while the queue drains."""
        await asyncio.to_thread(self.close)

    # --- Monitor ------------------------------------------------------------------------------

    def on_bar(self, bar: BarSnapshot) -> None:
        try:
            now = self._clock()
            with self._lock:
                self._check_safe_mode(bar, now)
                self._check_funding(bar, now)
                self._check_margin(bar, now)
        except Exception as exc:
            log.error("telegram: on_bar failed: %s", self._scrub(repr(exc)))

    def on_rebalance(self, rebalance: RebalanceRecord, trades: list[TradeRecord]) -> None:
        """Rebalances are reported in the daily digest, not one message each."""

    def on_alert(self, kind: str, text: str, time_ms: int) -> None:
        try:
            now = self._clock()
            # Bar-driven kinds keep their own state: an on_alert of the same name must not
            # disturb it, so other kinds are rate-limited under a key of their own.
            key = kind if kind in (CIRCUIT_BREAKER, WATCHDOG) else f"alert:{kind}"
            with self._lock:
                d = self._limiter.event(key, now)
            if d is None:
                return
            title = {CIRCUIT_BREAKER: "CIRCUIT BREAKER", WATCHDOG: "WATCHDOG"}.get(
                kind, kind.upper()
            )
            if d.action == "start":
                body = f"{title}: {text}"
            else:
                body = f"{title} still active since {_hhmm(d.since_ms)}: {text}"
                body += self._suppressed_note(d.suppressed)
            self._alert(kind, body, time_ms)
        except Exception as exc:
            log.error("telegram: on_alert failed: %s", self._scrub(repr(exc)))

    def send_text(self, text: str, kind: str = "message") -> None:
        """Queue a free text to the configured chat (e.g. the daily digest)."""
        try:
            for part in _chunks(text):
                self._enqueue(_Outgoing(self._chat_id, part, kind, self._clock()))
        except Exception as exc:
            log.error("telegram: send_text failed: %s", self._scrub(repr(exc)))

    def pending_texts(self) -> list[str]:
        """Texts queued and not yet sent (oldest first)."""
        return [m.text for m in list(self._pending)]

    # --- alert rules --------------------------------------------------------------------------

    @staticmethod
    def _suppressed_note(n: int) -> str:
        return f" ({n} repeat(s) suppressed)" if n else ""

    def _alert(self, kind: str, body: str, time_ms: int) -> None:
        text = f"[{self._label}] {body} | {_hhmm(time_ms)}"
        self._enqueue(_Outgoing(self._chat_id, text, kind, self._clock()))

    def _check_safe_mode(self, bar: BarSnapshot, now: int) -> None:
        reasons = ", ".join(bar.safe_mode_reasons) or "no reason given"
        d = self._limiter.condition(SAFE_MODE, bar.safe_mode, now)
        if d is None:
            return
        if d.action == "start":
            body = f"SAFE MODE ENTERED: {reasons} (NAV {bar.nav:,.2f} USDT)"
        elif d.action == "repeat":
            body = f"SAFE MODE still on since {_hhmm(d.since_ms)}: {reasons}"
            body += self._suppressed_note(d.suppressed)
        else:
            body = f"SAFE MODE LEFT after {_minutes(now - d.since_ms)} (NAV {bar.nav:,.2f} USDT)"
            # The breaker and the watchdog put the engine in safe mode: leaving it clears them.
            self._limiter.reset(CIRCUIT_BREAKER)
            self._limiter.reset(WATCHDOG)
        self._alert(SAFE_MODE, body, bar.time_ms)

    def _check_funding(self, bar: BarSnapshot, now: int) -> None:
        rate = bar.funding_rate
        if rate is None:
            return  # unknown: keep the previous state
        bps = rate * 1e4
        d = self._limiter.condition(FUNDING, abs(bps) > self._funding_bps, now)
        if d is None:
            return
        who = "longs pay shorts" if bps > 0 else "shorts pay longs"
        if d.action == "start":
            body = f"FUNDING {bps:+.2f} bps per 8 h exceeds {self._funding_bps:g} bps ({who})"
        elif d.action == "repeat":
            body = f"FUNDING still {bps:+.2f} bps per 8 h since {_hhmm(d.since_ms)} ({who})"
            body += self._suppressed_note(d.suppressed)
        else:
            body = f"funding back within {self._funding_bps:g} bps per 8 h ({bps:+.2f} bps)"
        self._alert(FUNDING, body, bar.time_ms)

    def _check_margin(self, bar: BarSnapshot, now: int) -> None:
        m = bar.margin_frac
        d = self._limiter.condition(MARGIN, m > self._margin_frac, now)
        if d is None:
            return
        if d.action == "start":
            body = (
                f"USED MARGIN {m:.1%} of NAV exceeds {self._margin_frac:.0%}"
                f" (NAV {bar.nav:,.2f} USDT)"
            )
        elif d.action == "repeat":
            body = f"USED MARGIN still {m:.1%} of NAV since {_hhmm(d.since_ms)}"
            body += self._suppressed_note(d.suppressed)
        else:
            body = f"used margin back below {self._margin_frac:.0%} of NAV ({m:.1%})"
        self._alert(MARGIN, body, bar.time_ms)

    # --- queue (any thread) -------------------------------------------------------------------

    def _enqueue(self, item: _Outgoing) -> None:
        if self._finished:
            self.stats.dropped += 1
            return
        if len(self._pending) == self._pending.maxlen:
            self.stats.dropped += 1  # the deque pushes out the oldest
            log.warning("telegram: queue full, oldest message dropped")
        self._pending.append(item)
        self.stats.queued += 1
        loop, wake = self._loop, self._wake
        if loop is not None and wake is not None:
            with contextlib.suppress(RuntimeError):  # the worker's loop is closed
                loop.call_soon_threadsafe(wake.set)

    # --- worker thread ------------------------------------------------------------------------

    def _scrub(self, text: str) -> str:
        tok = self._token.reveal()
        if tok and tok in text:
            text = text.replace(tok, "***")
        secret_part = tok.partition(":")[2]
        if len(secret_part) >= 8 and secret_part in text:
            text = text.replace(secret_part, "***")
        return text

    def _err(self, exc: BaseException) -> str:
        return self._scrub(f"{type(exc).__name__}: {exc}")

    def _thread_main(self) -> None:
        try:
            asyncio.run(self._amain())
        except BaseException as exc:  # the worker must never take the process down
            log.error("telegram: worker stopped: %s", self._err(exc))
        finally:
            self._ready.set()

    async def _amain(self) -> None:
        self._wake, self._stop = asyncio.Event(), asyncio.Event()
        self._loop = asyncio.get_running_loop()
        if self._closed:
            self._stop.set()
        self._ready.set()
        timeouts = {
            "connect_timeout": self._send_timeout_s,
            "read_timeout": self._send_timeout_s,
            "write_timeout": self._send_timeout_s,
            "pool_timeout": self._send_timeout_s,
        }
        requests = (
            HTTPXRequest(connection_pool_size=4, proxy=self._proxy, **timeouts),
            HTTPXRequest(connection_pool_size=1, proxy=self._proxy, **timeouts),
        )
        bot = Bot(
            self._token.reveal(),
            base_url=self._base_url,
            request=requests[0],
            get_updates_request=requests[1],
        )
        try:
            # getMe runs beside the sender: an unreachable Telegram must not hold alerts back.
            sender = asyncio.create_task(self._sender(bot), name="telegram-sender")
            poller = asyncio.create_task(self._init_then_poll(bot), name="telegram-poller")
            await self._stop.wait()
            poller.cancel()
            await asyncio.gather(poller, return_exceptions=True)
            await self._confirm_offset(bot)
            self._wake.set()
            try:
                await asyncio.wait_for(sender, timeout=self._close_timeout_s)
            except TimeoutError:
                log.warning("telegram: close timeout; undelivered messages are dropped")
        finally:
            with contextlib.suppress(Exception):
                await bot.shutdown()
            for r in requests:  # idempotent; covers a bot that never finished initialize()
                with contextlib.suppress(Exception):
                    await r.shutdown()

    async def _init_bot(self, bot: Bot) -> None:
        try:
            await bot.initialize()  # request objects, then getMe (checks the token)
        except InvalidToken:
            self._disabled = True
            log.error(
                "telegram: the bot token (TELEGRAM_BOT_TOKEN) was rejected by the server;"
                " alerts and commands are disabled"
            )
        except Exception as exc:  # Telegram unreachable: sends retry per message
            log.warning("telegram: getMe failed, will keep trying per message: %s", self._err(exc))

    async def _init_then_poll(self, bot: Bot) -> None:
        await self._init_bot(bot)
        if self._poll and not self._disabled:
            await self._poller(bot)

    async def _sleep_or_stop(self, seconds: float) -> bool:
        """Sleep; True when close() was called meanwhile."""
        assert self._stop is not None
        if self._stop.is_set():
            return True
        try:
            await asyncio.wait_for(self._stop.wait(), timeout=max(0.0, seconds))
        except TimeoutError:
            return False
        return True

    async def _sender(self, bot: Bot) -> None:
        assert self._wake is not None and self._stop is not None
        while True:
            if not self._pending:
                if self._stop.is_set():
                    return
                self._wake.clear()
                if self._pending or self._stop.is_set():
                    continue
                await self._wake.wait()
                continue
            item = self._pending.popleft()
            attempts = 1 if self._stop.is_set() else self._max_attempts
            try:
                await self._deliver(bot, item, attempts)
            except Exception as exc:  # defensive: the sender must survive anything
                self.stats.failed += 1
                log.error("telegram: send failed: %s", self._err(exc))

    async def _deliver(self, bot: Bot, item: _Outgoing, attempts: int) -> None:
        if self._disabled:
            self.stats.failed += 1
            log.error("telegram: token rejected; %s message dropped", item.kind)
            return
        attempt = 0
        while True:
            attempt += 1
            try:
                await bot.send_message(chat_id=item.chat_id, text=item.text)
                self.stats.sent += 1
                return
            except RetryAfter as exc:
                delay = _retry_after_s(exc)
                error = f"rate limited by Telegram (retry after {delay:.0f} s)"
            except InvalidToken:
                self._disabled = True
                self.stats.failed += 1
                log.error("telegram: the bot token was rejected; alerts are disabled")
                return
            except (Forbidden, BadRequest, ChatMigrated) as exc:  # retrying will not help
                self.stats.failed += 1
                log.error("telegram: %s message refused: %s", item.kind, self._err(exc))
                return
            except Exception as exc:  # NetworkError, TimedOut, 5xx, ...
                delay = self._retry_backoff_s * 2 ** (attempt - 1)
                error = self._err(exc)
            if attempt >= attempts:
                self.stats.failed += 1
                self.stats.errors.append(error)
                del self.stats.errors[:-20]
                log.warning(
                    "telegram: %s message dropped after %d attempt(s): %s",
                    item.kind,
                    attempt,
                    error,
                )
                return
            log.info("telegram: send attempt %d failed (%s); retrying", attempt, error)
            if await self._sleep_or_stop(min(delay, 60.0)):
                attempts = min(attempts, attempt + 1)  # closing: one last try

    # --- commands -----------------------------------------------------------------------------

    async def _poller(self, bot: Bot) -> None:
        backoff = 1.0
        while True:
            try:
                updates = await bot.get_updates(
                    offset=self._offset,
                    timeout=max(1, round(self._poll_timeout_s)),
                    allowed_updates=["message"],
                    read_timeout=self._send_timeout_s,
                )
                backoff = 1.0
            except asyncio.CancelledError:
                raise
            except InvalidToken:
                self._disabled = True
                log.error("telegram: the bot token was rejected; command polling stops")
                return
            except Conflict as exc:
                log.error(
                    "telegram: getUpdates conflict (another poller or a webhook uses this bot): %s",
                    self._err(exc),
                )
                await asyncio.sleep(min(backoff * 5, 60.0))
                backoff = min(backoff * 2, 60.0)
                continue
            except Exception as exc:
                log.warning("telegram: getUpdates failed: %s", self._err(exc))
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 60.0)
                continue
            for update in updates:
                # Advance (and persist) before acting: a command is never executed twice.
                self._offset = update.update_id + 1
                self._offset_dirty = True
                self._save_offset()
                try:
                    await self._handle_update(update)
                except asyncio.CancelledError:
                    raise
                except Exception as exc:
                    log.error("telegram: command handling failed: %s", self._err(exc))

    async def _confirm_offset(self, bot: Bot) -> None:
        """Tell Telegram which updates were handled, so a restart does not see them again."""
        if not self._offset_dirty or self._disabled:
            return
        with contextlib.suppress(Exception):
            await asyncio.wait_for(
                bot.get_updates(
                    offset=self._offset, timeout=0, limit=1, allowed_updates=["message"]
                ),
                timeout=min(self._send_timeout_s, self._close_timeout_s),
            )
            self._offset_dirty = False

    def _reply(self, chat_id: int, text: str, kind: str = "reply") -> None:
        for part in _chunks(text):
            self._enqueue(_Outgoing(chat_id, part, kind, self._clock()))

    async def _handle_update(self, update: Any) -> None:
        msg = update.message
        if msg is None or msg.chat is None:
            return
        chat_id = int(msg.chat.id)
        text = (msg.text or "").strip()
        user = msg.from_user.id if msg.from_user is not None else None
        now = self._clock()
        if chat_id != self._chat_id:
            self.stats.refused += 1
            log.warning(
                "telegram: refused message from unauthorised chat %s (user %s): %r",
                chat_id,
                user,
                text[:80],
            )
            last = self._refusals.get(chat_id)
            if last is None or now - last >= 60_000:
                if len(self._refusals) > 1000:
                    self._refusals.clear()
                self._refusals[chat_id] = now
                self._reply(chat_id, REFUSAL_TEXT, "refusal")
            return
        if not text:
            return
        age_s = now / 1000 - msg.date.timestamp() if msg.date is not None else 0.0
        if age_s > self._max_command_age_s:
            log.warning("telegram: ignored stale command %r (sent %.0f s ago)", text[:80], age_s)
            self._reply(
                chat_id, f"Ignored {text[:40]!r}: sent {age_s:.0f} s ago (too old); send it again."
            )
            return
        if not text.startswith("/"):
            self._reply(chat_id, HELP_TEXT)
            return
        head, *args = text.split()
        cmd = head[1:].split("@", 1)[0].lower()
        log.info("telegram: command %r from chat %s (user %s)", text[:80], chat_id, user)
        self.stats.commands += 1
        ctl = self._control
        assert ctl is not None
        simple: dict[str, Callable[[], Coroutine[Any, Any, str]]] = {
            "status": ctl.status,
            "balance": ctl.balance,
            "digest": ctl.digest,
            "stop": ctl.stop,
        }
        if cmd in simple:
            call = simple[cmd]
        elif cmd == "safemode":
            arg = args[0].lower() if args else ""
            if arg not in ("on", "off"):
                self._reply(chat_id, "Usage: /safemode on|off")
                return
            call = functools.partial(ctl.set_safe_mode, arg == "on")
        elif cmd in ("help", "start"):
            self._reply(chat_id, HELP_TEXT)
            return
        else:
            self._reply(chat_id, f"Unknown command /{cmd}.\n{HELP_TEXT}")
            return
        try:
            reply = await self._run_control(call)
        except TimeoutError:
            log.error("telegram: command /%s timed out", cmd)
            reply = f"/{cmd}: no answer from the agent within {self._command_timeout_s:g} s"
        except Exception as exc:
            log.error("telegram: command /%s failed: %s", cmd, self._err(exc))
            reply = f"/{cmd} failed: {type(exc).__name__}"
        self._reply(chat_id, str(reply) if reply else f"/{cmd}: done")

    async def _run_control(self, call: Callable[[], Coroutine[Any, Any, str]]) -> str:
        loop = self._control_loop
        if loop is None or loop is asyncio.get_running_loop():
            return await asyncio.wait_for(call(), self._command_timeout_s)
        coro = call()
        try:
            cfut = asyncio.run_coroutine_threadsafe(coro, loop)
        except RuntimeError:  # the agent's loop is closed
            coro.close()
            raise
        return await asyncio.wait_for(asyncio.wrap_future(cfut), self._command_timeout_s)

    # --- offset persistence -------------------------------------------------------------------

    def _load_offset(self) -> int | None:
        if self._offset_path is None:
            return None
        try:
            return int(json.loads(self._offset_path.read_text())["offset"])
        except FileNotFoundError:
            return None
        except Exception as exc:
            log.warning("telegram: ignoring unreadable %s: %s", self._offset_path, exc)
            return None

    def _save_offset(self) -> None:
        if self._offset_path is None or self._offset is None:
            return
        path = self._offset_path
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
            with os.fdopen(fd, "w") as fh:
                json.dump({"offset": self._offset}, fh)
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(tmp, path)
        except OSError as exc:
            log.warning("telegram: could not save the update offset to %s: %s", path, exc)


def _retry_after_s(exc: RetryAfter) -> float:
    # Read the stored timedelta: the public attribute emits a PTB deprecation warning.
    td = getattr(exc, "_retry_after", None)
    try:
        return float(td.total_seconds())  # type: ignore[union-attr]
    except Exception:
        return 5.0
