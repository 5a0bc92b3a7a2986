"""Telegram alerts and operator commands (docs/rules.md, Alerts), over python-telegram-bot.

Threading model. All network I/O runs on a private asyncio loop in one daemon worker thread
that owns a PTB ``Application`` (its bot sends, its ``Updater`` long-polls ``getUpdates`` and
its handlers dispatch commands). The ``Monitor`` methods (``on_bar``, ``on_alert``, ...) are
called from the agent's trading loop; they only evaluate the alert rules (``alert_rules``: a
few comparisons) and append to a bounded in-memory queue, then wake the worker with
``call_soon_threadsafe``. They never wait for the network and never raise: a Telegram outage
costs the trading loop nothing. Messages that cannot be delivered are retried a bounded number
of times and then dropped and logged (``telegram_transport``).

Commands (``telegram_commands``): only the configured chat is obeyed, stale commands are not
executed, and each update is handled once, also across restarts when ``offset_path`` is given.
``AgentControl`` methods run on the loop that called ``start()`` (the agent's loop).

The bot token is never logged: it is scrubbed from every error text, and a filter masks it in
the records of the ``telegram``/``httpx`` loggers (``telegram.Bot`` logs the URL at DEBUG).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from telegram.error import Conflict, InvalidToken, TelegramError
from telegram.ext import Application, ApplicationBuilder
from telegram.request import HTTPXRequest

from ..policy.redaction import Secret, redact, register_secret
from ..records import BarSnapshot, RebalanceRecord, TradeRecord
from .alert_rules import (
    CIRCUIT_BREAKER,
    FUNDING,
    MARGIN,
    SAFE_MODE,
    WATCHDOG,
    AlertDecision,
    AlertLimiter,
    AlertRules,
)
from .telegram_commands import HELP_TEXT, REFUSAL_TEXT, AgentControl, CommandDispatcher
from .telegram_transport import (
    MAX_TEXT,
    TOKEN_LOGGERS,
    Outgoing,
    Sender,
    TelegramStats,
    TokenFilter,
    chunks,
)

if TYPE_CHECKING:
    from ..config import AppConfig

__all__ = [
    "CIRCUIT_BREAKER",
    "FUNDING",
    "HELP_TEXT",
    "MARGIN",
    "MAX_TEXT",
    "REFUSAL_TEXT",
    "SAFE_MODE",
    "WATCHDOG",
    "AgentControl",
    "AlertDecision",
    "AlertLimiter",
    "TelegramMonitor",
    "TelegramStats",
]

log = logging.getLogger("adaptive_agent.telegram")


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
        allowed_user_ids: tuple[int, ...] = (),
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
        # The part after "bot<id>:" is the secret half; alone it must be masked too.
        secret_part = token.reveal().partition(":")[2]
        if len(secret_part) >= 8:
            register_secret(secret_part)
        self._base_url = base_url
        self._rules = AlertRules(
            funding_bps_per_8h=funding_bps_per_8h,
            margin_frac=margin_frac,
            repeat_interval_ms=int(repeat_interval_s * 1000),
            event_clear_ms=int(event_clear_s * 1000),
            label=label,
        )
        self._poll = poll_commands and control is not None
        self._poll_timeout_s = poll_timeout_s
        self._send_timeout_s = send_timeout_s
        self._close_timeout_s = close_timeout_s
        self._proxy = proxy
        self._clock = clock_ms or (lambda: int(time.time() * 1000))

        self.stats = TelegramStats()
        self._sender = Sender(
            self.stats,
            self._err,
            max_queue=max_queue,
            max_attempts=max_attempts,
            retry_backoff_s=retry_backoff_s,
        )
        self._commands = (
            CommandDispatcher(
                control,
                self._chat_id,
                stats=self.stats,
                reply=self._reply,
                err=self._err,
                clock=self._clock,
                max_command_age_s=max_command_age_s,
                allowed_user_ids=allowed_user_ids,
                command_timeout_s=command_timeout_s,
                offset_path=Path(offset_path) if offset_path is not None else None,
            )
            if control is not None
            else None
        )
        self._lock = threading.Lock()  # guards the alert rules (on_* may come from threads)

        self._thread: threading.Thread | None = None
        self._ready = threading.Event()
        self._closed = False

        self._token_filter = TokenFilter(self._scrub)
        for name in TOKEN_LOGGERS:
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
        if self._commands is not None:
            self._commands.control_loop = control_loop
        self._thread = threading.Thread(target=self._thread_main, name="telegram", daemon=True)
        self._thread.start()
        self._ready.wait(timeout=5.0)

    def close(self) -> None:
        """Stop polling, try to deliver what is queued (bounded by ``close_timeout_s``), stop."""
        if self._closed:
            return
        self._closed = True
        try:
            self._sender.request_stop()
            if self._thread is not None and self._thread is not threading.current_thread():
                # the worker bounds its drain and its offset confirmation by close_timeout_s
                self._thread.join(timeout=2 * self._close_timeout_s + 2.0)
                if self._thread.is_alive():
                    log.warning("telegram: worker did not stop in time; abandoning it")
            pending = self._sender.pending
            if pending:
                self.stats.dropped += len(pending)
                log.warning("telegram: %d message(s) not delivered at close", len(pending))
                pending.clear()
        except Exception as exc:  # close must never raise
            log.error("telegram: close failed: %s", self._scrub(repr(exc)))
        finally:
            self._sender.finished = True
            for name in TOKEN_LOGGERS:
                logging.getLogger(name).removeFilter(self._token_filter)

    async def aclose(self) -> None:
        """``close()`` without blocking the calling loop while the queue drains."""
        await asyncio.to_thread(self.close)

    # --- Monitor ------------------------------------------------------------------------------

    def on_bar(self, bar: BarSnapshot) -> None:
        try:
            now = self._clock()
            with self._lock:
                for kind, text in self._rules.on_bar(bar, now):
                    self._send(kind, text)
        except Exception as exc:
            log.error("telegram: on_bar failed: %s", self._scrub(repr(exc)))

    def on_rebalance(self, rebalance: RebalanceRecord, trades: list[TradeRecord]) -> None:
        """Rebalances are reported in the daily digest, not one message each."""

    def on_alert(self, kind: str, text: str, time_ms: int) -> None:
        try:
            now = self._clock()
            with self._lock:
                message = self._rules.on_alert(kind, text, time_ms, now)
            if message is not None:
                self._send(kind, message)
        except Exception as exc:
            log.error("telegram: on_alert failed: %s", self._scrub(repr(exc)))

    def send_text(self, text: str, kind: str = "message") -> None:
        """Queue a free text to the configured chat (e.g. the daily digest)."""
        try:
            self._reply(self._chat_id, text, kind)
        except Exception as exc:
            log.error("telegram: send_text failed: %s", self._scrub(repr(exc)))

    def pending_texts(self) -> list[str]:
        """Texts queued and not yet sent (oldest first)."""
        return [m.text for m in list(self._sender.pending)]

    def _send(self, kind: str, text: str) -> None:
        self._sender.enqueue(Outgoing(self._chat_id, text, kind, self._clock()))

    def _reply(self, chat_id: int, text: str, kind: str = "reply") -> None:
        for part in chunks(text):
            self._sender.enqueue(Outgoing(chat_id, part, kind, self._clock()))

    # --- worker thread ------------------------------------------------------------------------

    @staticmethod
    def _scrub(text: str) -> str:
        return redact(text)  # the one redactor; the token and its secret half are registered

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
        stop = self._sender.attach()
        if self._closed:
            stop.set()
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
        app = (
            ApplicationBuilder()
            .token(self._token.reveal())
            .base_url(self._base_url)
            .request(requests[0])
            .get_updates_request(requests[1])
            .build()
        )
        if self._commands is not None:
            self._commands.install(app)
        try:
            # getMe runs beside the sender: an unreachable Telegram must not hold alerts back.
            sender = asyncio.create_task(self._sender.run(app.bot), name="telegram-sender")
            poller = asyncio.create_task(self._init_then_poll(app), name="telegram-poller")
            await stop.wait()
            poller.cancel()
            await asyncio.gather(poller, return_exceptions=True)
            await self._stop_polling(app)
            self._sender.wake()
            try:
                await asyncio.wait_for(sender, timeout=self._close_timeout_s)
            except TimeoutError:
                log.warning("telegram: close timeout; undelivered messages are dropped")
        finally:
            with contextlib.suppress(Exception):
                await app.shutdown()
            with contextlib.suppress(Exception):
                await app.bot.shutdown()
            for r in requests:  # idempotent; covers a bot that never finished initialize()
                with contextlib.suppress(Exception):
                    await r.shutdown()

    async def _init_then_poll(self, app: Application[Any, Any, Any, Any, Any, Any]) -> None:
        backoff = 1.0
        while True:
            try:
                await app.initialize()  # request objects, then getMe (checks the token)
                break
            except InvalidToken:
                self._sender.disabled = True
                log.error(
                    "telegram: the bot token (TELEGRAM_BOT_TOKEN) was rejected by the server;"
                    " alerts and commands are disabled"
                )
                return
            except Exception as exc:  # Telegram unreachable: sends retry per message
                if backoff == 1.0:
                    log.warning(
                        "telegram: getMe failed, will keep trying per message: %s", self._err(exc)
                    )
                if not self._poll:
                    return
            # commands need getMe (``/cmd@botname``): try again
            if await self._sender.sleep_or_stop(backoff):
                return
            backoff = min(backoff * 2, 60.0)
        if not self._poll or self._sender.disabled:
            return
        await app.start()
        backoff = 1.0
        while True:
            try:
                # PTB's Updater: long polling, offsets, confirming handled updates at stop
                await app.updater.start_polling(  # type: ignore[union-attr]
                    timeout=max(1, round(self._poll_timeout_s)),
                    allowed_updates=["message"],
                    error_callback=self._polling_error,
                )
                return
            except InvalidToken:
                self._sender.disabled = True
                log.error("telegram: the bot token was rejected; command polling stops")
                return
            except Exception as exc:
                log.warning("telegram: cannot start polling: %s", self._err(exc))
            if await self._sender.sleep_or_stop(backoff):
                return
            backoff = min(backoff * 2, 60.0)

    def _polling_error(self, exc: TelegramError) -> None:
        if isinstance(exc, Conflict):
            log.error(
                "telegram: getUpdates conflict (another poller or a webhook uses this bot): %s",
                self._err(exc),
            )
        else:
            log.warning("telegram: getUpdates failed: %s", self._err(exc))

    async def _stop_polling(self, app: Application[Any, Any, Any, Any, Any, Any]) -> None:
        """Stop the Updater (it confirms the handled updates to Telegram) and the Application,
        within ``close_timeout_s``."""
        if self._commands is not None:
            self._commands.close()

        async def stop() -> None:
            if app.updater is not None and app.updater.running:
                await app.updater.stop()
            if app.running:
                await app.stop()

        try:
            await asyncio.wait_for(stop(), timeout=self._close_timeout_s)
        except TimeoutError:
            log.warning("telegram: stopping the command poller timed out")
        except Exception as exc:
            log.warning("telegram: stopping the command poller failed: %s", self._err(exc))
