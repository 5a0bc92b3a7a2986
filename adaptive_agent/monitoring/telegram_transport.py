"""Sending to Telegram: the outgoing queue, chunking, bounded retries, Telegram's retry-after.

Any thread may ``enqueue``; one coroutine (``Sender.run``, on the worker thread's loop) sends.
A message that cannot be delivered is retried ``max_attempts`` times (exponential back-off from
``retry_backoff_s``, or the wait Telegram asks for with HTTP 429) and then dropped and logged.
Refusals that retrying will not fix (forbidden, bad request, chat migrated) drop it at once; a
rejected token disables sending altogether.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import logging
from collections.abc import Callable
from dataclasses import dataclass, field

from telegram import Bot
from telegram.error import BadRequest, ChatMigrated, Forbidden, InvalidToken, RetryAfter

log = logging.getLogger("adaptive_agent.telegram")

MAX_TEXT = 4096  # Telegram's limit for one message

# Loggers that may see the token (``telegram.Bot`` logs request URLs at DEBUG). A filter on a
# logger does not apply to records of its children, hence each name.
TOKEN_LOGGERS = (
    "telegram",
    "telegram.Bot",
    "telegram.request",
    "telegram.request.BaseRequest",
    "telegram.request.HTTPXRequest",
    "telegram.ext",
    "telegram.ext.Application",
    "telegram.ext.ExtBot",
    "telegram.ext.Updater",
    "httpx",
)


@dataclass(frozen=True, slots=True)
class Outgoing:
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


class TokenFilter(logging.Filter):
    def __init__(self, scrub: Callable[[str], str]) -> None:
        super().__init__()
        self._scrub = scrub

    def filter(self, record: logging.LogRecord) -> bool:
        with contextlib.suppress(Exception):
            record.msg, record.args = self._scrub(record.getMessage()), None
        return True


def chunks(text: str, size: int = MAX_TEXT) -> list[str]:
    """``text`` in pieces Telegram accepts, cut at a line break where one is near the limit."""
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


class Sender:
    """The outgoing queue and the coroutine that empties it.

    ``err`` turns an exception into a loggable text (it scrubs the token).
    """

    def __init__(
        self,
        stats: TelegramStats,
        err: Callable[[BaseException], str],
        *,
        max_queue: int,
        max_attempts: int,
        retry_backoff_s: float,
    ) -> None:
        self.stats = stats
        self._err = err
        self.pending: collections.deque[Outgoing] = collections.deque(maxlen=max(1, max_queue))
        self._max_attempts = max_attempts
        self._retry_backoff_s = retry_backoff_s
        self.disabled = False  # token rejected: stop trying
        self.finished = False  # closed: nothing is queued any more
        self._loop: asyncio.AbstractEventLoop | None = None
        self._wake: asyncio.Event | None = None
        self.stop: asyncio.Event | None = None

    def attach(self) -> asyncio.Event:
        """Bind to the running (worker) loop; returns the stop event."""
        self._wake, self.stop = asyncio.Event(), asyncio.Event()
        self._loop = asyncio.get_running_loop()
        return self.stop

    # --- any thread ---------------------------------------------------------------------------

    def enqueue(self, item: Outgoing) -> None:
        if self.finished:
            self.stats.dropped += 1
            return
        if len(self.pending) == self.pending.maxlen:
            self.stats.dropped += 1  # the deque pushes out the oldest
            log.warning("telegram: queue full, oldest message dropped")
        self.pending.append(item)
        self.stats.queued += 1
        self.wake()

    def wake(self) -> None:
        loop, wake = self._loop, self._wake
        if loop is not None and wake is not None:
            with contextlib.suppress(RuntimeError):  # the worker's loop is closed
                loop.call_soon_threadsafe(wake.set)

    def request_stop(self) -> None:
        loop, stop = self._loop, self.stop
        if loop is not None and stop is not None:
            with contextlib.suppress(RuntimeError):  # loop already gone
                loop.call_soon_threadsafe(stop.set)

    # --- worker loop --------------------------------------------------------------------------

    async def sleep_or_stop(self, seconds: float) -> bool:
        """Sleep; True when close() was called meanwhile."""
        assert self.stop is not None
        if self.stop.is_set():
            return True
        try:
            await asyncio.wait_for(self.stop.wait(), timeout=max(0.0, seconds))
        except TimeoutError:
            return False
        return True

    async def run(self, bot: Bot) -> None:
        """Send until stopped and the queue is empty (after stop: one attempt per message)."""
        assert self._wake is not None and self.stop is not None
        while True:
            if not self.pending:
                if self.stop.is_set():
                    return
                self._wake.clear()
                if self.pending or self.stop.is_set():
                    continue
                await self._wake.wait()
                continue
            item = self.pending.popleft()
            attempts = 1 if self.stop.is_set() else self._max_attempts
            try:
                await self._deliver(bot, item, attempts)
            except Exception as exc:  # defensive: the sender must survive anything
                self.stats.failed += 1
                log.error("telegram: send failed: %s", self._err(exc))

    async def _deliver(self, bot: Bot, item: Outgoing, attempts: int) -> None:
        if self.disabled:
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
                self.disabled = True
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
            if await self.sleep_or_stop(min(delay, 60.0)):
                attempts = min(attempts, attempt + 1)  # closing: one last try


def _retry_after_s(exc: RetryAfter) -> float:
    # Read the stored timedelta: the public attribute emits a PTB deprecation warning.
    td = getattr(exc, "_retry_after", None)
    try:
        return float(td.total_seconds())  # type: ignore[union-attr]
    except Exception:
        return 5.0
